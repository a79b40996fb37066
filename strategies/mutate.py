"""Valid arguments made by mutating kept ones: the guided fuzzer's corpus mutation
(AFL-style), for inputs that stay past QEMU's input validation and explore the code
near what a kept input reached.

:func:`mutant` takes arguments a command accepted the shape of (a corpus seed, which
reached a new trace (command, event) pair) and changes one thing, chosen at random:

- a member or element replaced by the value at the same place in a fresh draw of the
  compiled generators (so of the same schema type), or in another seed of the same
  command (a splice);
- an optional member left out, or one a fresh draw has added;
- an integer made small (0, 1, 2, a power of two, 0-255), or every integer at once:
  introspection calls every C integer type ``int``, so a fresh draw spans int64 and
  QEMU's visitor refuses most of it ("expects uint32_t"), where small ones go further;
- thinned: each member left out with even odds (the validator keeps the required ones),
  since optional members drawn together often conflict ("'base' and 'base-node' cannot
  be specified at the same time");
- a string swapped for another string of the seed or the fresh draw at that place (an
  enum value, a pool name);
- a fresh name: the string of a member that names something (`MEMBER_POOLS`: ``id``,
  ``node-name``, ``job-id``, ...) replaced by a well-formed name nothing has yet, so that
  a command creating a node, a chardev or an object succeeds where the pooled names it
  draws are taken (QEMU's ids are a letter, then letters, digits, ``-``, ``.``, ``_``).

A mutant is kept only when :func:`~conformance.spec.validate_arguments` finds no
violation in it and the generation policy's ``clean`` check passes, the same checks a
compiled draw passes; the caller then confines it (``ArgumentRun.admitted``) and sends it
through the same exchange and checks as any example. Mutants don't shrink: a failing one
is minimised by the fuzzer's structural shrinker, as a compiled draw is.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence

from conformance.spec import Schema, validate_arguments
from strategies.compiled import NoValue, positions, put_at, value_at
from strategies.pools import MEMBER_POOLS
from strategies.values import ValueFactory

__all__ = ["mutant", "mutator"]

#: Small integers a mutation puts in place of an integer.
_SMALL = (0, 1, 2, 3, 4, 7, 8, 16, 64, 255, 256, 512, 1024, 4096, 65536, 1 << 20)
#: Tries at a mutant with no violation before giving up (`NoValue`).
_TRIES = 12

Path = tuple[str | int, ...]


def _paths(value: object) -> list[tuple[Path, object]]:
    """Every (path, value) inside `value`, the root excluded."""
    found: list[tuple[Path, object]] = []
    pending: list[tuple[Path, object]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            for key, member in item.items():
                found.append(((*path, key), member))
                pending.append(((*path, key), member))
        elif isinstance(item, list):
            for index, element in enumerate(item):
                found.append(((*path, index), element))
                pending.append(((*path, index), element))
    return found


def _at(value: object, path: Path) -> tuple[bool, object]:
    """(found, the value at `path` in `value`)."""
    for key in path:
        if isinstance(value, dict) and isinstance(key, str) and key in value:
            value = value[key]
            continue
        if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
            continue
        return False, None
    return True, value


def _parent(value: object, path: Path) -> dict[str, object] | list[object] | None:
    found, parent = _at(value, path[:-1])
    return parent if found and isinstance(parent, dict | list) else None


def mutant(
    rnd: random.Random,
    seed: dict[str, object],
    fresh: dict[str, object],
    other: dict[str, object] | None = None,
) -> dict[str, object]:
    """`seed` (not changed: a copy is mutated) with one thing changed, from `fresh` (a
    fresh valid draw of the same command) or `other` (another seed)."""
    value = copy.deepcopy(seed)
    donor = other if other is not None and rnd.random() < 0.5 else fresh
    roll = rnd.randrange(8)
    if roll == 0:
        # Replace a place by the donor's value at the same place.
        shared = [(p, v) for p, v in _paths(donor) if _at(value, p)[0]]
        if shared:
            path, item = rnd.choice(shared)
            _replace(value, path, copy.deepcopy(item))
            return value
    if roll == 1:
        # Add a member the donor has and the seed lacks, where the seed has its parent.
        missing = [
            (p, v) for p, v in _paths(donor) if isinstance(p[-1], str) and not _at(value, p)[0]
        ]
        missing = [(p, v) for p, v in missing if isinstance(_parent(value, p), dict)]
        if missing:
            path, item = rnd.choice(missing)
            _replace(value, path, copy.deepcopy(item))
            return value
    slots = positions(value)
    if roll == 2:
        members = [(c, k) for c, k in slots if isinstance(c, dict) and isinstance(k, str)]
        if members:
            parent, name = rnd.choice(members)
            assert isinstance(parent, dict)
            assert isinstance(name, str)
            del parent[name]
            return value
    if roll == 3:
        numbers = [(c, k) for c, k in slots if type(value_at(c, k)) is int]
        if numbers:
            container, key = rnd.choice(numbers)
            small = rnd.choice(_SMALL) if rnd.random() < 0.7 else rnd.randint(0, 255)
            put_at(container, key, small)
            return value
    if roll == 5:
        numbers = [(c, k) for c, k in slots if type(value_at(c, k)) is int]
        for container, key in numbers:
            put_at(container, key, rnd.choice(_SMALL))
        if numbers:
            return value
    if roll == 6:
        _thin(rnd, value)
        return value
    if roll == 7:
        names = [
            (c, k)
            for c, k in slots
            if isinstance(k, str) and k in MEMBER_POOLS and isinstance(value_at(c, k), str)
        ]
        if names:
            container, key = rnd.choice(names)
            put_at(container, key, f"n{rnd.getrandbits(24):x}")
            return value
    # A string from elsewhere in the seed or the donor.
    texts = [(c, k) for c, k in slots if isinstance(value_at(c, k), str)]
    choices = [v for _, v in _paths(donor) if isinstance(v, str)]
    choices += [t for c, k in texts if isinstance(t := value_at(c, k), str)]
    if texts and choices:
        container, key = rnd.choice(texts)
        put_at(container, key, rnd.choice(choices))
        return value
    # Nothing the roll could change: the fresh draw itself.
    return copy.deepcopy(fresh)


def _thin(rnd: random.Random, value: object) -> None:
    """Leave out each member of every object in `value` with even odds."""
    if isinstance(value, dict):
        for key in [k for k in value if rnd.random() < 0.5]:
            del value[key]
        for member in value.values():
            _thin(rnd, member)
    elif isinstance(value, list):
        for element in value:
            _thin(rnd, element)


def _replace(value: object, path: Path, item: object) -> None:
    parent = _parent(value, path)
    if parent is not None:
        put_at(parent, path[-1], item)


def mutator(
    schema: Schema,
    factory: ValueFactory,
    command: str,
    fresh: Callable[[random.Random], dict[str, object]],
    seeds: Sequence[dict[str, object]],
) -> Callable[[random.Random], dict[str, object]]:
    """Valid arguments of `command`: mutants of `seeds` (kept only when they have no
    violation and the policy's ``clean`` passes), drawing `fresh` values as donors."""

    def draw(rnd: random.Random) -> dict[str, object]:
        for _ in range(_TRIES):
            seed = rnd.choice(seeds)
            other = rnd.choice(seeds) if len(seeds) > 1 else None
            value = mutant(rnd, seed, fresh(rnd), other)
            if factory.clean(value) and not validate_arguments(schema, command, value):
                return value
        raise NoValue(f"no mutant of {command}'s seeds was valid")

    return draw
