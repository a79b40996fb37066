"""What used to become a skip, made to happen on purpose, is a finding or a restart
(issue 18), on the real binaries.

- a documented success that QEMU refuses with an error naming no missing state is a
  doc finding; one refused for state the profile lacks still can't be judged here;
- the module's OOB QEMU, killed mid-module by the fault hook, is replaced, and the
  tests after the one that met the crash run instead of skipping.

- a binary whose TransactionAction union lists an action the rules don't cover fails
  the suite's `test_transaction_actions_covered`, naming the action: the real binary
  runs, its schema read from the run's schema cache, pre-filled with the binary's own
  schema plus one invented action (the cache is keyed by the binary's SHA-256, so the
  entry is the one the run reads instead of asking QEMU).

(A behaviour rule whose setup QEMU refuses: tests/integration/test_behaviour_runner.py;
the scan of the suite's skips: tests/unit/test_no_hidden_skips.py.)
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.docs.model import DocEntry, DocExample, DocMessage, Parse
from conformance.docs.replay import Plan
from conformance.drive.doc_replay import NotReplayable, replay
from conformance.errors import EXIT_FINDINGS, EXIT_HARNESS
from conformance.findings.record import findings_from
from conformance.machine.cache import BinaryCache
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.machine.probe import probe
from conformance.oracle.failure import Failure, FindingKind, qapi
from tests.integration.clirun import cli, run_suite
from tests.schemaedit import with_transaction_action

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "faultsite"
CITE = qapi("an example written on purpose")


def _example(command: str, arguments: dict[str, object]) -> tuple[DocEntry, DocExample, Plan]:
    request = {"execute": command, "arguments": arguments}
    example = DocExample(
        (
            DocMessage("->", json.dumps(request), Parse.PARSED, request),
            DocMessage("<-", '{"return": {}}', Parse.PARSED, {"return": {}}),
        )
    )
    entry = DocEntry(command, "command", "test.json:1", examples=(example,))
    return entry, example, Plan(True, "q35", "", ((command, arguments),))


def test_a_documented_success_refused_for_no_missing_state_is_a_doc_finding(
    config: LaunchConfig,
) -> None:
    # query-status takes no arguments: QEMU's argument parser refuses the documented
    # request, whatever the machine holds.
    config.profile = "q35"
    entry, example, how = _example("query-status", {"bogus": 1})
    with QemuInstance(config) as inst, pytest.raises(Failure) as raised:
        replay(entry, example, how, inst, CITE)
    failure = raised.value
    assert failure.kind is FindingKind.DOC
    assert failure.check == "doc.example.refused"
    assert "GenericError" in failure.message
    (finding,) = findings_from(failure, "test_doc_example[query-status-1]")
    assert finding.reproducer is not None
    assert finding.reproducer.expected.reply == "error:GenericError"


def test_a_documented_success_refused_for_missing_state_is_not_judged(
    config: LaunchConfig,
) -> None:
    config.profile = "q35"
    entry, example, how = _example("blockdev-open-tray", {"id": "nosuch"})
    with (
        QemuInstance(config) as inst,
        pytest.raises(NotReplayable, match="needs state it lacks"),
    ):
        replay(entry, example, how, inst, CITE)


def test_the_oob_qemu_is_restarted_after_a_crash(system_qemu: str, tmp_path: Path) -> None:
    # test_exec_oob[query-uuid] meets the crash (its finding); the OOB tests after it
    # (query-version, query-yank) run on a fresh QEMU instead of skipping.
    (tmp_path / "tmp").mkdir()
    path = os.pathsep.join(p for p in (str(SITE), os.environ.get("PYTHONPATH", "")) if p)
    env = {"QMPC_FAULT": '"query-uuid":KILL', "PYTHONPATH": path, "TMPDIR": str(tmp_path / "tmp")}
    reports = tmp_path / "reports"
    select = "test_exec_oob and not without and (query-uuid or query-version or query-yank)"
    done = run_suite(
        system_qemu,
        reports,
        "q35",
        "-k",
        select,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        env=env,
        cwd=ROOT,
    )
    out = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == EXIT_FINDINGS, out
    assert "harness errors: 0" in done.stdout, out
    outcomes = {}
    for case in ET.parse(reports / "junit.xml").iter("testcase"):
        name = case.get("name", "")
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                state = child.tag
        outcomes[name[name.index("[") + 1 : -1]] = state
    assert outcomes.get("query-uuid") == "failure", (outcomes, out)
    assert outcomes.get("query-version") == "passed", (outcomes, out)
    assert outcomes.get("query-yank") == "passed", (outcomes, out)


def test_an_uncovered_transaction_action_fails_the_suite_test(
    qemu_binary: str, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    binary = probe(qemu_binary).path
    with QemuInstance(LaunchConfig(binary=binary, workdir_base=str(tmp_path / "w"))) as inst:
        entries = inst.execute("query-qmp-schema").value
    assert isinstance(entries, list)
    # `qmp-conformance run` keeps its cache in REPORTS/.cache (conformance/cli.py).
    BinaryCache(reports / ".cache").store(
        BinaryCache.key(binary, "schema"), with_transaction_action(entries, "x-invented-action")
    )
    done = cli(
        "run",
        "--qemu",
        binary,
        "--profile",
        "ci",
        "--reports",
        str(reports),
        "--",
        "-n",
        "0",
        "-k",
        "test_transaction_actions_covered",
        env={"TMPDIR": str(tmp_path)},
    )
    out = done.stdout + done.stderr
    assert "no behaviour rules for transaction actions x-invented-action" in out, out[-3000:]
    assert "1 failed" in out, out[-3000:]
    # A gap of the suite, not a finding of QEMU: the run can't be trusted, exit 3.
    assert "harness errors: 1" in done.stdout, out[-3000:]
    assert done.returncode == EXIT_HARNESS, out[-3000:]
    # Without the invented action (a fresh cache) the same test passes on the same binary.
    again = cli(
        "run",
        "--qemu",
        binary,
        "--profile",
        "ci",
        "--reports",
        str(tmp_path / "r2"),
        "--",
        "-n",
        "0",
        "-k",
        "test_transaction_actions_covered",
        env={"TMPDIR": str(tmp_path)},
    )
    assert "1 passed" in again.stdout, again.stdout[-3000:] + again.stderr
