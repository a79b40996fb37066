"""A reproducer whose finding depends on a path's length replays at the recorded length.

The netdev_add abort of both baselines (`crash | netdev_add | util/error.c:N:
error_setv: Assertion `*errp == NULL' failed.`): a dgram netdev whose local unix socket
path passes sun_path's 108 bytes is refused ("is too long") yet binds the truncated
path; a second one whose path truncates to the same bytes then sets the error twice.
The paths are in the run's workdir, so whether the two truncate alike depends on the
workdir's length: the reproducer records it (`workdir_length`), and `replay` and the
one-liner pad their own workdir to it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from conformance.findings.reproducer import QEMU_TOKEN, Outcome, Reproducer
from conformance.findings.signature import Signature, crash_detail
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.oracle.failure import FindingKind
from tests.integration.replaying import CAPS, Replay
from tests.oneliner import run_reproduce_sh

pytestmark = pytest.mark.qemu

BASELINED = "crash | netdev_add | util/error.c:N: error_setv: Assertion `*errp == NULL' failed."
#: The recorded run's workdir length: longer than replay's shortest workdir under this
#: session's TMPDIR (checked below), so that padding can reach it.
RECORDED = 100
#: Both socket paths have 110 bytes and differ in the last: cut to sun_path, they are one.
PATH_BYTES = 110


def _netdev(ident: str, last: str) -> bytes:
    local = "$WORKDIR/" + "a" * (PATH_BYTES - RECORDED - 2) + last
    arguments = {
        "type": "dgram",
        "id": ident,
        "local": {"type": "unix", "path": local},
        "remote": {"type": "unix", "path": "$WORKDIR/r"},
    }
    return json.dumps({"execute": "netdev_add", "arguments": arguments, "id": ident}).encode()


MESSAGES = (CAPS, _netdev("n0", "1"), _netdev("n1", "2"))


@pytest.fixture
def netdev(qemu_binary: str, tmp_path: Path) -> Reproducer:
    """The reproducer as the suite records it, its detail taken from the real abort."""
    # Replay's shortest workdir: TMPDIR/rXXXXXXXX/qmpc-run-replay-XXXXXXXX/wXXXXXXXX.
    assert len(os.fsencode(tempfile.gettempdir())) + 46 + 2 <= RECORDED, "TMPDIR too deep"
    config = LaunchConfig(
        binary=qemu_binary, workdir_base=str(tmp_path / "w"), workdir_length=RECORDED
    )
    with QemuInstance(config) as inst:
        assert inst.workdir is not None
        assert len(os.fsencode(inst.workdir)) == RECORDED
        argv = (QEMU_TOKEN, *inst.abstract_argv()[1:])
        first, second = (
            json.loads(raw.replace(b"$WORKDIR", str(inst.workdir).encode())) for raw in MESSAGES[1:]
        )
        refused = inst.execute("netdev_add", first["arguments"])
        assert refused.message.error_class == "GenericError"  # too long, yet bound
        with pytest.raises(QemuGone) as gone:
            inst.execute("netdev_add", second["arguments"])
    info = gone.value.exit_info
    assert Signature.of_exit(info, "netdev_add").key == BASELINED
    return Reproducer(
        signature=BASELINED,
        kind=FindingKind.CRASH,
        command="netdev_add",
        title="crash: netdev_add",
        citation="",
        profile="none",
        messages=MESSAGES,
        expected=Outcome("exit", 2, exit_kind=info.kind.value, detail=crash_detail(info)),
        argv=argv,
        workdir_length=RECORDED,
    )


def test_replay_pads_its_workdir_to_the_recorded_length(
    netdev: Reproducer, qemu_binary: str, tmp_path: Path
) -> None:
    replay = Replay(tmp_path, qemu_binary)
    # The session's TMPDIR, not the deeper tmp_path: replay's workdir must be able to
    # have the recorded length.
    replay.tmp = Path(tempfile.mkdtemp(prefix="r", dir=tempfile.gettempdir()))
    try:
        done = replay(replay.write(netdev), "--runs", "3")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "reproduced 3/3 (stable)" in done.stdout
        assert "note:" not in done.stdout
        # A recorded workdir shorter than replay's shortest: said in one line.
        short = Reproducer.from_jsonl(
            netdev.to_jsonl().replace(f'"workdir_length":{RECORDED}', '"workdir_length":20')
        )
        done = replay(replay.write(short, "short.jsonl"), "--runs", "1")
        notes = [line for line in done.stdout.splitlines() if line.startswith("note: ")]
        assert len(notes) == 1, done.stdout
        assert "had 20 bytes" in notes[0], done.stdout
    finally:
        replay.tmp.rmdir()


def test_the_one_liner_pads_its_workdir_too(
    netdev: Reproducer, qemu_binary: str, tmp_path: Path
) -> None:
    finding = netdev.save(tmp_path / "finding", qemu_binary)
    tmp = tmp_path / "t"
    done = run_reproduce_sh(finding, tmp)
    assert "exit status 134" in done.stdout, done.stdout + done.stderr  # 128 + SIGABRT
    assert "error_setv: Assertion `*errp == NULL' failed." in done.stderr
    assert "note:" not in done.stderr
    assert not list(tmp.iterdir())
