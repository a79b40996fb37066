"""Replay applies the suite's deviations: a reproducer recorded before its failure
became a deviation replays as "not reproduced" with the deviation named, on every QEMU.

The reproducers are those of the retired signatures (tests/unit/test_baseline_migration.py
RETIRED): an id holding U+FFFF (``ids.echo``), a hidden command with C0 80 in a string
(``malformed.executed``) and in a key (``malformed.parsed``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.errors import EXIT_OK
from conformance.findings.reproducer import QEMU_TOKEN, Outcome, Reproducer
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.oracle.deviation import MODIFIED_UTF8_NUL, NONCHARACTERS
from conformance.oracle.failure import FindingKind
from strategies.wire import RESYNC, limit_cases, probe
from tests.integration.replaying import CAPS, Replay

pytestmark = pytest.mark.qemu

_PROBE = probe({"probe": "invalid-utf8"})
# The retired signatures' cases, as the suite wrote them: the request, or the broken
# input with the resynchronising byte, then (for broken input) the probe.
CASES = {
    "ids.echo": ([b'{"execute":"query-version","id":"\xef\xbf\xbf"}'], NONCHARACTERS),
    "malformed.executed": (
        [limit_cases()["overlong-nul-in-string"].data + RESYNC, _PROBE],
        MODIFIED_UTF8_NUL,
    ),
    "malformed.parsed": (
        [b'{"\xc0\x80execute":"query-version","id":"MUST-NOT-RUN-1"}\n' + RESYNC, _PROBE],
        MODIFIED_UTF8_NUL,
    ),
}


@pytest.fixture
def replay(tmp_path: Path, qemu_binary: str) -> Replay:
    return Replay(tmp_path, qemu_binary)


@pytest.mark.parametrize("check", sorted(CASES))
def test_a_reproducer_of_a_deviation_does_not_reproduce(
    check: str, qemu_binary: str, replay: Replay, tmp_path: Path
) -> None:
    sends, deviation = CASES[check]
    with QemuInstance(LaunchConfig(binary=qemu_binary, workdir_base=str(tmp_path / "w"))) as inst:
        argv = (QEMU_TOKEN, *inst.abstract_argv()[1:])
    rep = Reproducer(
        signature=f"protocol-violation | - | {check} $.id",
        kind=FindingKind.PROTOCOL,
        command=None,
        title=check,
        citation="",
        profile="none",
        messages=(CAPS, *sends),
        expected=Outcome("reply", 1, check=check),
        argv=argv,
    )
    done = replay(replay.write(rep), "--runs", "2")
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "not reproduced 0/2" in done.stdout
    line = f"deviation {deviation.name}: {deviation.because[0]}; not a finding"
    assert done.stdout.count(line) == 2, done.stdout
    assert f"fails {check} only as a deviation" in done.stdout
