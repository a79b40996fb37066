"""One fuzz worker process: chunks of Hypothesis examples on its own QEMUs.

A worker loops over chunks until the parent sets the stop event:

- an argument chunk takes the next command of its share of the run's shuffled command
  list (worker i of N takes positions i, i+N, i+2N, ...; the first pass over the list
  draws valid arguments, the next malformed ones, and so on) and runs up to
  `CHUNK_EXAMPLES` examples of the argument drivers the
  suite's tests run (`conformance.drive.arguments`) through `ArgumentRun` on a QEMU of its own;
- every `MACHINE_EVERY`-th chunk is a short run of the wire state machine or the
  resource state machine, in turn.

Hypothesis shrinks a failure within its chunk; the minimal example is replayed on a
fresh QEMU, so the finding's transcript holds that example and nothing the chunk did
before. The worker turns the failure into findings (`conformance.findings.record`) and
sends them to the parent as JSON, with one `Chunk` note per chunk for the progress
line. An exception that is neither a check `Failure` nor a QEMU exit is a harness error:
it is sent as such, and the worker goes on with the next chunk.

Stopping: the event is checked before every example (and before every state machine
run), so a chunk ends within one exchange. Shrinking is bounded too: past
`SHRINK_BUDGET` (a hang costs a whole reply deadline per try) the chunk ends. A failure
whose shrinking is cut short either way is reported as it was first seen. What
Hypothesis reports goes into the finding, never to the terminal. SIGINT is ignored:
Ctrl-C is the parent's to handle.
QEMU processes die with the worker (PR_SET_PDEATHSIG, `conformance.machine.process`).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Container
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Protocol

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from hypothesis.reporting import with_reporter
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from conformance import lifeline
from conformance.behaviour.rules.device import XHCI
from conformance.drive import resources as resource_drive
from conformance.drive import wire as wire_drive
from conformance.drive.arguments import BODIES, failure_kind
from conformance.drive.exchange import PIPELINE_DEPTH, ArgumentRun, Dropped
from conformance.drive.harvest import harvest, harvest_names, with_created
from conformance.feedback.corpus import Entry
from conformance.feedback.credit import HARVEST, QUIT, Pair
from conformance.feedback.setups import Sequence as Setup
from conformance.feedback.setups import Step, refers_to
from conformance.feedback.steer import (
    ARGUMENTS,
    MUTATE,
    WIRE,
    Arm,
    WorkerFeedback,
    mine,
    slot,
)
from conformance.findings.record import findings_from, leaves
from conformance.fuzz.shrink import shrink
from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.probe import probe
from conformance.machine.profiles import Profile, block_profile, hotplug_ports, profile
from conformance.machine.targets import binary_profiles
from conformance.machine.trace_events import TraceEvents
from conformance.oracle import deviation
from conformance.oracle.deviation import Deviation
from conformance.oracle.failure import Failure
from conformance.spec import Schema, schema_from_reply, validate_arguments
from strategies import Malformed, safety
from strategies.compiled import Compiled, NoValue, compiled_for, request_id
from strategies.mutate import mutator
from strategies.pools import Pools
from strategies.safety import Unconfinable, confine

log = logging.getLogger(__name__)

WIRE_PROFILE = "none"
CHUNK_EXAMPLES = 20
MACHINE_RUNS = 2
SHRINK_BUDGET = 60.0  # seconds a chunk may spend shrinking before its failure is sent as is
MODES = ("valid", "malformed")
#: How argument examples are drawn: by Hypothesis's engine from `strategies.values`
#: and `strategies.malformed` (each example a `@given` run), or by the generators
#: `strategies.compiled` builds once per type, drawing from `random.Random`.
ENGINES = ("compiled", "hypothesis")
#: Examples of one command and mode a compiled chunk sends on its QEMU: drawn
#: without Hypothesis, they cost about as much as the exchange, and a QEMU's start
#: costs about as much as 20 of them.
COMPILED_EXAMPLES = 100
#: A compiled chunk leaves its QEMU to the next one when nothing it sent changed the
#: machine (`conformance.machine.reuse`), up to this many examples: a start costs as
#: much as tens of examples, and a shorter transcript makes a shorter reproducer.
REUSE_EXAMPLES = 1000
#: Compiled examples sent pipelined before one liveness probe (`ArgumentRun.send_batch`):
#: QEMU queues at most PIPELINE_DEPTH requests, the probe included.
BATCH = PIPELINE_DEPTH - 1


# -- what a worker tells the parent ------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One chunk done: `what` is a command or a state machine."""

    worker: int
    what: str
    examples: int  # examples run (steps, for a state machine)
    command: bool  # whether `what` is a command of the schema
    pairs: tuple[Pair, ...] = ()  # (command, trace event) pairs new to this worker
    corpus: tuple[Entry, ...] = ()  # inputs that reached one first
    # Deliberate departures the chunk's checks excused (`conformance.oracle.deviation`),
    # each once: not findings, but the summary says which were seen.
    deviations: tuple[Deviation, ...] = ()


@dataclass(frozen=True)
class Found:
    worker: int
    finding: dict[str, object]  # Finding.to_json()


@dataclass(frozen=True)
class HarnessError:
    worker: int
    where: str
    summary: str  # one line: the exception's type and message
    text: str  # the traceback


def harness_error(worker: int, where: str, exc: BaseException) -> HarnessError:
    message = next(iter(str(exc).splitlines()), "")
    return HarnessError(
        worker, where, f"{type(exc).__name__}: {message}".rstrip(": "), traceback.format_exc()
    )


@dataclass(frozen=True)
class Done:
    worker: int


Note = Chunk | Found | HarnessError | Done


class Outbox(Protocol):
    def put(self, note: Note) -> None: ...


@dataclass(frozen=True)
class WorkerConfig:
    index: int
    workers: int
    binary: str
    seed: int
    commands: tuple[str, ...]
    workdir_base: str
    timeout: float = 5.0
    engine: str = "compiled"  # one of ENGINES
    # Signatures the baseline knows: the compiled engine doesn't shrink them again.
    known: Container[str] = frozenset()
    trace: TraceEvents | None = None  # what to record (None, or blind: nothing)
    guided: bool = True  # steer by trace feedback (`conformance.feedback.steer`)
    corpus: tuple[Entry, ...] = ()  # replayed first, each worker its share
    qemu: str = ""  # the version, for corpus entries


class _Interrupt(BaseException):
    """Ends a chunk's Hypothesis run without a verdict: a BaseException, so that
    Hypothesis lets it through instead of taking it for a failure to shrink."""


class _Stop(_Interrupt):
    """The parent asked the worker to stop."""


class _Cut(_Interrupt):
    """Shrinking went on past `SHRINK_BUDGET` (a hang costs a reply deadline per try)."""


@dataclass
class _Attempt:
    """One chunk's first failure, kept for when an interrupt ends the chunk before
    Hypothesis has shrunk and reported it: it is reported as it was first seen."""

    stop: Event
    first: BaseException | None = None
    since: float = 0.0
    interrupted: _Interrupt | None = None

    def failed(self, exc: BaseException | None) -> None:
        if self.first is None and isinstance(exc, Failure | QemuGone):
            self.first, self.since = exc, time.monotonic()

    def check(self) -> None:
        """Before each example: interrupt when asked to stop or out of shrinking time."""
        if self.stop.is_set():
            self.interrupted = _Stop()
        elif self.first is not None and time.monotonic() - self.since > SHRINK_BUDGET:
            self.interrupted = _Cut()
        if self.interrupted is not None:
            raise self.interrupted


class _Watched(RuleBasedStateMachine):
    """A state machine that tells its chunk's `_Attempt` about a failure (which is
    still on its way out when Hypothesis calls teardown)."""

    attempt: _Attempt

    def teardown(self) -> None:
        # Hypothesis leaves teardown untyped.
        parent: Callable[[], None] = super().teardown
        try:
            parent()
        finally:
            self.attempt.failed(sys.exc_info()[1])


class _WatchedWire(_Watched, wire_drive.WireMachine):
    pass


class _WatchedResource(_Watched, resource_drive.ResourceMachine):
    pass


# -- the process ---------------------------------------------------------------------------


def main(config: WorkerConfig, stop: Event, outbox: Outbox) -> None:
    """The worker process's entry point."""
    # Dies with the parent, even a SIGKILLed one that can't set `stop` any more.
    lifeline.adopt()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = Worker(config, stop, outbox)
    try:
        worker.loop()
    except _Stop:
        pass
    except Exception as exc:
        outbox.put(harness_error(config.index, "worker", exc))
    finally:
        worker.close()
        outbox.put(Done(config.index))


class Worker:
    def __init__(self, config: WorkerConfig, stop: Event, outbox: Outbox) -> None:
        self.config = config
        self.stop = stop
        self.outbox = outbox
        self.instances = InstancePool(self.launch_config)
        self.policy = safety.generation_policy()
        self.pools = Pools()
        self.schema: Schema | None = None
        # Chosen from the binary's target when the loop starts (`choose_profiles`).
        self.argument_profile = WIRE_PROFILE
        self.resource_profile: Profile | None = None
        self.with_machine = True  # False: the resource machine without tray and devices
        self.reported: set[str] = set()  # signatures this worker sent
        self._served = 0  # compiled examples the argument QEMU has run
        self.feedback = WorkerFeedback(
            config.trace,
            config.guided,
            config.commands,
            config.seed,
            worker=config.index,
            workers=config.workers,
            qemu=config.qemu,
        )

    def choose_profiles(self) -> None:
        """As in the suite: arguments on the target's block profile (it has block devices
        to hit), and the resource machine only where that profile has all it drives."""
        profiles = binary_profiles(
            self.config.binary, self.config.workdir_base, timeout=self.config.timeout
        )
        self.argument_profile = block_profile(profiles) or profiles[0]
        self.resource_profile = resource_drive.resource_profile(profiles)
        if self.resource_profile is None and probe(self.config.binary).storage_daemon:
            # As in the suite: no machine, so nodes, chardevs, objects and jobs only.
            self.resource_profile = profile(self.argument_profile)
            self.with_machine = False

    def launch_config(self, profile_name: str) -> LaunchConfig:
        config = LaunchConfig(
            binary=self.config.binary,
            profile=profile_name,
            timeout=self.config.timeout,
            workdir_base=self.config.workdir_base,
            trace=self.config.trace.setup if self.config.trace is not None else None,
        )
        if profile_name == self.argument_profile:
            # Buses that take a PCI device_add (the board's own may refuse hotplug);
            # a finding's reproducer starts its QEMU with them too.
            config.extra_args = hotplug_ports(profile(profile_name))
        return config

    def close(self) -> None:
        self.instances.close()

    def prepare(self) -> None:
        """Profiles chosen, the schema read and the pools harvested, on a QEMU of
        their own: what every chunk needs."""
        self.choose_profiles()
        with QemuInstance(self.launch_config(self.argument_profile)) as inst:
            self.schema = schema_from_reply(inst.execute("query-qmp-schema").value)
            harvest(inst, self.schema, self.pools)
        self.feedback.credit(HARVEST)

    def loop(self) -> None:
        self.prepare()
        if self.feedback.steering:
            self.corpus_chunks()
        while not self.stop.is_set():
            what, number = self.feedback.next_arm()
            if what == ARGUMENTS:
                self.argument_chunk(number)
            else:
                self.machine_chunk(what, number)

    # -- chunks ----------------------------------------------------------------------------

    def after_example(self, inst: QemuInstance, command: str, arguments: object) -> None:
        """Called after every argument example, passed or failed, with the QEMU it ran
        on, the command and its arguments as sent (a point for coverage crediting)."""

    def argument_chunk(self, position: int) -> None:
        if self.config.engine == "compiled":
            self.compiled_chunk(position)
        else:
            self.hypothesis_chunk(position)

    def _command_and_mode(self, position: int) -> tuple[str, str]:
        commands = self.config.commands
        if not commands:
            raise RuntimeError("no command to fuzz: the host-safety policy skips them all")
        index, mode = slot(position, len(commands))
        return commands[index], MODES[mode]

    def compiled_chunk(self, position: int) -> None:
        """`COMPILED_EXAMPLES` examples of one command and mode drawn by the compiled
        generators, each through the same `ArgumentRun` as a Hypothesis example (the
        policy's confinement, the exchange, the judging, the liveness probe), pipelined
        in batches; the first failure is shrunk, replayed on a fresh QEMU and
        reported."""
        command, mode = self._command_and_mode(position)
        assert self.schema is not None
        run = ArgumentRun(
            command, self.schema, self.pools, self.policy, self.instances, self.argument_profile
        )
        run.after = self.after_example
        setup = self._set_up(run)
        compiled = compiled_for(self.schema, run.draw_pools, self.policy)
        chunk_seed = _seed(self.config.seed, "arguments", position)
        rnd = random.Random(chunk_seed)
        draw_valid = self._valid_draws(compiled, command)
        draw_malformed = compiled.malformed(command, draw_valid)
        nodeid = f"fuzz::{mode}-arguments[{command}]"
        tries = 0
        dry = 0  # examples in a row that reached no new pair
        # (arguments as drawn, as admitted on this QEMU, id, malformed case)
        batch: list[tuple[object, object, object, Malformed | None]] = []
        try:
            while self.feedback.keep_going(
                run.examples, dry, COMPILED_EXAMPLES
            ) and tries < 2 * max(run.examples, COMPILED_EXAMPLES):
                if self.stop.is_set():
                    raise _Stop
                tries += 1
                try:
                    case = draw_malformed(rnd) if mode == "malformed" else None
                    arguments = draw_valid(rnd) if case is None else case.arguments
                    admitted = run.admitted(arguments, case)
                    batch.append((arguments, admitted, request_id(rnd), case))
                except (NoValue, Dropped):
                    pass
                if len(batch) < BATCH and tries < 2 * max(run.examples, COMPILED_EXAMPLES):
                    continue
                if batch and self._batch_failed(run, batch, nodeid, chunk_seed):
                    return
                self._remember(run, [(b[0], b[2], b[3]) for b in batch], setup)
                # A batch is pipelined: the log can't tell its examples apart.
                if self.feedback.credit(command, mode, [(b[0], b[3]) for b in batch]):
                    dry = 0
                else:
                    dry += len(batch)
                batch = []
        finally:
            self.feedback.credit(command)  # a failure's re-sends and shrinking
            self._served += run.examples
            if run.spoiled or self._served >= REUSE_EXAMPLES:
                self.instances.close()
                self._served = 0
                self.feedback.credit(QUIT)  # the harness's quit, no command's
            self._chunk_done(command, run.examples, True, (ARGUMENTS, position))

    def _remember(
        self, run: ArgumentRun, sent: list[tuple[object, object, Malformed | None]], setup: Setup
    ) -> None:
        """Keep as set-ups on top of `setup` the valid examples of `sent` (arguments as
        drawn, id, malformed case) whose success changed the machine."""
        if self.feedback.steering:
            for arguments, sent_id, case in sent:
                if sent_id in run.changed and case is None and isinstance(arguments, dict):
                    self.feedback.setups.add(setup, (run.command, arguments))
        run.changed.clear()

    def _set_up(self, run: ArgumentRun) -> Setup:
        """Pick a set-up for `run`'s chunk (`conformance.feedback.setups`) and have it
        sent to each QEMU the chunk uses before its examples, the names it created
        added to pools of the chunk's own; the steps that succeeded on the first."""
        assert self.schema is not None
        schema = self.schema
        picked = self.feedback.setup_for(refers_to(schema, run.command))
        if not picked:
            return ()
        base = run.draw_pools
        done: list[Step] = []
        first = True

        def prepare(inst: QemuInstance) -> None:
            nonlocal first
            run.spoiled = True  # the set-up changed the machine: no later chunk's
            # What the QEMU before this one logged (a restart after a crash: its last
            # words) was the chunk's command's, not the first step's.
            self.feedback.credit(run.command)
            is_first, first = first, False
            for command, arguments in picked:
                if self.stop.is_set():
                    raise _Stop  # a set-up's steps may each wait out a reply deadline
                try:
                    confined = confine(command, arguments, str(inst.workdir))
                    reply = inst.execute(command, confined)
                except Unconfinable:
                    continue
                except QemuGone:
                    return
                finally:
                    self.feedback.credit(command)
                if reply.ok and is_first:
                    done.append((command, arguments))
            if not is_first:
                return  # a restart: the same names as the first time
            now = Pools()
            try:
                harvest_names(inst, schema, now)
            except QemuGone:
                return
            finally:
                self.feedback.credit(HARVEST)
            run.draw_pools, grew = with_created(base, now)
            self.feedback.setups.created(picked, grew)

        run.prepare = prepare
        run.instance()
        log.info(
            "set-up for %s: %d of %d steps: %s",
            run.command,
            len(done),
            len(picked),
            ", ".join(c for c, _ in picked),
        )
        return tuple(done)

    def _valid_draws(
        self, compiled: Compiled, command: str
    ) -> Callable[[random.Random], dict[str, object]]:
        """Valid arguments of `command`: the compiled generators', and when steering
        and the command has seeds, `MUTATE` of them mutants of the seeds."""
        fresh = compiled.arguments(command)
        seeds = self.feedback.seeds_of(command)
        if not seeds:
            return fresh
        assert self.schema is not None
        mutants = mutator(self.schema, compiled.factory, command, fresh, seeds)

        def draw(rnd: random.Random) -> dict[str, object]:
            return mutants(rnd) if rnd.random() < MUTATE else fresh(rnd)

        return draw

    def _batch_failed(
        self,
        run: ArgumentRun,
        batch: list[tuple[object, object, object, Malformed | None]],
        nodeid: str,
        chunk_seed: int,
    ) -> bool:
        """Send a batch pipelined; when anything in it fails, send its cases again one
        by one, each with its own liveness probe, on a QEMU that ran nothing else, so
        that the failure is signed by the case that caused it; that one is shrunk and
        reported (the batch's failure as it was, if none fails alone). True when the
        batch failed."""
        try:
            run.send_batch([(admitted, sent_id, case) for _, admitted, sent_id, case in batch])
            return False
        except (Failure, QemuGone, Dropped) as exc:
            # Dropped: a case this host can't test ended the batch's QEMU; the others
            # are sent again as after a failure, and that case is dropped alone.
            first: Failure | QemuGone | Dropped = exc
        # Even a known failure is re-sent: a reproducer holds its messages up to the
        # one that failed, and a batch's failure comes after all of them were sent.
        self.instances.close()
        for arguments, _, sent_id, case in batch:
            try:
                # Confined again: the fresh QEMU has a workdir of its own.
                run.send(run.admitted(arguments, case), sent_id, malformed=case)
            except Dropped:
                continue
            except (Failure, QemuGone) as exc:
                self._shrink_and_report(run, exc, arguments, sent_id, case, nodeid, chunk_seed)
                return True
        if isinstance(first, Dropped):
            self.instances.close()
            return False
        self._report(
            first, nodeid, chunk_seed, ["compiled engine: the batch failed, no case alone"]
        )
        return True

    def _shrink_and_report(
        self,
        run: ArgumentRun,
        first: Failure | QemuGone,
        arguments: object,
        sent_id: object,
        case: Malformed | None,
        nodeid: str,
        chunk_seed: int,
    ) -> None:
        """Shrink a compiled example's failure structurally (each variant judged on the
        real QEMU, kept when it fails the same way), then replay the smallest on a QEMU
        that ran nothing else, as Hypothesis's final replay does, and report that."""
        if self._known(first, nodeid) or _hang(first):
            # Known: no need to shrink it again. A hang: every try would cost a reply
            # deadline; the run's reproducer minimiser has a budget of its own.
            self._report(first, nodeid, chunk_seed, [])
            return
        kind = failure_kind(first)
        assert self.schema is not None
        schema = self.schema
        started = time.monotonic()
        tried = [0]

        def as_case(variant: object) -> Malformed | None:
            if case is None:
                return None
            found = validate_arguments(schema, run.command, variant)
            if len(found) != 1 or found[0].rule != case.rule:
                raise Dropped("the variant doesn't break the case's rule alone")
            return Malformed(case.rule, found[0].path, variant)

        def fails(variant: object, variant_id: object) -> bool:
            if self.stop.is_set():
                raise _Stop
            tried[0] += 1
            try:
                variant_case = as_case(variant)
                run.send(run.admitted(variant, variant_case), variant_id, malformed=variant_case)
            except Dropped:
                return False
            except (Failure, QemuGone) as exc:
                return failure_kind(exc) == kind
            if run.spoiled:
                # What this variant created (a chardev, a node) would make the next
                # one fail otherwise, with "duplicate ID": each try on a clean QEMU.
                self.instances.close()
                run.spoiled = False
            return False

        try:
            # The id 0 first, what Hypothesis shrinks an id to: one try.
            if sent_id != 0 and fails(arguments, 0):
                sent_id = 0
            smallest = shrink(arguments, lambda v: fails(v, sent_id), SHRINK_BUDGET)
            left = SHRINK_BUDGET - (time.monotonic() - started)
            if sent_id != 0 and left > 0:
                sent_id = shrink(sent_id, lambda i: fails(smallest, i), left)
        except _Stop:
            self._report(first, nodeid, chunk_seed, [])
            raise
        final: BaseException = first
        self.instances.close()  # the replay runs on a QEMU that ran nothing else
        try:
            replayed = as_case(smallest)
            run.send(run.admitted(smallest, replayed), sent_id, malformed=replayed)
        except (Failure, QemuGone) as exc:
            final = exc
        except Dropped:
            pass
        notes = (
            f"compiled engine: shrunk in {tried[0]} tries ({time.monotonic() - started:.1f}s)"
            f" from {json.dumps(arguments)[:2000]}"
        )
        self._report(final, nodeid, chunk_seed, [notes])

    def hypothesis_chunk(self, position: int) -> None:
        command, mode = self._command_and_mode(position)
        assert self.schema is not None
        run = ArgumentRun(
            command, self.schema, self.pools, self.policy, self.instances, self.argument_profile
        )
        run.after = self.after_example
        body = BODIES[mode]
        attempt = _Attempt(self.stop)
        fresh = [False]

        def example(data: st.DataObject) -> None:
            attempt.check()
            if current_build_context().is_final and not fresh[0]:
                # Replay the minimal example on a QEMU that ran nothing else.
                fresh[0] = True
                self.instances.close()
                self.feedback.credit(QUIT)
            try:
                body(run, data)
            except (Failure, QemuGone) as exc:
                attempt.failed(exc)
                raise
            finally:
                drawn = [run.drawn] if run.drawn is not None else []
                self.feedback.credit(command, mode, drawn, in_test=True)
                run.drawn = None

        chunk_seed = _seed(self.config.seed, "arguments", position)
        test = _seeded(chunk_seed, given(data=st.data())(example))
        try:
            self._run(test, f"fuzz::{mode}-arguments[{command}]", chunk_seed, attempt)
        finally:
            self.instances.close()  # one QEMU per chunk, as the suite has one per command
            self.feedback.credit(QUIT)  # the harness's quit, no command's
            self._chunk_done(command, run.examples, True, (ARGUMENTS, position))

    def machine_chunk(self, machine: str, chunk: int) -> None:
        assert self.schema is not None
        schema = self.schema
        wire = machine == WIRE
        driven = resource_drive.COMMANDS if self.with_machine else resource_drive.daemon_commands()
        if not wire and any(c not in schema.commands for c in driven):
            return
        if not wire and self.resource_profile is None:
            return  # no profile of this target has what the resource machine drives
        wire_drive.WireMachine.steps = resource_drive.ResourceMachine.steps = 0
        attempt = _Attempt(self.stop)
        # Launched as the suite's state-machine tests launch theirs.
        if wire:
            config = self.launch_config(WIRE_PROFILE)
        else:
            assert self.resource_profile is not None
            config = self.launch_config(self.resource_profile.name)
            # The USB controller its device rules plug into.
            config.extra_args = XHCI if self.with_machine else ()
            generated = resource_drive.referencing_commands(schema)

        def make() -> QemuInstance:
            attempt.check()  # one QEMU per example: this is its start
            inst = QemuInstance(config)
            # Each command the machine sends is credited with its own dispatch's
            # events, as an argument example is: (command, event) pairs, not the
            # machine's. The wire machine's raw bytes are left to the machine.
            inst.answered = self._credit_answered
            return inst

        def factory() -> RuleBasedStateMachine:
            found: _Watched = (
                _WatchedWire(make)
                if wire
                else _WatchedResource(
                    make, schema, self.policy, generated, machine=self.with_machine
                )
            )
            found.attempt = attempt
            return found

        chunk_seed = _seed(self.config.seed, f"{machine}:{self.config.index}", chunk)
        steps = wire_drive.STEPS if wire else resource_drive.STEPS

        def test() -> None:
            _run_machine(
                seed(chunk_seed)(factory),
                settings=_settings(MACHINE_RUNS, stateful_step_count=steps),
            )

        try:
            self._run(test, f"fuzz::{machine}", chunk_seed, attempt)
        finally:
            done = wire_drive.WireMachine.steps + resource_drive.ResourceMachine.steps
            self.feedback.credit(machine)  # what no command of the machine was answered for
            self._chunk_done(machine, done, False, (machine, chunk))

    def corpus_chunks(self) -> None:
        """Replay this worker's share of the corpus, a chunk per command, through the
        same exchange and checks as generated examples."""
        assert self.schema is not None
        by_command: dict[str, list[Entry]] = {}
        for entry in mine(self.config.corpus, self.config.index, self.config.workers):
            if entry.command in self.config.commands and entry.command in self.schema.commands:
                by_command.setdefault(entry.command, []).append(entry)
        for command, entries in by_command.items():
            run = ArgumentRun(
                command, self.schema, self.pools, self.policy, self.instances, self.argument_profile
            )

            def test(run: ArgumentRun = run, entries: list[Entry] = entries) -> None:
                for number, entry in enumerate(entries):
                    if self.stop.is_set():
                        raise _Stop
                    case = (
                        Malformed(entry.rule or "", entry.path or "", entry.arguments)
                        if entry.mode == "malformed"
                        else None
                    )
                    if run.offer(entry.arguments, f"corpus-{number}", malformed=case):
                        self.feedback.credit(run.command, entry.mode, [(entry.arguments, case)])
                    self._remember(run, [(entry.arguments, f"corpus-{number}", case)], ())

            try:
                self._run(test, f"fuzz::corpus[{command}]", 0, _Attempt(self.stop))
            finally:
                self.instances.close()
                self.feedback.credit(QUIT)  # the harness's quit, no command's
                self._chunk_done(command, run.examples, True, None)

    def _credit_answered(self, command: str | None) -> None:
        """`QemuInstance.answered` for a state machine's QEMUs (None: it was closed)."""
        self.feedback.credit(QUIT if command is None else command)

    def _chunk_done(self, what: str, examples: int, command: bool, arm: Arm | None) -> None:
        """Tell the parent a chunk is done: its examples, feedback and deviations."""
        pairs, corpus = self.feedback.chunk_done(arm)
        seen = tuple(deviation.take())
        self.outbox.put(Chunk(self.config.index, what, examples, command, pairs, corpus, seen))

    def _run(
        self, test: Callable[[], None], nodeid: str, chunk_seed: int, attempt: _Attempt
    ) -> None:
        """Run one chunk's test and send what it found; `_Stop` goes on up."""
        said: list[object] = []  # what Hypothesis reports: kept, never printed
        try:
            with with_reporter(said.append):
                test()
            return
        except Unsatisfiable:
            return  # the host-safety policy dropped every example: nothing ran
        except _Interrupt:
            pass
        except Exception as exc:
            if all(isinstance(leaf, Failure | QemuGone) for leaf in leaves(exc)):
                self._report(exc, nodeid, chunk_seed, said)
                return
            # A QEMU that died mid-write is noticed at that write or at the next read,
            # as timing has it, so Hypothesis's replay of the run may take another path
            # and call the strategy flaky: the exit seen first is the finding.
            flaky = isinstance(exc, FlakyStrategyDefinition) and attempt.first is not None
            if attempt.interrupted is None and not flaky:
                self.outbox.put(harness_error(self.config.index, nodeid, exc))
                return
            # Hypothesis can turn an interrupt in mid-replay into an error of its own
            # (the replay drew less than the run it replays): that is the interrupt.
        if attempt.first is not None:
            self._report(attempt.first, nodeid, chunk_seed, said)
        if isinstance(attempt.interrupted, _Stop):
            raise attempt.interrupted

    def _report(self, exc: BaseException, nodeid: str, chunk_seed: int, said: list[object]) -> None:
        notes = "\n".join(map(str, [*said, *getattr(exc, "__notes__", ())]))
        # `@seed(N)` in the text: record.py files it as the reproduction seed.
        text = f"{notes}\n@seed({chunk_seed})"
        for finding in findings_from(exc, nodeid, text, "fuzz"):
            self.reported.add(finding.key)
            self.outbox.put(Found(self.config.index, finding.to_json()))

    def _known(self, exc: BaseException, nodeid: str) -> bool:
        """Whether every finding in `exc` is one the baseline knows or this worker sent."""
        keys = {finding.key for finding in findings_from(exc, nodeid)}
        return bool(keys) and all(k in self.config.known or k in self.reported for k in keys)


def _hang(exc: BaseException) -> bool:
    return (
        isinstance(exc, QemuGone)
        and exc.exit_info is not None
        and exc.exit_info.kind is ExitKind.HANG
    )


# Typed in newer Hypothesis releases and not in older ones (as in the suite).
_run_machine: Callable[..., None] = run_state_machine_as_test


def _settings(examples: int, stateful_step_count: int = 50) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        print_blob=True,
        report_multiple_bugs=False,
        # No explain phase: it reruns the failure to annotate it, time a fuzzer spends
        # better on the next chunk.
        phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        stateful_step_count=stateful_step_count,
    )


def _seeded(chunk_seed: int, test: Callable[..., None]) -> Callable[[], None]:
    decorated: Callable[[], None] = _settings(CHUNK_EXAMPLES)(seed(chunk_seed)(test))
    return decorated


def _seed(run_seed: int, what: str, number: int) -> int:
    """A chunk's seed: the same run seed gives every chunk the same cases again."""
    return random.Random(f"{run_seed}:{what}:{number}").getrandbits(64)


__all__ = [
    "Chunk",
    "Done",
    "Found",
    "HarnessError",
    "Note",
    "WorkerConfig",
    "main",
]
