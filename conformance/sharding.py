"""``--shard K/N``: run one of N parts of the collected tests, for CI jobs in parallel.

The tests are split **by command**: every test tied to one command (its
``command_name``, ``no_arg_command`` or ``sweep_command``, the entry of a documented example, error
condition or drift item, the command a behaviour rule is about) lands in that
command's group, so one job owns a command's whole matrix row and its schema coverage
(coverage can't be added across jobs, counts can). Each machine type's test is a group
of its own. Tests tied to no one command (the protocol areas, the state machines,
migration) form one group per test function.

Groups go to shards by greedy longest-processing-time over a static cost model (below),
so jobs end at about the same time. The partition depends only on the tests collected
(the binary's schema, the docs, the options), never on their order or on Python's
hash seed: every xdist worker, and every job of a CI pipeline, computes the same one.
Tests of other shards are deselected through ``pytest_deselected``, so the counts a run
prints are honest.

Registered by conformance.plugin (``pytest_plugins``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

__all__ = [
    "COSTS",
    "DEFAULT_COST",
    "Plan",
    "ShardSpec",
    "expected_cost",
    "group_key",
    "parse_shard",
    "plan",
]

# Expected seconds per test, by test function. Measured on the CI profile
# (`qmp-conformance run --profile ci -- -n 2`, QEMU 7.2.22 x86_64, 2 cores, TCG): the
# mean JUnit time per test of each function, 1504 tests, 80.9 s of test time in a
# 99.7 s run. Means, not medians: an occasional hang deadline (a 10.4 s valid-arguments
# test) is part of what a command costs. Only the ratios matter; a full run costs more
# per test (20 examples, a QEMU per argument test) in about the same proportions.
COSTS: dict[str, float] = {
    "test_valid_arguments": 0.143,  # 216 tests, 30.9 s
    "test_malformed_arguments": 0.080,  # 216 tests, 17.4 s
    # The covering phase, measured alike but with -n 1: 12.5 s and 5.1 s for 216 tests.
    "test_covering_valid": 0.058,
    "test_covering_malformed": 0.024,
    "test_behaviour": 0.105,  # 82 rules, 8.6 s, a QEMU each
    "test_no_arguments": 0.025,  # 188 tests, 4.6 s
    "test_doc_example": 0.019,  # 213 tests, 4.1 s (most skip: not replayable)
    "test_doc_error": 0.013,  # 69 tests, 0.9 s
    "test_doc_drift": 0.005,
    "test_command_before_negotiation": 0.006,
    "test_exec_oob": 0.005,
    # Measured apart (7.2.22 x86_64, ci, -n 1): 216 tests, 1.5 s, a QEMU restart after
    # each command that ran and may have changed the machine.
    "test_preconfig_phase": 0.007,
    "test_refused_verb": 0.056,
    # Measured on a full run of 7.2 and 10.0.2 (-n 1): the two QOM type sweeps take
    # 5-8 s, the CPU models 1 s, a profile's nodes and objects 0.05 s; the mean.
    "test_sweep": 0.5,
    "test_wire_state_machine": 2.94,
    "test_resource_state_machine": 1.05,
    "test_postcopy_during_migration": 0.47,
    "test_postcopy_refused_without_capability": 0.25,
    "test_malformed_input_at_limits": 0.27,
    "test_bad_envelope": 0.19,
    "test_malformed_input": 0.13,
    # Measured later, alone (-k, -n 1, QEMU 10.0.2): every machine type started and
    # quit, then one in four runs its queries and a sample of its QOM walk.
    "test_machine_types": 4.7,
    "test_machine_type": 0.57,  # 17 tests, 9.6 s
    "test_qom_walk": 0.96,  # 3 profiles, 2.9 s
    "test_events_shape_and_time_order": 0.16,
    "test_id_comes_back_equal": 0.11,
    "test_event_reaches_every_monitor": 0.10,
}
#: A test the model doesn't know: about one protocol check (a QEMU start and a few
#: exchanges).
DEFAULT_COST = 0.1

# The parameters that tie a test to one command, and how to read the command from each.
_COMMAND_PARAMS = ("command_name", "no_arg_command", "sweep_command")
_ENTRY_PARAMS = ("doc_example", "doc_error")  # (DocEntry, index, …)

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Shard ``index`` (1-based) of ``total``."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> ShardSpec:
    """``K/N`` with 1 <= K <= N; ValueError with a one-line reason otherwise."""
    m = _SHARD.match(text)
    if m is None:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 1/4")
    k, n = int(m[1]), int(m[2])
    if n < 1:
        raise ValueError(f"--shard {text}: N must be at least 1")
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text}: K must be between 1 and N ({n})")
    return ShardSpec(k, n)


def _function(item: pytest.Item) -> str:
    return str(getattr(item, "originalname", None) or item.name.split("[", 1)[0])


def group_key(item: pytest.Item) -> str:
    """The group a test is sharded with: ``command:NAME`` or ``test:PATH::FUNCTION``."""
    callspec = getattr(item, "callspec", None)
    params: dict[str, object] = dict(callspec.params) if callspec is not None else {}
    for name in _COMMAND_PARAMS:
        if isinstance(params.get(name), str):
            return f"command:{params[name]}"
    for name in _ENTRY_PARAMS:
        value = params.get(name)
        entry = value[0] if isinstance(value, tuple) and value else None
        if isinstance(getattr(entry, "name", None), str):
            return f"command:{entry.name}"  # type: ignore[union-attr]
    drift = params.get("drift_items")
    if isinstance(drift, tuple) and drift and isinstance(drift[0], str):
        return f"command:{drift[0]}"
    rule_command = getattr(params.get("behaviour_rule"), "command", None)
    if isinstance(rule_command, str):
        return f"command:{rule_command}"
    machine = params.get("machine_type")
    if isinstance(machine, str):
        # Each machine type's sweeps are a QEMU of their own: spread them over the shards.
        return f"machine:{machine}"
    return f"test:{item.nodeid.split('[', 1)[0]}"


def expected_cost(item: pytest.Item) -> float:
    """The expected cost of one test in seconds (`COSTS`)."""
    return COSTS.get(_function(item), DEFAULT_COST)


@dataclass(frozen=True, slots=True)
class Plan:
    """Which shard each group goes to, and the expected cost of every shard."""

    assignment: dict[str, int]  # group key -> shard index, 0-based
    loads: tuple[float, ...]  # expected cost per shard
    group_costs: dict[str, float]

    def shard_of(self, key: str) -> int:
        """The 0-based shard of group ``key``."""
        return self.assignment[key]


def plan(groups: Iterable[tuple[str, float]], total: int) -> Plan:
    """Assign groups (key, cost; a key may repeat, its costs add) to ``total`` shards.

    Longest processing time first: the costliest group goes to the least loaded shard.
    Ties break by key and by shard index, so the result depends on the multiset of
    groups alone, not their order. Costs are summed in sorted order and rounded to
    microseconds, so float addition order can't tip a comparison either.
    """
    per_key: dict[str, list[float]] = {}
    for key, cost in groups:
        per_key.setdefault(key, []).append(cost)
    costs = {k: round(sum(sorted(v)), 6) for k, v in per_key.items()}
    loads = [0.0] * total
    assignment: dict[str, int] = {}
    for key in sorted(costs, key=lambda k: (-costs[k], k)):
        shard = min(range(total), key=lambda s: (loads[s], s))
        assignment[key] = shard
        loads[shard] = round(loads[shard] + costs[key], 6)
    return Plan(assignment, tuple(loads), costs)


def partition(
    items: Sequence[pytest.Item], spec: ShardSpec
) -> tuple[list[pytest.Item], list[pytest.Item], Plan]:
    """``(kept, deselected, plan)`` of ``items`` for shard ``spec``."""
    keys = [group_key(i) for i in items]
    made = plan(zip(keys, (expected_cost(i) for i in items), strict=True), spec.total)
    mine = spec.index - 1
    kept = [i for i, k in zip(items, keys, strict=True) if made.shard_of(k) == mine]
    dropped = [i for i, k in zip(items, keys, strict=True) if made.shard_of(k) != mine]
    return kept, dropped, made


# -- the plugin ----------------------------------------------------------------------------

_SPEC = pytest.StashKey[ShardSpec]()
_LINE = pytest.StashKey[str]()
_WORKERS_LINE = pytest.StashKey[str]()
_WORKER_KEY = "qmpc-shard"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--shard K/N``."""
    parser.getgroup("qmp-conformance").addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="run only shard K of N (1-based): tests split by command, balanced by "
        "expected cost, the same split in every process and job",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Parse ``--shard``; a bad value is a usage error (one line)."""
    text = config.getoption("--shard", None)
    if text is None:
        return
    try:
        config.stash[_SPEC] = parse_shard(str(text))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


# trylast: after -k, -m and any other deselection, so shards split what would have run.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep this shard's tests, deselect the others."""
    spec = config.stash.get(_SPEC, None)
    if spec is None:
        return
    kept, dropped, made = partition(items, spec)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    mine = made.loads[spec.index - 1]
    line = (
        f"shard {spec}: {len(kept)} tests of {len(kept) + len(dropped)}, expected cost "
        f"{mine:.1f}s of {sum(made.loads):.1f}s "
        f"(shards {min(made.loads):.1f}-{max(made.loads):.1f}s, "
        f"{sum(1 for s in made.assignment.values() if s == spec.index - 1)} of "
        f"{len(made.assignment)} groups)"
    )
    config.stash[_LINE] = line
    workeroutput = getattr(config, "workeroutput", None)
    if isinstance(workeroutput, dict):
        workeroutput[_WORKER_KEY] = line


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    """The shard line, after pytest's "collected N items"."""
    # Under xdist this runs on the controller, which collects nothing: the workers'
    # line is printed in the summary instead.
    return config.stash.get(_LINE, None)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist: keep the shard line a worker computed, for the controller's summary."""
    output = getattr(node, "workeroutput", None)
    config = getattr(node, "config", None)
    if isinstance(output, dict) and config is not None and _WORKER_KEY in output:
        config.stash[_WORKERS_LINE] = str(output[_WORKER_KEY])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The shard line of an xdist run (its workers collected, not the controller)."""
    # Only the workers' line: without xdist it was printed at collection.
    line = terminalreporter.config.stash.get(_WORKERS_LINE, None)
    if line is not None:
        terminalreporter.write_line(line)
