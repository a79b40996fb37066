"""(2) Fuzz throughput: QMP commands per second with generation and checks, over the raw loop.

The argument drivers the suite's tests run (`conformance.drive.arguments`) run
as the fuzz worker runs them: per command and mode, a chunk of Hypothesis examples on a
q35 QEMU of its own, each example generated from the schema, confined by the host-safety
policy, sent, judged against the schema, followed by a liveness probe and the event
checks. Every example sends two commands (the one under test and the probe). The raw
loop (bench/command_loop.py) runs on the same binary just before and just after; the
ratio is the fuzz rate over the better of the two raw rates.

    python bench/fuzz_throughput.py [--commands 40] [--examples 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from command_loop import raw_loop
from common import QEMU, Result, print_results, timed, workdir
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from conformance.drive.arguments import BODIES, Body
from conformance.drive.exchange import ArgumentRun
from conformance.drive.harvest import harvest
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.pool import InstancePool
from conformance.oracle.failure import Failure
from conformance.spec import schema_from_reply
from strategies import safety
from strategies.pools import Pools

FUZZ_TARGET = 0.6
PROFILE = "q35"


def raw_rate(wd: str, n: int = 2000) -> float:
    """Commands per second of the raw loop on a fresh `-M none` QEMU of the binary."""
    with QemuInstance(LaunchConfig(binary=QEMU, profile="none", monitors=2, workdir_base=wd)) as q:
        sock = q._extra_sessions[0].transport._sock
        raw_loop(sock, 200)
        return n / min(timed(lambda: raw_loop(sock, n)) for _ in range(3))


def sample(commands: list[str], count: int) -> list[str]:
    """`count` commands spread evenly over the sorted list (all of them if fewer)."""
    if count >= len(commands):
        return commands
    step = len(commands) / count
    return [commands[int(i * step)] for i in range(count)]


def _example(body: Body, run: ArgumentRun) -> Callable[[st.DataObject], None]:
    def example(data: st.DataObject) -> None:
        body(run, data)

    return example


def run(count: int = 40, examples: int = 20) -> list[Result]:
    with workdir() as wd:
        before = raw_rate(wd)
        config = LaunchConfig(binary=QEMU, profile=PROFILE, workdir_base=wd)
        with QemuInstance(config) as inst:
            schema = schema_from_reply(inst.execute("query-qmp-schema").value)
            pools = Pools()
            harvest(inst, schema, pools)
        policy = safety.generation_policy()
        runnable = sorted(
            c for c in schema.commands if not lifecycle_reason(c) and not safety.skip_reason(c)
        )
        chosen = sample(runnable, count)
        chunk = settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
        )
        sent = 0
        found = 0
        start = time.perf_counter()
        for command in chosen:
            for body in BODIES.values():
                pool = InstancePool(lambda p: LaunchConfig(binary=QEMU, profile=p, workdir_base=wd))
                run_ = ArgumentRun(command, schema, pools, policy, pool, PROFILE)
                try:
                    chunk(given(data=st.data())(_example(body, run_)))()
                except Unsatisfiable:
                    pass
                except (Failure, QemuGone, ExceptionGroup):
                    found += 1  # a finding ends the chunk, as in the fuzz worker
                finally:
                    pool.close()
                sent += 2 * run_.examples
        elapsed = time.perf_counter() - start
        after = raw_rate(wd)
    limit = max(before, after)
    rate = sent / elapsed
    note = (
        f"{len(chosen)} commands x valid/malformed x {examples} examples, "
        f"{sent // 2} examples, {found} chunks ended by a finding; raw {limit:,.0f}/s"
    )
    return [
        Result(
            "fuzz",
            "commands/s with generation and checks",
            rate,
            "/s",
            rate / limit,
            FUZZ_TARGET,
            note=note,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=40, help="commands sampled")
    parser.add_argument("--examples", type=int, default=20, help="examples per chunk")
    ns = parser.parse_args()
    print_results(run(ns.commands, ns.examples))


if __name__ == "__main__":
    main()
