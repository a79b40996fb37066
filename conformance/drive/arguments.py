"""The bodies Hypothesis runs per example of an argument test: draw, send, judge.

`test_arguments.py` wraps them in `@given`; fuzz, diff and the benchmarks call them
with a `DataObject` of their own.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from conformance.drive.exchange import ArgumentRun
from strategies import Malformed, arguments, malformed_arguments
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


#: By mode, as fuzz and the benchmarks name them.
BODIES: dict[str, Body] = {"valid": valid_arguments, "malformed": malformed}
