"""The sweep driver on a real QEMU (conformance/drive/sweep.py): it sends every value
it is asked to, counts what the binary lists, and goes on after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.drive.exchange import ArgumentRun
from conformance.drive.sweep import SweepRun, listed, sweeps
from conformance.findings.record import EVIDENCE_ATTR, Evidence, leaves
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.qmp.transcript import Direction
from conformance.spec import Schema, schema_from_reply
from strategies.pools import Pools
from strategies.safety import generation_policy
from tests.integration import qemu_fault

pytestmark = pytest.mark.qemu

COMMAND = "query-cpu-model-expansion"


@pytest.fixture
def pool(qemu_binary: str, tmp_path: Path) -> Iterator[InstancePool]:
    instances = InstancePool(
        lambda p: LaunchConfig(binary=qemu_binary, profile=p, workdir_base=str(tmp_path))
    )
    yield instances
    instances.close()


def _sweep_run(pool: InstancePool, size: int) -> tuple[SweepRun, Schema, list[str]]:
    inst = pool.get("none")
    schema = schema_from_reply(inst.execute("query-qmp-schema").value)
    models = listed(inst, "cpu-model")
    sweep = next(s for s in sweeps(schema) if s.command == COMMAND)
    run = ArgumentRun(COMMAND, schema, Pools(), generation_policy(), pool, "none", frozen=True)
    return SweepRun(sweep, run, sample_size=size), schema, models


def test_a_sample_counts_every_listed_value(pool: InstancePool) -> None:
    swept, _, models = _sweep_run(pool, 5)
    swept.go()
    assert swept.tally.total == len(models) > 5
    assert swept.tally.exercised == 5
    assert swept.tally.excluded == {}
    assert swept.run.kinds.get("return", 0) + swept.run.kinds.get("error", 0) == 5


@pytest.fixture
def segv_on_every_expansion() -> Iterator[None]:
    originals = {name: getattr(QemuInstance, name) for name in qemu_fault.SUBJECTS}
    qemu_fault.install(f'execute "{COMMAND}":SEGV')
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(QemuInstance, name, method)


@pytest.mark.usefixtures("segv_on_every_expansion")
def test_the_sweep_goes_on_after_a_crash(pool: InstancePool) -> None:
    swept, _, _ = _sweep_run(pool, 3)
    with pytest.raises(ExceptionGroup) as caught:
        swept.go()
    found = leaves(caught.value)
    # Every value crashed, alone on a fresh QEMU too, and the next value still ran.
    assert swept.tally.exercised == 3
    assert len(found) == 3
    assert all(isinstance(exc, QemuGone) for exc in found)
    sent = []
    for exc in found:
        evidence = getattr(exc, EVIDENCE_ATTR)
        assert isinstance(evidence, Evidence)
        sends = [r for r in evidence.transcript.records if r.direction is Direction.SEND]
        # The reproducer is the value alone: negotiation, then the one command.
        assert len(sends) == 2
        value = sends[-1].value
        assert isinstance(value, dict)
        assert value["execute"] == COMMAND
        sent.append(value["arguments"]["model"]["name"])
    assert len(set(sent)) == 3
