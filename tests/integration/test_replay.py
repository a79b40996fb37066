"""`qmp-conformance replay` and minimisation on known defects of the real QEMU 7.2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.errors import EXIT_NO_VERDICT
from conformance.findings.minimise import minimise
from conformance.findings.replay import replay_once
from conformance.findings.reproducer import QEMU_TOKEN, Outcome, Reproducer
from conformance.findings.signature import crash_detail
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.oracle.failure import FindingKind
from tests.integration.replaying import (
    CAPS,
    COLO_ARGS,
    Replay,
)
from tests.oneliner import run_reproduce_sh

pytestmark = pytest.mark.qemu


def _send(execute: str, arguments: object = None, id: object = 1) -> bytes:
    msg: dict[str, object] = {"execute": execute}
    if arguments is not None:
        msg["arguments"] = arguments
    msg["id"] = id
    return json.dumps(msg, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def argv(qemu_72: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """A real abstract command line of the `none` profile, as findings record it."""
    base = str(tmp_path_factory.mktemp("argv"))
    with QemuInstance(LaunchConfig(binary=qemu_72, workdir_base=base)) as inst:
        return (QEMU_TOKEN, *inst.abstract_argv()[1:])


@pytest.fixture(scope="module")
def colo_detail(qemu_72: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The colo-compare abort's signature detail, as the finding recorder takes it."""
    base = str(tmp_path_factory.mktemp("colo"))
    with (
        QemuInstance(LaunchConfig(binary=qemu_72, workdir_base=base)) as inst,
        pytest.raises(QemuGone) as gone,
    ):
        inst.execute("object-add", COLO_ARGS)
    assert gone.value.exit_info.kind.value == "abort"
    return crash_detail(gone.value.exit_info)


def _rep(
    kind: FindingKind, command: str, messages: list[bytes], expected: Outcome, argv: tuple[str, ...]
) -> Reproducer:
    return Reproducer(
        signature=f"{kind.value} | {command} | test",
        kind=kind,
        command=command,
        title=f"{kind.value}: {command}",
        citation="",
        profile="none",
        messages=tuple(messages),
        expected=expected,
        argv=argv,
    )


@pytest.fixture
def pmemsave(argv: tuple[str, ...]) -> Reproducer:
    trigger = _send("pmemsave", {"val": 0, "size": -1, "filename": "$WORKDIR/mem"})
    expected = Outcome("exit", 1, exit_kind="crash", detail="SIGSEGV")
    return _rep(FindingKind.CRASH, "pmemsave", [CAPS, trigger], expected, argv)


@pytest.fixture
def colo(argv: tuple[str, ...], colo_detail: str) -> Reproducer:
    expected = Outcome("exit", 1, exit_kind="abort", detail=colo_detail)
    trigger = _send("object-add", COLO_ARGS)
    return _rep(FindingKind.CRASH, "object-add", [CAPS, trigger], expected, argv)


@pytest.fixture
def replay(tmp_path: Path, qemu_72: str) -> Replay:
    return Replay(tmp_path, qemu_72)


@pytest.mark.parametrize("finding", ["pmemsave", "colo"])
def test_crash_reproduces_three_times_out_of_three(
    finding: str, request: pytest.FixtureRequest, replay: Replay
) -> None:
    rep: Reproducer = request.getfixturevalue(finding)
    done = replay(replay.write(rep))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reproduced 3/3 (stable)" in done.stdout
    assert done.stdout.count(": reproduced: ") == 3


def test_doc_mismatch_reply_reproduces(argv: tuple[str, ...], replay: Replay) -> None:
    trigger = _send("block_resize", {"device": "nosuch", "size": 1})
    expected = Outcome("reply", 1, reply="error:GenericError")
    rep = _rep(FindingKind.DOC, "block_resize", [CAPS, trigger], expected, argv)
    done = replay(replay.write(rep))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reproduced 3/3 (stable)" in done.stdout
    assert "the trigger got error:GenericError" in done.stdout


def test_hang_reproduces(argv: tuple[str, ...], replay: Replay) -> None:
    # A hotplugged server socket with wait=true blocks QEMU's main loop in accept(). The
    # path is relative (QEMU's cwd is its workdir): a deep tmp_path passes 107 bytes.
    backend = {
        "type": "socket",
        "data": {
            "addr": {"type": "unix", "data": {"path": "s.sock"}},
            "server": True,
            "wait": True,
        },
    }
    trigger = _send("chardev-add", {"id": "s0", "backend": backend})
    rep = _rep(FindingKind.HANG, "chardev-add", [CAPS, trigger], Outcome("hang", 1), argv)
    done = replay(replay.write(rep), "--timeout", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reproduced 3/3 (stable)" in done.stdout
    assert "hang: no reply, QEMU alive" in done.stdout


def test_an_outcome_qemu_does_not_produce_exits_0(argv: tuple[str, ...], replay: Replay) -> None:
    expected = Outcome("exit", 1, exit_kind="crash", detail="SIGSEGV")
    rep = _rep(FindingKind.CRASH, "query-status", [CAPS, _send("query-status")], expected, argv)
    done = replay(replay.write(rep), "--timeout", "1", "--runs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not reproduced 0/2" in done.stdout
    assert "QEMU still running; the trigger got return" in done.stdout


def test_another_reply_is_not_the_finding(argv: tuple[str, ...], replay: Replay) -> None:
    trigger = _send("block_resize", {"device": "nosuch", "size": 1})
    expected = Outcome("reply", 1, reply="error:DeviceNotFound")  # what the doc says
    rep = _rep(FindingKind.DOC, "block_resize", [CAPS, trigger], expected, argv)
    done = replay(replay.write(rep), "--runs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not reproduced 0/1" in done.stdout


@pytest.mark.parametrize(
    ("ident", "check"),
    [
        # QEMU 7.2 prints an id that overflows a double as a bare `inf`. (An id holding
        # a noncharacter is a deviation: tests/integration/test_replay_deviations.py.)
        (b"1e400", "output.strict-json"),
    ],
)
def test_a_protocol_finding_is_judged_on_the_conversation(
    argv: tuple[str, ...], replay: Replay, ident: bytes, check: str
) -> None:
    trigger = b'{"execute":"query-version","id":' + ident + b"}"
    expected = Outcome("reply", 1, check=check)
    rep = _rep(FindingKind.PROTOCOL, "-", [CAPS, trigger], expected, argv)
    done = replay(replay.write(rep), "--runs", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reproduced 2/2 (stable)" in done.stdout
    assert f"the conversation fails {check}" in done.stdout
    # The same request with an ordinary id: the reply is fine, so no finding, although
    # the trigger's reply kind (return) is the same.
    plain = _rep(FindingKind.PROTOCOL, "-", [CAPS, _send("query-version")], expected, argv)
    done = replay(replay.write(plain, "plain.jsonl"), "--runs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the conversation fails no protocol check" in done.stdout


@pytest.mark.parametrize(
    ("binary", "message"),
    [
        ("/nonexistent/qemu", "not found"),
        ("/bin/true", "is not a QEMU binary"),
        ("DIES", "died during start-up.*no-such-device-xyz"),
    ],
)
def test_a_binary_that_cannot_be_tested_exits_125(
    binary: str, message: str, pmemsave: Reproducer, replay: Replay, dies_at_start: str
) -> None:
    qemu = dies_at_start if binary == "DIES" else binary
    done = replay(replay.write(pmemsave), qemu=qemu)
    assert done.returncode == 125, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("qmp-conformance: cannot test: ")
    assert re.search(message, lines[0])


@pytest.mark.parametrize(
    "content", ["", "garbage\n", '{"qmp-reproducer":1}\n', "MISSING"], ids=str.strip
)
def test_a_corrupt_reproducer_exits_128(content: str, tmp_path: Path, replay: Replay) -> None:
    # No verdict: 128 aborts `git bisect run`, where 2 would mark the commit bad.
    path = tmp_path / "bad.jsonl"
    if content != "MISSING":
        path.write_text(content)
    done = replay(path)
    assert done.returncode == EXIT_NO_VERDICT, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"qmp-conformance: {path}: ")


def test_minimising_a_padded_crash_leaves_capabilities_and_the_needed_arguments(
    colo: Reproducer, qemu_72: str, tmp_path: Path, replay: Replay
) -> None:
    harmless = ["query-status", "query-version", "query-name", "query-uuid", "query-kvm"]
    harmless += ["query-commands", "query-chardev", "query-iothreads", "query-machines"]
    harmless += ["query-cpus-fast"]
    padding = [_send(name, id=100 + n) for n, name in enumerate(harmless)]
    extra = {"compare_timeout": 3000, "expired_scan_cycle": 3000, "vnet_hdr_support": False}
    trigger = _send("object-add", {**COLO_ARGS, **extra, "notify_dev": "abc"})
    padded = colo.with_messages([CAPS, *padding, trigger], len(padding) + 1)
    work = str(tmp_path / "minimise")
    small = minimise(padded, qemu_72, workdir_base=work, budget_s=240)
    assert len(small.messages) == 2
    assert small.messages[0] == CAPS
    assert small.expected.trigger == 1
    envelope = json.loads(small.messages[1])
    assert envelope["execute"] == "object-add"
    assert set(envelope["arguments"]) == set(COLO_ARGS)
    assert envelope["arguments"]["qom-type"] == "colo-compare"
    assert replay_once(small, qemu_72, workdir_base=work).reproduced
    done = replay(replay.write(small, "small.jsonl"))
    assert done.returncode == 1
    assert "reproduced 3/3 (stable)" in done.stdout


def test_the_one_liner_reproduces_the_crash_with_nothing_but_sh(
    pmemsave: Reproducer, qemu_72: str, tmp_path: Path
) -> None:
    finding = pmemsave.save(tmp_path / "finding", qemu_72)
    tmp = tmp_path / "tmp"
    done = run_reproduce_sh(finding, tmp)
    assert "exit status 139" in done.stdout, done.stdout + done.stderr  # 128 + SIGSEGV
