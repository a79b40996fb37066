"""The sweeps' pure parts (conformance/drive/sweep.py): which commands are swept over
what, the arguments each value is sent in, the sample, the tally, and the checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.drive.sweep import (
    SETUP,
    Sweep,
    arguments_for,
    check_tree_unchanged,
    profile_for,
    sample,
    sweeps,
)
from conformance.drive.sweep_record import SWEEP_PROPERTY, SweepTally
from conformance.machine.exits import ExitInfo, ExitKind, module_not_loadable
from conformance.oracle.failure import Failure, FindingKind, Source
from conformance.spec import Schema, load_schema_file, validate_arguments
from strategies.policy import GenerationPolicy
from strategies.safety import generation_policy


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def _by_command(schema: Schema) -> dict[str, Sweep]:
    return {s.command: s for s in sweeps(schema)}


def test_introspection_commands_sweep_every_type(schema: Schema) -> None:
    found = _by_command(schema)
    for command in ("qom-list-properties", "device-list-properties"):
        assert found[command] == Sweep(command, "type-name", (("typename",),))
        assert found[command].introspects()


def test_cpu_model_commands_sweep_the_model_name(schema: Schema) -> None:
    found = _by_command(schema)
    assert found["query-cpu-model-expansion"].paths == (("model", "name"),)
    assert found["query-cpu-model-expansion"].kind == "cpu-model"


def test_commands_naming_chardevs_and_objects_by_id_sweep_them(schema: Schema) -> None:
    found = _by_command(schema)
    assert found["chardev-remove"] == Sweep("chardev-remove", "chardev-id", (("id",),))
    assert found["object-del"] == Sweep("object-del", "object-id", (("id",),))
    assert found["ringbuf-write"].paths == (("device",),)


def test_setup_creates_one_of_each_resource_kind() -> None:
    commands = [command for command, _ in SETUP]
    assert commands[:2] == ["blockdev-add", "chardev-add"]
    assert "object-add" in commands


def test_node_commands_sweep_node_names_and_policy_skips_are_not_swept(schema: Schema) -> None:
    found = _by_command(schema)
    assert found["blockdev-del"].kind == "node-name"
    assert not found["blockdev-del"].introspects()
    # quit ends the QEMU and human-monitor-command is the policy's; neither names a
    # listed thing anyway, and the policy's refusals never become sweeps.
    assert "quit" not in found
    assert all(
        s.kind in ("type-name", "cpu-model", "node-name", "chardev-id", "object-id")
        for s in found.values()
    )


@pytest.mark.parametrize(
    "command", ["query-cpu-model-expansion", "blockdev-del", "qom-list-properties"]
)
def test_arguments_are_schema_valid_with_the_value_in_place(schema: Schema, command: str) -> None:
    sweep = _by_command(schema)[command]

    class _Run:
        policy: GenerationPolicy = generation_policy()

    args = arguments_for(schema, sweep, "the-value", _Run())  # type: ignore[arg-type]
    assert validate_arguments(schema, command, args) == []
    assert isinstance(args, dict)
    for path in sweep.paths:
        value: object = args
        for key in path:
            assert isinstance(value, dict)
            value = value[key]
        assert value == "the-value"


def test_sample_is_spread_deterministic_and_whole_without_a_size() -> None:
    values = [f"t{i:03}" for i in range(100)]
    assert sample(list(reversed(values)), None) == values
    picked = sample(values, 10)
    assert picked == [f"t{i:03}" for i in range(0, 100, 10)]
    assert sample(values, 500) == values


def test_tally_property_has_the_shared_shape() -> None:
    tally = SweepTally("types", "qom-list-properties", 753, 751, {"virtio-vga-gl": "module"})
    name, value = tally.to_property()
    assert name == SWEEP_PROPERTY == "sweep"
    assert json.loads(value) == {
        "sweep": "types",
        "command": "qom-list-properties",
        "total": 753,
        "exercised": 751,
        "excluded": {"virtio-vga-gl": "module"},
    }
    assert SweepTally.from_property(value) == tally
    assert tally.line() == "751/753 types, 1 excluded"
    assert tally.line(sample=True) == "sample 751/753 types (ci profile), 1 excluded"


def test_tree_check_names_what_changed() -> None:
    check_tree_unchanged("qom-list-properties", "t", ["/machine"], ["/machine"])
    with pytest.raises(Failure) as caught:
        check_tree_unchanged("qom-list-properties", "t", ["/machine"], ["/machine", "/machine/x"])
    failure = caught.value
    assert failure.kind is FindingKind.BEHAVIOUR
    assert failure.citation.source is Source.QEMU_TESTS
    assert "device-introspect-test" in failure.citation.section
    assert failure.details == ("+ /machine/x",)


def test_only_a_deliberate_module_exit_is_the_hosts() -> None:
    def exit_info(kind: ExitKind, code: int | None, sig: int | None, err: str) -> ExitInfo:
        return ExitInfo(kind, code, sig, None, err)

    module = "qemu: failed to open module: libvirglrenderer.so.1: cannot open shared object"
    assert module_not_loadable(exit_info(ExitKind.EXIT, 1, None, module)).startswith(
        "its module does not load on this host"
    )
    assert module_not_loadable(exit_info(ExitKind.EXIT, 1, None, "missing object type 'x'"))
    assert not module_not_loadable(exit_info(ExitKind.CRASH, None, 11, module))
    assert not module_not_loadable(exit_info(ExitKind.EXIT, 1, None, "something else"))


def test_profile_for_runs_introspection_board_less() -> None:
    types = Sweep("qom-list-properties", "type-name", (("typename",),))
    nodes = Sweep("blockdev-del", "node-name", (("node-name",),))
    assert profile_for(types, ("none", "q35"), "q35") == "none"
    assert profile_for(types, ("virt",), "virt") == "virt"
    assert profile_for(nodes, ("none", "q35"), "q35") == "q35"
