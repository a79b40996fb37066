"""(4) Wall time of the CI profile with one xdist worker and with two.

Runs `qmp-conformance run --profile ci` as a CI pipeline would (a fresh reports
directory, so a cold schema and harvest cache; the packaged baseline; no minimising,
which with the packaged baseline only new findings would need), once with `-n 2` and
once with `-n 1`, and reports both wall times, the speed-up, and the `-n 2`
time against the 90 s budget. A run that ends in a harness error (exit 3) or a usage
error (exit 2) is reported as such: its time means nothing.

    python bench/ci_profile.py [--dist load]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import PROJECT, QEMU, Result, load, print_results

BUDGET = 90.0
SPEEDUP_TARGET = 1.8


def wall(workers: int, dist: str) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (the run and every process it waited for: workers,
    QEMUs), exit status and the result line of one CI-profile run."""
    with tempfile.TemporaryDirectory(prefix="qmpc-bench-ci-") as reports:
        argv = [
            sys.executable, "-m", "conformance.cli", "run", "--profile", "ci",
            "--qemu", QEMU, "--reports", reports, "--baseline", "auto",
            "--", "-n", str(workers), f"--dist={dist}", "-q", "-p", "no:randomly",
            "--minimise-budget=0",
        ]  # fmt: skip
        cpu = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(
            argv, cwd=PROJECT, capture_output=True, text=True, timeout=1800, check=False
        )
        elapsed = time.perf_counter() - start
        cpu = _children_cpu() - cpu
    lines = [line for line in done.stdout.splitlines() if " in " in line and "passed" in line]
    summary = lines[-1].strip("= ") if lines else done.stderr[-300:]
    return elapsed, cpu, done.returncode, summary


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(dist: str = "load") -> list[Result]:
    before = load()
    two, cpu2, rc2, line2 = wall(2, dist)
    one, cpu1, rc1, line1 = wall(1, dist)
    status = {0: "no new findings", 1: "new findings", 2: "USAGE ERROR", 3: "HARNESS ERROR"}
    # CPU seconds over wall seconds: how many cores the run had. On an idle 2-core
    # machine -n 2 reaches nearly 2; less means other load took the rest.
    return [
        Result("ci profile", "-n 2 wall time", two, "s", ratio=two / BUDGET, target=1.0,
               higher=False, note=f"ratio: over 90 s; {cpu2:.0f} CPU s, {cpu2 / two:.2f} cores "
               f"busy; exit {rc2} ({status.get(rc2, '?')}): {line2}"),
        Result("ci profile", "-n 1 wall time", one, "s",
               note=f"{cpu1:.0f} CPU s, {cpu1 / one:.2f} cores busy; exit {rc1} "
               f"({status.get(rc1, '?')}): {line1}"),
        Result("ci profile", "-n 2 speed-up over -n 1", one / two, "x", ratio=one / two,
               target=SPEEDUP_TARGET, note=f"--dist {dist}; before: {before}, after: {load()}"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="load", help="xdist distribution mode")
    ns = parser.parse_args()
    print_results(run(ns.dist))


if __name__ == "__main__":
    main()
