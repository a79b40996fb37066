"""(7) The README run: its wall time, what the sweeps add to it, and the serial run it replaced.

Three `qmp-conformance run --baseline auto` runs of the full profile (the README's
`tox -e conformance`) on one binary, each with a fresh reports directory (a cold schema
and harvest cache) and `--minimise-budget=0` (with the packaged baseline only a new
finding would be minimised):

- **default**: as the README runs it: a worker per core, a hang or a known finding
  not shrunk;
- **serial, shrinking all** (`-- -n 0 --always-shrink`): the run as it was before
  issue 20, one process, every failure shrunk, known or not;
- **without the sweeps**: the default run with issue 19's tests deselected (the
  harvest sweeps, the covering phase, every machine type, the QOM walks, preconfig),
  so default minus this is what they add to the README run (issue 19: at most 2 min
  on 2 cores).

Findings must agree: for each run, the baseline signatures its findings stand for
(`conformance.findings.signature.covers`: an unshrunk crash's wider argument shape
stands for the known one) and its new findings. The default run must stand for every
baseline signature the serial one does (an unshrunk example may stand for one more: a
shrunk one ends at the first) and find the same new ones.

    python bench/full_profile.py [--only default,serial,unswept] [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import QEMU, Result, SuiteRun, load, print_results, suite_run

from conformance.findings.signature import covers

README_TARGET = 300.0  # issue 20: at most 5 minutes on 2 cores
SWEEP_BUDGET = 120.0  # issue 19: the sweeps add at most 2 minutes
#: Issue 19's tests, by function name (the -k expression that leaves them out).
SWEPT = "test_sweep or test_covering or test_machine or test_qom_walk or test_preconfig"

RUNS = {
    "default": [],
    "serial": ["-n", "0", "--always-shrink"],
    "unswept": ["-k", f"not ({SWEPT})"],
}


@dataclass
class Run:
    run: SuiteRun
    known: frozenset[str]  # baseline signatures the run's findings stand for
    new: frozenset[str]

    def note(self) -> str:
        return f"{self.run.note()}; {len(self.known)} known, {len(self.new)} new"


def one(name: str, select: str | None) -> Run:
    with tempfile.TemporaryDirectory(prefix="qmpc-bench-full-") as reports:
        extra = list(RUNS[name])
        if select:
            if "-k" in extra:
                extra[extra.index("-k") + 1] = f"({select}) and {extra[extra.index('-k') + 1]}"
            else:
                extra += ["-k", select]
        done = suite_run(
            ["--reports", reports, "--baseline", "auto", "--", "-q", "--minimise-budget=0", *extra]
        )
        known, new = _findings(Path(reports) / "findings" / "index.json", done.stdout)
    return Run(done, known, new)


def _findings(index: Path, stdout: str) -> tuple[frozenset[str], frozenset[str]]:
    if not index.is_file():
        return frozenset(), frozenset()
    data = json.loads(index.read_text(encoding="utf-8"))
    keys = [f["signature"] for f in data["findings"] if f["status"] == "known"]
    new = frozenset(f["signature"] for f in data["findings"] if f["status"] != "known")
    baseline = _baseline_keys(stdout)
    known = frozenset(k for k in baseline if any(covers(k, s) for s in keys))
    return known, new


def _baseline_keys(stdout: str) -> list[str]:
    # The run names the packaged baseline it chose; its section of the binary's target.
    from conformance.findings.baseline import load as load_baseline
    from conformance.machine.probe import probe

    for line in stdout.splitlines():
        if line.startswith("baseline: "):
            path = line.split()[1]
            return list(load_baseline(path, probe(QEMU).target).findings)
    return []


def run(only: tuple[str, ...] = tuple(RUNS), select: str | None = None) -> list[Result]:
    before = load()
    runs = {name: one(name, select) for name in only}
    results: list[Result] = []
    default, serial, unswept = (runs.get(n) for n in ("default", "serial", "unswept"))
    if default is not None:
        results.append(Result("readme run", "default wall time", default.run.wall, "s",
                              ratio=default.run.wall / README_TARGET, target=1.0, higher=False,
                              note=f"ratio: over 5 min; {default.note()}"))  # fmt: skip
    if serial is not None:
        results.append(Result("readme run", "serial, all shrunk (before)", serial.run.wall, "s",
                              note=serial.note()))  # fmt: skip
    if default is not None and serial is not None:
        # An unshrunk failure may stand for another known signature than its shrunk
        # form: the default run must find all the serial one found, and no new one.
        same = serial.known <= default.known and default.new == serial.new
        differ = (
            f"; known only in the default run: {sorted(default.known - serial.known)}"
            if same and default.known != serial.known
            else ""
            if same
            else f"; FINDINGS DIFFER: known only serial {sorted(serial.known - default.known)}, "
            f"new default {sorted(default.new)}, new serial {sorted(serial.new)}"
        )
        speedup = serial.run.wall / default.run.wall
        found = f"all the serial run's findings found: {same}{differ}"
        results.append(Result("readme run", "speed-up over the serial run", speedup, "x",
                              ratio=speedup, note=found))  # fmt: skip
    if unswept is not None:
        results.append(Result("readme run", "without issue 19's tests", unswept.run.wall, "s",
                              note=unswept.note()))  # fmt: skip
    if default is not None and unswept is not None:
        added = default.run.wall - unswept.run.wall
        results.append(Result("readme run", "the sweeps add", added, "s",
                              ratio=added / SWEEP_BUDGET, target=1.0, higher=False,
                              note=f"ratio: over 2 min; -k '{SWEPT}'; before: {before}, "
                              f"after: {load()}"))  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(RUNS), help="runs, comma-separated")
    parser.add_argument("-k", dest="select", help="a pytest -k expression every run adds")
    ns = parser.parse_args()
    print_results(run(tuple(ns.only.split(",")), ns.select))


if __name__ == "__main__":
    main()
