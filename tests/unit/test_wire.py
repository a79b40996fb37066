"""Meta-tests of strategies/wire.py: each case breaks exactly its rule and nothing else.

The checks here are written independently of the strategies (their own envelope classifier,
their own model of QEMU's string lexing), so a bug in a strategy cannot hide behind itself.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.strategies import SearchStrategy

from conformance.qmp.wirejson import StrictJSONError, dumps, json_equal, loads_strict
from strategies.wire import (
    ENVELOPE_RULES,
    MAX_CASE_BYTES,
    MAX_NESTING,
    MIN_MAX_SIZE,
    MUST_NOT_RUN_PREFIX,
    RESYNC,
    WIRE_RULES,
    Envelope,
    WireCase,
    encode,
    envelopes,
    probe,
    wire_bytes,
)

T = TypeVar("T")

# The brief asks for at least 1000 drawn cases per strategy. Long tokens make some cases a
# megabyte, which Hypothesis may call slow; that size is the point, not a problem.
THOROUGH = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class _Met(Exception):
    """Raised inside a search to stop it at the first example that meets its condition."""


def minimal(strategy: SearchStrategy[T], condition: Callable[[T], bool] = lambda _: True) -> T:
    """The example Hypothesis shrinks to when ``condition`` marks a failure."""
    found: list[T] = []

    @settings(max_examples=1000, database=None, derandomize=True, deadline=None)
    @given(strategy)
    def fails(value: T) -> None:
        if condition(value):
            found.append(value)
            raise _Met

    with pytest.raises(_Met):
        fails()
    return found[-1]


def reachable(strategy: SearchStrategy[T], describe: Callable[[T], set[str]], feature: str) -> bool:
    """Whether a derandomized search (no shrinking) finds an example ``describe`` calls ``feature``.

    Up to 2000 examples, so rare features (about 1 in 40 draws) are found every time; the search
    stops at the first hit.
    """
    search = settings(
        max_examples=2000,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    try:
        # Searching the descriptions, not the cases, keeps megabyte cases out of Hypothesis' reprs.
        find(strategy.map(describe), lambda seen: feature in seen, settings=search)
    except NoSuchExample:
        return False
    return True


# --- envelopes ---------------------------------------------------------------------------------

_ENVELOPE_MEMBERS = {"execute", "exec-oob", "arguments", "id", "control"}


def broken_rules(value: object) -> set[str]:
    """Every envelope rule that ``value`` breaks, read off the qmp-spec "Issuing Commands"."""
    if not isinstance(value, dict):
        return {"not-object"}
    broken = set()
    commands = [name for name in ("execute", "exec-oob") if name in value]
    if not commands:
        broken.add("no-execute")
    if len(commands) == 2:
        broken.add("execute-and-exec-oob")
    if any(not isinstance(value[name], str) for name in commands):
        broken.add("execute-not-string")
    if "arguments" in value and not isinstance(value["arguments"], dict):
        broken.add("arguments-not-object")
    if set(value) - _ENVELOPE_MEMBERS:
        broken.add("unknown-member")
    return broken


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"execute": "stop"}, set()),
        ({"exec-oob": "stop", "arguments": {}, "id": [1]}, set()),
        ([], {"not-object"}),
        ({}, {"no-execute"}),
        ({"execute": 1}, {"execute-not-string"}),
        ({"execute": "stop", "arguments": []}, {"arguments-not-object"}),
        ({"execute": "stop", "Id": 1}, {"unknown-member"}),
        ({"execute": "a", "exec-oob": "b"}, {"execute-and-exec-oob"}),
        ({"execute": 1, "x": 2}, {"execute-not-string", "unknown-member"}),
    ],
)
def test_the_classifier(value: object, expected: set[str]) -> None:
    assert broken_rules(value) == expected


def qemu_refuses_text(value: object) -> bool:
    """Whether a string in ``value`` holds a noncharacter, which QEMU 7.2 will not parse."""
    if isinstance(value, str):
        return any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE for c in value)
    if isinstance(value, dict):
        return any(qemu_refuses_text(k) or qemu_refuses_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(qemu_refuses_text(item) for item in value)
    return False


@THOROUGH
@given(envelopes())
def test_envelopes_are_strict_json_breaking_exactly_their_rule(envelope: Envelope) -> None:
    data = encode(envelope)
    assert data.endswith(b"\n")
    assert b"\n" not in data[:-1]
    assert len(data) <= MAX_CASE_BYTES
    value = loads_strict(data)
    assert json_equal(value, envelope.value)
    assert broken_rules(value) == {envelope.rule}
    assert not qemu_refuses_text(value)
    if isinstance(value, dict) and "id" in value:
        assert envelope.has_id
        assert json_equal(envelope.id, value["id"])
    else:
        assert not envelope.has_id
        assert envelope.id is None


def command_names_in(value: object) -> list[object]:
    """Values of every ``execute``/``exec-oob`` member, at the top or inside a top-level array."""
    objects = value if isinstance(value, list) else [value]
    return [
        member[name]
        for member in objects
        if isinstance(member, dict)
        for name in ("execute", "exec-oob")
        if name in member
    ]


@settings(max_examples=300, deadline=None)
@given(envelopes(command_names=["stop", "x-exit-preconfig"]))
def test_envelopes_name_only_the_given_commands(envelope: Envelope) -> None:
    for name in command_names_in(envelope.value):
        assert not isinstance(name, str) or name in {"stop", "x-exit-preconfig"}


ID_KINDS: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "big integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2**64,
    "negative integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and v < 0,
    "float": lambda v: isinstance(v, float),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list) and len(v) > 0,
    "object": lambda v: isinstance(v, dict) and len(v) > 0,
}


def json_nodes(value: object) -> Iterator[object]:
    """``value`` and every value nested in it."""
    yield value
    if isinstance(value, list):
        for item in value:
            yield from json_nodes(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_nodes(item)


def describe_envelope(envelope: Envelope) -> set[str]:
    seen = {f"rule {envelope.rule}"}
    if envelope.has_id:
        for node in json_nodes(envelope.id):
            seen |= {f"id {kind}" for kind, is_kind in ID_KINDS.items() if is_kind(node)}
    return seen


@pytest.mark.parametrize("rule", ENVELOPE_RULES)
def test_every_envelope_rule_is_reachable(rule: str) -> None:
    assert reachable(envelopes(), describe_envelope, f"rule {rule}")


@pytest.mark.parametrize("kind", ID_KINDS)
def test_ids_take_every_json_type(kind: str) -> None:
    assert reachable(envelopes(), describe_envelope, f"id {kind}")


def test_envelopes_shrink_to_the_first_rule_and_small_ids() -> None:
    assert minimal(envelopes()).rule == ENVELOPE_RULES[0]
    with_id = minimal(envelopes(), lambda e: e.has_id)
    assert len(encode(with_id)) <= len(b'{"id":[]}\n')


# --- wire bytes --------------------------------------------------------------------------------

_PREFIX = MUST_NOT_RUN_PREFIX.encode()
_NOT_WHITESPACE_CONTROLS = {*range(0x20), 0x7F} - set(b"\t\r\n")


def rejected(data: bytes) -> str:
    """The strict parser's complaint about ``data``; fails the test if it accepts it."""
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(data)
    return str(caught.value)


def command_comes_first(data: bytes) -> None:
    """The would-be command's brace opens the case and no other brace follows it.

    After a lexical error QEMU restarts at the next structural character; with no second
    brace, no object, let alone a command, can start after any defect.
    """
    assert data.lstrip(b" \t\r\n").startswith(b"{")
    assert data.count(b"{") == 1


def qemu_leaves_a_string_open(data: bytes) -> bool:
    """Whether QEMU's lexer, which takes '…' and "…" strings, reaches a control byte in one.

    A model of json-lexer.c's string states: a backslash takes the next byte whatever it is;
    a control byte (below 0x20) inside a string is a lexical error.
    """
    quote: int | None = None
    escaped = False
    for byte in data:
        if quote is None:
            if byte in b"'\"":
                quote = byte
        elif byte < 0x20:
            return True
        elif escaped:
            escaped = False
        elif byte == ord("\\"):
            escaped = True
        elif byte == quote:
            quote = None
    return quote is not None


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    # The stdlib scanner recurses per nesting level and stops near 1000, below QEMU's limit.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def nesting_depth(data: bytes) -> int:
    """Deepest count of open brackets and braces, as QEMU's streamer counts them.

    Exact for these cases: their strings hold no brackets.
    """
    # Only brackets matter; dropping every other byte first makes the walk short.
    brackets = data.translate(None, bytes(b for b in range(256) if b not in b"[]{}"))
    return max(itertools.accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


def check_truncation(data: bytes) -> None:
    rejected(data)
    command_comes_first(data)
    assert re.fullmatch(rb"[ -~\t\r\n]+", data), "a cut request holds nothing but its own bytes"


def check_stray_bytes(data: bytes) -> None:
    rejected(data)
    command_comes_first(data)
    data.decode("utf-8")  # raw invalid UTF-8 is the invalid-utf8 rule's
    assert _PREFIX in data


def check_invalid_utf8(data: bytes) -> None:
    assert "invalid UTF-8" in rejected(data)
    command_comes_first(data)
    assert _PREFIX in data


def check_control_chars(data: bytes) -> None:
    reason = rejected(data)
    command_comes_first(data)
    # Between tokens only non-whitespace controls count; inside strings tab, CR and LF do too.
    assert set(data) & _NOT_WHITESPACE_CONTROLS or "control character" in reason
    assert _PREFIX in data


def check_bad_escape(data: bytes) -> None:
    assert "escape" in rejected(data)
    command_comes_first(data)
    assert b"\\'" not in data, "QEMU accepts \\' as an escape"
    assert _PREFIX in data


def check_single_quotes(data: bytes) -> None:
    rejected(data)
    command_comes_first(data)
    assert b"'" in data
    assert qemu_leaves_a_string_open(data), "QEMU's single-quote extension would accept this"
    assert _PREFIX in data


def check_deep_nesting(data: bytes) -> None:
    with recursion_limit(10 * MAX_NESTING):
        value = loads_strict(data)
    assert isinstance(value, list), "valid JSON, and an array, so never a request"
    # Walk down to the innermost object, the would-be command, counting levels on the way.
    node: object = value
    depth = 1
    while True:
        if isinstance(node, list):
            (node,) = node
        elif isinstance(node, dict) and set(node) == {"a"}:
            node = node["a"]
        else:
            break
        depth += 1
    assert isinstance(node, dict)
    assert node.keys() == {"execute", "id"}
    assert node["execute"] == "query-version"
    assert str(node["id"]).startswith(MUST_NOT_RUN_PREFIX)
    assert depth == nesting_depth(data)
    assert 2 <= depth <= MAX_NESTING + 8


# A member slot holding a lone string, name or number, with no colon after it.
_DANGLING = re.compile(rb'([{,])(\s*)(?:"[^"]*"|[a-z]+|[0-9]+)\s*,')


def check_long_token(data: bytes) -> None:
    rejected(data)
    command_comes_first(data)
    # Without its one dangling token the case is exactly the would-be command.
    command, dangling = _DANGLING.subn(rb"\1\2", data, count=1)
    assert dangling == 1
    value = loads_strict(command)
    assert isinstance(value, dict)
    assert value.keys() == {"execute", "id"}
    assert str(value["id"]).startswith(MUST_NOT_RUN_PREFIX)


CHECKS: dict[str, Callable[[bytes], None]] = {
    "truncation": check_truncation,
    "stray-bytes": check_stray_bytes,
    "invalid-utf8": check_invalid_utf8,
    "control-chars": check_control_chars,
    "bad-escape": check_bad_escape,
    "single-quotes": check_single_quotes,
    "deep-nesting": check_deep_nesting,
    "long-token": check_long_token,
}


def test_every_rule_has_a_check() -> None:
    assert set(CHECKS) == set(WIRE_RULES)


@THOROUGH
@given(wire_bytes())
def test_wire_cases_are_never_valid_requests(case: WireCase) -> None:
    assert len(case.data) <= MAX_CASE_BYTES
    assert case.data.endswith(b"\n")
    CHECKS[case.rule](case.data)


def describe_case(case: WireCase) -> set[str]:
    seen = {f"rule {case.rule}"}
    if case.rule == "deep-nesting":
        depth = nesting_depth(case.data)
        seen.add(
            f"depth {'below' if depth < MAX_NESTING else 'above' if depth > MAX_NESTING else 'at'}"
        )
        seen.add(f"depth limit{depth - MAX_NESTING:+d}")
    if case.rule == "invalid-utf8":
        if re.search(rb'"[^"]*[\x80-\xff]', case.data):
            seen.add("invalid-utf8 inside a string")
        if re.search(rb"[:,{][\x80-\xff]", case.data):
            seen.add("invalid-utf8 between tokens")
        # Quotes only delimit strings here: an odd count before C0 80 puts it inside one. QEMU
        # 7.2 takes it for U+0000 and runs the command (tests/integration/test_wire_qemu.py).
        if (at := case.data.find(b"\xc0\x80")) >= 0 and case.data[:at].count(b'"') % 2:
            seen.add("invalid-utf8 overlong NUL inside a string")
    if len(case.data) > MAX_CASE_BYTES // 2:
        seen.add("over half the size limit")
    return seen


@pytest.mark.parametrize("rule", WIRE_RULES)
def test_every_wire_rule_is_reachable(rule: str) -> None:
    assert reachable(wire_bytes(), describe_case, f"rule {rule}")


@pytest.mark.parametrize(
    "band",
    [
        "depth below",
        "depth at",
        "depth above",
        "depth limit-1",
        "depth limit+0",
        "depth limit+1",
        # One past the limit is where QEMU 7.2 runs the inner command: it must be drawn.
        "depth limit+2",
    ],
)
def test_deep_nesting_covers_the_limit(band: str) -> None:
    assert reachable(wire_bytes(rules=["deep-nesting"]), describe_case, band)


@pytest.mark.parametrize(
    "place", ["inside a string", "between tokens", "overlong NUL inside a string"]
)
def test_invalid_utf8_lands_inside_and_outside_strings(place: str) -> None:
    assert reachable(wire_bytes(rules=["invalid-utf8"]), describe_case, f"invalid-utf8 {place}")


def test_long_tokens_reach_the_size_limit() -> None:
    assert reachable(wire_bytes(rules=["long-token"]), describe_case, "over half the size limit")


@settings(max_examples=200, deadline=None)
@given(wire_bytes(max_size=MIN_MAX_SIZE))
def test_max_size_bounds_every_case(case: WireCase) -> None:
    assert len(case.data) <= MIN_MAX_SIZE


def test_wire_bytes_shrink_to_short_inputs_and_shallow_nesting() -> None:
    assert minimal(wire_bytes()) == WireCase("truncation", b"{\n")
    nesting = wire_bytes(rules=["deep-nesting"])
    assert nesting_depth(minimal(nesting).data) == 2
    past_limit = minimal(nesting, lambda c: nesting_depth(c.data) > MAX_NESTING)
    assert nesting_depth(past_limit.data) == MAX_NESTING + 1


# --- helpers and arguments ---------------------------------------------------------------------


def test_resync_is_a_lone_control_character_and_a_newline() -> None:
    assert len(RESYNC) == 2
    assert RESYNC[0] in _NOT_WHITESPACE_CONTROLS
    assert RESYNC.endswith(b"\n")
    rejected(RESYNC)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.text(), st.none(), st.lists(st.booleans(), max_size=3)))
def test_probe_is_query_version_with_the_given_id(id_value: object) -> None:
    data = probe(id_value)
    assert data.endswith(b"\n")
    assert loads_strict(data) == {"execute": "query-version", "id": id_value}


def test_probe_bytes() -> None:
    assert probe("probe-1") == b'{"execute":"query-version","id":"probe-1"}\n'


def test_encode_is_compact_json_and_a_newline() -> None:
    envelope = Envelope("no-execute", {"id": 1, "arguments": {}}, True, 1)
    assert encode(envelope) == dumps({"id": 1, "arguments": {}}) + b"\n"
    assert encode(envelope) == b'{"id":1,"arguments":{}}\n'


@pytest.mark.parametrize(
    "make",
    [
        lambda: wire_bytes(rules=[]),
        lambda: wire_bytes(rules=["no-such-rule"]),
        lambda: wire_bytes(rules=["not-object"]),
        lambda: wire_bytes(max_size=MIN_MAX_SIZE - 1),
        lambda: wire_bytes(max_size=MAX_CASE_BYTES + 1),
        lambda: envelopes(command_names=[]),
        lambda: envelopes(rules=["truncation"]),
    ],
)
def test_bad_arguments_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"rules|max_size|command_names"):
        make()


def test_one_command_name_as_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="command_names"):
        envelopes(command_names="query-version")


def test_limit_cases_sit_at_the_documented_limits() -> None:
    from strategies.wire import LIMIT_CASES, MAX_NESTING, MIN_MAX_SIZE, limit_cases

    cases = limit_cases(MIN_MAX_SIZE)
    assert tuple(cases) == LIMIT_CASES
    depths = {name: _depth(case.data) for name, case in cases.items() if name.startswith("nested")}
    assert depths == {
        "nested-below-limit": MAX_NESTING - 1,
        "nested-at-limit": MAX_NESTING,
        "nested-one-past-limit": MAX_NESTING + 1,
        "nested-two-past-limit": MAX_NESTING + 2,
    }
    assert all(len(c.data) <= MIN_MAX_SIZE and c.data.endswith(b"\n") for c in cases.values())
    assert len(cases["longest-token"].data) > MIN_MAX_SIZE - 64
    for name in ("overlong-nul-in-string", "surrogate-in-string", "ff-between-tokens"):
        with pytest.raises(UnicodeDecodeError):
            cases[name].data.decode("utf-8")


def _depth(data: bytes) -> int:
    depth = deepest = 0
    for byte in data:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def test_structural_cases_are_not_json() -> None:
    from strategies.wire import STRUCTURAL_CASES, structural_cases

    cases = structural_cases()
    assert tuple(cases) == STRUCTURAL_CASES
    for name, case in cases.items():
        assert case.data.endswith(b"\n"), name
        assert case.data.count(b"\n") == 1, name
        assert case.rule in ("structural", "percent"), name
        with pytest.raises(StrictJSONError):
            loads_strict(case.data[:-1])
    assert {c.data for c in cases.values() if c.rule == "percent"} >= {b"%p\n", b"%d\n"}


def test_accepted_cases_spell_their_id() -> None:
    from strategies.wire import ACCEPTED_CASES, accepted_cases

    cases = accepted_cases()
    assert tuple(cases) == ACCEPTED_CASES
    for name, case in cases.items():
        assert case.data.endswith(b"}\n"), name
        if b"'" not in case.data:  # the spec's extension is no strict JSON
            request = loads_strict(case.data[:-1])
            assert isinstance(request, dict)
            assert json_equal(request["id"], case.id), name


@given(st.data())
def test_unknown_commands_are_unknown(data: st.DataObject) -> None:
    from strategies.wire import unknown_commands

    known = ("help", "query-version", "q")
    name = data.draw(unknown_commands(known))
    assert name not in known


def test_unknown_commands_shrink_to_an_hmp_name() -> None:
    from strategies.wire import unknown_commands

    assert minimal(unknown_commands(("query-version",))) == "help"
    assert minimal(unknown_commands(("help",))) == "?"
