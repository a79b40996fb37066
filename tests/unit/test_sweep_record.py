"""A sweep's report property, its deterministic sample, the bare machine-type profile,
and the host-safety policy's pass for QOM reads."""

from __future__ import annotations

import json

from conformance.drive.sweep_record import SWEEP_PROPERTY, SweepTally, in_sample
from conformance.machine.profiles import MACHINE_PREFIX, machine_profile, profile
from strategies.safety import confine

WD = "/tmp/wd"


def test_the_property_has_the_shape_the_summary_reads() -> None:
    sweep = SweepTally("machine types", "query-machines", 59, 57, {"xenpv": "no xen"})
    name, value = sweep.to_property()
    assert name == SWEEP_PROPERTY
    assert json.loads(value) == {
        "sweep": "machine types",
        "command": "query-machines",
        "total": 59,
        "exercised": 57,
        "excluded": {"xenpv": "no xen"},
    }


def test_the_sample_is_deterministic_and_about_one_in_n() -> None:
    values = [f"/machine/unattached/device[{i}].prop{i % 7}" for i in range(4000)]
    chosen = [v for v in values if in_sample(v, 16)]
    assert chosen == [v for v in reversed(values) if in_sample(v, 16)][::-1]
    assert 150 < len(chosen) < 350
    assert all(in_sample(v, 1) for v in values)


def test_a_machine_type_is_a_profile_by_name() -> None:
    bare = profile(MACHINE_PREFIX + "pc-q35-7.2")
    assert bare == machine_profile("pc-q35-7.2")
    assert bare.machine == "pc-q35-7.2"
    assert bare.args == ("-machine", "pc-q35-7.2", "-accel", "tcg")
    assert bare.device_ids == frozenset()


def test_qom_reads_pass_the_policy_unchanged() -> None:
    # The root is a QOM path, not the host's; the harness's chardev is only read.
    for command, arguments in (
        ("qom-list", {"path": "/"}),
        ("qom-list", {"path": "/chardevs/qmp"}),
        ("qom-get", {"path": "/chardevs/qmp", "property": "addr"}),
    ):
        assert confine(command, arguments, WD) == arguments
    # qom-set is no read: the harness rule still refuses it (test_harness_resources).
    assert confine("qom-list-types", {"implements": "/"}, WD) != {"implements": "/"}
