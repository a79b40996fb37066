"""A skip means "cannot be tested here", never "something went wrong" (issue 18).

Every `pytest.skip` (and `xfail`, `importorskip`, skip marks) in conformance/suite/ is
listed here with why it is a "cannot be tested here"; a new one fails this test until
someone says why. A failed setup or an unexpected reply is a finding or a harness
failure instead: the behaviour runner, the doc replayer and the transaction-coverage
check each raise, and the OOB fixture restarts a QEMU an earlier test left dead.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.behaviour.rules.transaction import ACTIONS, uncovered_actions
from conformance.spec import Schema
from tests.schemaedit import with_transaction_action

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "conformance" / "suite"
_SKIPS = {"skip", "xfail", "importorskip", "skipif"}

#: (module, function, the skip message's leading text) -> why it can't be tested here.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("test_behaviour", "test_behaviour", "the cited doc holds for "): (
        "the rule's version range excludes this QEMU: its doc sentence isn't this binary's"
    ),
    ("test_behaviour", "test_behaviour", ""): (
        "the rule's command is not in this binary (the message is an f-string)"
    ),
    ("test_behaviour", "test_behaviour", "needs the "): "the run has no such machine profile",
    ("test_behaviour", "test_behaviour", "profile "): (
        "the run's profile lacks a feature the rule needs (a tray, a USB bus)"
    ),
    ("test_doc_examples", "test_doc_example", "not replayable: "): (
        "the plan says the example can't be replayed (no request, an unparsable message, "
        "a command outside the host-safety review)"
    ),
    ("test_doc_examples", "test_doc_example", "<NotReplayable>"): (
        "host safety refuses the example, or QEMU's refusal names state the profile lacks "
        "(drive/doc_replay.lacks_state); any other refusal is a doc finding"
    ),
    ("test_doc_errors", "test_doc_error", "not inducible: "): (
        "the condition's sentence names no request that induces it, or host safety refuses it"
    ),
    ("test_doc_errors", "test_doc_error", "not inducible on profile "): (
        "the first request of a pair was refused with an error naming state the profile "
        "lacks (drive/doc_replay.lacks_state); any other refusal is a finding"
    ),
    ("test_transaction_actions", "test_transaction_actions_covered", "transaction is not"): (
        "the binary has no transaction command"
    ),
    ("test_machines", "test_machine_types", "<computed>"): (
        "qemu-storage-daemon has no machine types to start"
    ),
    ("test_machines", "test_machine_type", "machine type "): (
        "the machine type can't start on this host (it needs KVM or firmware the host "
        "lacks): QEMU refused it with the line the message quotes; a crash is a finding"
    ),
    ("test_migration", "_needs", "profile "): "the board doesn't migrate while stopped",
    ("test_migration", "_needs", "not in this binary: "): "commands the binary lacks",
    ("test_migration", "test_postcopy_during_migration", "postcopy needs userfaultfd: "): (
        "the host's kernel refuses userfaultfd"
    ),
    ("test_resource_machine", "test_resource_state_machine", "profile "): (
        "the profile lacks the tray or USB bus the machine drives"
    ),
    ("test_resource_machine", "test_resource_state_machine", "not in this binary: "): (
        "commands the binary lacks"
    ),
    ("test_negotiation", "test_command_before_negotiation", "qmp_capabilities is the one"): (
        "the one command allowed before negotiation has nothing to be refused"
    ),
    ("test_protocol", "test_offered_oob_can_be_enabled", "the greeting offers no oob"): (
        "the binary offers no oob"
    ),
    ("test_protocol", "oob_qemu", "the greeting offers no oob"): "the binary offers no oob",
    ("test_protocol", "test_exec_oob", "no admissible arguments: "): (
        "host safety refuses every minimal argument object of the command"
    ),
    ("test_negotiation", "test_hmp_name_is_no_command", ""): (
        "the HMP name is a QMP command of this binary (the message is an f-string)"
    ),
    ("test_protocol", "test_oob_overtakes_a_blocked_in_band_command", "no blkdebug driver"): (
        "the binary has no blkdebug driver or no allow-oob command to overtake with"
    ),
    ("test_protocol", "test_oob_overtakes_a_blocked_in_band_command", "the greeting offers no"): (
        "the binary offers no oob"
    ),
    ("test_job_verbs", "test_refused_verb", ""): (
        "the job state allows the verb in this QEMU version (nothing to refuse)"
    ),
    ("test_preconfig", "preconfig_pool", "no preconfig phase: "): (
        "the binary has no x-exit-preconfig (qemu-storage-daemon): no preconfig phase"
    ),
    ("test_preconfig", "test_exit_preconfig", "no preconfig phase: "): (
        "the binary has no x-exit-preconfig (qemu-storage-daemon): no preconfig phase"
    ),
    ("test_preconfig", "test_preconfig_phase", "no admissible arguments: "): (
        "host safety refuses every minimal argument object of the command: listed, not sent"
    ),
    ("test_no_arguments", "test_no_arguments", ""): (
        "a lifecycle command (quit, stop, reset) would end the shared QEMU"
    ),
}


def _skips(path: Path) -> Iterator[tuple[str, str, int, bool]]:
    """(enclosing function, message lead, line, inside an except handler) per skip."""
    tree = ast.parse(path.read_text(), str(path))

    def walk(
        node: ast.AST, function: str, handler: str | None
    ) -> Iterator[tuple[str, str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            name = function
            caught = handler
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.ExceptHandler):
                caught = ast.unparse(child.type) if child.type is not None else "BaseException"
            if isinstance(child, ast.Call) and _is_skip(child.func):
                yield name, _lead(child, caught), child.lineno, caught is not None
            # A mark (pytest.mark.skip / skipif), which no call above has counted.
            called = isinstance(node, ast.Call) and node.func is child
            mark = isinstance(child, ast.Attribute) and child.attr in _SKIPS and not called
            if mark and isinstance(child, ast.Attribute) and _is_pytest(child):
                yield name, f"<{child.attr} mark>", child.lineno, False
            yield from walk(child, name, caught)

    yield from walk(tree, "<module>", None)


def _is_pytest(func: ast.Attribute) -> bool:
    base = func.value
    while isinstance(base, ast.Attribute):
        base = base.value
    return isinstance(base, ast.Name) and base.id == "pytest"


def _is_skip(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr in _SKIPS and _is_pytest(func)
    return isinstance(func, ast.Name) and func.id in _SKIPS


def _lead(call: ast.Call, caught: str | None) -> str:
    """The constant text the message starts with; an exception's own message is named
    by the exception's class, since that is what was caught."""
    message = call.args[0] if call.args else None
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return message.value
    if isinstance(message, ast.JoinedStr):
        first = message.values[0] if message.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
        return ""
    return f"<{caught}>" if caught else "<computed>"


def _found() -> list[tuple[str, str, str, int, bool]]:
    return [
        (path.stem, function, lead, line, caught)
        for path in sorted(SUITE.glob("*.py"))
        for function, lead, line, caught in _skips(path)
    ]


def _allowed(module: str, function: str, lead: str, caught: bool = False) -> bool:
    """Whether a skip matches an entry. An entry without a lead (an f-string that starts
    with a value) never covers a skip in an except handler: that is the shape of an
    error turned into a skip, `pytest.skip(f"{exc}")`."""
    return any(
        (module, function) == (m, f)
        and lead.startswith(prefix)
        and (bool(prefix) or (not lead.strip() and not caught))
        for (m, f, prefix) in ALLOWED
    )


def test_every_skip_in_the_suite_is_a_cannot_be_tested_here() -> None:
    unexplained = [
        f"conformance/suite/{module}.py:{line} in {function}: {lead!r}"
        for module, function, lead, line, caught in _found()
        if not _allowed(module, function, lead, caught)
    ]
    assert unexplained == [], (
        "a skip in the suite that is not a listed 'cannot be tested here' (a failed setup or "
        "an unexpected reply must be a finding or a failure):\n" + "\n".join(unexplained)
    )


def test_every_allowed_skip_still_exists() -> None:
    # A stale entry would let a new skip of the same lead through unexplained.
    found = {(m, f) for m, f, *_ in _found()}
    stale = [key for key in ALLOWED if key[:2] not in found]
    assert stale == []


def test_the_scan_sees_a_skip_that_hides_a_failure(tmp_path: Path) -> None:
    source = tmp_path / "test_x.py"
    source.write_text(
        "import pytest\n"
        "def test_x(inst):\n"
        "    try:\n"
        "        setup(inst)\n"
        "    except SetupFailed as exc:\n"
        "        pytest.skip(f'{exc}')\n"
        "    if not inst.alive():\n"
        "        pytest.skip('the instance died in an earlier test')\n"
    )
    found = list(_skips(source))
    assert [(f, lead, caught) for f, lead, _, caught in found] == [
        ("test_x", "", True),
        ("test_x", "the instance died in an earlier test", False),
    ]
    assert not _allowed("test_x", "test_x", "the instance died in an earlier test")
    # An f-string skip of a caught error is never covered by an entry without a lead.
    assert _allowed("test_behaviour", "test_behaviour", "", caught=False)
    assert not _allowed("test_behaviour", "test_behaviour", "", caught=True)


# -- a new TransactionAction is a failure, not a skip -------------------------------------


def _with_fake_action(schema_file: Path, name: str) -> Schema:
    """The recorded 7.2 schema with one more TransactionAction variant `name`."""
    document = json.loads(schema_file.read_text())
    return Schema.from_schema_info(with_transaction_action(document["schema"], name))


def test_an_action_without_rules_is_reported(schema_72_x86: Path) -> None:
    real = _with_fake_action(schema_72_x86, "x-fake-action")
    assert uncovered_actions(real) == ["x-fake-action"]


def test_every_action_of_7_2_has_rules(schema_72_x86: Path) -> None:
    from conformance.spec.introspect import load_schema_file

    schema = load_schema_file(schema_72_x86)
    assert uncovered_actions(schema) == []
    assert "block-dirty-bitmap-add" in ACTIONS


@pytest.mark.parametrize("module", sorted(p.stem for p in SUITE.glob("test_*.py")))
def test_the_suite_modules_parse(module: str) -> None:
    ast.parse((SUITE / f"{module}.py").read_text())
