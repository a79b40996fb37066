"""`replay FINDING --qemu A --qemu B`: one finding replayed on several QEMU versions, the
table ordered by QEMU version, and the finding directory's affected.json.

The finding is real and differs between the versions: ``rtc-reset-reinjection`` on
``-M none`` aborts QEMU 10.0.2 (X86_MACHINE's cast of a machine that isn't one) and is
answered by 7.2, so 10.0.2 alone reproduces it, however the binaries are ordered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import EXIT_CANNOT_TEST, EXIT_FINDINGS
from conformance.findings.reproducer import QEMU_TOKEN, Outcome, Reproducer
from conformance.findings.signature import crash_detail
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.probe import probe
from conformance.oracle.failure import FindingKind
from tests.integration.replaying import CAPS, Replay

pytestmark = pytest.mark.qemu

TRIGGER = b'{"execute":"rtc-reset-reinjection","id":1}'


@pytest.fixture(scope="module")
def rtc_abort(fetched_qemu: str, tmp_path_factory: pytest.TempPathFactory) -> Reproducer:
    """The finding as the recorder writes it, from the abort of the fetched QEMU."""
    if probe(fetched_qemu).version < (10, 0, 0):
        pytest.skip("the rtc-reset-reinjection abort on -M none is QEMU 10's")
    base = str(tmp_path_factory.mktemp("rtc"))
    with QemuInstance(LaunchConfig(binary=fetched_qemu, workdir_base=base)) as inst:
        argv = (QEMU_TOKEN, *inst.abstract_argv()[1:])
        with pytest.raises(QemuGone) as gone:
            inst.execute("rtc-reset-reinjection")
    info = gone.value.exit_info
    assert info.kind.value == "abort"
    return _rtc_reproducer(crash_detail(info), argv)


def _rtc_reproducer(detail: str, argv: tuple[str, ...] = ()) -> Reproducer:
    return Reproducer(
        signature=f"crash | rtc-reset-reinjection | {detail}",
        kind=FindingKind.CRASH,
        command="rtc-reset-reinjection",
        title="crash: rtc-reset-reinjection",
        citation="",
        profile="none",
        messages=(CAPS, TRIGGER),
        expected=Outcome("exit", 1, exit_kind="abort", detail=detail),
        argv=argv,
    )


def _finding(tmp_path: Path, rep: Reproducer) -> Path:
    directory = tmp_path / "finding"
    rep.save(directory)
    return directory


def test_the_table_is_ordered_by_version_and_recorded(
    rtc_abort: Reproducer, system_qemu: str, fetched_qemu: str, tmp_path: Path
) -> None:
    old, new = probe(system_qemu), probe(fetched_qemu)
    assert old.version < new.version
    finding = _finding(tmp_path, rtc_abort)
    missing = str(tmp_path / "no-such-qemu")
    replay = Replay(tmp_path, fetched_qemu)  # the newer first: the table must not follow
    done = replay(finding, "--qemu", missing, "--qemu", system_qemu, "--runs", "2")
    assert done.returncode == EXIT_FINDINGS, done.stdout + done.stderr
    out = done.stdout.splitlines()
    head = out.index(next(line for line in out if line.split()[:2] == ["version", "verdict"]))
    rows = out[head + 1 : head + 4]
    assert rows[0].startswith(f"{old.version_text} ({old.package})")
    assert "not reproduced 0/2" in rows[0]
    assert rows[1].startswith(f"{new.version_text} ({new.package})")
    assert "reproduced 2/2" in rows[1]
    assert rows[2].startswith(missing)
    assert "cannot test" in rows[2]
    assert f"earliest reproducing: {new.version_text} ({new.package})" in out
    assert f"latest reproducing: {new.version_text} ({new.package})" in out

    recorded = json.loads((finding / "affected.json").read_text())
    assert recorded["signature"] == rtc_abort.signature
    assert [(v["qemu"], v["verdict"]) for v in recorded["versions"]] == [
        (old.version_text, "not reproduced"),
        (new.version_text, "reproduced"),
        ("", "cannot test"),
    ]
    assert (
        recorded["earliest"]
        == recorded["latest"]
        == {
            "qemu": new.version_text,
            "package": new.package,
        }
    )


def test_a_single_qemu_replays_as_before_and_records_nothing(
    rtc_abort: Reproducer, fetched_qemu: str, tmp_path: Path
) -> None:
    finding = _finding(tmp_path, rtc_abort)
    done = Replay(tmp_path, fetched_qemu)(finding, "--runs", "1")
    assert done.returncode == EXIT_FINDINGS, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "reproduced 1/1 (stable)"
    assert not (finding / "affected.json").exists()


def test_no_version_that_can_be_tested_is_cannot_test(tmp_path: Path) -> None:
    rep = _rtc_reproducer("SIGABRT")
    finding = _finding(tmp_path, rep)
    replay = Replay(tmp_path, str(tmp_path / "none-1"))
    done = replay(finding, "--qemu", str(tmp_path / "none-2"), "--runs", "1")
    assert done.returncode == EXIT_CANNOT_TEST, done.stdout + done.stderr
    assert "reproduced on none of the 0 version(s) tested" in done.stdout
    recorded = json.loads((finding / "affected.json").read_text())
    assert [v["verdict"] for v in recorded["versions"]] == ["cannot test", "cannot test"]
    assert recorded["earliest"] is None
