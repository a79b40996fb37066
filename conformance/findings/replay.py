"""Replaying a reproducer on a binary, and judging whether the finding came back.

`qmp-conformance replay FILE --qemu BIN` is what a developer runs under ``git bisect
run``, so its exit code is the whole answer: 0 not reproduced, 1 reproduced (in any of
``--runs`` replays; the verdict line says whether in all of them), 125 the binary can't
be tested (missing, not QEMU, dies at start, no QMP), and 128 whatever is no verdict:
the reproducer can't be read, a bad argument, a harness error. 128 aborts a bisection;
any other code below it would steer one (`conformance.errors.EXIT_CODES`).

With several binaries (``--qemu`` repeated, ``--package PACKAGE=VERSION``), replay asks
which versions a finding affects instead: each binary's verdict in a table ordered by
QEMU version, recorded in the finding directory (`conformance.findings.affected`, whose
docstring has the exit codes of that mode).

One replay starts QEMU with the reproducer's profile and extra arguments, without
negotiating (the messages carry their own ``qmp_capabilities``), waits until QEMU
answers a ``query-status`` (CommandNotFound before negotiation, which changes nothing:
QEMU greets before it creates its devices, so only a reply says start-up is over, and a
QEMU that dies before it can't be tested), and writes each message as recorded. A
message that parses as a JSON object with a string ``execute`` or ``exec-oob`` expects
one reply (paired by its id, or in order without one), and the next message is written
only once that reply is in: that is how the suite sent them, and a crash is then
pinned to the message that caused it. Anything else expects none.

Then the reproducer's `Outcome` is judged (see `conformance.findings.reproducer`):

- ``exit``: QEMU ended, at or after the trigger was written, with the same exit kind and
  `crash_detail`; once everything is answered, QEMU is given `linger` seconds (by
  default the reply deadline) to end;
- ``hang``: QEMU was alive when a reply it owed us (the trigger's, or a fence's after a
  trigger that expects no reply) missed its deadline, and the trigger got no reply;
- ``reply``: the trigger's reply has the same `reply_token`, QEMU went on answering (a
  fence ``query-status`` with a unique id is answered), and for a schema violation the
  reply (or an event after the trigger) still violates the binary's own schema at the
  same JSON path. A trigger that expects no reply is matched with the first unpaired
  reply that arrived after it.

A protocol check is judged with the suite's deviations (`conformance.findings.rejudge`):
a reproducer recorded before its failure became a deviation (an id holding U+FFFF,
a ``C0 80`` key) fails its check again only as QEMU's deliberate behaviour. Replay says
``deviation NAME: <QEMU's sentence>; not a finding`` and counts it not reproduced (exit
0): under ``git bisect run`` that commit is good, since there is no defect whose
introduction could be bisected, and a bisection must not be steered by a behaviour the
suite itself no longer calls a finding.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from conformance.errors import (
    EXIT_CANNOT_TEST,
    EXIT_FINDINGS,
    EXIT_NO_VERDICT,
    EXIT_OK,
    SetupError,
)
from conformance.findings import affected
from conformance.findings.affected import Candidate
from conformance.findings.rejudge import failed_checks
from conformance.findings.reproducer import (
    Outcome,
    Reproducer,
    ReproducerError,
    envelope,
    reply_token,
)
from conformance.findings.signature import crash_detail, normalise
from conformance.machine.exits import ExitInfo, ExitKind
from conformance.machine.harness import PROBE_ID
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.probe import BinaryInfo, default_qemu, probe
from conformance.machine.process import NoSetpriv
from conformance.oracle.deviation import Deviation, recorded
from conformance.oracle.failure import Failure
from conformance.oracle.schema import check_event, check_return
from conformance.qmp.message import Kind, Message
from conformance.qmp.transcript import Direction, Record
from conformance.qmp.wirejson import dumps
from conformance.spec import Schema, SchemaError, schema_from_reply
from conformance.tapstream import TapWriter, Yaml, tap_stdout

__all__ = [
    "EXIT_CANNOT_TEST",
    "Observation",
    "Replayer",
    "Trace",
    "cmd_replay",
    "command_of",
    "envelope",
    "expected_reply",
    "judge",
    "replay_once",
]

# "qmpc-run-": the prefix of a run's own temporary directory (see the host-safety test).
_WORKDIR_PREFIX = "qmpc-run-replay-"


def command_of(raw: bytes) -> str | None:
    """The command a written message executes (in-band or out-of-band), if any."""
    value = envelope(raw) or {}
    name = value.get("execute", value.get("exec-oob"))
    return name if isinstance(name, str) else None


def batch_start(messages: Sequence[bytes], trigger: int) -> int:
    """The first message an exit noticed at `trigger` may have come from.

    A pipelined batch (the compiled fuzz engine's) is sent whole before its liveness
    probe, so an exit seen at the probe may come from any of the batch's examples, and
    a replay that sends one message at a time meets it at that example: everything
    after the previous probe counts. Any other trigger is its own message."""
    if _envelope_id(messages[trigger]) != PROBE_ID:
        return trigger
    start = trigger
    while start > 0 and _envelope_id(messages[start - 1]) != PROBE_ID:
        start -= 1
    return start


def _envelope_id(raw: bytes) -> object:
    """The id of a written message, or None."""
    return (envelope(raw) or {}).get("id")


def expected_reply(raw: bytes) -> tuple[bool, object] | None:
    """The (has_id, id) of the one reply a written message expects, or None for none."""
    if command_of(raw) is None:
        return None
    value = envelope(raw) or {}
    return ("id" in value, value.get("id"))


@dataclass(frozen=True, slots=True)
class Observation:
    """One replay: whether it matched the expected outcome, and what was seen instead."""

    reproduced: bool
    seen: str  # one line
    # The expected check failed again, but as a deviation the suite records and never
    # calls a finding: QEMU's deliberate behaviour, so not reproduced.
    deviation: Deviation | None = None


@dataclass(slots=True)
class Trace:
    """What one replay observed."""

    replies: dict[int, Message] = field(default_factory=dict)  # by message index
    after_trigger: list[Message] = field(default_factory=list)  # received since it was sent
    unpaired: list[Message] = field(default_factory=list)  # replies since then nobody awaited
    records: list[Record] = field(default_factory=list)  # the whole replayed conversation
    ended: ExitInfo | None = None
    ended_at: int = -1  # the message being handled when QEMU ended; len(messages): after all
    trigger_sent: bool = False
    version: tuple[int, int, int] | None = None  # of the QEMU replayed on

    def trigger_reply(self, trigger: int) -> Message | None:
        if trigger in self.replies:
            return self.replies[trigger]
        return self.unpaired[0] if self.unpaired else None


class Replayer:
    """Replays reproducers on one binary; each QEMU's workdir goes under `workdir_base`."""

    def __init__(
        self,
        binary: str,
        *,
        workdir_base: str,
        timeout: float = 5.0,
        linger: float | None = None,
    ) -> None:
        self.binary = binary
        self.workdir_base = workdir_base
        self.timeout = timeout
        # How long a QEMU that answered everything is given to die; a shorter wait only
        # makes a late crash look "not reproduced", never the other way round.
        self.linger = timeout if linger is None else linger
        self._schema: Schema | None = None
        # Set when a replay's workdir couldn't have the recorded length (one line).
        self.workdir_note: str | None = None

    def once(self, rep: Reproducer) -> Observation:
        """Replay `rep` once. SetupError (incl. DiedAtStart) when QEMU can't be started."""
        trace = self._run(rep)
        return judge(rep, trace, self.schema)

    def schema(self) -> Schema:
        """The binary's own schema, from a QEMU of its own (asked once)."""
        if self._schema is None:
            config = LaunchConfig(
                binary=self.binary, timeout=self.timeout, workdir_base=self.workdir_base
            )
            try:
                with QemuInstance(config) as inst:
                    self._schema = schema_from_reply(inst.execute("query-qmp-schema").value)
            except QemuGone as exc:
                raise SetupError(f"query-qmp-schema: QEMU {exc.exit_info.describe()}") from exc
            except SchemaError as exc:
                raise SetupError(f"query-qmp-schema: {exc}") from exc
        return self._schema

    def launch_config(self, rep: Reproducer) -> LaunchConfig:
        """How a replay of `rep` starts QEMU: its profile and extra arguments, with the
        harness's monitor (chardev ids of `conformance.machine.harness`, which the
        one-liner's stdio monitor shares)."""
        return LaunchConfig(
            binary=self.binary,
            profile=rep.profile,
            extra_args=rep.extra_args,
            timeout=self.timeout,
            workdir_base=self.workdir_base,
            workdir_length=rep.workdir_length,
        )

    def _run(self, rep: Reproducer) -> Trace:
        inst = QemuInstance(self.launch_config(rep))
        try:
            inst.start(negotiate=False)
            assert inst.workdir is not None
            have = len(os.fsencode(inst.workdir))
            if rep.workdir_length is not None and have != rep.workdir_length:
                self.workdir_note = (
                    f"the recorded workdir path had {rep.workdir_length} bytes, this "
                    f"replay's has {have}: a finding that depends on "
                    "a path's length may not reproduce (a shorter TMPDIR helps)"
                )
            try:
                # QEMU greets before it creates devices: a bad -device kills it after the
                # greeting. Any command's reply (CommandNotFound before negotiation,
                # which changes nothing) says start-up is over.
                _fence(inst, "ready")
            except QemuGone as gone:
                raise SetupError(
                    f"{inst.argv[0]} died during start-up: QEMU {gone.exit_info.describe()}"
                ) from gone
            return self._drive(inst, rep.messages_for(str(inst.workdir)), rep.expected)
        finally:
            inst.close()

    def _drive(self, inst: QemuInstance, messages: list[bytes], expected: Outcome) -> Trace:
        trace = Trace(version=inst.info.version if inst.info is not None else None)
        seen_records = seen_unpaired = 0
        start = len(inst.transcript.records)  # after the start-up fence
        try:
            for index, raw in enumerate(messages):
                trace.ended_at = index  # where an exit below is noticed
                if index == expected.trigger:
                    seen_records = len(inst.transcript.records)
                    seen_unpaired = len(inst.unexpected)
                    trace.trigger_sent = True
                if expected.check is not None:
                    # A protocol finding may be a mangled id: wait on a fence of ours
                    # after each request, never on the request's own id. Wire input gets
                    # no fence, which would land inside its broken bytes.
                    _send(inst, raw, None, f"#{index}")
                    if expected_reply(raw) is not None:
                        _fence(inst, "fence")
                    continue
                reply = _send(inst, raw, expected_reply(raw), f"#{index}")
                if reply is not None:
                    trace.replies[index] = reply
            trace.ended_at = len(messages)
            if expected.end == "exit":
                # Everything was answered: give QEMU `linger` seconds to die anyway.
                inst.poll(self.linger)  # returns at the deadline, QemuGone at EOF
            else:
                _fence(inst, "fence")  # the trigger's reply, or its absence, is now known
            trace.ended_at = -1
        except QemuGone as gone:
            trace.ended = gone.exit_info
        trace.records = list(inst.transcript.records[start:])
        received = inst.transcript.records[seen_records:] if trace.trigger_sent else []
        trace.after_trigger = [
            Message(r.raw, Kind(r.kind), r.value, r.problems)
            for r in received
            if r.direction is Direction.RECV and r.kind is not None
        ]
        if trace.trigger_sent:
            trace.unpaired = [m for m in inst.unexpected[seen_unpaired:] if m.is_reply]
        return trace


def _send(
    inst: QemuInstance, raw: bytes, reply: tuple[bool, object] | None, label: str
) -> Message | None:
    """Write `raw`; wait for its one reply if it expects one. QemuGone when QEMU ends or
    misses the deadline."""
    tickets = inst.send_raw(raw, replies=[reply] if reply else [], label=label)
    return inst.wait(tickets[0]) if tickets else None


FENCE_PREFIX = "qmpc-replay-"


def _fence(inst: QemuInstance, name: str) -> None:
    """A query-status with a unique id, answered: QEMU has handled all that came before."""
    ident = f"{FENCE_PREFIX}{name}-{uuid.uuid4().hex}"
    _send(inst, dumps({"execute": "query-status", "id": ident}), (True, ident), name)


def replay_once(
    rep: Reproducer,
    binary: str,
    *,
    workdir_base: str,
    timeout: float = 5.0,
    linger: float | None = None,
) -> Observation:
    """Replay `rep` once on `binary` (see the module docstring)."""
    return Replayer(binary, workdir_base=workdir_base, timeout=timeout, linger=linger).once(rep)


# -- judging -----------------------------------------------------------------------------


def judge(rep: Reproducer, trace: Trace, schema: Callable[[], Schema]) -> Observation:
    """Whether `trace` shows `rep.expected` (`schema` is asked only for a violation)."""
    expected = rep.expected
    ended = trace.ended
    trigger = expected.trigger
    earliest = batch_start(rep.messages, trigger) if expected.end == "exit" else trigger
    if ended is not None and trace.ended_at < earliest:
        return Observation(
            False, f"QEMU ended at message {trace.ended_at}, before the trigger: {_ending(ended)}"
        )
    answer = trace.trigger_reply(trigger)
    got = reply_token(answer.value) if answer is not None else "none"
    if expected.end == "exit":
        if ended is None:
            return Observation(False, f"QEMU still running; the trigger got {got}")
        seen = _ending(ended)
        kind_ok = expected.exit_kind is None or ended.kind.value == expected.exit_kind
        detail_ok = expected.detail is None or crash_detail(ended) == expected.detail
        return Observation(kind_ok and detail_ok, seen)
    if expected.end == "hang":
        if ended is None:
            return Observation(False, f"no hang; the trigger got {got}")
        hung = ended.kind is ExitKind.HANG and answer is None
        return Observation(hung, "hang: no reply, QEMU alive" if hung else _ending(ended))
    if ended is not None:
        return Observation(False, f"the trigger got {got}, then QEMU {_ending(ended)}")
    if expected.check is not None:
        with recorded() as deviations:
            failed = failed_checks(trace.records, FENCE_PREFIX, trace.version)
        again = expected.check in failed
        what = ", ".join(sorted(failed)) or "no protocol check"
        excused = [d for d in deviations if d.check == expected.check]
        if not again and excused:
            seen = f"the conversation fails {expected.check} only as a deviation"
            return Observation(False, seen, excused[0])
        return Observation(again, f"the conversation fails {what}")
    if got != expected.reply:
        return Observation(False, f"the trigger got {got}")
    if expected.violation is None:
        return Observation(True, f"the trigger got {got}")
    found = _violation_paths(schema(), rep.messages[trigger], answer, trace.after_trigger)
    want = normalise(expected.violation)
    if want in {normalise(p) for p in found}:
        return Observation(True, f"the trigger got {got}, violating the schema at {want}")
    where = ", ".join(found) if found else "nowhere"
    return Observation(False, f"the trigger got {got}; schema violated {where}, not at {want}")


def _ending(info: ExitInfo) -> str:
    if info.kind is ExitKind.HANG:
        return "hang: no reply, QEMU alive"
    return f"{info.kind.value}: {crash_detail(info)}"


def _violation_paths(
    schema: Schema, trigger: bytes, reply: Message | None, received: list[Message]
) -> list[str]:
    """The JSON paths at which the schema oracle rejects the trigger's reply or an event
    received after it (the checks a finding's path came from)."""
    command = command_of(trigger)
    paths = []
    if reply is not None and command is not None and command in schema.commands:
        paths.append(_failure_path(check_return, schema, command, reply))
    paths += [_failure_path(check_event, schema, m) for m in received if m.kind is Kind.EVENT]
    return [p for p in paths if p is not None]


def _failure_path(check: Callable[..., None], *args: object) -> str | None:
    try:
        check(*args)
    except Failure as failure:
        return failure.path
    return None


# -- the command -------------------------------------------------------------------------


def cmd_replay(ns: argparse.Namespace, passthrough: list[str]) -> int:
    """`qmp-conformance replay`: exit 0 not reproduced, 1 reproduced, 125 can't test, 128
    no verdict (`conformance.errors.EXIT_CODES`). With --tap, stdout is TAP: each
    replay a test that passes when the finding did not come back (a fixed bug as a
    regression test), the "can't test" case a skipped plan, no verdict a Bail out!."""
    if not getattr(ns, "tap", False):
        return _cmd_replay(ns, passthrough, None)
    with tap_stdout() as stream:
        tap = TapWriter(stream)
        tap.version()
        return _cmd_replay(ns, passthrough, tap)


def replay_candidates(ns: argparse.Namespace) -> list[Candidate]:
    """The binaries to replay on: each --qemu, then each --package; the default binary
    when neither is given."""
    qemus: list[str] = getattr(ns, "qemu", None) or []
    packages: list[str] = getattr(ns, "package", None) or []
    found = [Candidate(q) for q in qemus] + [Candidate(p, fetched=p) for p in packages]
    return found or [Candidate(default_qemu())]


def _cmd_replay(ns: argparse.Namespace, passthrough: list[str], tap: TapWriter | None) -> int:
    candidates = replay_candidates(ns)
    if len(candidates) > 1 and tap is not None:
        return _fail("--tap replays on one binary", EXIT_NO_VERDICT, tap)
    if getattr(ns, "suite", None) and not getattr(ns, "package", None):
        return _fail("--suite goes with --package", EXIT_NO_VERDICT, tap)
    try:
        rep = Reproducer.load(ns.reproducer)
    except ReproducerError as exc:
        return _fail(str(exc), EXIT_NO_VERDICT, tap)
    except Exception as exc:  # any other way of not reading it is no verdict either
        return _fail(f"harness error: {type(exc).__name__}: {exc}", EXIT_NO_VERDICT, tap)
    if passthrough:
        return _fail(
            f"replay takes no arguments after --: {' '.join(passthrough)}", EXIT_NO_VERDICT, tap
        )
    if ns.runs < 1 or ns.timeout <= 0:
        return _fail("--runs must be at least 1 and --timeout positive", EXIT_NO_VERDICT, tap)
    workdir = tempfile.mkdtemp(prefix=_WORKDIR_PREFIX)
    try:
        if len(candidates) > 1:
            return _replay_versions(rep, ns, candidates, workdir)
        binary = candidates[0].binary
        if candidates[0].fetched:
            binary = _fetcher(ns)(candidates[0].fetched)
        return _replay_runs(rep, binary, ns.runs, ns.timeout, workdir, tap)
    except NoSetpriv as exc:  # the host's, not the commit's: no verdict on any commit
        return _fail(str(exc), EXIT_NO_VERDICT, tap)
    except SetupError as exc:
        return _fail(f"cannot test: {exc}", EXIT_CANNOT_TEST, tap)
    except Exception as exc:  # our own bug: one line, and not mistaken for a verdict
        return _fail(f"harness error: {type(exc).__name__}: {exc}", EXIT_NO_VERDICT, tap)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _replay_runs(
    rep: Reproducer, binary: str, runs: int, timeout: float, workdir: str, tap: TapWriter | None
) -> int:
    info = probe(binary)
    print(f"replaying {rep.signature or rep.title}")
    plural = "s" if runs != 1 else ""
    print(f"on {info.path} (QEMU {info.version_text} {info.package}), {runs} run{plural}")
    replayer = Replayer(info.path, workdir_base=workdir, timeout=timeout)
    hits = 0
    for number in range(1, runs + 1):
        seen = replayer.once(rep)
        if number == 1 and replayer.workdir_note is not None:
            print(f"note: {replayer.workdir_note}", flush=True)
        hits += seen.reproduced
        verdict = "reproduced" if seen.reproduced else "not reproduced"
        print(f"run {number}/{runs}: {verdict}: {seen.seen}", flush=True)
        if seen.deviation is not None:
            print(deviation_line(seen.deviation), flush=True)
        if tap is not None:
            details: dict[str, Yaml] = {"outcome": verdict, "seen": seen.seen}
            tap.result(
                not seen.reproduced,
                f"replay {number}/{runs}: {rep.signature or rep.title}",
                details=details if seen.reproduced else None,
            )
    if tap is not None:
        tap.plan()
    if hits == 0:
        print(f"not reproduced 0/{runs}")
        return EXIT_OK
    print(f"reproduced {hits}/{runs} ({'stable' if hits == runs else 'flaky'})")
    return EXIT_FINDINGS


def _fetcher(ns: argparse.Namespace) -> Callable[[str], str]:
    """How a --package spec becomes a launcher: the CLI's `fetch` (the packages layer
    sits above this one), given the --suite."""
    fetch: Callable[[str, str | None], str] | None = getattr(ns, "fetch", None)
    if fetch is None:
        raise SetupError("--package needs the qmp-conformance CLI's fetch")
    suite: str | None = getattr(ns, "suite", None)
    return lambda spec: fetch(spec, suite)


def _replay_versions(
    rep: Reproducer, ns: argparse.Namespace, candidates: list[Candidate], workdir: str
) -> int:
    """Replay on every candidate, print the table, record it in the finding directory
    (`conformance.findings.affected`)."""
    plural = "s" if ns.runs != 1 else ""
    print(f"replaying {rep.signature or rep.title}")
    print(f"on {len(candidates)} binaries, {ns.runs} run{plural} each", flush=True)

    def replay(rep: Reproducer, info: BinaryInfo) -> list[tuple[bool | None, str]]:
        print(f"{info.path} (QEMU {info.version_text} {info.package}):", flush=True)
        replayer = Replayer(info.path, workdir_base=workdir, timeout=ns.timeout)
        seen: list[tuple[bool | None, str]] = []
        for number in range(1, ns.runs + 1):
            once = replayer.once(rep)
            if number == 1 and replayer.workdir_note is not None:
                print(f"  note: {replayer.workdir_note}", flush=True)
            verdict = "reproduced" if once.reproduced else "not reproduced"
            print(f"  run {number}/{ns.runs}: {verdict}: {once.seen}", flush=True)
            if once.deviation is not None:
                print(f"  {deviation_line(once.deviation)}", flush=True)
            seen.append((None if once.deviation else once.reproduced, once.seen))
        return seen

    def say(line: str) -> None:
        print(line, flush=True)

    directory = affected.finding_dir(ns.reproducer)
    try:
        before = affected.load(directory) if directory is not None else None
    except SetupError as exc:  # a corrupt affected.json: no verdict, before any replay
        return _fail(str(exc), EXIT_NO_VERDICT)
    rows = affected.replay_versions(
        rep, candidates, runs=ns.runs, replay=replay, fetch=_fetcher(ns), say=say
    )
    print()
    for line in affected.table(rows):
        print(line)
    if directory is None:
        print("not recorded: the reproducer is not in a finding directory")
    else:
        merged = affected.merge(before, rep.signature, rows)
        try:
            path = merged.save(directory)
        except SetupError as exc:
            return _fail(str(exc), EXIT_NO_VERDICT)
        earlier = len(merged.versions) - len(
            {r.key for r in rows if r.verdict in affected.VERDICTS}
        )
        kept = f" (with {earlier} version(s) of earlier replays)" if earlier else ""
        print(f"recorded in {path}{kept}")
    return affected.exit_code(rows)


def deviation_line(seen: Deviation) -> str:
    """What replay says of a failure that is a deviation: its name and QEMU's sentence
    that makes the behaviour deliberate."""
    because = seen.because[0] if seen.because else seen.summary
    return f"deviation {seen.name}: {because}; not a finding"


def _fail(message: str, code: int, tap: TapWriter | None = None) -> int:
    print(f"qmp-conformance: {message}", file=sys.stderr)
    if tap is not None and not tap.ended:
        if code == EXIT_CANNOT_TEST:
            tap.skip_all(message)
        else:
            tap.bail_out(message)
    return code
