"""(6) Harvest-driven sweeps: examples per second swept against random, and the wall
time the full sweeps add to a run.

For each introspection sweep (`conformance.drive.sweep`: `qom-list-properties` and
`device-list-properties` over every QOM type, `query-cpu-model-expansion` over every
CPU model), on the same binary and profile, taking turns: the whole sweep (every value
through `ArgumentRun.admitted` and `send`, the QOM tree walked after each, crashes re-sent on a
fresh QEMU), then as many random valid-argument examples of the same command as
`test_valid_arguments` draws (`conformance.drive.arguments.valid_arguments`, pools
harvested from the same QEMU; a chunk that a finding ends is followed by the next).
Then every sweep of the binary (`sweeps(schema)`, the node and object ones included),
as a full run runs them: the seconds they add, over the 120 s issue 19 allows.

    QMPC_QEMU=/path/to/qemu-system-x86_64 python bench/sweeps.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import QEMU, Result, print_results, workdir
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from conformance.drive.arguments import valid_arguments
from conformance.drive.exchange import ArgumentRun
from conformance.drive.harvest import harvest
from conformance.drive.sweep import Sweep, SweepRun, profile_for, sweeps
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import block_profile
from conformance.machine.targets import binary_profiles
from conformance.oracle.failure import Failure
from conformance.spec import Schema, schema_from_reply
from strategies import safety
from strategies.pools import Pools

#: Issue 19: "the full sweep for x86_64 adds at most 2 minutes to the full profile".
BUDGET = 120.0
COMPARED = ("qom-list-properties", "device-list-properties", "query-cpu-model-expansion")


def _run(sweep: Sweep, schema: Schema, pools: Pools, wd: str, profile: str) -> ArgumentRun:
    instances = InstancePool(lambda p: LaunchConfig(binary=QEMU, profile=p, workdir_base=wd))
    return ArgumentRun(
        sweep.command, schema, pools, safety.generation_policy(), instances, profile, frozen=True
    )


def swept(sweep: Sweep, schema: Schema, wd: str, profile: str) -> tuple[int, float, int]:
    """(values exercised, seconds, failures) of one whole sweep."""
    run = _run(sweep, schema, Pools(), wd, profile)
    tally = SweepRun(sweep, run)
    start = time.perf_counter()
    try:
        tally.go()
    except (Failure, QemuGone, ExceptionGroup):
        pass
    finally:
        run.instances.close()
    return tally.tally.exercised, time.perf_counter() - start, len(tally.failures)


def random(
    sweep: Sweep, schema: Schema, pools: Pools, wd: str, profile: str, count: int
) -> tuple[int, float, int]:
    """(examples sent, seconds, chunks a finding ended) of `count` random valid
    examples of the sweep's command."""
    run = _run(sweep, schema, pools, wd, profile)
    chunk = settings(
        max_examples=min(count, 100),
        derandomize=False,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    found = 0
    start = time.perf_counter()
    try:
        for k in range(1000):
            if run.examples >= count:
                break
            test = seed(k)(chunk(given(data=st.data())(lambda data: valid_arguments(run, data))))
            try:
                test()
            except Unsatisfiable:
                pass
            except (Failure, QemuGone, ExceptionGroup):
                found += 1
    finally:
        run.instances.close()
    return run.examples, time.perf_counter() - start, found


def run(rounds: int = 2) -> list[Result]:
    results: list[Result] = []
    with workdir() as wd:
        with QemuInstance(LaunchConfig(binary=QEMU, profile="none", workdir_base=wd)) as inst:
            schema = schema_from_reply(inst.execute("query-qmp-schema").value)
            pools = Pools()
            harvest(inst, schema, pools)
        profiles = binary_profiles(QEMU, wd, None, 10.0)
        argument_profile = block_profile(profiles) or profiles[0]
        found = sweeps(schema)
        for sweep in (s for s in found if s.command in COMPARED):
            profile = profile_for(sweep, profiles, argument_profile)
            best_sweep = best_random = 0.0
            note = ""
            for _ in range(rounds):
                n, secs, failed = swept(sweep, schema, wd, profile)
                best_sweep = max(best_sweep, n / secs)
                m, rsecs, ended = random(sweep, schema, pools, wd, profile, n)
                best_random = max(best_random, m / rsecs)
                note = (
                    f"{n} values in {secs:.1f} s ({failed} findings) vs {m} random examples "
                    f"in {rsecs:.1f} s ({ended} chunks ended by a finding); profile {profile}"
                )
            results.append(
                Result(f"sweep {sweep.command}", "examples/s swept", best_sweep, "/s", note=note)
            )
            results.append(
                Result(
                    f"sweep {sweep.command}",
                    "examples/s random (valid arguments)",
                    best_random,
                    "/s",
                    best_sweep / best_random,
                    note="ratio: swept over random",
                )
            )
        start = time.perf_counter()
        values = 0
        for sweep in found:
            values += swept(sweep, schema, wd, profile_for(sweep, profiles, argument_profile))[0]
        total = time.perf_counter() - start
        results.append(
            Result(
                "sweeps",
                "wall time of every sweep",
                total,
                "s",
                total / BUDGET,
                1.0,
                higher=False,
                note=f"ratio: over {BUDGET:.0f} s; {len(found)} sweeps, {values} values",
            )
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="turns per sweep, best kept")
    ns = parser.parse_args()
    print_results(run(ns.rounds))


if __name__ == "__main__":
    main()
