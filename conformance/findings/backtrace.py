"""The top frames of a signal-only crash's backtrace, from its reproducer run under gdb.

A crash that left nothing but its signal is signed by the shape of the command's
arguments (`conformance.findings.signature.argument_shape`): that tells the variants
of ``transaction`` apart, not two segfaults of one variant. Where QEMU's debug symbols
are available (`conformance.machine.symbols`) and gdb is on PATH, the finding's
reproducer runs once more under ``gdb -batch -nx``, and the top `TOP` frames of the
crashing thread that are QEMU's own code join the signature
(`Signature.with_frames`): ``SIGSEGV at bdrv_disable_dirty_bitmap<-qmp_transaction<-
qmp_marshal_transaction args=actions[block-dirty-bitmap-enable]``.

The run is the reproducer's as the one-liner makes it (`one_liner_argv`: the harness's
monitor on stdio, the same chardev id), its messages fed on stdin from a file, then a
``quit`` so that a QEMU that doesn't crash this time ends; in a workdir of its own
under the run's, which is QEMU's cwd and TMPDIR, as in any launch; within a deadline,
its process group killed afterwards. gdb stops only at the crash's signal (every
other one passes to QEMU silently, as QEMU's own SIGUSR1 kicks and SIGPIPEs must).

Frames are function names only: no addresses, arguments, files or line numbers, and
no compiler clone suffixes (``.constprop.0``, ``.isra.0``, ``.part.0``, ``.cold``), which
change with the build while the defect doesn't. Skipped: frames gdb can't name (``??``),
``<signal handler called>``, frames of shared libraries other than QEMU's modules, and
the C library's and GLib's abort and assertion machinery (names starting with ``__``
or ``g_``, ``raise``, ``abort``, ``pthread_kill``).

Without symbols gdb is not run: the signature keeps the shape alone, and the run says
so once (`Backtracer.note`). A run asks gdb at most once per signature: the frames
(or their absence) are kept in ``<workdir>/backtraces/``, shared by xdist's workers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shlex
import shutil
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path

from conformance.errors import SetupError
from conformance.findings.record import Finding
from conformance.findings.reproducer import Reproducer, one_liner_argv
from conformance.machine.instance import WORKDIR_TOKEN
from conformance.machine.symbols import DebugSymbols, debug_symbols
from conformance.tool import run_tool

log = logging.getLogger(__name__)
__all__ = ["TOP", "Backtracer", "gdb_argv", "parse_frames"]

#: Frames a signature keeps.
TOP = 3
#: How long one gdb run may take: QEMU's start-up under gdb, the messages, the crash.
GDB_TIMEOUT = 60.0

_SIGNAL_LINE = re.compile(r"received signal (SIG[A-Z0-9]+)")
# "#3  0x000055555601f949 in name (args) at file.c:12", "#0  name (args) at …", and
# "#7  0x… in name () from /lib/…"; gdb may print "name@entry"-style text only in args.
_FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-fA-F]+\s+in\s+)?(?P<name>[^\s(]+)\s*\((?P<rest>.*)$")
_FROM = re.compile(r"\)\s+from\s+(?P<lib>\S+)\s*$")
_CLONE_SUFFIX = re.compile(r"(?:\.(?:constprop|isra|part|cold|lto_priv|localalias)(?:\.\d+)?)+$")
_RUNTIME = re.compile(r"^(?:__|_start$|g_|raise$|abort$|pthread_kill$)")


def parse_frames(text: str, top: int = TOP) -> list[str]:
    """The top `top` frames of QEMU's own code in gdb's ``bt`` output `text`, innermost
    first, as function names (see the module docstring); [] when `text` holds no
    backtrace after a signal."""
    stopped = _SIGNAL_LINE.search(text)
    if stopped is None:
        return []
    frames: list[str] = []
    for line in text[stopped.end() :].splitlines():
        match = _FRAME.match(line.strip())
        if match is None:
            continue
        name = _CLONE_SUFFIX.sub("", match["name"].split("@", 1)[0])
        library = _FROM.search(match["rest"])
        if name in ("??", "") or _RUNTIME.match(name):
            continue
        if library is not None and "/qemu/" not in library["lib"]:
            continue  # libc, GLib, …; QEMU's modules live under …/qemu/
        frames.append(name)
        if len(frames) == top:
            break
    return frames


def gdb_argv(
    symbols: DebugSymbols, binary: str, argv: Sequence[str], stdin: Path, sig: str
) -> list[str]:
    """gdb's command line that runs `argv` (QEMU's arguments after the program) of
    `binary` with `stdin`, stops at `sig` and prints the backtrace."""
    program = [binary] if binary == str(symbols.program) else ["/bin/sh", binary]
    # gdb runs the program through a shell: its arguments and the redirection are shell
    # words. A launcher script runs under /bin/sh, which execs QEMU: gdb follows it.
    run = shlex.join([*program[1:], *argv]) + " < " + shlex.quote(str(stdin))
    dirs = ":".join(str(d) for d in symbols.debug_dirs)
    return [
        "gdb",
        "-batch",
        "-nx",
        "-iex",
        f"set debug-file-directory {dirs}",
        "-ex",
        "set pagination off",
        "-ex",
        "set width 0",
        "-ex",
        "handle all nostop noprint pass",
        "-ex",
        f"handle {sig} stop print nopass",
        "-ex",
        f"run {run}",
        "-ex",
        "bt",
        program[0],
    ]


class Backtracer:
    """Signs a run's signal-only crashes with their frames, when the binary's symbols
    and gdb are there; caches the frames of each signature under `workdir_base`."""

    def __init__(self, binary: str, workdir_base: str, timeout: float = GDB_TIMEOUT) -> None:
        self.binary = binary
        self.workdir_base = Path(workdir_base)
        self.timeout = timeout
        self.symbols = debug_symbols(binary)
        self.gdb = shutil.which("gdb")
        self._told = False  # the note logged

    @property
    def usable(self) -> bool:
        return self.symbols.available and self.gdb is not None

    @property
    def note(self) -> str:
        """Why crash signatures carry no frames, or "" when they may."""
        if not self.symbols.available:
            return (
                f"backtraces: no debug symbols for {self.binary}; "
                "crash signatures use the arguments' shape"
            )
        if self.gdb is None:
            return "backtraces: gdb is not on PATH; crash signatures use the arguments' shape"
        return ""

    def sign(self, finding: Finding) -> Finding:
        """`finding` re-signed with its frames when it is a signal-only crash with a
        reproducer and gdb names QEMU frames; else `finding` as it is."""
        sig = finding.signature.signal_only
        if sig is None or finding.reproducer is None:
            return finding
        if not self.usable:
            if not self._told:
                log.info("%s", self.note)
                self._told = True
            return finding
        frames = self._cached(finding.signature.slug, finding.reproducer, sig)
        if not frames:
            return finding
        signature = finding.signature.with_frames(frames)
        reproducer = dataclasses.replace(finding.reproducer, signature=signature.key)
        return dataclasses.replace(finding, signature=signature, reproducer=reproducer)

    def _cached(self, slug: str, rep: Reproducer, sig: str) -> list[str]:
        cache = self.workdir_base / "backtraces" / f"{slug}.json"
        try:
            return [str(f) for f in json.loads(cache.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError):
            pass
        frames = self.frames(rep, sig)
        cache.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: another worker reads all of it or nothing.
        part = cache.with_suffix(f".{os.getpid()}.part")
        part.write_text(json.dumps(frames), encoding="utf-8")
        part.replace(cache)
        return frames

    def frames(self, rep: Reproducer, sig: str) -> list[str]:
        """Run `rep` once under gdb; the top frames at `sig`, [] when it didn't crash
        there or gdb failed."""
        if signal.Signals.__members__.get(sig) is None:
            return []
        self.workdir_base.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="gdb-", dir=self.workdir_base))
        try:
            args = [a.replace(WORKDIR_TOKEN, str(workdir)) for a in one_liner_argv(rep)[1:]]
            stdin = workdir / "qmp-input"
            payload = b"".join(m.rstrip(b"\r\n") + b"\n" for m in rep.messages_for(str(workdir)))
            stdin.write_bytes(payload + b'{"execute":"quit"}\n')
            argv = gdb_argv(self.symbols, self.binary, args, stdin, sig)
            env = {**os.environ, "TMPDIR": str(workdir), "SHELL": "/bin/sh"}
            try:
                status, said = run_tool(
                    argv, timeout=self.timeout, cwd=workdir, env=env, reap_group=True
                )
            except SetupError as exc:
                log.info("backtrace of %s: %s", rep.signature, exc)
                return []
            frames = parse_frames(said)
            log.info(
                "backtrace of %s: gdb exit %d, frames %s", rep.signature, status, frames or "none"
            )
            return frames
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
