"""Failures not worth shrinking end their Hypothesis test at the example that found them.

Hypothesis shrinks every failure, and a shrink step of a crash or a hang costs a QEMU
start or a whole reply deadline: a full run spent 200 s shrinking a known
announce-self hang and 300 s shrinking a known parser differential in the wire
machine, only to sign findings the baseline already held (issue 20). Two kinds of
failure gain nothing from it: one whose findings the baseline knows, and a hang, whose
signature is its command alone and whose reproducer the transcript minimiser shortens
within the run's `--minimise-budget` (`conformance.findings.minimise`). The plugin
installs the run's judge (which failures end unshrunk) for each test it runs;
`holding(test)` wraps a Hypothesis test's inner test (`test.hypothesis.inner_test`,
which Hypothesis lets a runner replace) so that such a failure leaves Hypothesis as an
exception that isn't an `Exception` (as pytest's skip does): Hypothesis neither shrinks
it nor runs another example, and the wrapper raises the failure itself, with the
evidence of the example that found it. The plugin then reports it from the same
exception as before. Any other failure is shrunk as always.

What is given up: Hypothesis's search for a second, different failure after the first
(with `report_multiple_bugs`) stops at one of these.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test

from conformance.drive.report import attach_evidence
from conformance.findings.record import leaves

#: Whether a failure ends its test unshrunk (the plugin's).
Judge = Callable[[BaseException], bool]

_JUDGE: contextvars.ContextVar[Judge | None] = contextvars.ContextVar("unshrunk", default=None)


@contextmanager
def judged_by(judge: Judge | None) -> Iterator[None]:
    """`judge` decides, for the tests run inside, which failures end unshrunk."""
    token = _JUDGE.set(judge)
    try:
        yield
    finally:
        _JUDGE.reset(token)


class _Known(BaseException):
    """Carries a failure out of Hypothesis: not an `Exception`, so Hypothesis
    neither records it as a failure nor shrinks it, and stops at once (as it does for
    pytest's skip)."""

    def __init__(self, failure: Exception) -> None:
        super().__init__(str(failure))
        self.failure = failure


@contextmanager
def holding(test: object) -> Iterator[None]:
    """While the Hypothesis test `test` runs inside, a failure the judge picks ends it,
    unshrunk, and leaves the block as itself. Without a judge, or for a function Hypothesis
    doesn't run, nothing changes."""
    judge = _JUDGE.get()
    handle = getattr(test, "hypothesis", None)
    if judge is None or handle is None:
        yield
        return
    inner = handle.inner_test

    def inner_test(*args: Any, **kwargs: Any) -> Any:
        try:
            return inner(*args, **kwargs)
        except Exception as exc:
            if not judge(exc):
                raise
            # Hypothesis marks an example final only when it replays a shrunk one:
            # the evidence of this one is what the report shows.
            for leaf in leaves(exc):
                attach_evidence(leaf)
            raise _Known(exc) from None

    handle.inner_test = inner_test
    try:
        yield
    except _Known as known:
        raise known.failure from None
    finally:
        handle.inner_test = inner


def run_state_machine(factory: Callable[[], RuleBasedStateMachine], *, settings: settings) -> None:
    """`hypothesis.stateful.run_state_machine_as_test`, under `holding`."""
    # Hypothesis declares the factory as a class although any callable works.
    test = get_state_machine_test(factory, settings=settings)  # type: ignore[arg-type]
    with holding(test):
        test()
