"""A finding: one failed check or one unexpected QEMU exit, with its signature and reproducer.

The conformance tests raise `Failure` (a check broke) or `QemuGone` (QEMU crashed, hung
or left); `evidence()` (conformance/drive/report.py) hangs an `Evidence` on the way out,
because by the time pytest reports the failure the QEMU it came from is closed and its
workdir removed. `findings_from` turns such an exception into `Finding`s: the signature
that deduplicates it, a one-line title, and the `Reproducer` built from the transcript.

A Finding travels as JSON (`to_json`/`from_json`): pytest-xdist carries it from the
worker that ran the test to the controller that writes the findings directory.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from conformance.findings.rejudge import REJUDGED
from conformance.findings.reproducer import (
    QEMU_TOKEN,
    Outcome,
    Reproducer,
    reply_token,
    sent_messages,
)
from conformance.findings.signature import Signature, crash_detail
from conformance.machine.exits import ExitInfo, ExitKind
from conformance.machine.harness import PROBE_ID
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.machine.reuse import reads_only
from conformance.oracle.failure import ANSWERED, Failure, FindingKind
from conformance.qmp.transcript import Direction, Record, Transcript
from conformance.qmp.wirejson import json_equal

__all__ = ["EVIDENCE_ATTR", "Evidence", "Finding", "finding_from", "findings_from", "leaves"]

#: The attribute of a Failure or QemuGone that holds its Evidence.
EVIDENCE_ATTR = "qmpc_evidence"
_TITLE_MAX = 200
_BLOB = re.compile(r"@reproduce_failure\([^)]*\)")
_SEED = re.compile(r"@seed\(\d+\)")
_NO_ID = object()
_PARAMETER = re.compile(r"\[([^\[\]]+)\]$")
# Kinds whose findings the test's parameter doesn't tell apart: their command and
# paths do (a schema, doc or behaviour check), or the test is only where they were
# noticed (a job's status stream is judged after whichever test moved it). Every
# other kind (protocol, and wire-level kinds to come) is signed with its case.
_NO_CASE = frozenset(
    {FindingKind.SCHEMA, FindingKind.DOC, FindingKind.BEHAVIOUR, FindingKind.COMPAT}
)
# Kinds judged on the conversation, not on one command's reply: signed with the
# command in flight.
_WIRE_KINDS = frozenset({FindingKind.PROTOCOL, FindingKind.PARSER_DIFFERENTIAL})


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a reproducer needs of the QEMU a failure happened on, taken as it failed."""

    transcript: Transcript
    workdir: str | None
    argv: tuple[str, ...]  # abstract: the workdir as $WORKDIR, the binary's path first
    profile: str
    extra_args: tuple[str, ...]
    stderr: str
    binary: str

    @classmethod
    def of(cls, inst: QemuInstance) -> Evidence:
        # A copy: a reused instance's transcript goes on growing after the failure.
        transcript = Transcript(dict(inst.transcript.meta), list(inst.transcript.records))
        return cls(
            transcript=transcript,
            workdir=str(inst.workdir) if inst.workdir is not None else None,
            argv=tuple(inst.abstract_argv()),
            profile=inst.profile.name,
            extra_args=tuple(inst.config.extra_args),
            stderr=inst.stderr_text(),
            binary=inst.info.path if inst.info is not None else inst.config.binary,
        )

    @classmethod
    def of_transcript(cls, transcript: Transcript, stderr: str) -> Evidence:
        """Evidence from a transcript alone (its meta has the abstract argv and profile),
        for a QemuGone raised outside any `evidence()` block."""
        meta = transcript.meta
        argv = meta.get("argv")
        return cls(
            transcript=transcript,
            workdir=None,
            argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
            profile=str(meta.get("profile", "none")),
            extra_args=(),
            stderr=stderr,
            binary=str(meta.get("binary", "")),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One occurrence of a finding: where it was seen and how to bring it about again."""

    signature: Signature
    title: str
    message: str
    citation: str
    test: str  # the pytest node id, or what else found it
    reproducer: Reproducer | None  # None when the failure came without evidence
    transcript: str = ""  # the whole original transcript, JSONL
    stderr: str = ""

    @property
    def key(self) -> str:
        return self.signature.key

    @property
    def kind(self) -> FindingKind:
        return self.signature.kind

    def to_json(self) -> dict[str, object]:
        return {
            "signature": self.key,
            "title": self.title,
            "message": self.message,
            "citation": self.citation,
            "test": self.test,
            "reproducer": self.reproducer.to_jsonl() if self.reproducer else None,
            "transcript": self.transcript,
            "stderr": self.stderr,
        }

    @classmethod
    def from_json(cls, value: dict[str, object]) -> Finding:
        rep = value.get("reproducer")
        return cls(
            signature=Signature.from_key(str(value["signature"])),
            title=str(value.get("title", "")),
            message=str(value.get("message", "")),
            citation=str(value.get("citation", "")),
            test=str(value.get("test", "")),
            reproducer=Reproducer.from_jsonl(rep) if isinstance(rep, str) else None,
            transcript=str(value.get("transcript", "")),
            stderr=str(value.get("stderr", "")),
        )


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside `exc`: Hypothesis reports several distinct failures, or one
    that didn't reproduce (FlakyFailure), as an exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in leaves(e)]
    return [exc]


def findings_from(
    exc: BaseException, nodeid: str, report_text: str = "", hypothesis_profile: str = ""
) -> list[Finding]:
    """The findings in a failed test's exception, one per distinct signature."""
    source = {"test": nodeid}
    if hypothesis_profile:
        source["hypothesis_profile"] = hypothesis_profile
    for name, pattern in (("blob", _BLOB), ("seed", _SEED)):
        found = pattern.findall(report_text)
        if found:
            source[name] = found[-1]
    out: dict[str, Finding] = {}
    for leaf in leaves(exc):
        finding = _finding(leaf, nodeid, source)
        if finding is not None:
            out.setdefault(finding.key, finding)
    return list(out.values())


def finding_from(
    exc: BaseException, nodeid: str, report_text: str = "", hypothesis_profile: str = ""
) -> Finding | None:
    """The first finding in `exc`, or None when it holds no Failure or QemuGone."""
    found = findings_from(exc, nodeid, report_text, hypothesis_profile)
    return found[0] if found else None


def _finding(exc: BaseException, nodeid: str, source: dict[str, str]) -> Finding | None:
    evidence = getattr(exc, EVIDENCE_ATTR, None)
    if isinstance(exc, QemuGone):
        if not isinstance(evidence, Evidence):
            evidence = Evidence.of_transcript(exc.transcript, exc.exit_info.stderr)
        sends = _sends(evidence.transcript)
        trigger = len(sends) - 1
        command = _culprit(sends, exc.exit_info)
        signature = Signature.of_exit(exc.exit_info, command, _arguments(sends, command))
        expected = _exit_outcome(exc.exit_info, max(trigger, 0))
        text = exc.exit_info.assertion or exc.exit_info.describe()
        message, citation = exc.exit_info.describe(), str(ANSWERED)
    elif isinstance(exc, Failure):
        command = exc.command
        text, message, citation = exc.message, str(exc), str(exc.citation)
        if not isinstance(evidence, Evidence):
            signature = _violation(exc, command, nodeid)
            return Finding(signature, _title(signature, text), message, citation, nodeid, None)
        sends = _sends(evidence.transcript)
        trigger = _trigger(sends, command)
        if command is None and exc.kind in _WIRE_KINDS:
            # A rule about a reply or an event, judged on the conversation: the command
            # in flight names it (as it names a crash), not a probe sent after it.
            command = _culprit(sends)
        signature = _violation(exc, command, nodeid)
        reply = _reply_to(evidence.transcript, sends[trigger]) if sends else None
        violation = exc.path if exc.kind is FindingKind.SCHEMA else None
        if exc.check in REJUDGED:
            # The conversation, not the trigger's reply, is the finding (rejudge.py):
            # a protocol rule, or a job's status stream.
            expected = Outcome("reply", max(trigger, 0), check=exc.check)
        else:
            expected = Outcome(
                "reply", max(trigger, 0), reply=reply_token(reply), violation=violation
            )
    else:
        return None
    title = _title(signature, text)
    reproducer = None
    if sends:
        messages = sent_messages(evidence.transcript, evidence.workdir)[: trigger + 1]
        reproducer = Reproducer(
            signature=signature.key,
            kind=signature.kind,
            command=command,
            title=title,
            citation=citation,
            profile=evidence.profile,
            messages=tuple(messages),
            expected=expected,
            extra_args=evidence.extra_args,
            argv=(QEMU_TOKEN, *evidence.argv[1:]) if evidence.argv else (),
            source=dict(source),
            workdir_length=len(os.fsencode(evidence.workdir)) if evidence.workdir else None,
        )
    return Finding(
        signature,
        title,
        message,
        citation,
        nodeid,
        reproducer,
        evidence.transcript.to_jsonl(),
        evidence.stderr,
    )


def _violation(exc: Failure, command: str | None, nodeid: str) -> Signature:
    facets = dict(exc.facets)
    case = _case(nodeid)
    if exc.kind not in _NO_CASE and case is not None and case != command:
        # The rule or limit case the test was parametrised with: a hidden command run
        # by a nesting limit is not the one run by an overlong UTF-8 sequence.
        facets.setdefault("case", case)
    return Signature.of_violation(
        exc.kind, exc.check, command, exc.path, paths=exc.paths, facets=facets
    )


def _case(nodeid: str) -> str | None:
    """The parameter part of a test id (``test_x[nested-at-limit]``), if any."""
    match = _PARAMETER.search(nodeid)
    return match.group(1) if match else None


def _arguments(sends: list[Record], command: str | None) -> object:
    """The arguments of the last request of `command` (what a crash is signed with)."""
    if command is None:
        return None
    for record in reversed(sends):
        value = _value(record)
        if _command(record) == command and isinstance(value, dict):
            return value.get("arguments")
    return None


def _exit_outcome(info: ExitInfo, trigger: int) -> Outcome:
    if info.kind is ExitKind.HANG:
        return Outcome("hang", trigger)
    return Outcome("exit", trigger, exit_kind=info.kind.value, detail=crash_detail(info))


def _title(signature: Signature, text: str) -> str:
    # GLib's g_assert prints a line of "**" before the message: not a title.
    first = next((line.strip() for line in text.splitlines() if any(map(str.isalnum, line))), "")
    title = f"{signature.kind.value}: {signature.command or '-'}: {first}"
    return title if len(title) <= _TITLE_MAX else title[: _TITLE_MAX - 1] + "…"


def _sends(transcript: Transcript) -> list[Record]:
    return [r for r in transcript if r.direction is Direction.SEND]


def _value(record: Record) -> object:
    """What a send encodes: its recorded value, or its bytes parsed (a raw write)."""
    if record.value is not None:
        return record.value
    try:
        return json.loads(record.raw)
    except (ValueError, RecursionError):  # broken or deeply nested wire input
        return None


def _command(record: Record) -> str | None:
    value = _value(record)
    if not isinstance(value, dict):
        return None
    name = value.get("execute", value.get("exec-oob"))
    return name if isinstance(name, str) else None


def _culprit(sends: list[Record], exit_info: ExitInfo | None = None) -> str | None:
    """The command an exit is signed with: the one in flight, unless that only reads
    and a command that doesn't came before it, when the one in flight is the harness's
    liveness probe or the exit is a hang. announce-self is answered and then stalls the
    main loop, so the probe (or query) after it is what hangs; the finding is
    announce-self's, whichever noticed it. A query that crashes QEMU itself
    (qom-list-properties of a type that aborts when instantiated) is the culprit, even
    after a command that changed the machine (the fuzzer's set-up). A rule about the
    conversation (no exit) walks back as a hang does."""
    names = [_command(r) for r in sends]
    if not names:
        return None
    last = names[-1]
    if last is None or not reads_only(last):
        return last
    probe = isinstance(value := _value(sends[-1]), dict) and value.get("id") == PROBE_ID
    if not probe and exit_info is not None and exit_info.kind is not ExitKind.HANG:
        return last
    for name in reversed(names[:-1]):
        if name is None or name == "qmp_capabilities":
            break  # raw bytes or the session's start: nothing to blame before them
        if not reads_only(name):
            return name
    return last


def _trigger(sends: list[Record], command: str | None) -> int:
    """The index of the message a failure is about: the last one that executed its
    command (a liveness probe may have followed it), else the last one sent."""
    if command is not None:
        for index in range(len(sends) - 1, -1, -1):
            if _command(sends[index]) == command:
                return index
    return len(sends) - 1


def _reply_to(transcript: Transcript, sent: Record) -> object:
    """The reply (return or error) to `sent`: the first after it with an equal id."""
    value = _value(sent)
    want = value.get("id", _NO_ID) if isinstance(value, dict) else _NO_ID
    after = False
    for record in transcript:
        if record is sent:
            after = True
            continue
        if not after or record.direction is not Direction.RECV:
            continue
        if record.kind not in ("return", "error") or not isinstance(record.value, dict):
            continue
        got = record.value.get("id", _NO_ID)
        if (got is _NO_ID and want is _NO_ID) or (
            got is not _NO_ID and want is not _NO_ID and json_equal(got, want)
        ):
            return record.value
    return None
