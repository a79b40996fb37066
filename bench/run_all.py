"""Run every benchmark and print one table: `tox -e bench` runs this.

    python bench/run_all.py [--quick] [--skip-ci] [--dist load] [--full-profile]

`--quick` shortens every benchmark (for trying the scripts, not for figures);
`--skip-ci` leaves out the CI-profile runs (about four minutes on 2 cores);
`--full-profile` adds the three full-profile runs of `full_profile.py` (the README
run, the serial run it replaced, the run without issue 19's tests: about half an hour
on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ci_profile
import command_loop
import doc_parsers
import full_profile
import fuzz_throughput
import startup
import sweeps
from common import HEADER, QEMU, Result, load, machine, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, rough figures")
    parser.add_argument("--skip-ci", action="store_true", help="leave out the CI-profile runs")
    parser.add_argument("--dist", default="load", help="xdist mode for the CI-profile runs")
    parser.add_argument("--full-profile", action="store_true", help="add the full-profile runs (7)")
    ns = parser.parse_args()
    quick = ns.quick
    print(f"machine: {machine()}")
    print(f"binary: {QEMU}; command: python bench/run_all.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"start: {time.strftime('%Y-%m-%d %H:%M:%S')}, {load()}", flush=True)
    steps = [
        ("(1) command loop", lambda: command_loop.run(1000 if quick else 5000, 3)),
        (
            "(2) fuzz throughput",
            lambda: [
                *fuzz_throughput.run(8 if quick else 40, 20),
                *fuzz_throughput.cli_run(20 if quick else 60),
            ],
        ),
        ("(3) cold start and restart", lambda: startup.run(5 if quick else 15)),
        ("(5) doc parsers", doc_parsers.run),
        ("(6) sweeps", lambda: sweeps.run(1 if quick else 2)),
    ]
    if not ns.skip_ci:
        steps.append(("(4) ci profile", lambda: ci_profile.run(ns.dist)))
    if ns.full_profile:
        steps.append(("(7) the README run", full_profile.run))
    results: list[Result] = []
    for name, step in steps:
        print(f"{name}: running ({load()})", flush=True)
        found = step()
        results += found
        print(table([HEADER, *(r.row() for r in found)]), flush=True)
    print(f"\nend: {time.strftime('%Y-%m-%d %H:%M:%S')}, {load()}")
    print(table([HEADER, *(r.row() for r in results)]))
    missed = [r for r in results if r.met is False]
    if missed:
        print(f"targets missed: {', '.join(f'{r.bench}: {r.name}' for r in missed)}")


if __name__ == "__main__":
    main()
