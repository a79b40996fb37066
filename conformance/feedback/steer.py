"""A fuzz worker's use of trace feedback: each example credited, the inputs that
reached a new (command, event) pair kept for the corpus, and the next chunk chosen.

Steering (``guided``) does three things; without it the events are only recorded:
- Hypothesis's ``target()`` gets each example's count of new pairs, so that its
  target phase climbs towards inputs that reach more;
- four argument chunks in five go to a (command, mode) whose last chunk *after its
  first* reached new pairs, chosen with a probability proportional to how many; the
  rest continue the round-robin of a blind run, delayed and never cut, so every command
  gets its turns. A first chunk says nothing about what more chunks will reach (it
  always reaches the command's own `qmp_enter_*`/`qmp_exit_*`), so the first pass over
  the commands is the blind run's, and steering starts as the round-robin repeats;
- the corpus entries given to the worker are replayed before anything else.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import target

from conformance.feedback.corpus import MODES, Entry
from conformance.feedback.credit import Coverage, Pair
from conformance.machine.trace_events import TraceEvents
from strategies import Malformed

#: Share of argument chunks chosen by their last yield, once some repeated chunk yielded.
EXPLOIT = 0.8
TARGET_LABEL = "new trace (command, event) pairs"


@dataclass
class WorkerFeedback:
    """One worker's coverage, and what it has not told the parent yet."""

    trace: TraceEvents | None  # None or blind: nothing recorded
    guided: bool
    commands: tuple[str, ...]
    seed: int
    worker: int = 0
    qemu: str = ""
    coverage: Coverage | None = None
    pairs: list[Pair] = field(default_factory=list)  # new, not yet sent
    corpus: list[Entry] = field(default_factory=list)  # new, not yet sent
    # The last repeated chunk's new pairs per (command index, mode index), and the
    # chunks run of each.
    yields: dict[tuple[int, int], int] = field(default_factory=dict)
    runs: Counter[tuple[int, int]] = field(default_factory=Counter)
    _chunk_yield: int = 0
    _round_robin: int = 0
    _picks: int = 0
    _owed: deque[int] = field(default_factory=deque)  # round-robin slots not run yet

    def __post_init__(self) -> None:
        if self.trace is not None and not self.trace.blind:
            self.coverage = Coverage(self.trace.recorded)
        self._random = random.Random(f"{self.seed}:steer")

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
        becomes a corpus entry when they reached a new pair; `in_test` (inside a
        Hypothesis example) reports the count to ``target()`` when steering."""
        if self.coverage is None:
            return 0
        novelty = self.coverage.credit_logged(command)
        own = sorted(e for c, e in novelty.pairs if c == command)
        self.pairs.extend(novelty.pairs)
        self._chunk_yield += len(own)
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
        if in_test and self.steering:
            target(float(len(own)), label=TARGET_LABEL)
        return len(own)

    def chunk_done(self, position: int | None = None) -> tuple[tuple[Pair, ...], tuple[Entry, ...]]:
        """What to tell the parent after a chunk (at `position` for an argument chunk)."""
        if position is not None and self.commands:
            count = len(self.commands)
            key = (position % count, (position // count) % len(MODES))
            self.runs[key] += 1
            if self.runs[key] > 1:
                self.yields[key] = self._chunk_yield
        self._chunk_yield = 0
        pairs, corpus = tuple(self.pairs), tuple(self.corpus)
        self.pairs.clear()
        self.corpus.clear()
        return pairs, corpus

    # -- choosing ----------------------------------------------------------------------

    def position(self, position: int) -> int:
        """The argument chunk to run for round-robin slot `position`: the oldest slot
        not yet run, unless steering picks a productive (command, mode); a slot a pick
        displaced runs later, so the round-robin is delayed, never cut. A pick gets a
        position of its own, so that its chunk seed (its examples) differ from the
        earlier ones'."""
        count = len(self.commands)
        if not self.steering or not count:
            return position
        self._owed.append(position)
        productive = [(key, n) for key, n in self.yields.items() if n > 0]
        if not productive or self._random.random() >= EXPLOIT:
            return self._owed.popleft()
        keys = [key for key, _ in productive]
        ((index, mode),) = self._random.choices(keys, weights=[n for _, n in productive])
        self._picks += 1
        # Far past the round-robin's positions and other workers' picks, with the same
        # command and mode.
        far = 1_000_000 * (self.worker + 1) + self._picks
        return index + count * (mode + len(MODES) * far)


def mine(entries: tuple[Entry, ...], index: int, workers: int) -> list[Entry]:
    """A worker's share of the corpus to replay."""
    return [e for n, e in enumerate(entries) if n % workers == index]


__all__ = ["TARGET_LABEL", "WorkerFeedback", "mine"]
