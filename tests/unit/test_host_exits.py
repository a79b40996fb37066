"""An exit the host caused (a type's module that doesn't load here) drops the example
instead of making a finding: `ArgumentRun`'s sends, and so the suite's argument tests
and the fuzzer, do what the sweeps do (conformance/machine/exits.py)."""

from __future__ import annotations

import pytest

from conformance.drive.exchange import ArgumentRun, Dropped
from conformance.machine.exits import ExitInfo, ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone
from conformance.machine.pool import InstancePool
from conformance.qmp.transcript import Transcript
from conformance.spec import Schema
from conformance.spec.introspect import schema_from_reply
from strategies.pools import Pools
from strategies.safety import generation_policy


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_from_reply(
        [
            {
                "name": "device-list-properties",
                "meta-type": "command",
                "arg-type": "A",
                "ret-type": "any",
            },
            {"name": "A", "meta-type": "object", "members": [{"name": "typename", "type": "str"}]},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
            {"name": "any", "meta-type": "builtin", "json-type": "value"},
        ]
    )


def _gone(code: int | None, sig: int | None, stderr: str) -> QemuGone:
    kind = ExitKind.EXIT if sig is None else ExitKind.CRASH
    return QemuGone(ExitInfo(kind, code, sig, None, stderr), Transcript())


def _run(schema: Schema) -> ArgumentRun:
    # No QEMU starts: `host_exits` needs no instance.
    pool = InstancePool(lambda profile: LaunchConfig(profile=profile))
    return ArgumentRun("device-list-properties", schema, Pools(), generation_policy(), pool, "none")


def test_a_module_that_does_not_load_here_drops_the_example(schema: Schema) -> None:
    run = _run(schema)
    # 10.0.2 unpacked without its libraries: "failed to open module", then exit(1).
    stderr = "failed to open module: libvirglrenderer.so.1: cannot open shared object file"
    with pytest.raises(Dropped, match="its module does not load on this host"), run.host_exits():
        raise _gone(1, None, stderr)
    assert run.rejected == 1


@pytest.mark.parametrize(
    ("code", "sig", "stderr"),
    [
        (None, 11, "failed to open module: libx.so"),  # a crash stays a crash
        (1, None, "qemu: something else"),  # another exit(1) stays a finding
    ],
)
def test_any_other_exit_stays_a_finding(
    schema: Schema, code: int | None, sig: int | None, stderr: str
) -> None:
    run = _run(schema)
    with pytest.raises(QemuGone), run.host_exits():
        raise _gone(code, sig, stderr)
    assert run.rejected == 0
