"""A structural shrinker for JSON values: the compiled engine's minimiser of a failing
example (Hypothesis shrinks the examples it drew itself; the compiled engine's come
from `random.Random` and have no choice sequence to shrink).

`shrink` tries simpler variants of the value, simplest first, and keeps the first one
the caller's predicate accepts (the same failure again, on the real QEMU), until no
variant is accepted or the budget is spent. A variant is one step simpler: a member
or element left out, an array emptied or halved, a string emptied or halved, a
number zeroed, made 1 or shifted right by 48 to 1 bits, true made false, or one of
these inside a member or element.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator


def simpler(value: object) -> Iterator[object]:
    """The one-step simpler variants of JSON `value`, the simplest first."""
    if isinstance(value, dict):
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
        for key, member in value.items():
            for variant in simpler(member):
                yield {**value, key: variant}
    elif isinstance(value, list):
        if value:
            yield []
        if len(value) > 1:
            yield value[: len(value) // 2]
            for index in range(len(value)):
                yield value[:index] + value[index + 1 :]
        for index, element in enumerate(value):
            for variant in simpler(element):
                yield [*value[:index], variant, *value[index + 1 :]]
    elif isinstance(value, str):
        if value:
            yield ""
        if len(value) > 1:
            yield value[: len(value) // 2]
    elif value is True:
        yield False
    elif isinstance(value, int) and not isinstance(value, bool) and value != 0:
        yield 0
        sign = -1 if value < 0 else 1
        if abs(value) > 1:
            yield sign
        # Big steps first: an integer past 2**62 reaches its smallest failing
        # magnitude in tens of steps, not one step per bit.
        for shift in (48, 32, 16, 8, 4, 1):
            if abs(value) >> shift > 1:
                yield sign * (abs(value) >> shift)
    elif isinstance(value, float) and value != 0.0:
        yield 0.0


def shrink(value: object, keeps: Callable[[object], bool], budget_s: float) -> object:
    """The simplest variant of `value` reached, step by step, that `keeps` accepts
    (`value` itself when none is); stops when `budget_s` seconds are spent."""
    deadline = time.monotonic() + budget_s
    current = value
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for variant in simpler(current):
            if time.monotonic() >= deadline:
                break
            if keeps(variant):
                current = variant
                improved = True
                break
    return current


__all__ = ["shrink", "simpler"]
