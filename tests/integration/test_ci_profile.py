"""The CI profile (`qmp-conformance run --profile ci`): the same tests as a full run, so
every command of the binary, every protocol area and every behaviour rule; fewer
examples; QEMUs shared until a command changes the machine; a per-binary cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.hypothesis_profiles import CI_EXAMPLES
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.spec import schema_from_reply
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu


def _run(qemu: str, tmp_path: Path, name: str, *pytest_args: str) -> str:
    done = cli(
        "run",
        "--qemu",
        qemu,
        "--profile",
        "ci",
        "--reports",
        str(tmp_path / name),
        "--",
        "-p",
        "no:randomly",
        f"--qmp-workdir={tmp_path / 'work'}",
        "--minimise-budget=0",
        *pytest_args,
        # The CLI's own start-up check of the binary makes its workdir under TMPDIR.
        env={"TMPDIR": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _collected(out: str) -> set[str]:
    return {line.split("::", 1)[1] for line in out.splitlines() if "::" in line}


def test_every_command_of_the_binary_with_valid_and_malformed_arguments(
    qemu_binary: str, tmp_path: Path
) -> None:
    with QemuInstance(
        LaunchConfig(binary=qemu_binary, workdir_base=str(tmp_path / "probe"))
    ) as inst:
        commands = set(schema_from_reply(inst.execute("query-qmp-schema").value).commands)
    ci = _collected(_run(qemu_binary, tmp_path, "ci", "--collect-only", "-q"))
    full = cli(
        "run", "--qemu", qemu_binary, "--reports", str(tmp_path / "full"), "--",
        "--collect-only", "-q", f"--qmp-workdir={tmp_path / 'work'}",
        env={"TMPDIR": str(tmp_path)}, timeout=300,
    )  # fmt: skip
    assert ci == _collected(full.stdout), "the CI profile must run every test of a full run"
    for mode in ("valid", "malformed"):
        tested = {
            m[1]
            for t in ci
            if (m := re.fullmatch(rf"test_{mode}_arguments\[(.+)\]", t.split("::")[-1]))
        }
        assert tested == commands, f"{mode}: counted from the binary's query-qmp-schema"


def test_shared_qemu_restarts_after_a_change_and_the_cache_is_filled(
    qemu_binary: str, tmp_path: Path
) -> None:
    # migrate_cancel succeeds with no arguments and changes the machine (it is no
    # query); query-status only reads; block_resize is refused for a missing node.
    selection = "arguments and (migrate_cancel or query-status or block_resize)"
    out = _run(qemu_binary, tmp_path, "ci", "-k", selection)
    assert re.search(rf"examples per command min \d+ max {CI_EXAMPLES} ", out), out
    shared = re.search(r"ci profile: (\d+) argument tests on shared QEMUs, restarted (\d+)", out)
    assert shared is not None, out
    # Each command's covering phase (test_covering_valid/malformed) and random tests:
    # "arguments" selects every test of test_arguments.py.
    assert int(shared[1]) == 12
    assert 1 <= int(shared[2]) <= 2  # migrate_cancel's valid runs, never the queries
    cache = tmp_path / "ci" / ".cache"
    entries = {p: p.stat().st_mtime_ns for p in cache.glob("*.json")}
    # The machines entry: which of the target's default profiles the build has boards for;
    # the trace entry: the binary's trace events and those every command fires.
    kinds = {p.name.split("-")[0] for p in entries}
    assert kinds == {"schema", "harvest", "machines", "trace"}
    _run(qemu_binary, tmp_path, "ci", "-k", selection)
    # A hit reads the entry and writes nothing.
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.json")} == entries
