"""Every command of the binary, with generated valid and malformed arguments.

One QEMU per test function (restarted after a crash) runs every example of that
command. Valid arguments must get a schema-valid return or a well-formed error;
malformed ones must get an error. In both modes the id comes back, every event matches
its type, and QEMU answers a liveness probe afterwards.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.suite.exchange import ArgumentRun
from strategies import Malformed, arguments, malformed_arguments
from strategies.wire import json_ids

# One QEMU per test function is the point: it is reused across examples.
_REUSE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Built once: a strategy made afresh for every draw is validated afresh for every draw,
# which cost more than the exchange with QEMU.
_IDS = json_ids()


@_REUSE
@given(data=st.data())
def test_valid_arguments(argument_run: ArgumentRun, data: st.DataObject) -> None:
    run = argument_run
    args = data.draw(
        arguments(run.schema, run.command, pools=run.draw_pools, policy=run.policy),
        label="arguments",
    )
    sent_id = data.draw(_IDS, label="id")
    run.exchange(args, sent_id, malformed=None)


@_REUSE
@given(data=st.data())
def test_malformed_arguments(argument_run: ArgumentRun, data: st.DataObject) -> None:
    run = argument_run
    case: Malformed = data.draw(
        malformed_arguments(run.schema, run.command, pools=run.draw_pools, policy=run.policy),
        label="malformed",
    )
    sent_id = data.draw(_IDS, label="id")
    run.exchange(case.arguments, sent_id, malformed=case)
