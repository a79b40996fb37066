"""(5) Trace feedback: a guided fuzz run against a blind one of the same length.

Two `qmp-conformance fuzz` runs on the same binary, workers and seed: blind
(``--no-guide``: the trace events are recorded, to be counted, but nothing steers by
them) and guided (``--guide``, from an empty corpus), both with ``--baseline auto`` (a
finding the baseline knows isn't shrunk again, as in a real run). Each writes
REPORTS/fuzz-coverage.json; this prints, for each, the distinct trace events reached,
the distinct (command, event) pairs and the unique findings, with guided over blind.
Target: guided reaches at least 1.5x the blind run's pairs.

By default the two runs go side by side, at the same time, one worker each (the fair
comparison on a shared machine: a change of load hits both alike, where one run after
the other lets the other agents' load favour either); ``--one-after-the-other`` runs
them in turn, with ``--workers`` each (default: one per CPU).

    python bench/fuzz_guided.py [--minutes 10] [--seed 1] [--one-after-the-other [--workers 2]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import QEMU, Result, print_results, workdir

from conformance.feedback.credit import beyond_dispatch

PAIRS_TARGET = 1.5
RUNS = (("blind", "--no-guide"), ("guided", "--guide"))
# Setup, the end-of-run minimisation (60 s at most) and the workers' stop, past --time.
SLACK = 300.0


@dataclass(frozen=True)
class Measured:
    events: int
    pairs: int
    implementation: int  # pairs beyond the command's own dispatch and QAPI's visitors
    findings: tuple[str, ...]  # the findings directories' names
    examples: int
    exit: int


def start(
    reports: Path, flag: str, minutes: float, workers: int, seed: int
) -> subprocess.Popen[str]:
    """One fuzz run into `reports`, started."""
    argv = [
        str(Path(sys.executable).parent / "qmp-conformance"),
        "fuzz",
        "--qemu",
        QEMU,
        "--time",
        f"{minutes * 60:g}s",
        "--workers",
        str(workers),
        "--seed",
        str(seed),
        "--reports",
        str(reports),
        "--baseline",
        "auto",
        flag,
    ]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str], reports: Path, flag: str, minutes: float) -> Measured:
    """A started run waited for: its coverage, findings and examples."""
    try:
        out, _ = process.communicate(timeout=minutes * 60 + SLACK)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    (reports / "fuzz.log").write_text(out, encoding="utf-8")
    coverage_file = reports / "fuzz-coverage.json"
    if not coverage_file.exists():
        sys.exit(f"{flag}: no {coverage_file} (exit {process.returncode}):\n{out[-3000:]}")
    coverage = json.loads(coverage_file.read_text(encoding="utf-8"))
    findings = reports / "findings"
    unique = sorted(p.name for p in findings.iterdir() if p.is_dir()) if findings.exists() else []
    pairs = [(str(c), str(e)) for c, e in coverage["pairs"] if not str(c).startswith("(")]
    return Measured(
        len(coverage["events"]),
        int(coverage["command_pairs"]),
        sum(map(beyond_dispatch, pairs)),
        tuple(unique),
        int(coverage["examples"]),
        process.returncode,
    )


def _ratio(guided: int, blind: int) -> float | None:
    return guided / blind if blind else None


def run(
    minutes: float, workers: int, seed: int, *, side_by_side: bool = True, keep: str | None = None
) -> list[Result]:
    with workdir() as scratch:
        wd = keep or scratch
        if side_by_side:
            started = [(start(Path(wd) / n, f, minutes, 1, seed), n, f) for n, f in RUNS]
            blind, guided = (finish(p, Path(wd) / n, f, minutes) for p, n, f in started)
        else:
            blind, guided = (
                finish(start(Path(wd) / n, f, minutes, workers, seed), Path(wd) / n, f, minutes)
                for n, f in RUNS
            )
    how = "side by side, 1 worker each" if side_by_side else f"in turn, {workers} workers each"
    print(f"blind and guided {how}, seed {seed}")
    for name, m in (("blind", blind), ("guided", guided)):
        print(
            f"{name}: {m.examples} examples in {minutes:g} min, exit {m.exit}, "
            f"findings: {', '.join(m.findings) or 'none'}"
        )
    rows = (
        ("distinct (command, event) pairs", "pairs", guided.pairs, blind.pairs, PAIRS_TARGET),
        (
            "pairs beyond dispatch and visitors",
            "pairs",
            guided.implementation,
            blind.implementation,
            None,
        ),
        ("distinct trace events", "events", guided.events, blind.events, None),
        ("unique findings", "findings", len(guided.findings), len(blind.findings), None),
    )
    return [
        Result("guided", what, g, unit, _ratio(g, b), target, note=f"blind {b}")
        for what, unit, g, b, target in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each run")
    parser.add_argument(
        "--one-after-the-other",
        action="store_true",
        help="run blind then guided, with --workers each (default: side by side, 1 worker each)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes of each run in turn"
    )
    parser.add_argument("--seed", type=int, default=1, help="the seed of both runs")
    parser.add_argument("--reports", help="keep both runs' reports here (blind/, guided/)")
    ns = parser.parse_args()
    print_results(
        run(
            ns.minutes,
            ns.workers,
            ns.seed,
            side_by_side=not ns.one_after_the_other,
            keep=ns.reports,
        )
    )


if __name__ == "__main__":
    main()
