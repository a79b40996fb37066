"""The bodies Hypothesis runs per example of an argument test: draw, send, judge; and
the deterministic covering phase that runs before them.

`test_arguments.py` wraps the bodies in `@given`; fuzz, diff and the benchmarks call
them with a `DataObject` of their own. `covering_valid` and `covering_malformed` send a
command's fixed covering cases (`strategies.covering`) through the same `ArgumentRun`:
policy, exchange, judge. They run every case, and raise what failed at the end (an
exception group when several distinct failures did), so one failing case neither hides
the others nor the coverage they reach.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from conformance.drive.exchange import ArgumentRun
from conformance.machine.instance import QemuGone
from conformance.oracle.failure import Failure
from conformance.spec.coverage import exercised
from strategies import Malformed, arguments, malformed_arguments
from strategies.covering import CoveringPlan, covering_malformed, covering_plan
from strategies.wire import json_ids

# Built once: a strategy made afresh for every draw is validated afresh for every draw,
# which cost more than the exchange with QEMU.
_IDS = json_ids()

Body = Callable[[ArgumentRun, st.DataObject], None]


def valid_arguments(run: ArgumentRun, data: st.DataObject) -> None:
    """One example of generated valid arguments: a schema-valid return or a
    well-formed error."""
    args = data.draw(
        arguments(run.schema, run.command, pools=run.draw_pools, policy=run.policy),
        label="arguments",
    )
    sent_id = data.draw(_IDS, label="id")
    run.exchange(args, sent_id, malformed=None)


def malformed(run: ArgumentRun, data: st.DataObject) -> None:
    """One example of generated malformed arguments: an error."""
    case: Malformed = data.draw(
        malformed_arguments(run.schema, run.command, pools=run.draw_pools, policy=run.policy),
        label="malformed",
    )
    sent_id = data.draw(_IDS, label="id")
    run.exchange(case.arguments, sent_id, malformed=case)


#: Why a point the covering cases exercise was not sent after all.
CONFINED = "the host-safety policy (confine()) refused or rewrote every case carrying it"
#: Distinct failures a covering phase keeps (the first of each message): past that,
#: more of the same only repeat a finding.
_KEPT_FAILURES = 8


def plan_of(run: ArgumentRun) -> CoveringPlan:
    """The run's command's covering plan, from the pools the run draws from."""
    return covering_plan(run.schema, run.command, pools=run.draw_pools, policy=run.policy)


def covering_valid(run: ArgumentRun) -> int:
    """Send every covering case of the command; record the points left out (the plan's,
    and those confinement took away) in `run.excluded`. Returns how many ran."""
    plan = plan_of(run)
    failures = _Failures()
    sent = 0
    for index, case in enumerate(plan.cases):
        with failures:
            sent += run.offer(case, f"qmpc-cover-{index}", malformed=None)
    run.excluded.update({item.key: reason for item, reason in plan.excluded.items()})
    arg_type = run.schema.command(run.command).arg_type
    planned = {i.key for case in plan.cases for i in exercised(run.schema, arg_type, case)}
    run.excluded.update(dict.fromkeys(sorted(planned - run.covered), CONFINED))
    failures.raise_any(run.command)
    return sent


def covering_malformed_cases(run: ArgumentRun) -> int:
    """Send one malformed case per validator rule that applies to the command.
    Returns how many ran."""
    cases = covering_malformed(
        run.schema, run.command, pools=run.draw_pools, policy=run.policy, plan=plan_of(run)
    )
    failures = _Failures()
    sent = 0
    for index, case in enumerate(cases):
        with failures:
            sent += run.offer(case.arguments, f"qmpc-cover-{index}", malformed=case)
    failures.raise_any(run.command)
    return sent


def failure_kind(exc: Failure | QemuGone) -> str:
    """What makes two failures the same finding, roughly as its signature would: the
    check, its paths and facets, or how QEMU went away."""
    if isinstance(exc, Failure):
        return f"{exc.check} {exc.path} {sorted(exc.paths)} {sorted(exc.facets.items())}"
    return f"gone: {exc.exit_info.describe() if exc.exit_info is not None else exc}"


class _Failures:
    """A context that keeps the findings (check failures, QEMU exits) raised in it."""

    def __init__(self) -> None:
        self.kept: dict[str, Failure | QemuGone] = {}

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        if not isinstance(exc, Failure | QemuGone):
            return False
        if len(self.kept) < _KEPT_FAILURES:
            self.kept.setdefault(failure_kind(exc), exc)
        return True

    def raise_any(self, command: str) -> None:
        found = list(self.kept.values())
        if len(found) == 1:
            raise found[0]
        if found:
            raise ExceptionGroup(f"{command}: {len(found)} covering cases failed", found)


#: By mode, as fuzz and the benchmarks name them.
BODIES: dict[str, Body] = {"valid": valid_arguments, "malformed": malformed}
