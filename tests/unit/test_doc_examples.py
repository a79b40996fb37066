"""Doc example blocks: splitting into messages and prose, strict JSON and the named repairs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.docs.examples import REPAIRS, parse_example, parse_json_text
from conformance.docs.model import DocExample, Parse


def block(text: str, first: int = 10) -> list[tuple[int, str]]:
    return list(enumerate(text.split("\n"), start=first))


def example(text: str, first: int = 10) -> DocExample:
    return parse_example(block(text, first))


# --- parse_json_text -----------------------------------------------------------------------------


def test_strict_json_is_parsed_as_written() -> None:
    assert parse_json_text('{ "execute": "quit" }') == (
        Parse.PARSED,
        {"execute": "quit"},
        (),
        None,
    )


@pytest.mark.parametrize(
    ("text", "value", "repair"),
    [
        # QMP accepts single-quoted strings; quotes of the other kind inside stay as they are.
        ("{ 'execute': 'quit' }", {"execute": "quit"}, "single-quotes"),
        ("{ 'desc': 'say \"hi\"' }", {"desc": 'say "hi"'}, "single-quotes"),
        ("{ 'a\\'b': 'c\\nd' }", {"a'b": "c\nd"}, "single-quotes"),
        ('{ "a": "it\'s", \'b\': 1 }', {"a": "it's", "b": 1}, "single-quotes"),
        # Elided members, elements and containers (with the comma that went with them).
        ('{ "a": 1, ... }', {"a": 1}, "ellipsis"),
        ('{ "a": 1, … }', {"a": 1}, "ellipsis"),
        ('{ ..., "a": 1 }', {"a": 1}, "ellipsis"),
        ("[ {...}, ... ]", [], "ellipsis"),
        ('{ "return": [ ... ] }', {"return": []}, "ellipsis"),
        ('{ "data": {...} }', {"data": {}}, "ellipsis"),
        ("[ 1, 2, ..., 10 ]", [1, 2, 10], "ellipsis"),
        ('[ {"a": 1}, [ ... more channels follow ... ] ]', [{"a": 1}], "ellipsis"),
        ('{ "a": 1,\n  ...\n}', {"a": 1}, "ellipsis"),
        ('{ "a": [1, 2], }', {"a": [1, 2]}, "trailing-comma"),
        ("[ 1, 2,\n ]", [1, 2], "trailing-comma"),
        ('{ "a": 1\n  "b": 2 }', {"a": 1, "b": 2}, "missing-comma"),
        ('{ "a": {}\n  "b": [] }', {"a": {}, "b": []}, "missing-comma"),
        ('[ {"a": 1}\n  {"b": 2} ]', [{"a": 1}, {"b": 2}], "missing-comma"),
        ('[ "a"\n  "b" ]', ["a", "b"], "missing-comma"),
        ('{ "a": 1 } # the reply', {"a": 1}, "comments"),
        ('{ "a": 1, // first\n  "b": 2 }', {"a": 1, "b": 2}, "comments"),
    ],
)
def test_each_repair_alone(text: str, value: object, repair: str) -> None:
    assert parse_json_text(text) == (Parse.REPAIRED, value, (repair,), None)


def test_repairs_combine_and_are_named_in_order() -> None:
    text = "{ 'return': [ {'a': 1}, {...more...},\n ]}"
    assert parse_json_text(text) == (
        Parse.REPAIRED,
        {"return": [{"a": 1}]},
        ("single-quotes", "ellipsis", "trailing-comma"),
        None,
    )
    text = "{ 'a': 1 # one\n  'b': [ 2, ], ... }"
    status, value, repairs, _ = parse_json_text(text)
    assert (status, value) == (Parse.REPAIRED, {"a": 1, "b": [2]})
    assert repairs == ("comments", "single-quotes", "ellipsis", "trailing-comma", "missing-comma")
    assert [name for name, _ in REPAIRS] == list(repairs)


def test_only_the_repairs_needed_are_reported() -> None:
    # The comma repair would change nothing here, so it is not named.
    assert parse_json_text("{ 'a': [1, 2] }")[2] == ("single-quotes",)


@pytest.mark.parametrize(
    "text",
    [
        '{ "a": "x..." }',  # an ellipsis inside a string is the string's
        '{ "a": "it\'s # not a comment" }',
        '{ "path": "//host/share" }',
    ],
)
def test_strings_are_never_repaired(text: str) -> None:
    assert parse_json_text(text)[0] is Parse.PARSED


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{ "execute": "quit"', "Expecting ',' delimiter"),
        ('{ "a": [1, 2 }', "Expecting ',' delimiter"),
        ('{ "a": "unterminated }', "Unterminated string"),
        ('{ "a": 1 } }', "Extra data"),
        ("", "empty input"),
        ("data issued by the Client", "Expecting value"),
        ('{ "a": 1, "a": 2 }', "duplicate key"),
        # An elided plain value has no type to keep; dropping its member would make another
        # message, so it stays unparsable.
        ('{ "return": ... }', "Expecting value"),
        # Extra data after the JSON, as a man page has after one reply.
        ('{ "return": [] }\'', "Extra data"),
    ],
)
def test_unparsable_text_keeps_the_reason(text: str, problem: str) -> None:
    status, value, repairs, reason = parse_json_text(text)
    assert (status, value, repairs) == (Parse.UNPARSABLE, None, ())
    assert reason is not None
    assert problem in reason
    assert "\n" not in reason


def test_unparsable_after_repairs_says_which_were_tried() -> None:
    status, _, _, reason = parse_json_text("{ 'a': 1, ... ")
    assert status is Parse.UNPARSABLE
    assert reason is not None
    assert reason.endswith("(after repairs: single-quotes, ellipsis)")


def test_missing_comma_needs_a_line_break() -> None:
    # On one line a lost comma is more likely a typo for something else: left alone.
    assert parse_json_text('{ "a": 1 "b": 2 }')[0] is Parse.UNPARSABLE


# --- parse_example -------------------------------------------------------------------------------


def test_messages_with_directions_and_lines() -> None:
    x = example('-> { "execute": "quit" }\n<- { "return": {} }', first=40)
    assert [(m.direction, m.line, m.status) for m in x.messages] == [
        ("->", 40, Parse.PARSED),
        ("<-", 41, Parse.PARSED),
    ]
    assert x.messages[0].value == {"execute": "quit"}
    assert x.messages[0].text == '{ "execute": "quit" }'
    assert x.line == 40
    assert x.prose == ""


def test_continuation_lines_belong_to_the_message() -> None:
    x = example(
        '   -> { "execute": "change",\n'
        '                "arguments": { "device": "ide1-cd0",\n'
        '                               "target": "/srv/f.iso" } }\n'
        '   <- { "return": {} }'
    )
    assert len(x.messages) == 2
    first = x.messages[0]
    assert first.value == {
        "execute": "change",
        "arguments": {"device": "ide1-cd0", "target": "/srv/f.iso"},
    }
    assert first.text.count("\n") == 2


def test_pretty_printed_reply_with_blank_lines_inside() -> None:
    x = example('<- {\n   "return": [\n\n   ]\n }\n\nAfter.')
    assert [m.value for m in x.messages] == [{"return": []}]
    assert x.prose == "After."


def test_marker_alone_then_json_on_the_next_line() -> None:
    x = example('<-\n{ "return": {} }')
    assert [(m.direction, m.value) for m in x.messages] == [("<-", {"return": {}})]


def test_events_before_the_return() -> None:
    x = example(
        '-> { "execute": "stop" }\n'
        '<- { "event": "STOP", "timestamp": { "seconds": 1, "microseconds": 2 } }\n'
        '<- { "return": {} }'
    )
    assert [m.direction for m in x.messages] == ["->", "<-", "<-"]
    assert [next(iter(m.value)) for m in x.messages if isinstance(m.value, dict)] == [
        "execute",
        "event",
        "return",
    ]


def test_numbered_prose_between_messages() -> None:
    x = example(
        "1. Change a removable medium\n"
        "\n"
        '-> { "execute": "change", "arguments": { "device": "cd" } }\n'
        '<- { "return": {} }\n'
        "\n"
        "2. Change VNC password\n"
        "\n"
        '-> { "execute": "change",\n'
        '     "arguments": { "device": "vnc" } }\n'
        '<- { "return": {} }\n'
    )
    assert len(x.messages) == 4
    assert all(m.status is Parse.PARSED for m in x.messages)
    assert x.prose == "1. Change a removable medium\n\n2. Change VNC password"


def test_direction_less_objects_are_messages() -> None:
    x = example('Add a node:\n{ "execute": "x-blockdev-change",\n  "arguments": {} }\nDone.')
    assert [(m.direction, m.line, m.status) for m in x.messages] == [("?", 11, Parse.PARSED)]
    assert x.prose == "Add a node:\nDone."


def test_brackets_in_prose_are_not_messages() -> None:
    x = example('intervals\n[0, 10), [10, 50), [50, +inf):\n\n-> { "execute": "x" }')
    assert len(x.messages) == 1
    assert x.prose == "intervals\n[0, 10), [10, 50), [50, +inf):"


def test_message_closed_too_early_takes_its_continuation() -> None:
    # The author closed the object after "execute"; parsing just that would be a different
    # command than the one documented, so the whole text stays together and is unparsable.
    x = example('{"execute": "set-vcpu-dirty-limit"}\n   "arguments": { "cpu-index": 1 } }')
    assert len(x.messages) == 1
    assert x.messages[0].status is Parse.UNPARSABLE
    assert "arguments" in x.messages[0].text
    assert x.prose == ""


def test_unterminated_message_ends_at_prose_and_markers() -> None:
    x = example(
        '<- { "return": { "formats":\n'
        '        ["elf", "kdump"] }\n'
        "\n"
        "Note: trimmed.\n"
        '-> { "execute": "x"\n'
        '<- { "return": {} }'
    )
    assert [m.status for m in x.messages] == [Parse.UNPARSABLE, Parse.UNPARSABLE, Parse.PARSED]
    assert x.messages[0].problem is not None
    assert "Expecting" in x.messages[0].problem
    assert x.prose == "Note: trimmed."


def test_marker_with_prose_is_an_unparsable_message() -> None:
    x = example("-> data issued by the Client\n<- Server data response")
    assert [(m.direction, m.status) for m in x.messages] == [
        ("->", Parse.UNPARSABLE),
        ("<-", Parse.UNPARSABLE),
    ]


def test_title_annotated_and_empty_blocks() -> None:
    x = parse_example([], title="Eject", annotated=True)
    assert x == DocExample(messages=(), title="Eject", prose="", annotated=True, line=0)


def test_repaired_message_records_its_repairs() -> None:
    x = example("<- { 'event': 'NETDEV_STREAM_DISCONNECTED',\n     'data': {'netdev-id': 'n0'} }")
    (message,) = x.messages
    assert message.status is Parse.REPAIRED
    assert message.repairs == ("single-quotes",)
    assert message.value == {"event": "NETDEV_STREAM_DISCONNECTED", "data": {"netdev-id": "n0"}}


# --- never raises --------------------------------------------------------------------------------

# Text made of the pieces the tokenizer and the repairs care about, so that Hypothesis reaches
# their corners more often than arbitrary text would.
_json_ish = st.lists(
    st.sampled_from([*"{}[]:,'\"\\.…#/ \n\tab01-", "...", "->", "<-", "//", "true"])
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), _json_ish), max_size=8), st.integers(1, 10_000))
def test_parse_example_never_raises(texts: list[str], first: int) -> None:
    x = parse_example(list(enumerate(texts, start=first)))
    for message in x.messages:
        assert (message.value is None) == (message.status is Parse.UNPARSABLE)
        assert (message.problem is None) == (message.status is not Parse.UNPARSABLE)
        assert bool(message.repairs) == (message.status is Parse.REPAIRED)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _json_ish))
def test_parse_json_text_never_raises(text: str) -> None:
    status, value, repairs, problem = parse_json_text(text)
    assert status in Parse
    assert (problem is None) == (status is not Parse.UNPARSABLE)
    if status is Parse.UNPARSABLE:
        assert value is None
        assert repairs == ()


def test_deep_nesting_is_unparsable_not_a_crash() -> None:
    assert parse_json_text("[" * 20_000)[0] is Parse.UNPARSABLE
    assert parse_json_text("[" * 20_000 + "..." + "]" * 20_000)[0] is Parse.UNPARSABLE
