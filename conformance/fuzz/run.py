"""`qmp-conformance fuzz`: the parent process of a fuzz run.

It checks the binary and reads its schema once (a bad binary is exit 2 before any
worker starts), starts the workers (`conformance.fuzz.worker`, one process each, with
SIGINT ignored: Ctrl-C is handled here), and then waits on their notes with a deadline
no later than the next progress tick: a new finding is deduplicated by signature and
written to ``REPORTS/findings/<slug>/`` at once (`conformance.findings.store`), a known
one (``--baseline``) is counted as known, every later occurrence counted.

The run ends when its time is up, on SIGINT or on SIGTERM: the stop event is set, the
workers are joined with a deadline while their last notes are read, and a worker still
running then is terminated (its QEMUs die with it through PR_SET_PDEATHSIG). A worker
dies with this process however it ends, SIGKILL included (`conformance.lifeline`). When the
time ran out, the new findings' reproducers are minimised on the real binary within a
budget. The workdirs are all under one run directory, removed at the end.

Exit status: 3 if a worker hit a harness error (an exception that is neither a check
failure nor a QEMU exit) or died, else 1 if there are new findings, else 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from pathlib import Path
from types import FrameType

from conformance import lifeline
from conformance.errors import EXIT_FINDINGS, EXIT_HARNESS, EXIT_OK, SetupError
from conformance.feedback import corpus as corpora
from conformance.feedback.credit import Coverage, to_json
from conformance.findings import baseline as baselines
from conformance.findings.backtrace import Backtracer
from conformance.findings.record import Finding
from conformance.findings.store import FindingStore, load_minimiser
from conformance.fuzz import worker
from conformance.fuzz.tally import Tally, progress_line, summary
from conformance.machine.cache import BinaryCache
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.probe import probe
from conformance.machine.trace_events import TraceEvents, trace_events
from conformance.spec import Schema, schema_from_reply
from strategies import safety

TICK_TTY = 1.0  # seconds between progress lines on a terminal (rewritten in place)
TICK_PLAIN = 10.0  # ... and on anything else (one line each)
STOP_GRACE = 20.0  # for workers to finish their exchange and send their last notes
KILL_GRACE = 5.0  # after terminate()
MINIMISE_BUDGET = 60.0  # seconds for minimising the new findings at the end of a run
MAX_RESTARTS = 3  # replacements of a worker that died, per worker slot
COVERAGE_FILE = "fuzz-coverage.json"  # the trace coverage a run reached, in REPORTS
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>[smh]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``2h`` in seconds; SetupError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or float(match["n"]) <= 0:
        raise SetupError(f"--time {text!r}: expected a duration such as 90s, 10m or 2h")
    return float(match["n"]) * _UNITS[match["unit"]]


def fuzz_commands(schema: Schema, seed: int) -> tuple[str, ...]:
    """Every command generated arguments may run, in an order shuffled by `seed`."""
    commands = [
        c for c in sorted(schema.commands) if not lifecycle_reason(c) and not safety.skip_reason(c)
    ]
    random.Random(seed).shuffle(commands)
    return tuple(commands)


@dataclass
class _Slot:
    """A worker position: its process, and how often it was replaced."""

    config: worker.WorkerConfig
    process: SpawnProcess
    done: bool = False
    restarts: int = 0


@dataclass
class FuzzRun:
    binary: str
    seed: int
    commands: tuple[str, ...]
    workers: int
    run_dir: Path
    store: FindingStore
    tally: Tally
    engine: str = "compiled"
    known: Container[str] = frozenset()
    trace: TraceEvents | None = None
    guided: bool = True
    corpus: tuple[corpora.Entry, ...] = ()
    qemu: str = ""
    stop: bool = False
    stop_reason: str = ""
    slots: list[_Slot] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._stop_event = self._ctx.Event()
        self._notes: multiprocessing.Queue[worker.Note] = self._ctx.Queue()
        self._tty = sys.stdout.isatty()
        self._progress_shown = False
        # The parent signs a signal-only crash with its frames, once per signature.
        self._backtracer = Backtracer(self.binary, str(self.run_dir / "gdb"))
        self._told = False  # the backtracer's note printed

    # -- workers ---------------------------------------------------------------------------

    def start_workers(self) -> None:
        for index in range(self.workers):
            config = worker.WorkerConfig(
                index=index,
                workers=self.workers,
                binary=self.binary,
                seed=self.seed,
                commands=self.commands,
                workdir_base=str(self.run_dir / f"worker-{index}"),
                engine=self.engine,
                known=self.known,
                trace=self.trace,
                guided=self.guided,
                corpus=self.corpus,
                qemu=self.qemu,
            )
            self.slots.append(_Slot(config, self._spawn(config)))

    def _spawn(self, config: worker.WorkerConfig) -> SpawnProcess:
        process = self._ctx.Process(
            target=worker.main,
            args=(config, self._stop_event, self._notes),
            name=f"qmpc-fuzz-{config.index}",
            daemon=True,
        )
        # Started with SIGINT ignored, so that the child's interpreter never installs
        # its KeyboardInterrupt handler: Ctrl-C at any moment is the parent's alone.
        # And named as its parent, so that it dies with this process (conformance.lifeline).
        with _sigint_ignored(), lifeline.children():
            process.start()
        return process

    def _check_workers(self) -> None:
        """A worker that died without saying it was done is a harness error; it is
        replaced while there is time, so that the run goes on."""
        for slot in self.slots:
            if slot.done or slot.process.is_alive():
                continue
            slot.done = True
            if slot.process.exitcode != 0:  # a worker that ends on its own said why
                self.tally.harness_errors.append(
                    f"worker {slot.config.index} died (exit code {slot.process.exitcode})"
                )
            if not self.stop and slot.restarts < MAX_RESTARTS:
                slot.process = self._spawn(slot.config)
                slot.done = False
                slot.restarts += 1

    def stop_workers(self) -> None:
        self._stop_event.set()
        deadline = time.monotonic() + STOP_GRACE
        while not all(s.done for s in self.slots) and time.monotonic() < deadline:
            self._receive(deadline - time.monotonic())
            for slot in self.slots:
                if not slot.done and not slot.process.is_alive():
                    slot.done = True  # died on its way out: nothing more will come
        for slot in self.slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.terminate()
                slot.process.join(KILL_GRACE)
            if slot.process.is_alive():
                slot.process.kill()
                # SIGKILL can't be caught: only a worker stuck in the kernel outlives this.
                slot.process.join(KILL_GRACE)
            if slot.process.is_alive():
                self.tally.harness_errors.append(
                    f"worker {slot.config.index} (pid {slot.process.pid}) did not end when killed"
                )
        while self._receive(0):
            pass
        self._notes.close()
        self._notes.cancel_join_thread()

    # -- notes -----------------------------------------------------------------------------

    def _receive(self, timeout: float) -> bool:
        """Handle the next note, waiting up to `timeout`; False when none came."""
        try:
            note = self._notes.get(timeout=timeout) if timeout > 0 else self._notes.get_nowait()
        except queue.Empty:
            return False
        except (EOFError, OSError):  # a worker killed mid-write leaves a broken pipe
            return False
        if isinstance(note, worker.Chunk):
            self.tally.add(note)
            for seen in note.deviations:
                self.store.add_deviation(seen, f"fuzz::{note.what}")
        elif isinstance(note, worker.Found):
            self._found(Finding.from_json(note.finding))
        elif isinstance(note, worker.HarnessError):
            self.tally.harness_errors.append(f"worker {note.worker}, {note.where}: {note.summary}")
            self._print(
                f"harness error in worker {note.worker}, {note.where}:\n{note.text}", err=True
            )
        elif isinstance(note, worker.Done):
            self.slots[note.worker].done = True
        return True

    def _found(self, finding: Finding) -> None:
        if finding.signature.signal_only and self._backtracer.note and not self._told:
            self._print(self._backtracer.note)
            self._told = True
        finding = self._backtracer.sign(finding)
        entry = self.store.add(finding)
        if entry.occurrences == 1:
            path = self.store.write_entry(entry)
            self.store.write_index()
            self._print(f"{entry.status} finding: {finding.key}  -> {path}")

    # -- output ----------------------------------------------------------------------------

    def _print(self, text: str, *, err: bool = False) -> None:
        out = sys.stderr if err else sys.stdout
        if self._progress_shown and self._tty:
            sys.stdout.write("\r\x1b[K")
            sys.stdout.flush()
            self._progress_shown = False
        out.write(text.rstrip("\n") + "\n")
        out.flush()

    def progress(self) -> None:
        line = progress_line(self.tally, self.store, time.monotonic())
        if self._tty:
            sys.stdout.write("\r\x1b[K" + line)
            self._progress_shown = True
        else:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    # -- the run ---------------------------------------------------------------------------

    def run(self, seconds: float) -> None:
        end = self.tally.started + seconds
        tick = TICK_TTY if self._tty else TICK_PLAIN
        next_tick = time.monotonic() + tick
        self.start_workers()
        while not self.stop:
            now = time.monotonic()
            if now >= end:
                self.stop_reason = "time is up"
                break
            self._receive(min(next_tick, end) - now)
            self._check_workers()
            if time.monotonic() >= next_tick:
                self.progress()
                next_tick += tick
        self._print(f"stopping: {self.stop_reason}")
        self.stop_workers()

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stop = True
        self.stop_reason = signal.Signals(signum).name


def _write_coverage(path: Path, tally: Tally, *, guided: bool) -> None:
    assert tally.coverage is not None
    value = {**to_json(tally.coverage), "guided": guided, "examples": tally.examples}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")


def _merged(old: list[corpora.Entry], new: list[corpora.Entry]) -> list[corpora.Entry]:
    """The corpus after a run: the old entries, then the new inputs not already in it
    (a replayed entry reaches its events again, and comes back)."""
    seen = {_input(e) for e in old}
    kept = list(old)
    for entry in new:
        if _input(entry) not in seen:
            seen.add(_input(entry))
            kept.append(entry)
    return kept


def _input(entry: corpora.Entry) -> str:
    value = entry.to_json()
    del value["events"], value["qemu"]
    return repr(sorted(value.items()))


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _stop_on_signals(run: FuzzRun) -> Iterator[None]:
    previous = {s: signal.signal(s, run.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _schema(binary: str, workdir_base: Path) -> Schema:
    # The schema is the binary's whatever the board: the board-less machine starts on
    # every target.
    config = LaunchConfig(binary, worker.WIRE_PROFILE, workdir_base=str(workdir_base))
    try:
        with QemuInstance(config) as inst:
            return schema_from_reply(inst.execute("query-qmp-schema").value)
    except QemuGone as exc:
        raise SetupError(f"{binary}: QEMU {exc.exit_info.describe()} right after start") from exc


def cmd_fuzz(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    seconds = parse_duration(ns.time)
    if ns.workers < 1:
        raise SetupError("--workers must be at least 1")
    info = probe(ns.qemu)
    seed = ns.seed if ns.seed is not None else random.SystemRandom().getrandbits(32)
    choice = baselines.choose(ns.baseline, info) if ns.baseline else None
    known = choice.baseline if choice is not None and choice.baseline is not None else None
    # "qmpc-run-": the prefix of a run's own temporary directory (see the host-safety test).
    run_dir = Path(tempfile.mkdtemp(prefix="qmpc-run-fuzz-"))
    try:
        commands = fuzz_commands(_schema(ns.qemu, run_dir / "setup"), seed)
        trace = trace_events(
            ns.qemu,
            cache=BinaryCache(Path(ns.reports) / ".cache"),
            workdir_base=str(run_dir / "setup"),
        )
        guided = ns.guide and not trace.blind
        corpus_file = corpora.corpus_path(ns.reports)
        corpus: list[corpora.Entry] = []
        if guided:
            corpus, note = corpora.load(corpus_file)
            if note:
                print(note)
        store = FindingStore(
            Path(ns.reports) / "findings",
            known=known or frozenset(),
            binary=ns.qemu,
            qemu={"version": info.version_text, "package": info.package, "binary": info.path},
        )
        print(
            f"fuzz: {info.path} (QEMU {info.version_text}, {info.package}), "
            f"{len(commands)} commands, {ns.workers} workers, {ns.time}, seed {seed}, "
            f"{ns.engine} engine"
        )
        if choice is not None:
            print(choice.note)
        steer = "guided" if guided else "recorded, not steering (--no-guide)"
        print(trace.describe() + ("" if trace.blind else f"; {steer}"))
        if corpus:
            print(f"replaying {len(corpus)} corpus inputs first ({corpus_file})")
        tally = Tally(len(commands), time.monotonic())
        if not trace.blind:
            tally.coverage = Coverage(trace.recorded)
        run = FuzzRun(
            ns.qemu,
            seed,
            commands,
            ns.workers,
            run_dir,
            store,
            tally,
            engine=ns.engine,
            known=known or frozenset(),
            trace=trace,
            guided=guided,
            corpus=tuple(corpus),
            qemu=info.version_text,
        )
        with _stop_on_signals(run):
            run.run(seconds)
        minimiser = load_minimiser()
        if not run.stop and minimiser is not None and store.new:
            print(f"minimising {len(store.new)} new reproducers (at most {MINIMISE_BUDGET:g}s)")
            try:
                store.minimise(
                    minimiser, workdir_base=str(run_dir / "minimise"), budget_s=MINIMISE_BUDGET
                )
            except KeyboardInterrupt:
                print("minimisation interrupted: the reproducers are written as found")
        for entry in store.entries:
            store.write_entry(entry)  # the final occurrence counts, the minimised reproducers
        if store.entries:
            store.write_index()
        for line in summary(run.tally, store, time.monotonic(), ended=run.stop_reason):
            print(line)
        if tally.coverage is not None:
            _write_coverage(Path(ns.reports) / COVERAGE_FILE, tally, guided=guided)
        if guided and tally.corpus:
            kept = _merged(corpus, tally.corpus)
            written = corpora.save(corpus_file, kept)
            print(f"corpus: {written} inputs ({written - len(corpus)} new) in {corpus_file}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    if run.tally.harness_errors:
        return EXIT_HARNESS
    return EXIT_FINDINGS if store.new else EXIT_OK


__all__ = ["cmd_fuzz", "fuzz_commands", "parse_duration"]
