"""Minimising a reproducer on the real binary: fewer messages, simpler arguments.

Hypothesis shrinks the example it generated, but a reproducer is the whole transcript of
the QEMU it ran on: the harvest queries, the examples before the failing one, the
liveness probes. `minimise` cuts that down, delta-debugging style, while the finding
still reproduces (`conformance.findings.replay`, one replay per candidate):

1. `ddmin` over the messages (Zeller and Hildebrandt's algorithm, with the empty set
   tried first, since most findings need nothing but the trigger). A leading
   ``qmp_capabilities`` and the trigger are always kept; the trigger index is re-pointed.
2. For a crash or a hang, `simplify` the trigger's ``arguments`` greedily: drop one
   member, drop one array element, shorten one string (to empty, then to its first
   half), anywhere in the value, keeping each change that still reproduces, until no
   single change does. A reply finding keeps its trigger as it was: its outcome (reply
   kind and error class) would survive changes that change what the reply is about.

Both are pure functions of a predicate, so their logic is tested without QEMU. Every
candidate is replayed in its own QEMU under the caller's `workdir_base`; the time
budget bounds the whole and the best reproducer so far is returned when it runs out.
A minimised reproducer that fails its final replay is discarded for the original.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from conformance.findings.replay import Replayer, command_of
from conformance.findings.reproducer import Reproducer, envelope
from conformance.machine.instance import WORKDIR_TOKEN
from conformance.qmp.wirejson import dumps

__all__ = ["ddmin", "minimise", "simplifications", "simplify"]

T = TypeVar("T")

# How long a candidate QEMU that answered everything is watched for a late exit. Short:
# a late crash missed here only keeps a message that could have gone.
_LINGER = 0.5


class _OutOfTime(Exception):
    pass


def ddmin(
    items: Sequence[T],
    passes: Callable[[list[T]], bool],
    *,
    out_of_time: Callable[[], bool] = lambda: False,
) -> list[T]:
    """A 1-minimal sublist of `items` (order kept) for which `passes` holds, assuming it
    holds for `items`. Each distinct sublist is tested at most once; when `out_of_time()`
    turns true, the smallest passing sublist found so far is returned."""
    seen: dict[tuple[int, ...], bool] = {}

    def test(candidate: list[int]) -> bool:
        key = tuple(candidate)
        if key not in seen:
            if out_of_time():
                raise _OutOfTime
            seen[key] = passes([items[i] for i in candidate])
        return seen[key]

    current = list(range(len(items)))
    try:
        if current and test([]):
            return []
        n = 2
        while len(current) >= 2:
            chunks = _split(current, n)
            reduced = next((c for c in chunks if test(c)), None)
            if reduced is not None:
                current, n = reduced, 2
                continue
            complements = ([x for c in chunks if c is not chunk for x in c] for chunk in chunks)
            reduced = next((c for c in complements if test(c)), None)
            if reduced is not None:
                current, n = reduced, max(n - 1, 2)
                continue
            if n >= len(current):
                break
            n = min(2 * n, len(current))
    except _OutOfTime:
        pass
    return [items[i] for i in current]


def _split(items: list[int], n: int) -> list[list[int]]:
    """`items` cut into `n` contiguous chunks of near-equal size."""
    size, extra = divmod(len(items), n)
    chunks, start = [], 0
    for k in range(n):
        end = start + size + (1 if k < extra else 0)
        chunks.append(items[start:end])
        start = end
    return [c for c in chunks if c]


def simplifications(value: object) -> Iterator[object]:
    """Every value one step simpler than `value`: one object member or array element
    dropped, or one string shortened, at any depth (shallow steps first)."""
    if isinstance(value, dict):
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
        for key, item in value.items():
            for simpler in simplifications(item):
                yield {**value, key: simpler}
    elif isinstance(value, list):
        if len(value) > 2:
            yield value[: len(value) // 2]
        for index in range(len(value)):
            yield value[:index] + value[index + 1 :]
        for index, item in enumerate(value):
            for simpler in simplifications(item):
                yield [*value[:index], simpler, *value[index + 1 :]]
    elif isinstance(value, str):
        yield from _shorter(value)


def _shorter(text: str) -> Iterator[str]:
    # Only strings that can't be host paths: a prefix of "/dev/sda1" or of
    # "$WORKDIR/disk" could name a file outside the workdir, and QEMU's cwd is the
    # workdir, so a relative name without "/" stays inside it.
    if not text or "/" in text or WORKDIR_TOKEN in text:
        return
    yield ""
    half = text[: len(text) // 2]
    if half and half not in (".", ".."):
        yield half


def simplify(
    value: object,
    passes: Callable[[object], bool],
    *,
    out_of_time: Callable[[], bool] = lambda: False,
) -> object:
    """The simplest value reachable from `value` by `simplifications` steps that each
    keep `passes` true (greedy: the first passing step is taken, then search again)."""
    seen: dict[bytes, bool] = {}
    current = value
    progressed = True
    while progressed:
        progressed = False
        for candidate in simplifications(current):
            key = dumps(candidate)
            if key not in seen:
                if out_of_time():
                    return current
                seen[key] = passes(candidate)
            if seen[key]:
                current, progressed = candidate, True
                break
    return current


def minimise(
    rep: Reproducer,
    binary: str,
    *,
    workdir_base: str,
    budget_s: float,
    timeout: float = 5.0,
) -> Reproducer:
    """`rep` with fewer messages and simpler trigger arguments, still reproducing on
    `binary` (see the module docstring); `rep` itself when nothing could be cut, when it
    doesn't reproduce to begin with, or when the budget is spent before the first cut."""
    deadline = time.monotonic() + budget_s
    replayer = Replayer(binary, workdir_base=workdir_base, timeout=timeout, linger=_LINGER)

    def out_of_time() -> bool:
        return time.monotonic() >= deadline

    def reproduces(candidate: Reproducer) -> bool:
        return replayer.once(candidate).reproduced

    if out_of_time() or not reproduces(rep):
        return rep
    smaller = _fewer_messages(rep, reproduces, out_of_time)
    # A reply finding is judged by reply kind and error class only, and dropping an
    # argument can keep both while changing the reason (a documented DeviceNotFound
    # condition turns into "Parameter 'size' is missing"); only exits and hangs,
    # whose signature is the defect itself, get simpler arguments.
    if rep.expected.end != "reply":
        smaller = _simpler_trigger(smaller, reproduces, out_of_time)
    if smaller == rep or not reproduces(smaller):
        return rep
    return smaller


def _fewer_messages(
    rep: Reproducer,
    reproduces: Callable[[Reproducer], bool],
    out_of_time: Callable[[], bool],
) -> Reproducer:
    messages = rep.messages
    trigger = rep.expected.trigger
    fixed = {trigger}
    if messages and command_of(messages[0]) == "qmp_capabilities":
        fixed.add(0)
    optional = [i for i in range(len(messages)) if i not in fixed]

    def with_only(chosen: list[int]) -> Reproducer:
        kept = sorted(fixed.union(chosen))
        return rep.with_messages([messages[i] for i in kept], kept.index(trigger))

    return with_only(ddmin(optional, lambda c: reproduces(with_only(c)), out_of_time=out_of_time))


def _simpler_trigger(
    rep: Reproducer,
    reproduces: Callable[[Reproducer], bool],
    out_of_time: Callable[[], bool],
) -> Reproducer:
    trigger = rep.expected.trigger
    sent = envelope(rep.messages[trigger])
    if sent is None or not isinstance(sent.get("arguments"), dict):
        return rep  # wire input: its bytes are the finding

    def with_arguments(arguments: object) -> Reproducer:
        messages = list(rep.messages)
        messages[trigger] = dumps({**sent, "arguments": arguments})
        return rep.with_messages(messages, trigger)

    arguments = simplify(
        sent["arguments"],
        lambda a: reproduces(with_arguments(a)),
        out_of_time=out_of_time,
    )
    return rep if arguments == sent["arguments"] else with_arguments(arguments)
