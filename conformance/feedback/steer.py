"""A fuzz worker's use of trace feedback: each example credited, the inputs that
reached a new (command, event) pair kept (for the corpus, and as seeds to mutate), and
the next chunk chosen.

A chunk is an *arm*: arguments of one (command, mode), or a run of a state machine.
Blind, a worker takes the arms in `round_robin` order. Steering (``guided``) does more,
because a short measurement (docs/fuzzing.md, "Why steering pays") found most (command,
event) pairs reached by a command's first few examples, most later examples repeating
them, and most of the rest behind QEMU's input validation:
- breadth first: the first pass over this worker's (command, mode) slots is the blind
  order, and a compiled chunk ends once `DRY` examples in a row reached no new pair
  of its own (`keep_going`), so that the pass takes minutes, not the run; a chunk that
  keeps reaching new pairs goes on, up to `LONGEST` examples;
- then an energy schedule: each arm scores the new pairs its last chunks reached per
  second, beyond the command's own ``qmp_enter_*``/``qmp_exit_*`` (which any first
  example reaches, so they predict nothing); a chunk goes to an arm chosen with a
  probability proportional to its score, except `BREADTH` of them, which continue the
  round robin so that every command keeps its turns (the floor);
- seeds: the valid arguments that reached a new pair are kept per command, and half of
  a steered compiled chunk's examples are mutants of them (`strategies.mutate`; the
  malformed mode breaks a mutant), past the validation that a fresh draw mostly fails;
- Hypothesis's ``target()`` gets each example's count of new pairs (the Hypothesis
  engine);
- set-ups: the valid examples whose success changed the machine are kept, each with
  the set-up it ran on, and half of the steered compiled chunks replay one before their
  examples, which then draw the names it created (`conformance.feedback.setups`);
- the corpus entries given to the worker are replayed before anything else, and become
  seeds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from hypothesis import target

from conformance.feedback.corpus import MODES, Entry
from conformance.feedback.credit import Coverage, Pair, own_dispatch
from conformance.feedback.setups import Sequence as Setup
from conformance.feedback.setups import Setups
from conformance.machine.trace_events import TraceEvents
from strategies import Malformed

TARGET_LABEL = "new trace (command, event) pairs"
#: The blind order's state-machine chunks: every MACHINE_EVERY-th, wire and resource in turn.
MACHINE_EVERY = 10
WIRE = "wire-machine"
RESOURCE = "resource-machine"
ARGUMENTS = "arguments"
#: Share of steered chunks that continue the round robin (every command keeps its turns).
BREADTH = 0.2
#: Weight of an arm's earlier chunks in its score, against its last one's.
DECAY = 0.5
#: A steered compiled chunk ends after this many examples in a row reached no new pair.
DRY = 14
#: ... and after this many in any case.
LONGEST = 500
#: Share of a steered chunk's examples that mutate a seed, when the command has seeds.
MUTATE = 0.5
#: Seeds kept per command (past it, a new one replaces one at random).
SEEDS = 64

#: (ARGUMENTS, position) or (WIRE/RESOURCE, chunk number): what a chunk runs; the
#: number seeds the chunk's examples.
Arm = tuple[str, int]


def round_robin(index: int, workers: int) -> Iterator[Arm]:
    """The blind order of worker `index` of `workers`: argument chunks at positions
    index, index + workers, ... (`slot`), every MACHINE_EVERY-th chunk a state machine."""
    argument_chunks = 0
    chunk = 0
    while True:
        if chunk % MACHINE_EVERY == MACHINE_EVERY - 1:
            yield (WIRE, RESOURCE)[(chunk // MACHINE_EVERY) % 2], chunk
        else:
            yield ARGUMENTS, index + argument_chunks * workers
            argument_chunks += 1
        chunk += 1


def slot(position: int, commands: int) -> tuple[int, int]:
    """The (command index, mode index) of an argument chunk's position: the first pass
    over the commands is valid arguments, the next malformed ones, and so on."""
    return position % commands, (position // commands) % len(MODES)


@dataclass
class WorkerFeedback:
    """One worker's coverage, seeds and schedule, and what it has not told the parent yet."""

    trace: TraceEvents | None  # None or blind: nothing recorded
    guided: bool
    commands: tuple[str, ...]
    seed: int
    worker: int = 0
    workers: int = 1
    qemu: str = ""
    coverage: Coverage | None = None
    pairs: list[Pair] = field(default_factory=list)  # new, not yet sent
    corpus: list[Entry] = field(default_factory=list)  # new, not yet sent
    # Per arm key ((command index, mode index), or a machine's name): new pairs per
    # second of its last chunks (`DECAY`ed sums of pairs and of seconds, so that one
    # long chunk, a shrink or a hang, weighs as long as it took).
    scores: dict[object, float] = field(default_factory=dict)
    _spent: dict[object, tuple[float, float]] = field(default_factory=dict)
    seeds: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    setups: Setups = field(init=False)
    _chunk_deep: int = 0
    _picks: int = 0
    _last_position: int = -1

    def __post_init__(self) -> None:
        if self.trace is not None and not self.trace.blind:
            self.coverage = Coverage(self.trace.recorded)
        self._random = random.Random(f"{self.seed}:steer")
        self._order = round_robin(self.worker, self.workers)
        self.setups = Setups(self.seed)
        self._since = time.monotonic()

    @property
    def steering(self) -> bool:
        return self.guided and self.coverage is not None

    # -- crediting -------------------------------------------------------------------

    def credit(
        self,
        command: str,
        mode: str | None = None,
        drawn: Sequence[tuple[object, Malformed | None]] = (),
        *,
        in_test: bool = False,
    ) -> int:
        """Credit `command` with the events logged since the last credit; the number
        of new pairs. Each of `drawn` (the arguments and malformed case of the examples
        sent since: one, or a pipelined batch, which QEMU's log can't tell apart)
        becomes a corpus entry when they reached a new pair, and valid ones a seed;
        `in_test` (inside a Hypothesis example) reports the count to ``target()`` when
        steering."""
        if self.coverage is None:
            return 0
        novelty = self.coverage.credit_logged(command)
        own = sorted(e for c, e in novelty.pairs if c == command)
        self.pairs.extend(novelty.pairs)
        self._chunk_deep += sum(1 for e in own if not own_dispatch(command, e))
        if own and mode is not None:
            self.corpus += (
                Entry(
                    command,
                    mode,
                    arguments,
                    tuple(own),
                    case.rule if case is not None else None,
                    case.path if case is not None else None,
                    self.qemu,
                )
                for arguments, case in drawn
            )
            for arguments, case in drawn:
                if case is None and isinstance(arguments, dict):
                    self.add_seed(command, arguments)
        if in_test and self.steering:
            target(float(len(own)), label=TARGET_LABEL)
        return len(own)

    def add_seed(self, command: str, arguments: dict[str, object]) -> None:
        seeds = self.seeds.setdefault(command, [])
        if len(seeds) < SEEDS:
            seeds.append(arguments)
        else:
            seeds[self._random.randrange(SEEDS)] = arguments

    def chunk_done(self, arm: Arm | None = None) -> tuple[tuple[Pair, ...], tuple[Entry, ...]]:
        """What to tell the parent after a chunk; `arm`'s score updated."""
        now = time.monotonic()
        if arm is not None and self.commands:
            key = self._key(arm)
            reached, seconds = self._spent.get(key, (0.0, 0.0))
            reached = reached * DECAY + self._chunk_deep
            seconds = seconds * DECAY + max(now - self._since, 0.01)
            self._spent[key] = reached, seconds
            self.scores[key] = reached / seconds
        self._since = now
        self._chunk_deep = 0
        pairs, corpus = tuple(self.pairs), tuple(self.corpus)
        self.pairs.clear()
        self.corpus.clear()
        return pairs, corpus

    # -- choosing ----------------------------------------------------------------------

    def _key(self, arm: Arm) -> object:
        what, number = arm
        return slot(number, len(self.commands)) if what == ARGUMENTS else what

    def next_arm(self) -> Arm:
        """The next chunk: the round robin's while blind or on the first pass, then an
        arm chosen by score, but for `BREADTH` of the chunks (module docstring). A pick
        gets a number of its own, far past the round robin's and other workers' picks,
        so that its examples differ from the earlier ones'."""
        count = len(self.commands)
        first_pass = self._last_position + self.workers < len(MODES) * count
        if not self.steering or not count or first_pass:
            return self._breadth()
        scored = [(key, score) for key, score in self.scores.items() if score > 0]
        if not scored or self._random.random() < BREADTH:
            return self._breadth()
        keys = [key for key, _ in scored]
        (key,) = self._random.choices(keys, weights=[score for _, score in scored])
        self._picks += 1
        far = 1_000_000 * (self.worker + 1) + self._picks
        if isinstance(key, str):
            return key, far
        assert isinstance(key, tuple)
        index, mode = key
        return ARGUMENTS, index + count * (mode + len(MODES) * far)

    def _breadth(self) -> Arm:
        arm = next(self._order)
        if arm[0] == ARGUMENTS:
            self._last_position = arm[1]
        return arm

    def keep_going(self, examples: int, dry: int, most: int) -> bool:
        """Whether a compiled chunk that ran `examples`, the last `dry` of them reaching
        no new pair, goes on: up to `most` blind; steered, until `DRY` dry ones in a row
        (or `LONGEST`)."""
        if not self.steering:
            return examples < most
        return dry < DRY and examples < LONGEST

    def setup_for(self, wanted: frozenset[str]) -> Setup:
        """When steering, the set-up a compiled chunk of a command referring to names
        of the kinds `wanted` starts from (`conformance.feedback.setups`), else none."""
        return self.setups.pick(wanted) if self.steering else ()

    def seeds_of(self, command: str) -> list[dict[str, object]]:
        """`command`'s seeds when steering (mutated: `strategies.mutate`), else none."""
        return self.seeds.get(command, []) if self.steering else []


def mine(entries: tuple[Entry, ...], index: int, workers: int) -> list[Entry]:
    """A worker's share of the corpus to replay."""
    return [e for n, e in enumerate(entries) if n % workers == index]


__all__ = [
    "ARGUMENTS",
    "MACHINE_EVERY",
    "MUTATE",
    "RESOURCE",
    "TARGET_LABEL",
    "WIRE",
    "Arm",
    "WorkerFeedback",
    "mine",
    "round_robin",
    "slot",
]
