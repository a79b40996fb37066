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
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Result, SuiteRun, load, print_results, suite_run

BUDGET = 90.0
SPEEDUP_TARGET = 1.8


def wall(workers: int, dist: str) -> SuiteRun:
    """One CI-profile run with `workers` xdist workers."""
    with tempfile.TemporaryDirectory(prefix="qmpc-bench-ci-") as reports:
        return suite_run([
            "--profile", "ci", "--reports", reports, "--baseline", "auto",
            "--", "-n", str(workers), f"--dist={dist}", "-q", "-p", "no:randomly",
            "--minimise-budget=0",
        ])  # fmt: skip


def run(dist: str = "load") -> list[Result]:
    before = load()
    two = wall(2, dist)
    one = wall(1, dist)
    return [
        Result("ci profile", "-n 2 wall time", two.wall, "s", ratio=two.wall / BUDGET,
               target=1.0, higher=False, note=f"ratio: over 90 s; {two.note()}"),
        Result("ci profile", "-n 1 wall time", one.wall, "s", note=one.note()),
        Result("ci profile", "-n 2 speed-up over -n 1", one.wall / two.wall, "x",
               ratio=one.wall / two.wall, target=SPEEDUP_TARGET,
               note=f"--dist {dist}; before: {before}, after: {load()}"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="load", help="xdist distribution mode")
    ns = parser.parse_args()
    print_results(run(ns.dist))


if __name__ == "__main__":
    main()
