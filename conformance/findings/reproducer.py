r"""Reproducers: the messages that bring a finding about, and what they must bring about.

A reproducer is what a QEMU developer gets with a finding, under
``reports/findings/<signature-slug>/``:

- ``reproducer.jsonl``: the machine-readable form that ``qmp-conformance replay`` runs;
- ``command-line.txt``: the QEMU command line, the workdir abstracted as ``$WORKDIR``;
- ``reproduce.sh``: a shell one-liner with ``printf '…' | qemu-system-x86_64 …
  -chardev stdio,id=qmp -mon chardev=qmp,mode=control`` (qemu-storage-daemon:
  ``--chardev stdio,id=qmp --monitor chardev=qmp``) that needs nothing of this project.
  Its monitor has the id the harness's has (`conformance.machine.harness`), not
  ``-qmp stdio``'s ``compat_monitor0``: a one-liner and ``replay`` must meet the same
  names;
- ``hypothesis.txt``: the test, the Hypothesis profile and the ``@reproduce_failure``
  blob, when the finding came from a Hypothesis test.

File format of ``reproducer.jsonl`` (JSON Lines, one compact object per line)::

    {"qmp-reproducer":1,"signature":"crash | object-add | …","kind":"crash",
     "command":"object-add","title":"…","citation":"…","profile":"none",
     "extra_args":[],"argv":["$QEMU","-nodefaults",…],
     "expected":{"end":"exit","trigger":1,"exit_kind":"abort","detail":"…"},
     "source":{"test":"conformance/suite/…::test_valid_arguments[object-add]",
               "hypothesis_profile":"ci","blob":"@reproduce_failure(…)"},
     "workdir_length":43}
    {"send":"{\"execute\":\"qmp_capabilities\"}"}
    {"send":"{\"execute\":\"object-add\",\"arguments\":{…}}"}
    {"send_b64":"/w0K"}

The header comes first; each later line is one write to the QMP channel, in order, as
text or (when not valid UTF-8) base64, with the run's workdir replaced by ``$WORKDIR``.
``workdir_length`` (optional: reproducers of before have none) is how many bytes that
workdir's path had; replay and the one-liner pad theirs to it.
The greeting is not a message: QEMU sends it. ``expected`` (an :class:`Outcome`) is what
replay must observe for the finding to count as reproduced:

- ``end: "exit"``: QEMU ends while or after handling message ``trigger``, with
  ``exit_kind`` (abort, crash, sandbox) and the same signature ``detail``;
- ``end: "hang"``: message ``trigger`` gets no reply before the deadline and QEMU is alive;
- ``end: "reply"``: message ``trigger`` gets the reply ``reply`` (``return``,
  ``error:<class>``, or ``none`` for no reply while QEMU goes on answering), and, for a
  schema violation, that reply still violates the binary's schema at ``violation``;
- ``end: "reply"`` with ``check``: a protocol violation. The messages are replayed with
  a fence after each request instead of waiting on its id (a mangled id is what some
  findings are), and the conversation must fail ``check`` again
  (`conformance.findings.rejudge`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from conformance.errors import SetupError
from conformance.machine.harness import harness_names, names_harness_resource, stdio_monitor_args
from conformance.machine.instance import WORKDIR_TOKEN
from conformance.machine.profiles import PROFILES
from conformance.machine.trace import is_trace_option
from conformance.oracle.failure import FindingKind
from conformance.qmp.transcript import Direction, Transcript
from conformance.qmp.wirejson import StrictJSONError, loads_strict

__all__ = [
    "FORMAT_VERSION",
    "Outcome",
    "Reproducer",
    "ReproducerError",
    "one_liner",
    "one_liner_argv",
    "one_liner_input",
    "reply_token",
]

FORMAT_VERSION = 1
_HEADER_KEY = "qmp-reproducer"
QEMU_TOKEN = "$QEMU"
ENDS = ("exit", "hang", "reply")
# The monitor arguments the harness adds; the one-liner puts its primary monitor on
# stdio under the same chardev id (qemu-storage-daemon: its own long options).
_MONITOR_OPTIONS = ("-chardev", "-mon")
_DAEMON_MONITOR_OPTIONS = ("--chardev", "--monitor")


class ReproducerError(SetupError, ValueError):
    """A reproducer file that cannot be loaded; the one-line message says why."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What replaying a reproducer must observe (see the module docstring)."""

    end: str  # "exit" | "hang" | "reply"
    trigger: int  # index into Reproducer.messages
    exit_kind: str | None = None  # for "exit": abort, crash, sandbox
    detail: str | None = None  # for "exit": the signature detail (crash_detail)
    reply: str | None = None  # for "reply": reply_token() of the trigger's reply
    violation: str | None = None  # for "reply" of a schema violation: the JSON path
    # For "reply" of a protocol violation: the check (`conformance.findings.rejudge`)
    # that must fail again on the replayed conversation.
    check: str | None = None

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, value: object) -> Outcome:
        if not isinstance(value, dict) or value.get("end") not in ENDS:
            raise ReproducerError(f"expected must be an object with end in {ENDS}: {value!r}")
        trigger = value.get("trigger")
        if not isinstance(trigger, int) or isinstance(trigger, bool) or trigger < 0:
            raise ReproducerError(f"expected.trigger must be a message index: {trigger!r}")
        strings = {}
        for key in ("exit_kind", "detail", "reply", "violation", "check"):
            item = value.get(key)
            if item is not None and not isinstance(item, str):
                raise ReproducerError(f"expected.{key} must be a string: {item!r}")
            strings[key] = item
        return cls(str(value["end"]), trigger, **strings)


@dataclass(frozen=True, slots=True)
class Reproducer:
    """A finding's messages, its launch, and the outcome that reproduces it."""

    signature: str  # Signature.key
    kind: FindingKind
    command: str | None
    title: str
    citation: str
    profile: str
    messages: tuple[bytes, ...]  # writes to the QMP channel, workdir as $WORKDIR
    expected: Outcome
    extra_args: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()  # abstract: $QEMU first, $WORKDIR for the workdir
    source: dict[str, str] = field(default_factory=dict)
    # How many bytes the recorded run's workdir path had: a path built on it may only
    # reproduce at its length (a socket path past sun_path's 108 bytes). None: unknown.
    workdir_length: int | None = None

    def with_messages(self, messages: Sequence[bytes], trigger: int) -> Reproducer:
        """This reproducer with other messages (minimisation); trigger re-pointed."""
        return replace(
            self, messages=tuple(messages), expected=replace(self.expected, trigger=trigger)
        )

    def messages_for(self, workdir: str) -> list[bytes]:
        """The messages with `$WORKDIR` made the real workdir of a replay."""
        token = WORKDIR_TOKEN.encode()
        return [m.replace(token, workdir.encode()) for m in self.messages]

    # -- files -------------------------------------------------------------------------

    def to_jsonl(self) -> str:
        header: dict[str, object] = {
            _HEADER_KEY: FORMAT_VERSION,
            "signature": self.signature,
            "kind": self.kind.value,
            "command": self.command,
            "title": self.title,
            "citation": self.citation,
            "profile": self.profile,
            "extra_args": list(self.extra_args),
            "argv": list(self.argv),
            "expected": self.expected.to_json(),
            "source": self.source,
        }
        if self.workdir_length is not None:
            header["workdir_length"] = self.workdir_length
        lines = [_dump(header)]
        for raw in self.messages:
            try:
                lines.append(_dump({"send": raw.decode("utf-8")}))
            except UnicodeDecodeError:
                lines.append(_dump({"send_b64": base64.b64encode(raw).decode("ascii")}))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> Reproducer:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise ReproducerError("empty reproducer")
        header = _load(1, lines[0])
        if header.get(_HEADER_KEY) != FORMAT_VERSION:
            raise ReproducerError(f"line 1: not a qmp-reproducer version {FORMAT_VERSION} header")
        messages = [_message(n, _load(n, line)) for n, line in enumerate(lines[1:], start=2)]
        expected = Outcome.from_json(header.get("expected"))
        if expected.trigger >= len(messages):
            raise ReproducerError(
                f"expected.trigger {expected.trigger} is past the {len(messages)} messages"
            )
        try:
            kind = FindingKind(str(header.get("kind")))
        except ValueError:
            raise ReproducerError(f"line 1: unknown finding kind {header.get('kind')!r}") from None
        for number, raw in enumerate(messages, start=2):
            own = harness_names((envelope(raw) or {}).get("arguments"))
            if own:
                # Such a message cuts the replay's own channel and not the one-liner's
                # (issue 18); the suite no longer generates one.
                raise ReproducerError(
                    f"line {number}: names the harness's own monitor ({', '.join(sorted(own))}),"
                    " not something of QEMU's: not a reproducer"
                )
        profile = str(header.get("profile", "none"))
        if profile not in PROFILES:
            known = ", ".join(sorted(PROFILES))
            raise ReproducerError(f"line 1: unknown machine profile {profile!r} (known: {known})")
        command = header.get("command")
        source = header.get("source") or {}
        length = header.get("workdir_length")
        if length is not None and (
            not isinstance(length, int) or isinstance(length, bool) or length < 1
        ):
            raise ReproducerError(f"line 1: workdir_length must be a positive integer: {length!r}")
        return cls(
            signature=str(header.get("signature", "")),
            kind=kind,
            command=command if isinstance(command, str) else None,
            title=str(header.get("title", "")),
            citation=str(header.get("citation", "")),
            profile=profile,
            messages=tuple(messages),
            expected=expected,
            extra_args=tuple(_strings(header.get("extra_args"), "extra_args")),
            argv=tuple(_strings(header.get("argv"), "argv")),
            source={str(k): str(v) for k, v in source.items()} if isinstance(source, dict) else {},
            workdir_length=length,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Reproducer:
        """Load a reproducer file, or the ``reproducer.jsonl`` of a finding directory."""
        p = Path(path)
        if p.is_dir():
            p = p / "reproducer.jsonl"
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReproducerError(f"{p}: cannot read: {exc}") from None
        try:
            return cls.from_jsonl(text)
        except ReproducerError as exc:
            raise ReproducerError(f"{p}: {exc}") from None

    def save(self, directory: str | os.PathLike[str], binary: str = "qemu-system-x86_64") -> Path:
        """Write the finding directory's reproducer files; returns the directory."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "reproducer.jsonl").write_text(self.to_jsonl(), encoding="utf-8")
        # The harness's monitor is a socket fd that means nothing outside its run; the
        # command line a developer runs has it on stdio (same id), as the one-liner does.
        (d / "command-line.txt").write_text(
            shlex.join(one_liner_argv(self, binary)) + "\n", encoding="utf-8"
        )
        script = "#!/bin/sh\n# " + self.title.replace("\n", " ") + "\n" + one_liner(self, binary)
        (d / "reproduce.sh").write_text(script + "\n", encoding="utf-8")
        (d / "reproduce.sh").chmod(0o755)
        hypothesis = "\n".join(f"{k}: {v}" for k, v in sorted(self.source.items()))
        (d / "hypothesis.txt").write_text(hypothesis + "\n", encoding="utf-8")
        return d


# -- building ----------------------------------------------------------------------------


def sent_messages(transcript: Transcript, workdir: str | None) -> list[bytes]:
    """The transcript's writes, with the workdir abstracted."""
    token = WORKDIR_TOKEN.encode()
    sent = [r.raw for r in transcript if r.direction is Direction.SEND]
    if workdir:
        sent = [raw.replace(workdir.encode(), token) for raw in sent]
    return sent


def envelope(raw: bytes) -> dict[str, object] | None:
    """A written message as the JSON object it encodes, or None (wire input)."""
    try:
        value = loads_strict(raw)
    except StrictJSONError:
        return None
    return value if isinstance(value, dict) else None


def reply_token(value: object) -> str:
    """How a reply is compared on replay: its kind and error class, never its data."""
    if not isinstance(value, dict):
        return "none"
    if "return" in value:
        return "return"
    error = value.get("error")
    if isinstance(error, dict):
        return f"error:{error.get('class')}"
    return "none"


# -- the one-liner -----------------------------------------------------------------------


def one_liner(rep: Reproducer, binary: str = "qemu-system-x86_64") -> str:
    """A shell command that reproduces the finding with nothing but QEMU and printf.

    It runs in a new temporary directory ``$W`` (QEMU's files and `$WORKDIR` paths land
    there, `$WORKDIR` written as ``$W``'s absolute path, as `replay` writes its own
    workdir's), removed afterwards; sends the messages on stdin to the monitor on
    stdio (chardev ``qmp``, as the harness names its own), then ``quit`` so that a QEMU
    that survives exits; and prints QEMU's exit status. A hang ends after 20 s with
    status 137: ``timeout`` sends SIGKILL, since a QEMU blocked in its main loop doesn't
    act on SIGTERM.

    When the reproducer knows its run's workdir length, ``$W`` is padded to it under
    the new directory as `replay` pads its own (`conformance.machine.instance.
    padded_workdir`: ``w`` components of at most 100 bytes), with a one-line note on
    stderr when the temporary directory is already too long for that.
    """
    run = (
        '(cd "$W" && '
        + one_liner_input(rep)
        + " | timeout -s KILL 20 "
        + shlex.join(one_liner_argv(rep, binary))
        + '; echo "exit status $?")'
    )
    n = rep.workdir_length
    if n is None:
        return 'W="$(mktemp -d)" && ' + run + '; rm -rf "$W"'
    left = f"$(({n} - ${{#W}}))"
    return (
        'R="$(mktemp -d)" && W="$R" && '
        f'while [ {left} -gt 102 ]; do W="$W/$(printf %0100d 0 | tr 0 w)"; done; '
        f'if [ {left} -ge 2 ]; then W="$W/$(printf "%0$(({n} - ${{#W}} - 1))d" 0 | tr 0 w)"; fi; '
        f'[ "${{#W}}" -eq {n} ] || echo "note: the recorded workdir path had {n} bytes, '
        "this one has ${#W}: a finding that depends on a path's length may not reproduce\" >&2; "
        'mkdir -p "$W" && ' + run + '; rm -rf "$R"'
    )


def one_liner_argv(rep: Reproducer, binary: str = "qemu-system-x86_64") -> list[str]:
    """The QEMU command line of the one-liner: the finding's, with the harness's
    monitors replaced by its primary one on stdio."""
    return [binary, *_stdio_args(rep.argv[1:] if rep.argv else ())]


def one_liner_input(rep: Reproducer) -> str:
    """The one-liner's ``printf`` command, run where ``$W`` is the workdir: it writes the
    messages as `replay` does (`Reproducer.messages_for` the workdir), one a line, and a
    ``quit`` unless the finding is QEMU's exit."""
    token = WORKDIR_TOKEN.encode()
    payload = b"".join(m.rstrip(b"\r\n") + b"\n" for m in rep.messages)
    if rep.expected.end != "exit":
        payload += b'{"execute":"quit"}\n'
    pieces = payload.split(token)
    # The workdir goes in as a %s argument: the path may hold what a format interprets.
    fmt = "%s".join(_printf_format(p)[1:-1] for p in pieces)
    # printf would take a format that starts with "-" (wire garbage) for an option.
    return (
        "printf "
        + ("-- " if fmt.startswith("-") else "")
        + "'"
        + fmt
        + "'"
        + ' "$W"' * (len(pieces) - 1)
    )


def _stdio_args(argv: Sequence[str]) -> list[str]:
    """`argv` without the harness's monitor options, with its primary monitor on stdio
    under the same chardev id."""
    # Only the harness gives the daemon a --monitor, so it tells the syntax apart.
    daemon = "--monitor" in argv
    monitor = _DAEMON_MONITOR_OPTIONS if daemon else _MONITOR_OPTIONS
    out: list[str] = []
    skip = False
    following = [*argv[1:], ""] if argv else []  # a reproducer may record no argv
    for arg, value in zip(argv, following, strict=True):
        if skip:
            skip = False
            continue
        # Only the harness's own chardevs, monitors and trace recording go: a profile's
        # or a test's chardev of another id is part of what reproduces the finding.
        if (arg in monitor and _is_harness_monitor(value)) or is_trace_option(arg, value):
            skip = True
            continue
        out.append(arg)
    return [*out, *stdio_monitor_args(daemon=daemon)]


def _is_harness_monitor(value: str) -> bool:
    options = dict(o.partition("=")[::2] for o in value.split(","))
    return names_harness_resource(options.get("id") or options.get("chardev") or "")


def _printf_format(data: bytes) -> str:
    """`data` as a single-quoted printf format that prints exactly these bytes."""
    out = []
    for byte in data:
        ch = chr(byte)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "%":
            out.append("%%")
        elif ch == "'":
            out.append("'\\''")
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "'" + "".join(out) + "'"


# -- helpers -----------------------------------------------------------------------------


def _dump(obj: dict[str, object]) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def _load(number: int, line: str) -> dict[str, object]:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise ReproducerError(f"line {number}: not JSON: {exc}") from None
    except RecursionError:
        raise ReproducerError(f"line {number}: JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise ReproducerError(f"line {number}: not a JSON object")
    return obj


def _message(number: int, obj: dict[str, object]) -> bytes:
    if isinstance(obj.get("send"), str):
        try:
            return str(obj["send"]).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape: binary data goes in send_b64
            raise ReproducerError(f"line {number}: send is not valid Unicode") from None
    if isinstance(obj.get("send_b64"), str):
        try:
            return base64.b64decode(str(obj["send_b64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ReproducerError(f"line {number}: send_b64 is not base64") from None
    raise ReproducerError(f"line {number}: needs a send or send_b64 string")


def _strings(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReproducerError(f"{what} must be a list of strings")
    return list(value)
