"""Finding signatures: what makes two failures the same finding.

A signature must survive a rerun, another workdir, another QEMU build of the same
source: release CI compares it with a baseline and a packager with last package's.
So it keeps what identifies the defect and drops what varies between runs:

- a crash (abort, signal, sandbox hit): the assertion or abort text, or the signal and
  the first stable line QEMU wrote to stderr, plus the command that was in flight; a
  crash that left nothing but its signal adds the shape of the command's arguments
  (`argument_shape`), since "SIGSEGV in transaction" alone would match any segfault
  of any action, and, when QEMU's debug symbols let gdb name them, the top frames of
  its backtrace in QEMU's own code (`Signature.with_frames`,
  `conformance.findings.backtrace`): ``SIGSEGV at f<-g<-h args=…``;
- a hang: the command in flight;
- a violation (protocol, schema, behaviour, doc): the check id, the command, every
  JSON path the failure is about (sorted, de-duplicated), and the facets that tell
  failures of one check apart (``case=`` the test's rule or limit case, ``id=`` and
  ``output=`` from the fixed vocabularies of conformance.oracle.classes).

Numbers, addresses, absolute paths and the program-name prefix are normalised away:
line numbers move between builds, addresses and PIDs between runs, workdirs between
machines. Digits inside identifiers stay (``s390x``, ``x86_64``, ``virtio9p``,
``X86_MACHINE``): they name things, and ``s390x`` must not become ``s370x``'s twin.
The source file name in an assertion is kept (``util/qemu-thread-posix.c``): it tells
two assertions with the same text apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from conformance.machine.exits import ExitInfo, ExitKind
from conformance.oracle.failure import FindingKind

log = logging.getLogger(__name__)
__all__ = [
    "Signature",
    "argument_shape",
    "covers",
    "crash_detail",
    "exit_finding_kind",
    "normalise",
]

_PROGRAM = re.compile(r"^\S*qemu[-\w.]*:\s+")  # "qemu-system-x86_64: " and the like
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_PATH = re.compile(r"(?<![\w.])/(?:[\w.+@-]+/)*[\w.+@-]+")  # absolute paths only
# A number starts where no word does: the digits of "s390x" or "x86_64" are part of a name.
_NUMBER = re.compile(r"(?<!\w)-?\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")
_UPWARD = re.compile(r"(?<![\w.])(?:\.\./)+")  # "../../util/x.c": the build tree's depth
# stderr lines that say nothing about the defect (they come before it, or vary). A modular
# build (QEMU 10.0 as Debian ships it) reports an optional module whose library is missing
# ("failed to open module: libvirglrenderer.so.1: ...") whenever a command lists or loads
# types, e.g. qom-list-types, which may or may not precede the crash.
_NOISE_LINE = re.compile(
    r"^(?:\S*qemu[-\w.]*:\s+)?(?:warning:|info:|failed to open module:)", re.IGNORECASE
)
# glibc's malloc consistency checks ("double free or corruption (out)", "malloc():
# unaligned tcache chunk detected", "corrupted size vs. prev_size", ...) abort wherever a
# later allocation trips over a heap an earlier bug corrupted: which message, or a
# SIGSEGV instead, depends on the heap's state, not on the defect (one vc chardev too
# short for a text row gave three of them and a segfault). Such a crash is signed as one
# that left only its signal: the arguments' shape, and the backtrace's frames when
# there are symbols.
_HEAP_CHECK = re.compile(
    r"^(?:double free or corruption|corrupted (?:size|double-linked)|"
    r"(?:malloc|free|realloc|munmap_chunk|malloc_consolidate|tcache_thread_shutdown)\(\): )"
)


def normalise(text: str) -> str:
    """`text` with run-specific parts replaced: ``0x…`` → ADDR, absolute paths → PATH,
    numbers → N, the program-name prefix and leading ``../`` of source paths (which
    depend on the build directory) dropped, whitespace collapsed."""
    text = _PROGRAM.sub("", text.strip())
    text = _UPWARD.sub("", text)
    text = _ADDRESS.sub("ADDR", text)
    text = _PATH.sub("PATH", text)
    text = _NUMBER.sub("N", text)
    return _SPACE.sub(" ", text).strip()


def exit_finding_kind(info: ExitInfo) -> FindingKind:
    """The finding kind of an unexpected QEMU exit."""
    kind = {
        ExitKind.HANG: FindingKind.HANG,
        ExitKind.SANDBOX: FindingKind.SANDBOX,
        ExitKind.EXIT: FindingKind.DISCONNECT,
        ExitKind.CLEAN: FindingKind.DISCONNECT,
        ExitKind.KILLED: FindingKind.DISCONNECT,
    }.get(info.kind, FindingKind.CRASH)
    log.info("classified QEMU exit (%s) as %s", info.describe(), kind.value)
    return kind


def crash_detail(info: ExitInfo) -> str:
    """The stable part of an exit: the assertion, or the signal and first stable line."""
    if info.assertion:
        return normalise(info.assertion)
    if info.kind is ExitKind.HANG:
        # The harness's own SIGKILL and what QEMU printed before it stopped answering
        # say nothing about the hang; the command in flight (in the key) does.
        return "no reply before the deadline"
    how, first = _signal_and_line(info)
    return f"{how}: {first}" if first else how


def _signal_and_line(info: ExitInfo) -> tuple[str, str]:
    how = info.kind.value
    if info.signal is not None:
        import signal as _signal

        try:
            how = _signal.Signals(info.signal).name
        except ValueError:
            how = f"signal {info.signal}"
    elif info.returncode is not None and info.kind is ExitKind.EXIT:
        how = f"exit {info.returncode}"
    stable = [
        normalise(line)
        for line in info.stderr.splitlines()
        if line.strip()
        and not _NOISE_LINE.match(line.strip())
        and not _HEAP_CHECK.match(line.strip())
    ]
    # Only warnings (a backup's block-size notice, say) are the state before the crash,
    # and which of them were printed depends on the examples before it: none is kept.
    return how, stable[0] if stable else ""


def _signal_only(info: ExitInfo) -> bool:
    """Whether a crash left nothing to tell it from another but its signal."""
    signalled = info.kind in (ExitKind.CRASH, ExitKind.ABORT)  # an abort() with no words
    return signalled and not info.assertion and not _signal_and_line(info)[1]


# Members whose string value picks a variant (a union's tag, a backend or driver name).
_DISCRIMINATORS = ("type", "driver", "qom-type")


def argument_shape(arguments: object) -> str:
    """The shape of a command's arguments: the variants they select, else their names.

    The members that select variants (a union's tag, a list of tagged actions), each
    with its sorted, de-duplicated variants: ``transaction`` with a bitmap-enable and
    two drive-backups is ``actions[block-dirty-bitmap-enable,drive-backup]`` whatever
    optional members come with them, since a generator adds or leaves those out from one
    example to the next while the crash stays the same; ``chardev-add`` of a ring buffer
    ``backend[ringbuf]``. Arguments without variants: their sorted member names. Values
    are left out: they vary from one example to the next.
    """
    if not isinstance(arguments, dict) or not arguments:
        return "{}"
    parts = []
    for name in sorted(arguments):
        value = arguments[name]
        if name in _DISCRIMINATORS and isinstance(value, str):
            variants = {value}
        else:
            items = value if isinstance(value, list) else [value]
            variants = {tag for item in items if (tag := _variant(item)) is not None}
        if variants:
            parts.append(f"{name}[{','.join(sorted(variants))}]")
    return ",".join(parts or sorted(arguments)).replace(" ", "_")


_ARGS = " args="
_AT = " at "
_FRAME_SEP = "<-"


def _shape_items(shape: str) -> frozenset[str]:
    """`argument_shape`'s text as a set: ``name=variant`` per variant, else ``name``."""
    items: set[str] = set()
    depth, start = 0, 0
    for i, char in enumerate(shape + ","):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            part, start = shape[start:i], i + 1
            name, _, variants = part.partition("[")
            if variants:
                items.update(f"{name}={v}" for v in variants.rstrip("]").split(","))
            elif part:
                items.add(part)
    return frozenset(items)


def covers(known: str, key: str) -> bool:
    """Whether the known signature `known` stands for the finding signed `key`.

    Equal keys do. So does a signal-only crash's key whose argument shape holds every
    variant and member of the known one's: a derandomised run that doesn't shrink draws
    ``transaction`` with ``actions[abort,block-dirty-bitmap-enable]`` where a shrunk
    one signs the same segfault ``actions[block-dirty-bitmap-enable]``. A crash in
    another variant (``actions[drive-backup]``) or another command stays new.

    Backtrace frames (``SIGSEGV at f<-g<-h args=…``) are compared only when both keys
    carry them: a baseline written where QEMU's debug symbols were missing covers a run
    that has them, and the other way round (the shape still tells the variants apart);
    two keys with frames and the same shape are two crashes when the frames differ.
    """
    if known == key:
        return True
    head, sep, shape = known.rpartition(_ARGS)
    seen_head, seen_sep, seen_shape = key.rpartition(_ARGS)
    if not sep or not seen_sep or shape == "{}":
        return False
    head, _, frames = head.partition(_AT)
    seen_head, _, seen_frames = seen_head.partition(_AT)
    if head != seen_head or (frames and seen_frames and frames != seen_frames):
        return False
    return _shape_items(shape) <= _shape_items(seen_shape)


def _variant(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    return next((v for k in _DISCRIMINATORS if isinstance(v := value.get(k), str)), None)


def _facets(facets: Mapping[str, str]) -> str:
    # Spaces would make the key ambiguous to read; the values are names and classes.
    return "".join(f" {k}={_SPACE.sub('_', v.strip())}" for k, v in sorted(facets.items()) if v)


@dataclass(frozen=True, slots=True)
class Signature:
    """The identity of a finding; `key` is what baselines store."""

    kind: FindingKind
    command: str | None
    detail: str  # crash_detail(), or "check-id path" for a violation

    @classmethod
    def of_exit(cls, info: ExitInfo, command: str | None, arguments: object = None) -> Signature:
        """An exit's signature; `arguments` (the command's) sign a crash that left only
        its signal (`argument_shape`)."""
        detail = crash_detail(info)
        if command is not None and _signal_only(info):
            detail += _facets({"args": argument_shape(arguments)})
        return cls(exit_finding_kind(info), command, detail)

    @classmethod
    def of_violation(
        cls,
        kind: FindingKind,
        check: str,
        command: str | None,
        path: str | None,
        *,
        paths: Iterable[str] = (),
        facets: Mapping[str, str] | None = None,
    ) -> Signature:
        places = sorted({normalise(p) for p in (path, *paths) if p}) or ["$"]
        return cls(kind, command, f"{check} {','.join(places)}{_facets(facets or {})}")

    @property
    def signal_only(self) -> str | None:
        """The signal's name (``SIGSEGV``) of a crash signed by its signal and arguments'
        shape alone, not yet by frames; None for any other signature."""
        if self.kind is not FindingKind.CRASH or _ARGS not in self.detail:
            return None
        how = self.detail.partition(_ARGS)[0]
        return how if how.startswith("SIG") and " " not in how else None

    def with_frames(self, frames: Sequence[str]) -> Signature:
        """This signal-only crash's signature with its top backtrace `frames`
        (innermost first) between the signal and the shape; itself without frames."""
        if not frames or self.signal_only is None:
            return self
        how, sep, shape = self.detail.partition(_ARGS)
        detail = f"{how}{_AT}{_FRAME_SEP.join(frames)}{sep}{shape}"
        return dataclasses.replace(self, detail=detail)

    @property
    def key(self) -> str:
        return f"{self.kind.value} | {self.command or '-'} | {self.detail}"

    @property
    def slug(self) -> str:
        """A directory name: readable, and unique through a short hash of the key."""
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:10]
        words = re.sub(r"[^a-z0-9]+", "-", f"{self.kind.value} {self.command or ''}".lower())
        return f"{words.strip('-')[:60]}-{digest}"

    @classmethod
    def from_key(cls, key: str) -> Signature:
        kind, command, detail = (part.strip() for part in key.split(" | ", 2))
        return cls(FindingKind(kind), None if command == "-" else command, detail)
