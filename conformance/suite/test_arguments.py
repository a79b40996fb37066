"""Every command of the binary, with generated valid and malformed arguments.

First the deterministic covering phase (`test_covering_*`: fixed cases that exercise
every domain point the policy allows, `strategies.covering`), then the random examples
Hypothesis draws. One QEMU per test function (restarted after a crash) runs every
example of that command. Valid arguments must get a schema-valid return or a well-formed error;
malformed ones must get an error. In both modes the id comes back, every event matches
its type, and QEMU answers a liveness probe afterwards. The bodies are the drivers of
`conformance.drive.arguments`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.drive import arguments
from conformance.drive.exchange import ArgumentRun

# One QEMU per test function is the point: it is reused across examples.
_REUSE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# Named without "_arguments": `-k test_valid_arguments` selects the random tests alone.
def test_covering_valid(argument_run: ArgumentRun) -> None:
    """The deterministic covering phase: every enum value, variant, branch, optional
    member present and absent, integer boundary and empty and long string the policy
    allows, in fixed cases (`strategies.covering`), before the random examples."""
    arguments.covering_valid(argument_run)


def test_covering_malformed(argument_run: ArgumentRun) -> None:
    """One malformed case per validator rule that applies to the command, fixed."""
    arguments.covering_malformed_cases(argument_run)


@_REUSE
@given(data=st.data())
def test_valid_arguments(argument_run: ArgumentRun, data: st.DataObject) -> None:
    arguments.valid_arguments(argument_run, data)


@_REUSE
@given(data=st.data())
def test_malformed_arguments(argument_run: ArgumentRun, data: st.DataObject) -> None:
    arguments.malformed(argument_run, data)
