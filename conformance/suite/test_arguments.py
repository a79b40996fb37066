"""Every command of the binary, with generated valid and malformed arguments.

One QEMU per test function (restarted after a crash) runs every example of that
command. Valid arguments must get a schema-valid return or a well-formed error;
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


@_REUSE
@given(data=st.data())
def test_valid_arguments(argument_run: ArgumentRun, data: st.DataObject) -> None:
    arguments.valid_arguments(argument_run, data)


@_REUSE
@given(data=st.data())
def test_malformed_arguments(argument_run: ArgumentRun, data: st.DataObject) -> None:
    arguments.malformed(argument_run, data)
