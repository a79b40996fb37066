"""Acceptance: `git bisect run qmp-conformance replay` names the commit that broke QEMU.

A temporary repository stands in for QEMU's: its `qemu` script is, in the first two
commits ("good"), a wrapper around the real binary that refuses the command that crashes
it, and from the third commit on ("bad") the real binary itself. Two good commits, so
that bisect has one to run `replay` on between the ends it is given. The wrapper is a proxy on
the QMP channel, so the harness talks to a real QEMU either way.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.errors import EXIT_NO_VERDICT
from conformance.findings.reproducer import Outcome, Reproducer
from conformance.findings.signature import crash_detail
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.oracle.failure import FindingKind
from tests.conftest import PROJECT_ROOT
from tests.integration.processes import processes_in
from tests.integration.replaying import (
    COLO_ARGS,
)

pytestmark = pytest.mark.qemu

TRIGGER = "object-add"
GIT = ["git", "-c", "user.name=bisect test", "-c", "user.email=bisect@example.invalid"]

# The "good" QEMU: the real one, behind a proxy that answers TRIGGER itself.
WRAPPER = r'''#!{python}
"""QEMU without {trigger}: a proxy on the QMP socket that refuses it."""
import ctypes, json, os, select, signal, socket, subprocess, sys

REAL, REFUSED = {real!r}, {trigger!r}
args = sys.argv[1:]
if any(a in ("-version", "--version") for a in args):
    os.execv(REAL, [REAL, *args])  # the probe: nothing to proxy
qmp = next((i for i, a in enumerate(args) if a.startswith("socket,id=qmp,") and ",fd=" in a), None)
if qmp is None:
    os.execv(REAL, [REAL, *args])
client_fd = int(args[qmp].rsplit(",fd=", 1)[1].split(",")[0])
client = socket.socket(fileno=client_fd)
ours, theirs = socket.socketpair()
args[qmp] = args[qmp].replace(f"fd={{client_fd}}", f"fd={{theirs.fileno()}}")
libc = ctypes.CDLL(None)
# QEMU dies with us (PR_SET_PDEATHSIG), and is in our process group for the harness's kill.
qemu = subprocess.Popen(
    [REAL, *args], pass_fds=[theirs.fileno()], preexec_fn=lambda: libc.prctl(1, 9, 0, 0, 0)
)
theirs.close()


def stop(signum, frame):
    qemu.kill()
    qemu.wait()
    os._exit(128 + signum)


for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, stop)

decoder = json.JSONDecoder()
pending, at_line_start, buffered, client_open = [], True, "", True
poller = select.poll()  # not select(): descriptors may be numbered past 1024
poller.register(ours, select.POLLIN)
poller.register(client, select.POLLIN)
while True:
    ready = {{fd for fd, _ in poller.poll()}}
    if ours.fileno() in ready:
        data = ours.recv(65536)
        if not data:
            break  # QEMU is gone
        client.sendall(data)
        at_line_start = data.endswith(b"\n")
        if at_line_start and pending:
            client.sendall(b"".join(pending))
            pending.clear()
    if client_open and client.fileno() in ready:
        data = client.recv(65536)
        if not data:
            client_open = False
            poller.unregister(client)
            ours.shutdown(socket.SHUT_WR)
            continue
        buffered += data.decode("utf-8", "surrogateescape")
        # The harness writes JSON values without newlines: split on complete values.
        while buffered.strip():
            text = buffered.lstrip()
            try:
                value, end = decoder.raw_decode(text)
            except json.JSONDecodeError:
                # Garbage, or a value cut in two: it isn't the refused command whole.
                ours.sendall(buffered.encode("utf-8", "surrogateescape"))
                buffered = ""
                break
            buffered = text[end:]
            if isinstance(value, dict) and value.get("execute") == REFUSED:
                reply = {{"error": {{"class": "CommandNotFound",
                                    "desc": f"The command {{REFUSED}} has not been found"}}}}
                if "id" in value:
                    reply["id"] = value["id"]
                line = json.dumps(reply).encode() + b"\r\n"
                if at_line_start:
                    client.sendall(line)  # never inside a line QEMU is writing
                else:
                    pending.append(line)
            else:
                ours.sendall(text[:end].encode("utf-8", "surrogateescape"))
status = qemu.wait()
if status < 0:  # die the way QEMU died, so that the harness classifies the same exit
    signal.signal(-status, signal.SIG_DFL)
    os.kill(os.getpid(), -status)
sys.exit(status)
'''


@pytest.fixture
def reproducer(qemu_72: str, tmp_path: Path) -> Path:
    """The colo-compare abort, with the detail the real binary gives it."""
    config = LaunchConfig(binary=qemu_72, workdir_base=str(tmp_path / "detail"))
    with QemuInstance(config) as inst, pytest.raises(QemuGone) as gone:
        inst.execute(TRIGGER, COLO_ARGS)
    info = gone.value.exit_info
    rep = Reproducer(
        signature=f"crash | {TRIGGER} | {crash_detail(info)}",
        kind=FindingKind.CRASH,
        command=TRIGGER,
        title="colo-compare with a missing iothread aborts",
        citation="",
        profile="none",
        messages=(
            b'{"execute":"qmp_capabilities"}',
            json.dumps({"execute": TRIGGER, "arguments": COLO_ARGS, "id": 1}).encode(),
        ),
        expected=Outcome("exit", 1, exit_kind=info.kind.value, detail=crash_detail(info)),
    )
    path = tmp_path / "colo.jsonl"
    path.write_text(rep.to_jsonl(), encoding="utf-8")
    return path


def _run(*argv: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {
        **os.environ,
        "TMPDIR": str(tmp),
        "PYTHONPATH": str(PROJECT_ROOT),
        # Nothing of the user's git configuration, and nothing written to it.
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _replay_command(reproducer: Path, qemu: str) -> list[str]:
    replay = ["replay", str(reproducer), "--qemu", qemu, "--timeout", "2"]
    return [sys.executable, "-m", "conformance.cli", *replay]


def _replay(qemu: Path, reproducer: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _replay_command(reproducer, str(qemu)),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_git_bisect_run_names_the_first_bad_commit(
    qemu_72: str, reproducer: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    git = GIT
    repo = tmp_path / "qemu.git"
    script = repo / "qemu"
    wrapper = WRAPPER.format(python=sys.executable, real=qemu_72, trigger=TRIGGER)
    commits = _history(repo, wrapper, qemu_72, env)
    # The two ends, checked on their own first.
    _run(*git, "checkout", "-q", commits[0], cwd=repo, env=env)
    good = _replay(script, reproducer, env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "not reproduced 0/3" in good.stdout
    assert "the trigger got error:CommandNotFound" in good.stdout
    _run(*git, "checkout", "-q", commits[-1], cwd=repo, env=env)
    bad = _replay(script, reproducer, env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "reproduced 3/3 (stable)" in bad.stdout

    _run(*git, "bisect", "start", commits[-1], commits[0], cwd=repo, env=env)
    command = _replay_command(reproducer, "./qemu")
    out = _run(*git, "bisect", "run", *command, cwd=repo, env=env, timeout=600)
    assert f"{commits[2]} is the first bad commit" in out, out
    # Both verdicts came from replay inside the bisect, not from the two ends given.
    assert "not reproduced 0/3" in out
    assert "reproduced 3/3 (stable)" in out
    assert not processes_in(tmp_path), "a QEMU or wrapper outlived the bisect"
    assert not list(Path(env["TMPDIR"]).iterdir()), "replay left files behind"


def _history(repo: Path, good: str, real: str, env: dict[str, str]) -> list[str]:
    """Five commits of a `qemu` script: `good` in the first two, then `real` itself."""
    git = GIT
    repo.mkdir()
    _run(*git, "init", "-q", cwd=repo, env=env)
    script = repo / "qemu"
    commits = []
    for number, (content, note) in enumerate(
        [
            (good, "good: object-add refused"),
            (None, "good: an unrelated change"),
            (f'#!/bin/sh\nexec {real} "$@"\n', "bad: object-add reaches QEMU"),
            (None, "bad: an unrelated change"),
            (None, "bad: another unrelated change"),
        ],
        start=1,
    ):
        if content is not None:
            script.write_text(content)
            script.chmod(0o755)
        (repo / "NOTES").write_text(f"commit {number}: {note}\n")
        _run(*git, "add", "qemu", "NOTES", cwd=repo, env=env)
        _run(*git, "commit", "-q", "-m", note, cwd=repo, env=env)
        commits.append(_run(*git, "rev-parse", "HEAD", cwd=repo, env=env).strip())
    return commits


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("unreadable", ()),  # a reproducer file that isn't one
        ("missing", ()),  # no file at all
        ("bad-argument", ("--runs", "many")),  # argparse's own error (2 of its own)
    ],
)
def test_git_bisect_run_aborts_on_what_is_no_verdict(
    qemu_binary: str, tmp_path: Path, env: dict[str, str], case: str, extra: tuple[str, ...]
) -> None:
    """Exit 2 would be "bad" to bisect run, which would then blame a commit: 128 aborts."""
    reproducer = tmp_path / "colo.jsonl"
    if case != "missing":
        reproducer.write_text("this is not a reproducer\n", encoding="utf-8")
    if case == "bad-argument":
        rep = Reproducer(
            signature="s", kind=FindingKind.CRASH, command="query-status", title="t",
            citation="", profile="none", messages=(b'{"execute":"qmp_capabilities"}',),
            expected=Outcome("exit", 0, exit_kind="crash"),
        )  # fmt: skip
        reproducer.write_text(rep.to_jsonl(), encoding="utf-8")
    command = [*_replay_command(reproducer, "./qemu"), *extra]
    good = f'#!/bin/sh\nexec {qemu_binary} "$@"\n'
    repo = tmp_path / "qemu.git"
    commits = _history(repo, good, qemu_binary, env)

    direct = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert direct.returncode == EXIT_NO_VERDICT, direct.stdout + direct.stderr
    assert "Traceback" not in direct.stderr

    git = GIT
    _run(*git, "bisect", "start", commits[-1], commits[0], cwd=repo, env=env)
    ran = subprocess.run(
        [*git, "bisect", "run", *command],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = ran.stdout + ran.stderr
    assert ran.returncode != 0, said
    assert "is the first bad commit" not in said
    assert f"exit code {EXIT_NO_VERDICT}" in said, said  # git's "bisect run failed: ..."
    log = _run(*git, "bisect", "log", cwd=repo, env=env)
    # Only the two ends given: no commit was marked good or bad by the run.
    assert not [line for line in log.splitlines() if line.startswith("git bisect ")][1:], log
    assert not processes_in(tmp_path), "a QEMU outlived the bisect"


def test_the_wrapper_dies_with_its_qemu_when_killed(
    qemu_72: str, tmp_path: Path, env: dict[str, str]
) -> None:
    # The harness kills a hung QEMU's process group; the proxy must leave no orphan.
    script = tmp_path / "qemu-wrapped"
    script.write_text(WRAPPER.format(python=sys.executable, real=qemu_72, trigger=TRIGGER))
    script.chmod(0o755)
    config = LaunchConfig(binary=str(script), workdir_base=str(tmp_path / "work"))
    inst = QemuInstance(config)
    try:
        inst.start()
        assert inst.execute("query-status").ok
        refused = inst.execute(TRIGGER, COLO_ARGS)
        assert refused.message.error_class == "CommandNotFound"
        assert inst.execute("query-status").ok  # the proxy kept the stream in order
        assert inst.pid is not None
        (qemu_pid,) = _children(inst.pid)
        qemu = os.pidfd_open(qemu_pid)  # before the kill: the pid can't be reused under us
        try:
            inst.send_signal(signal.SIGKILL)  # the wrapper alone: QEMU must follow it
            poller = select.poll()
            poller.register(qemu, select.POLLIN)
            ended = poller.poll(10_000)
        finally:
            os.close(qemu)
        assert ended, "QEMU outlived the wrapper"
    finally:
        inst.close()


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]
