"""Set-ups: the state a steered chunk builds before its examples, from what earlier
examples did that QEMU accepted.

Most of what a command can reach is behind state: a node to resize, a job to pause,
a chardev to remove. A fresh QEMU has only its profile's few objects, and a generated
name fails the command's first lookup. So a guided worker remembers every valid
example whose success changed the machine (`conformance.machine.reuse`): its command,
its arguments as drawn, and the set-up it ran on, as one *sequence*. A steered chunk
may then replay one sequence on its QEMU before its own examples, harvest the names
it created (`conformance.drive.harvest.harvest_names`) into the pools its examples
draw from, and so reach what those names lead to. A sequence that succeeds on top of
a set-up becomes a longer set-up (a node, then a snapshot over it, then a job on the
snapshot), up to `LONGEST` steps.

This is feedback from replies, as the seeds are feedback from trace events: a blind
run keeps nothing. The sequence is sent through the chunk's QEMU like any example, so
a finding's transcript and reproducer hold it; a step that fails on replay (a job not
yet concluded, a name taken) is left out and the rest goes on.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.spec import Schema
from strategies.pools import MEMBER_POOLS

#: Steps of a set-up, at most.
LONGEST = 6
#: Sequences kept per command whose success ends them (past it, a new one replaces one
#: at random).
PER_COMMAND = 8
#: Share of steered compiled chunks that start from a set-up, when there is one.
SHARE = 0.7
#: Share of set-up picks among the sequences creating a kind of name the command
#: refers to (`Setups.pick`), when there are such.
RELEVANT = 0.8
#: Share of set-ups made of two sequences, one after the other (a node and a job, a
#: chardev and an object), when they fit in `LONGEST` steps.
COMBINE = 0.5

#: Commands whose success is no set-up: they set the guest running, whose own doings
#: would then be credited to every later example.
NOT_SET_UPS = frozenset({"cont", "system_wakeup"})

Step = tuple[str, dict[str, object]]  # (command, arguments as drawn)
Sequence = tuple[Step, ...]


def refers_to(schema: Schema, command: str) -> frozenset[str]:
    """The pool kinds (`strategies.pools.KINDS`) `command`'s argument members name,
    its union variants' included: what a set-up can give it."""
    arg_type = schema.object_type(schema.command(command).arg_type)
    names = {m.name for m in schema.members_of(arg_type)} | schema.variant_member_names(arg_type)
    return _kinds(names)


def creates(step: Step) -> frozenset[str]:
    """The pool kinds `step`'s string-valued members name (what it may create)."""
    _, arguments = step
    return _kinds(name for name, value in arguments.items() if isinstance(value, str))


def _kinds(member_names: Iterable[str]) -> frozenset[str]:
    return frozenset(kind for name in member_names for kind in MEMBER_POOLS.get(name, ()))


def _key(sequence: Sequence) -> str:
    return json.dumps(sequence, sort_keys=True)


@dataclass
class _Kept:
    sequence: Sequence
    kinds: frozenset[str] | None = None  # created on replay; None: not replayed yet

    def may_create(self) -> frozenset[str]:
        """What it was seen to create, or before that, what its members say."""
        if self.kinds is not None:
            return self.kinds
        return frozenset().union(*map(creates, self.sequence))


@dataclass
class Setups:
    """A worker's set-up sequences, by the command of their last step (each keyed by
    its JSON text)."""

    seed: int
    sequences: dict[str, dict[str, _Kept]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(f"{self.seed}:setups")

    def __len__(self) -> int:
        return sum(map(len, self.sequences.values()))

    def add(self, setup: Sequence, step: Step) -> None:
        """`step` succeeded, changing the machine, on top of `setup`: kept when it
        may have created a name (`creates`) and doesn't set the guest running."""
        if len(setup) >= LONGEST or step[0] in NOT_SET_UPS or not creates(step):
            return
        sequence = (*setup, step)
        kept = self.sequences.setdefault(step[0], {})
        key = _key(sequence)
        if key in kept:
            return
        if len(kept) >= PER_COMMAND:
            del kept[self._random.choice(list(kept))]
        kept[key] = _Kept(sequence)

    def created(self, sequence: Sequence, kinds: frozenset[str]) -> None:
        """Replayed, `sequence` created names of `kinds`; one that created none is
        dropped (its state is nothing a later command can name)."""
        kept = self.sequences.get(sequence[-1][0], {}) if sequence else {}
        key = _key(sequence)
        if key not in kept:
            return
        if kinds:
            kept[key].kinds = kinds
        else:
            del kept[key]

    def pick(self, wanted: frozenset[str]) -> Sequence:
        """A set-up for a command that refers to names of the kinds `wanted` (empty
        when there is none, or for `1 - SHARE` of the calls): `RELEVANT` of the picks
        among the sequences that create such a name, the others among all; `COMBINE`
        of the set-ups are two picks, one after the other."""
        if self._random.random() >= SHARE:
            return ()
        every = [k for kept in self.sequences.values() for k in kept.values()]
        if not every:
            return ()
        relevant = [k for k in every if k.may_create() & wanted]
        picked = self._one(relevant or every, every)
        if self._random.random() < COMBINE:
            other = self._one(relevant or every, every)
            if other != picked and len(picked) + len(other) <= LONGEST:
                picked = (*picked, *other)
        return picked

    def _one(self, relevant: list[_Kept], every: list[_Kept]) -> Sequence:
        chosen = relevant if self._random.random() < RELEVANT else every
        return self._random.choice(chosen).sequence


__all__ = ["LONGEST", "NOT_SET_UPS", "SHARE", "Sequence", "Setups", "Step", "creates", "refers_to"]
