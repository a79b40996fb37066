"""A known failure ends its Hypothesis test unshrunk; an unknown one is shrunk as always
(`conformance.drive.unshrunk`)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from conformance.drive import unshrunk
from conformance.oracle.failure import Failure, FindingKind, spec

QUICK = settings(
    max_examples=200, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def failure(value: int) -> Failure:
    return Failure(
        "test.check", spec("Commands Responses"), f"saw {value}", kind=FindingKind.PROTOCOL
    )


def failing_test(calls: list[int]) -> object:
    @QUICK
    @given(st.integers(min_value=0, max_value=10**6))
    def test(value: int) -> None:
        calls.append(value)
        if value >= 1000:
            raise failure(value)

    return test


def run(test: object, judge: unshrunk.Judge | None) -> BaseException | None:
    with unshrunk.judged_by(judge):
        try:
            with unshrunk.holding(test):
                test()  # type: ignore[operator]
        except Exception as exc:
            return exc
    return None


def test_a_known_failure_is_raised_from_the_example_that_found_it_unshrunk() -> None:
    calls: list[int] = []
    raised = run(failing_test(calls), lambda exc: isinstance(exc, Failure))
    assert isinstance(raised, Failure)
    # No example ran after the first failing one: no shrinking, no more generation.
    assert calls[-1] >= 1000
    assert [c for c in calls if c >= 1000] == [calls[-1]]
    assert isinstance(raised, Failure)
    assert raised.message == f"saw {calls[-1]}"


def test_an_unknown_failure_is_shrunk_as_always() -> None:
    calls: list[int] = []
    raised = run(failing_test(calls), lambda exc: False)
    assert isinstance(raised, Failure)
    assert raised.message == "saw 1000"  # shrunk to the boundary
    assert len([c for c in calls if c >= 1000]) > 1


def test_without_a_judge_nothing_changes() -> None:
    calls: list[int] = []
    raised = run(failing_test(calls), None)
    assert isinstance(raised, Failure)
    assert raised.message == "saw 1000"


def test_the_inner_test_is_restored() -> None:
    test = failing_test([])
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]
    run(test, lambda exc: True)
    assert test.hypothesis.inner_test is inner  # type: ignore[attr-defined]


class Counter(RuleBasedStateMachine):
    steps: list[int] = []  # noqa: RUF012  (shared by the examples, on purpose)

    @rule(value=st.integers(min_value=0, max_value=10**6))
    def step(self, value: int) -> None:
        Counter.steps.append(value)
        if value >= 1000:
            raise failure(value)


@pytest.mark.parametrize(("known", "failing_steps"), [(True, 1), (False, None)])
def test_a_state_machine_holds_a_known_failure(known: bool, failing_steps: int | None) -> None:
    Counter.steps = []
    with unshrunk.judged_by(lambda exc: known), pytest.raises(Failure):
        unshrunk.run_state_machine(Counter, settings=QUICK)
    failing = [s for s in Counter.steps if s >= 1000]
    if failing_steps is None:
        assert len(failing) > 1  # shrunk
    else:
        assert len(failing) == failing_steps
