"""One QEMU process with its QMP session, its workdir and its supervision.

The QMP channel is a socketpair whose far end QEMU inherits as a file descriptor
(`-chardev socket,fd=N`): no path on the host, no race to connect, and EOF as soon as
QEMU dies. Binaries that can't take a socket fd fall back to a unix socket in the
instance's private workdir, where QEMU connects to a socket the harness listens on.

`LaunchConfig.monitors` gives QEMU more than one QMP monitor, each on a channel of its
own (chardev ids `qmp`, `qmp1`, `qmp2`, ...; sockets `qmp.sock`, `qmp1.sock`, ... in
the workdir; named by `conformance.machine.harness`, which generated commands never
target). Monitor 0 is the primary one; the others each have their own transcript
(`monitor_transcript`), so the suite can check what every monitor receives (events are
broadcast to all monitors in command mode).

The instance is the only owner of QEMU I/O: its sessions are private, and every call
that reads or writes the QMP channel (`execute`, `send_raw`, `send_command`, `wait`,
`wait_event`, `poll`, `negotiate`) turns what the transport raises into a classified
QEMU outcome, `QemuGone` with the exit (a crash with its signal and stderr, a hang
after a liveness probe, a closed channel). A misbehaving QEMU is never the harness's
error, whichever path met it.

qemu-storage-daemon takes the same channels in its own syntax (`--chardev …
--monitor chardev=…`), and none of qemu-system's machine options: no board, no display,
no -S, no -sandbox. A machine profile can't run on it, except `none`, the smallest QMP
surface, which for the daemon is no option at all.

Whatever ends a session (a crash, a hang, the harness) ends up as an `ExitInfo`, and is
also written into the transcript as a note, because the transcript is what reproducers
and reports are made from.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import socket
import subprocess
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from conformance.errors import CannotStart, QemuMisbehaviour, SetupError
from conformance.machine import process
from conformance.machine.exits import ExitInfo, ExitKind, classify_exit, last_line
from conformance.machine.harness import monitor_args, monitor_socket
from conformance.machine.probe import SANDBOX_ARG, BinaryInfo, probe
from conformance.machine.profiles import BASE_ARGS, Profile, profile
from conformance.machine.stderr import StderrCapture
from conformance.machine.trace import LOG_FILE, TraceLog, TraceSetup
from conformance.qmp.deadline import Deadline, DeadlineExceeded
from conformance.qmp.message import Message
from conformance.qmp.session import AUTO, EventMatch, NoGreeting, Reply, Session, Ticket
from conformance.qmp.transcript import Transcript
from conformance.qmp.transport import Disconnected, SocketTransport

WORKDIR_TOKEN = "$WORKDIR"

Channel = Literal["auto", "fd", "unix"]


class DiedAtStart(CannotStart):
    """QEMU exited before its greeting (or before it answered negotiation); `stderr`
    says why, and `exit_info` whether the exit was a refusal or a crash."""

    def __init__(self, message: str, stderr: str, exit_info: ExitInfo | None = None) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.exit_info = exit_info


class QemuGone(QemuMisbehaviour, RuntimeError):
    """QEMU stopped answering during a session: it crashed, hung or exited."""

    def __init__(self, exit_info: ExitInfo, transcript: Transcript) -> None:
        super().__init__(exit_info.describe())
        self.exit_info = exit_info
        self.transcript = transcript


class EventMissing(DeadlineExceeded):
    """An awaited event didn't come, and QEMU still answers a liveness probe: the
    event's absence is the finding, not a hang."""


#: The id of the query that tells a missing event from a hung QEMU.
LIVENESS_ID = "qmpc-liveness"

_TRANSPORT_ERRORS = (Disconnected, DeadlineExceeded, OSError)
_T = TypeVar("_T")


@dataclass(slots=True)
class LaunchConfig:
    binary: str = "qemu-system-x86_64"
    profile: str | Profile = "none"
    extra_args: Sequence[str] = ()
    channel: Channel = "auto"
    sandbox: bool | None = None  # None: use it when the binary supports it
    workdir_base: str | None = None
    # The workdir's absolute path has this many bytes, where it can (`padded_workdir`):
    # a replay's paths then have the lengths of the recorded run's.
    workdir_length: int | None = None
    keep_workdir: bool = False
    timeout: float = 5.0  # deadline for each reply: QMP replies take microseconds
    start_timeout: float = 20.0  # deadline for the greeting
    quit_timeout: float = 5.0
    env: Mapping[str, str] = field(default_factory=dict)
    monitors: int = 1  # QMP monitors: the primary session plus `monitors - 1` extra ones
    # Trace events logged into the workdir (`conformance.machine.trace`); never on
    # qemu-storage-daemon, which has no -D.
    trace: TraceSetup | None = None


@atexit.register
def _remove_leftover_workdirs() -> None:
    # An instance nobody closed (a test killed mid-way; process.py's sweep kills its
    # QEMU) would otherwise leave its workdir behind: a run creates nothing it keeps.
    for inst in list(QemuInstance.started):
        if inst.workdir_root is not None and not inst.config.keep_workdir:
            shutil.rmtree(inst.workdir_root, ignore_errors=True)


#: The longest directory name a padding component gets (NAME_MAX is 255).
_PAD_COMPONENT = 100


def padded_workdir(root: Path, length: int) -> Path:
    """A directory under `root` whose absolute path is `length` bytes long, made of
    ``w`` components; `root` itself when it can't be (already as long, or one byte
    short, which no component fits)."""
    path = os.fsencode(root)
    # Stop while more than one component's worth remains, so that the rest is never 1.
    while length - len(path) > _PAD_COMPONENT + 2:
        path += b"/" + b"w" * _PAD_COMPONENT
    if length - len(path) >= 2:
        path += b"/" + b"w" * (length - len(path) - 1)
    padded = Path(os.fsdecode(path))
    padded.mkdir(parents=True, exist_ok=True)
    return padded


class QemuInstance:
    """A running QEMU. Use as a context manager, or call `start()` and `close()`."""

    #: Every instance started in this process and not yet garbage: checks that judge
    #: whole transcripts (the job state machine) find them here, closed ones included.
    started: ClassVar[weakref.WeakSet[QemuInstance]] = weakref.WeakSet()

    def __init__(self, config: LaunchConfig | None = None, **overrides: object) -> None:
        cfg = config or LaunchConfig()
        for key, value in overrides.items():
            setattr(cfg, key, value)
        self.config = cfg
        self.profile = cfg.profile if isinstance(cfg.profile, Profile) else profile(cfg.profile)
        self.info: BinaryInfo | None = None
        self.workdir: Path | None = None
        self.workdir_root: Path | None = None  # what is removed: the workdir, or above it
        self.argv: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: StderrCapture | None = None
        self.transcript = Transcript()
        self._session: Session | None = None
        # Monitors 1.. (`monitors` > 1): their own sessions and transcripts. Supervision
        # (exit notes, quit) stays with the primary session and transcript.
        self._extra_sessions: list[Session] = []
        # Where this test's (or exchange's) stderr starts: an exit is classified and
        # signed by what QEMU wrote after it, not by a reused instance's first line.
        self._stderr_mark = 0
        self.exit_info: ExitInfo | None = None
        self._quit_sent = False
        self.trace_log: TraceLog | None = None
        # Told a command's name once `execute` has its reply (or QEMU's end), and None
        # once QEMU is closed and its trace log read to the end: a trace-feedback
        # observer credits what each command's dispatch logged to that command, and
        # what the harness's own quit logged to no command.
        self.answered: Callable[[str | None], None] | None = None

    # -- life cycle --------------------------------------------------------------------

    def start(self, *, negotiate: bool = True, capabilities: Sequence[str] = ()) -> Message:
        """Launch QEMU and read its greeting (and negotiate unless told not to)."""
        self.info = probe(self.config.binary)
        self.profile = fit_profile(self.profile, self.info)
        QemuInstance.started.add(self)
        base = self.config.workdir_base
        if base is not None:
            os.makedirs(base, exist_ok=True)
        length = self.config.workdir_length
        if length is None:
            self.workdir_root = Path(tempfile.mkdtemp(prefix=f"qemu-{self.info.target}-", dir=base))
            self.workdir = self.workdir_root
        else:
            # As short a root as can be, so that padding reaches the length asked.
            self.workdir_root = Path(tempfile.mkdtemp(prefix="w", dir=base))
            self.workdir = padded_workdir(self.workdir_root, length)
        try:
            channel = self.config.channel
            if channel == "auto":
                try:
                    session = self._launch("fd")
                except DiedAtStart as exc:
                    # QEMU older than socket fd support rejects the chardev option.
                    if "'fd'" not in exc.stderr:
                        raise
                    self._reap_failed_start()
                    session = self._launch("unix")
            else:
                session = self._launch(channel)
            if negotiate:
                for number, each in enumerate([session, *self._extra_sessions]):
                    try:
                        reply = each.negotiate(capabilities)
                    except (Disconnected, DeadlineExceeded) as exc:
                        # QEMU greets before it creates devices, so a bad -device dies here.
                        raise self._start_failure(self.settle(exc)) from exc
                    if not reply.ok:
                        where = f" on monitor {number}" if number else ""
                        raise SetupError(
                            f"qmp_capabilities failed{where}: "
                            f"{reply.message.raw.decode(errors='replace')}"
                        )
            if self.trace_log is not None:
                self.trace_log.mark_started()
        except BaseException:
            self.close()
            raise
        assert session.greeting is not None
        return session.greeting

    def _launch(self, channel: Literal["fd", "unix"]) -> Session:
        assert self.info is not None
        assert self.workdir is not None
        count = self.config.monitors
        if count < 1:
            raise SetupError(f"monitors must be at least 1, not {count}")
        daemon = self.info.storage_daemon
        argv = [self.info.path, *(() if daemon else BASE_ARGS), *self.profile.args]
        sandbox = self.config.sandbox if self.config.sandbox is not None else self.info.sandbox
        if sandbox and not daemon:
            argv += ["-sandbox", SANDBOX_ARG]
        env = {**os.environ, "TMPDIR": str(self.workdir), **self.config.env}
        if self.config.trace is not None and not daemon:
            if self.trace_log is not None:
                self.trace_log.close()  # a first launch on the other channel
            argv += self.config.trace.args(self.workdir)
            self.trace_log = TraceLog(self.workdir / LOG_FILE)
        if channel == "fd":
            pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(count)]
            try:
                for number, (_, theirs) in enumerate(pairs):
                    argv += monitor_args(number, "socket", f"fd={theirs.fileno()}", daemon=daemon)
                argv += self.config.extra_args
                self._spawn(argv, env, pass_fds=[theirs.fileno() for _, theirs in pairs])
            except BaseException:
                for ours, _ in pairs:
                    ours.close()
                raise
            finally:
                for _, theirs in pairs:
                    theirs.close()
            socks = [ours for ours, _ in pairs]
        else:
            listeners: list[socket.socket] = []
            socks = []
            # A socket path is limited to 107 bytes, which a deep workdir passes. QEMU's
            # cwd is the workdir, so it gets the bare name; we bind through a directory
            # fd, whose /proc path is short.
            dirfd = os.open(self.workdir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for number in range(count):
                    name = monitor_socket(number)
                    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    listeners.append(listener)
                    listener.bind(f"/proc/self/fd/{dirfd}/{name}")
                    listener.listen(1)
                    argv += monitor_args(number, "socket", f"path={name},server=off", daemon=daemon)
                argv += self.config.extra_args
                self._spawn(argv, env)
                # QEMU connects to each socket as it creates the chardevs: one deadline.
                deadline = Deadline.after(self.config.start_timeout)
                for listener in listeners:
                    socks.append(self._accept(listener, deadline))
            except BaseException:
                for sock in socks:
                    sock.close()
                raise
            finally:
                os.close(dirfd)
                for listener in listeners:
                    listener.close()
        timeout = self.config.timeout
        session = Session(SocketTransport(socks[0]), self.transcript, timeout=timeout)
        self._session = session
        self._extra_sessions = [
            Session(SocketTransport(sock), Transcript(), timeout=timeout) for sock in socks[1:]
        ]
        self.transcript.meta.update(
            binary=self.info.path,
            version=self.info.version_text,
            package=self.info.package,
            target=self.info.target,
            profile=self.profile.name,
            channel=channel,
            argv=self.abstract_argv(),
        )
        for number, extra in enumerate(self._extra_sessions, start=1):
            extra.transcript.meta.update(self.transcript.meta, monitor=number)
        # Every monitor greets as QEMU starts: one deadline for all the greetings.
        deadline = Deadline.after(self.config.start_timeout)
        self._read_greeting(session, self.config.start_timeout, "")
        for number, extra in enumerate(self._extra_sessions, start=1):
            self._read_greeting(extra, deadline.remaining(), f" on monitor {number}")
        return session

    def _read_greeting(self, session: Session, timeout: float, where: str) -> None:
        assert self.info is not None
        try:
            session.read_greeting(timeout)
        except Disconnected as exc:
            raise self._start_failure(self.settle(exc)) from exc
        except DeadlineExceeded as exc:
            raise SetupError(
                f"no QMP greeting{where} from {self.info.path}"
                f" within {self.config.start_timeout:g}s"
            ) from exc
        except NoGreeting as exc:
            raise SetupError(f"{self.info.path}{where}: {exc}") from exc

    def _start_failure(self, info: ExitInfo) -> SetupError:
        path = self.info.path if self.info else self.config.binary
        if info.kind is ExitKind.HANG:
            return SetupError(f"{path} stopped answering during start-up")
        return DiedAtStart(
            f"{path} died during start-up ({_status(info)}): {_stderr_line(info.stderr)}",
            info.stderr,
            info,
        )

    def _spawn(self, argv: list[str], env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> None:
        self.argv = argv
        self.proc = process.spawn(argv, pass_fds=pass_fds, cwd=self.workdir, env=env)
        assert self.proc.stderr is not None
        self.stderr = StderrCapture(self.proc.stderr)

    def _accept(self, listener: socket.socket, deadline: Deadline) -> socket.socket:
        # Wait for the connection or for QEMU's death, whichever comes first, without
        # polling: a pidfd becomes readable when the process exits.
        assert self.proc is not None
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            # poll(), not select(): a descriptor number may be past select()'s 1024.
            poller = select.poll()
            poller.register(listener.fileno(), select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(deadline.remaining() * 1000)}
        finally:
            os.close(pidfd)
        if listener.fileno() in ready:
            conn, _ = listener.accept()
            return conn
        if ready:
            raise Disconnected("QEMU exited before connecting to the QMP socket")
        raise DeadlineExceeded("QEMU did not connect to the QMP socket")

    def _reap_failed_start(self) -> None:
        if self.proc is not None:
            process.reap(self.proc)
            process.forget(self.proc)
        if self.stderr is not None:
            self.stderr.close()
        for extra in self._extra_sessions:
            extra.close()
        self.proc, self.stderr, self._session, self.exit_info = None, None, None, None
        self._extra_sessions = []
        self.transcript = Transcript()

    def __enter__(self) -> QemuInstance:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- use ---------------------------------------------------------------------------

    def _primary(self) -> Session:
        if self._session is None:
            raise RuntimeError("QEMU instance is not started")
        return self._session

    def _monitor(self, monitor: int) -> Session:
        if monitor == 0:
            return self._primary()
        return self._extra_sessions[monitor - 1]

    @property
    def monitors(self) -> int:
        """How many QMP monitors this QEMU has (0 before start)."""
        return (1 + len(self._extra_sessions)) if self._session is not None else 0

    @property
    def greeting(self) -> Message | None:
        return self._session.greeting if self._session is not None else None

    @property
    def pending(self) -> tuple[Ticket, ...]:
        """The primary monitor's tickets still waiting for a reply."""
        return self._primary().pending

    @property
    def unexpected(self) -> list[Message]:
        """Replies and other messages the primary monitor could pair with no request."""
        return self._primary().unexpected

    def monitor_transcript(self, monitor: int) -> Transcript:
        return self.transcript if monitor == 0 else self._extra_sessions[monitor - 1].transcript

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mark_stderr(self) -> None:
        """Start a new stretch of stderr: an exit from here on is judged by what QEMU
        writes after this point."""
        self._stderr_mark = len(self.stderr_text())

    def _gone(self, exc: BaseException) -> QemuGone:
        return QemuGone(self.settle(exc), self.transcript)

    def _io(self, call: Callable[[], _T]) -> _T:
        """`call` (a read or write of the QMP channel), with what the transport raises
        turned into `QemuGone`: a misbehaving QEMU is a classified outcome here."""
        try:
            return call()
        except _TRANSPORT_ERRORS as exc:
            raise self._gone(exc) from exc

    def execute(
        self,
        name: str,
        arguments: object = None,
        *,
        id: object = AUTO,
        oob: bool = False,
        extra: Mapping[str, object] | None = None,
        timeout: float | None = None,
        monitor: int = 0,
    ) -> Reply:
        """`Session.execute`, but a dead or hung QEMU raises `QemuGone` with its exit."""
        # Set before sending: QEMU may exit before its reply arrives, and that exit is
        # the clean one. A refused quit (bad arguments, exec-oob) leaves QEMU running,
        # and close() must still ask it to quit rather than wait for an exit.
        quitting = name == "quit" and not self._quit_sent
        if quitting:
            self._quit_sent = True
        session = self._monitor(monitor)
        try:
            reply = session.execute(name, arguments, id=id, oob=oob, extra=extra, timeout=timeout)
        except _TRANSPORT_ERRORS as exc:
            raise self._gone(exc) from exc
        finally:
            if self.answered is not None:
                self.answered(name)
        if quitting and not reply.ok:
            self._quit_sent = False
        return reply

    def negotiate(
        self, capabilities: Sequence[str] = (), *, monitor: int = 0, timeout: float | None = None
    ) -> Reply:
        """`Session.negotiate` on a monitor, with `execute`'s handling of QEMU's end."""
        return self._io(lambda: self._monitor(monitor).negotiate(capabilities, timeout=timeout))

    def send_command(
        self,
        name: str,
        arguments: object = None,
        *,
        id: object = AUTO,
        extra: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Ticket:
        """`Session.send_command` without waiting; a failed write raises `QemuGone`."""
        session = self._primary()
        return self._io(
            lambda: session.send_command(name, arguments, id=id, extra=extra, timeout=timeout)
        )

    def send_raw(
        self,
        data: bytes,
        *,
        replies: Iterable[tuple[bool, object]] = (),
        label: str = "raw",
        timeout: float | None = None,
    ) -> list[Ticket]:
        """`Session.send_raw`: any bytes, with the replies they expect. A failed write
        (EPIPE from a parser that crashed on the input, a full pipe past the deadline)
        raises `QemuGone`."""
        session = self._primary()
        return self._io(
            lambda: session.send_raw(data, replies=replies, label=label, timeout=timeout)
        )

    def wait(self, ticket: Ticket, timeout: float | None = None) -> Message:
        """`Session.wait` for a raw send's ticket, with `execute`'s handling of a dead
        or hung QEMU."""
        session = self._primary()
        return self._io(lambda: session.wait(ticket, timeout))

    def wait_event(
        self,
        name: str,
        match: EventMatch = None,
        timeout: float | None = None,
        *,
        monitor: int = 0,
    ) -> Message:
        """`Session.wait_event`. When the deadline passes, a liveness probe decides:
        QEMU answers, and `EventMissing` says the event never came; it doesn't, and
        `QemuGone` says it hung. A closed channel is `QemuGone` at once."""
        session = self._monitor(monitor)
        try:
            return session.wait_event(name, match, timeout)
        except DeadlineExceeded as exc:
            self._probe_liveness(exc)
            raise EventMissing(str(exc)) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._gone(exc) from exc

    def _probe_liveness(self, cause: BaseException) -> None:
        """Raise `QemuGone` unless QEMU answers a query within the reply deadline."""
        if not self.alive():
            raise self._gone(cause)
        session = self._primary()
        try:
            # Any reply will do (CommandNotFound before negotiation is one).
            session.execute("query-version", id=LIVENESS_ID)
        except _TRANSPORT_ERRORS as exc:
            raise self._gone(exc) from cause

    def drain_events(self, *, monitor: int = 0) -> list[Message]:
        """Take every queued event (no I/O)."""
        return self._monitor(monitor).drain_events() if self._session is not None else []

    def poll(self, timeout: float) -> list[Message]:
        """`Session.poll`: what arrives within `timeout`; a closed channel is `QemuGone`."""
        session = self._primary()
        return self._io(lambda: session.poll(timeout))

    def settle(self, cause: BaseException) -> ExitInfo:
        """After a failed read or write: find out (and record) how QEMU ended."""
        if isinstance(cause, DeadlineExceeded) and self.alive():
            self.transcript.record_note("deadline", detail=str(cause))
            return self._kill(hung=True)
        info = self._wait_exit(Deadline.after(self.config.quit_timeout))
        if info is None:
            # It closed the channel but kept running: as bad as a hang for a client.
            self.transcript.record_note("disconnected", detail=str(cause))
            return self._kill(hung=True)
        return info

    def send_signal(self, sig: int) -> None:
        """Signal QEMU itself (tests use this to simulate crashes and hangs)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def abstract_argv(self) -> list[str]:
        """The command line with the workdir replaced by `$WORKDIR`."""
        wd = str(self.workdir) if self.workdir else None
        return [a.replace(wd, WORKDIR_TOKEN) if wd else a for a in self.argv]

    def stderr_text(self) -> str:
        return self.stderr.text() if self.stderr is not None else ""

    # -- ending ------------------------------------------------------------------------

    def close(self) -> ExitInfo | None:
        """Quit QEMU (waiting with a deadline), kill it if it won't, remove the workdir."""
        info = self.exit_info
        if self.proc is not None and info is None:
            info = self._quit_and_wait()
        if self._session is not None:
            self._session.close()
        for extra in self._extra_sessions:
            extra.close()
        if self.stderr is not None:
            self.stderr.close()
        if self.proc is not None:
            process.forget(self.proc)
        if self.trace_log is not None:
            self.trace_log.close()
        if self.answered is not None:
            self.answered(None)
        if self.workdir_root is not None and not self.config.keep_workdir:
            shutil.rmtree(self.workdir_root, ignore_errors=True)
        return info

    def _quit_and_wait(self) -> ExitInfo:
        deadline = Deadline.after(self.config.quit_timeout)
        session = self._session
        if self.alive() and session is not None and session.greeting and not self._quit_sent:
            self._quit_sent = True
            # A failed quit is judged by the exit below.
            with contextlib.suppress(Disconnected, DeadlineExceeded, OSError):
                if not session.negotiated:
                    # quit is CommandNotFound until negotiation; leave that mode first.
                    session.negotiate(timeout=deadline.remaining())
                session.execute("quit", timeout=deadline.remaining())
        info = self._wait_exit(deadline)
        if info is None:
            # Asked to quit (or never negotiated) and still running: end it. A QEMU
            # that ignores `quit` is hung; one we never asked is just torn down.
            return self._kill(hung=self._quit_sent)
        return info

    def _wait_exit(self, deadline: Deadline) -> ExitInfo | None:
        if self.exit_info is not None:
            return self.exit_info
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout=deadline.remaining())
        except subprocess.TimeoutExpired:
            return None
        return self._record_exit(hung=False, killed=False)

    def _kill(self, *, hung: bool) -> ExitInfo:
        assert self.proc is not None
        # SIGKILL can't be ignored, even by a stopped process; reap() still has a deadline.
        process.reap(self.proc)
        return self._record_exit(hung=hung, killed=True)

    def _record_exit(self, *, hung: bool, killed: bool) -> ExitInfo:
        assert self.proc is not None
        if self.stderr is not None:
            # The assertion text is in the pipe; let the reader reach EOF first.
            self.stderr.wait_eof(self.config.quit_timeout)
        info = classify_exit(
            self.proc.returncode,
            self.stderr_text()[self._stderr_mark :],
            quit_sent=self._quit_sent,
            hung=hung,
            killed_by_harness=killed,
        )
        self.exit_info = info
        self.transcript.record_note(
            "exit",
            kind=info.kind.value,
            returncode=info.returncode,
            signal=info.signal,
            assertion=info.assertion,
        )
        return info


#: The options qemu-storage-daemon has besides --daemonize and --pidfile, which a
#: profile never uses: the harness supervises QEMU, and writes nothing outside the workdir.
DAEMON_OPTIONS = frozenset({"--blockdev", "--chardev", "--export", "--nbd-server", "--object"})


def fit_profile(prof: Profile, info: BinaryInfo) -> Profile:
    """`prof` as it runs on `info`'s binary, or SetupError when it can't run there."""
    if not info.storage_daemon:
        return prof
    foreign = [a for a in prof.args if a.startswith("-") and a not in DAEMON_OPTIONS]
    if not foreign:
        return prof
    if prof.name == "none":
        # Generic callers (the CLI's preflight and schema reads, wire checks) ask for
        # "none" to get the smallest QMP surface; on the daemon that is no option at all.
        return Profile("none", (), "qemu-storage-daemon with nothing configured")
    raise SetupError(
        f"machine profile {prof.name!r} needs {' '.join(foreign)}: "
        "qemu-storage-daemon has no machine or devices (use its daemon profile)"
    )


def _status(info: ExitInfo) -> str:
    if info.signal is not None:
        return f"signal {info.signal}"
    return f"exit status {info.returncode}"


def _stderr_line(stderr: str) -> str:
    return last_line(stderr) or "(nothing on stderr)"


__all__ = [
    "LIVENESS_ID",
    "DiedAtStart",
    "EventMissing",
    "ExitInfo",
    "ExitKind",
    "LaunchConfig",
    "QemuGone",
    "QemuInstance",
    "fit_profile",
    "padded_workdir",
]
