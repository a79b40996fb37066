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

import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
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
from conformance.drive.arguments import BODIES
from conformance.drive.exchange import ArgumentRun
from conformance.drive.harvest import harvest
from conformance.feedback.corpus import Entry
from conformance.feedback.credit import HARVEST, QUIT, Pair
from conformance.feedback.steer import WorkerFeedback, mine
from conformance.findings.record import findings_from, leaves
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.probe import probe
from conformance.machine.profiles import Profile, block_profile, profile
from conformance.machine.targets import binary_profiles
from conformance.machine.trace_events import TraceEvents
from conformance.oracle.failure import Failure
from conformance.spec import Schema, schema_from_reply
from strategies import Malformed, safety
from strategies.pools import Pools

WIRE_PROFILE = "none"
CHUNK_EXAMPLES = 20
MACHINE_EVERY = 10
MACHINE_RUNS = 2
SHRINK_BUDGET = 60.0  # seconds a chunk may spend shrinking before its failure is sent as is
MODES = ("valid", "malformed")
WIRE = "wire-machine"
RESOURCE = "resource-machine"


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
        self.feedback = WorkerFeedback(
            config.trace,
            config.guided,
            config.commands,
            config.seed,
            worker=config.index,
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

    def launch_config(self, profile: str) -> LaunchConfig:
        return LaunchConfig(
            binary=self.config.binary,
            profile=profile,
            timeout=self.config.timeout,
            workdir_base=self.config.workdir_base,
            trace=self.config.trace.setup if self.config.trace is not None else None,
        )

    def close(self) -> None:
        self.instances.close()

    def loop(self) -> None:
        self.choose_profiles()
        with QemuInstance(self.launch_config(self.argument_profile)) as inst:
            self.schema = schema_from_reply(inst.execute("query-qmp-schema").value)
            harvest(inst, self.schema, self.pools)
        self.feedback.credit(HARVEST)
        if self.feedback.steering:
            self.corpus_chunks()
        argument_chunks = 0
        chunk = 0
        while not self.stop.is_set():
            if chunk % MACHINE_EVERY == MACHINE_EVERY - 1:
                machine = (WIRE, RESOURCE)[(chunk // MACHINE_EVERY) % 2]
                self.machine_chunk(machine, chunk)
            else:
                self.argument_chunk(self.config.index + argument_chunks * self.config.workers)
                argument_chunks += 1
            chunk += 1

    # -- chunks ----------------------------------------------------------------------------

    def argument_chunk(self, position: int) -> None:
        commands = self.config.commands
        if not commands:
            raise RuntimeError("no command to fuzz: the host-safety policy skips them all")
        position = self.feedback.position(position)
        command = commands[position % len(commands)]
        mode = MODES[(position // len(commands)) % len(MODES)]
        assert self.schema is not None
        run = ArgumentRun(
            command, self.schema, self.pools, self.policy, self.instances, self.argument_profile
        )
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
                self.feedback.credit(command, mode, run.drawn, in_test=True)
                run.drawn = None

        chunk_seed = _seed(self.config.seed, "arguments", position)
        test = _seeded(chunk_seed, given(data=st.data())(example))
        try:
            self._run(test, f"fuzz::{mode}-arguments[{command}]", chunk_seed, attempt)
        finally:
            self.instances.close()  # one QEMU per chunk, as the suite has one per command
            self.feedback.credit(QUIT)  # the harness's quit, no command's
            found = self.feedback.chunk_done(position)
            self.outbox.put(Chunk(self.config.index, command, run.examples, True, *found))

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
            return QemuInstance(config)

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
            self.feedback.credit(machine)  # a state machine's events, credited to it
            found = self.feedback.chunk_done()
            self.outbox.put(Chunk(self.config.index, machine, done, False, *found))

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
                        self.feedback.credit(run.command, entry.mode, (entry.arguments, case))

            try:
                self._run(test, f"fuzz::corpus[{command}]", 0, _Attempt(self.stop))
            finally:
                self.instances.close()
                self.feedback.credit(QUIT)  # the harness's quit, no command's
                found = self.feedback.chunk_done()
                self.outbox.put(Chunk(self.config.index, command, run.examples, True, *found))

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
            self.outbox.put(Found(self.config.index, finding.to_json()))


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
