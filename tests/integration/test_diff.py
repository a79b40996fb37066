"""`qmp-conformance diff` on the real binary: two machine types, two -compat policies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu


TWO_MACHINES = ("--machine", "none", "--machine", "q35")


def diff(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    # TMPDIR: the run directory (and every QEMU workdir under it) stays in tmp_path.
    (tmp_path / "tmp").mkdir(exist_ok=True)
    done = cli("diff", *args, env={"TMPDIR": str(tmp_path / "tmp")}, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert not list((tmp_path / "tmp").iterdir()), "the run directory was left behind"
    return done.returncode, done.stdout, done.stderr


def rows(stdout: str) -> dict[str, str]:
    """The table's rows by command (the first row of each), after the schema difference."""
    lines = stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("B: ")) + 1 : -1]
    return {line.split()[0]: line for line in reversed(table)}


def test_machine_types_differ_in_block_devices(qemu_binary: str, tmp_path: Path) -> None:
    rc, out, _ = diff(
        tmp_path,
        *("--qemu", qemu_binary, "--machine", "none", "--machine", "q35"),
        *("--commands", "query-block,query-status,query-version", "--examples", "6"),
    )
    assert rc == 1, out
    found = rows(out)
    # q35 lists its cd0, the board-less machine lists nothing.
    assert "return shape $[*]: on B only" in found["query-block"], out
    assert "query-status" not in found, out
    assert "query-version" not in found, out
    assert out.splitlines()[-1].startswith("1 differences"), out
    assert "3 commands, 18 cases on each side" in out.splitlines()[-1], out


def test_json_output(qemu_binary: str, tmp_path: Path) -> None:
    rc, out, _ = diff(
        tmp_path,
        *("--qemu", qemu_binary, "--machine", "none", "--machine", "q35"),
        *("--commands", "query-block", "--examples", "2", "--json"),
    )
    assert rc == 1, out
    report = json.loads(out)
    assert report["sides"]["A"]["machine"] == "none"
    assert report["sides"]["B"]["machine"] == "q35"
    (difference,) = report["differences"]
    assert difference["command"] == "query-block"
    assert difference["a"] == difference["b"] == "return"
    assert difference["what"] == ["return shape $[*]: on B only"]


def test_same_set_up_on_both_sides_is_refused(qemu_binary: str, tmp_path: Path) -> None:
    rc, out, err = diff(tmp_path, "--qemu", qemu_binary, "--machine", "q35")
    assert rc == 2, out + err
    assert err.strip().splitlines() == [
        "qmp-conformance: both sides are the same set-up: give a second --qemu, --machine "
        "or --compat"
    ]


def test_same_commands_on_equal_sides_differ_in_nothing(qemu_binary: str, tmp_path: Path) -> None:
    # Two spellings of one policy: the same set-up in effect, so no differences.
    rc, out, _ = diff(
        tmp_path,
        *("--qemu", qemu_binary, "--machine", "q35"),
        *("--compat", "deprecated-input=accept", "--compat", ""),
        *("--commands", "query-block,query-status,qom-list", "--examples", "6"),
    )
    assert rc == 0, out
    assert out.splitlines()[-1].startswith("0 differences"), out


def test_unstable_input_reject_refuses_what_the_default_runs(
    qemu_binary: str, tmp_path: Path
) -> None:
    rc, out, _ = diff(
        tmp_path,
        *("--qemu", qemu_binary, "--compat", "", "--compat", "unstable-input=reject"),
        *("--commands", "x-query-roms,query-status"),
        "--examples",
        "4",
    )
    assert rc == 1, out
    found = rows(out)
    # x-query-roms is unstable in 7.2: run without a policy, refused under the policy.
    assert found["x-query-roms"].split()[3:6] == ["return", "error:CommandNotFound", "reply"], out
    assert "query-status" not in found, out


def test_deprecated_input_reject_refuses_the_deprecated_member(
    qemu_binary: str, tmp_path: Path
) -> None:
    rc, out, _ = diff(
        tmp_path,
        *("--qemu", qemu_binary, "--machine", "q35"),
        *("--compat", "", "--compat", "deprecated-input=reject"),
        *("--commands", "blockdev-close-tray", "--examples", "20", "--seed", "0"),
    )
    assert rc == 1, out
    # `device` is deprecated in 7.2: without a policy QEMU looks the name up (q35's cd0
    # has no named BlockBackend, so DeviceNotFound); with reject it refuses the member.
    assert "error:DeviceNotFound  error:GenericError  error class" in out, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--qemu", "/bin/true", "--machine", "q35"), "is not a QEMU binary"),
        (("--qemu", "/nonexistent/qemu", "--machine", "q35"), "not found"),
        (("--compat", "nonsense=1", "--compat", ""), "died during start-up.*nonsense"),
        ((*TWO_MACHINES, "--commands", "no-such-command"), "not a command of side A"),
        ((*TWO_MACHINES, "--commands", "quit"), "quit is not run with generated"),
        ((*TWO_MACHINES, "--examples", "0"), "--examples must be at least 1"),
        (("--qemu", "a", "--qemu", "b", "--qemu", "c"), "--qemu given 3 times"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    rc, out, err = diff(tmp_path, *args)
    assert rc == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.search(message, lines[0]), lines[0]
