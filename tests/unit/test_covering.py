"""The deterministic covering cases: valid, fixed, short, and covering every point the
policy allows (a small fixture schema, and the real 7.2 schemas when the corpus is here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.spec import Schema, load_schema_file, validate_arguments
from conformance.spec.coverage import INT_POINTS, command_items, exercised, summarise
from strategies.covering import NOT_GENERATED, POLICY_VALUE, covering_malformed, covering_plan
from strategies.malformed import malformed_rules
from strategies.policy import GenerationPolicy
from strategies.pools import Pools
from strategies.safety import generation_policy, skip_reason

ENTRIES = [
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
    {"name": "bool", "meta-type": "builtin", "json-type": "boolean"},
    {"name": "Drv", "meta-type": "enum", "values": ["file", "nbd", "null"]},
    {"name": "Mode", "meta-type": "enum", "values": ["ro", "rw"]},
    {"name": "[Mode]", "meta-type": "array", "element-type": "Mode"},
    {
        "name": "Args",
        "meta-type": "object",
        "members": [
            {"name": "driver", "type": "Drv"},
            {"name": "node-name", "type": "str"},
            {"name": "size", "type": "int", "default": None},
            {"name": "modes", "type": "[Mode]", "default": None},
            {"name": "backing", "type": "Ref", "default": None},
        ],
        "tag": "driver",
        "variants": [{"case": "file", "type": "File"}, {"case": "nbd", "type": "Nbd"}],
    },
    {
        "name": "File",
        "meta-type": "object",
        "members": [{"name": "filename", "type": "str"}, {"name": "ro", "type": "bool"}],
    },
    {"name": "Nbd", "meta-type": "object", "members": [{"name": "server", "type": "str"}]},
    {"name": "Ref", "meta-type": "alternate", "members": [{"type": "str"}, {"type": "Args"}]},
    {"name": "Empty", "meta-type": "object", "members": []},
    {"name": "add", "meta-type": "command", "arg-type": "Args", "ret-type": "Empty"},
    {"name": "bare", "meta-type": "command", "arg-type": "Empty", "ret-type": "Empty"},
]

NO_NBD = GenerationPolicy(excluded_values={"driver": frozenset({"nbd"})})


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.from_schema_info(ENTRIES)


def coverage_of(schema: Schema, command: str, policy: GenerationPolicy) -> float:
    plan = covering_plan(schema, command, policy=policy)
    arg_type = schema.command(command).arg_type
    used = set().union(*(exercised(schema, arg_type, c) for c in plan.cases))
    return summarise(command_items(schema, command), used, plan.excluded).ratio


def test_cases_are_valid_and_cover_everything(schema: Schema) -> None:
    plan = covering_plan(schema, "add")
    for case in plan.cases:
        assert validate_arguments(schema, "add", case) == [], case
    assert plan.excluded == {}
    assert coverage_of(schema, "add", GenerationPolicy()) == 1.0
    # Points combine: far fewer cases than points.
    assert len(plan.cases) < len(command_items(schema, "add")) / 3
    sizes = [c["size"] for c in plan.cases if "size" in c]
    assert set(INT_POINTS) <= set(sizes)
    assert any("size" not in c for c in plan.cases)  # optional members absent too


def test_cases_are_the_same_every_time(schema: Schema) -> None:
    assert covering_plan(schema, "add").cases == covering_plan(schema, "add").cases


def test_excluded_values_are_never_generated_and_listed(schema: Schema) -> None:
    plan = covering_plan(schema, "add", policy=NO_NBD)
    assert not any(c.get("driver") == "nbd" for c in plan.cases)
    reasons = {i.key: why for i, why in plan.excluded.items()}
    assert reasons["enum:Drv:nbd"] == POLICY_VALUE
    assert reasons["variant:Args:nbd"] == POLICY_VALUE
    assert "member:Nbd:server" in reasons  # reachable only through nbd
    assert NOT_GENERATED not in reasons.values()
    assert coverage_of(schema, "add", NO_NBD) == 1.0


def test_named_members_take_a_harvested_name_first(schema: Schema) -> None:
    pools = Pools()
    pools.add("node-name", "disk0")
    plan = covering_plan(schema, "add", pools=pools)
    assert plan.cases[0]["node-name"] == "disk0"
    assert {"", "disk0"} <= {c["node-name"] for c in plan.cases}


def test_a_command_without_arguments_has_one_empty_case(schema: Schema) -> None:
    assert covering_plan(schema, "bare").cases == ({},)


def test_one_malformed_case_per_rule(schema: Schema) -> None:
    cases = covering_malformed(schema, "add", policy=NO_NBD)
    assert [c.rule for c in cases] == list(malformed_rules(schema, "add", policy=NO_NBD))
    for case in cases:
        violations = validate_arguments(schema, "add", case.arguments)
        assert {v.rule for v in violations} == {case.rule}, case
        assert case.path in {v.path for v in violations}
    assert not any(
        isinstance(c.arguments, dict) and c.arguments.get("driver") == "nbd" for c in cases
    )


@pytest.mark.parametrize("target", ["x86_64", "aarch64", "s390x", "ppc64"])
def test_real_schemas_reach_95_percent_for_every_allowed_command(corpus: Path, target: str) -> None:
    path = corpus / "qemu-7.2" / f"query-qmp-schema.{target}.json"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the corpus")
    real = load_schema_file(path)
    policy = generation_policy()
    short = {}
    for command in sorted(real.commands):
        if skip_reason(command):
            continue
        plan = covering_plan(real, command, policy=policy)
        for case in plan.cases:
            assert validate_arguments(real, command, case) == [], (command, case)
        assert NOT_GENERATED not in plan.excluded.values(), command
        ratio = coverage_of(real, command, policy)
        if ratio < 0.95:
            short[command] = ratio
        rules = malformed_rules(real, command, policy=policy)
        found = covering_malformed(real, command, policy=policy, plan=plan)
        assert [c.rule for c in found] == list(rules), command
        # Without exclusions nothing is left out: so what the policy run calls
        # unreachable is so because of the policy, not a gap of the generator.
        assert covering_plan(real, command).excluded == {}, command
    assert short == {}
