"""(5) Trace feedback: a guided fuzz run against a blind one of the same length.

Two `qmp-conformance fuzz` runs, one after the other, on the same binary, workers and
seed: blind (``--no-guide``: the trace events are recorded, to be counted, but nothing
steers by them) and guided (``--guide``, from an empty corpus). Each writes
REPORTS/fuzz-coverage.json; this prints, for each, the distinct trace events reached,
the distinct (command, event) pairs and the unique findings, with guided over blind.
Target: guided reaches at least 1.5x the blind run's pairs.

    python bench/fuzz_guided.py [--minutes 10] [--workers 2] [--seed 1]
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

PAIRS_TARGET = 1.5
RUNS = (("blind", "--no-guide"), ("guided", "--guide"))
# Setup, the end-of-run minimisation (60 s at most) and the workers' stop, past --time.
SLACK = 300.0


@dataclass(frozen=True)
class Measured:
    events: int
    pairs: int
    findings: tuple[str, ...]  # the findings directories' names
    examples: int
    exit: int


def fuzz(reports: Path, flag: str, minutes: float, workers: int, seed: int) -> Measured:
    """One fuzz run into `reports`: its coverage, findings and examples."""
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
        flag,
    ]
    done = subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=minutes * 60 + SLACK,
        check=False,
    )
    coverage_file = reports / "fuzz-coverage.json"
    if not coverage_file.exists():
        sys.exit(f"{flag}: no {coverage_file} (exit {done.returncode}):\n{done.stdout[-3000:]}")
    coverage = json.loads(coverage_file.read_text(encoding="utf-8"))
    findings = reports / "findings"
    unique = sorted(p.name for p in findings.iterdir() if p.is_dir()) if findings.exists() else []
    return Measured(
        len(coverage["events"]),
        int(coverage["command_pairs"]),
        tuple(unique),
        int(coverage["examples"]),
        done.returncode,
    )


def _ratio(guided: int, blind: int) -> float | None:
    return guided / blind if blind else None


def run(minutes: float, workers: int, seed: int) -> list[Result]:
    with workdir() as wd:
        blind, guided = (fuzz(Path(wd) / name, flag, minutes, workers, seed) for name, flag in RUNS)
    for name, m in (("blind", blind), ("guided", guided)):
        print(
            f"{name}: {m.examples} examples in {minutes:g} min, exit {m.exit}, "
            f"findings: {', '.join(m.findings) or 'none'}"
        )
    return [
        Result(
            "guided",
            "distinct (command, event) pairs",
            guided.pairs,
            "pairs",
            _ratio(guided.pairs, blind.pairs),
            PAIRS_TARGET,
            note=f"blind {blind.pairs}",
        ),
        Result(
            "guided",
            "distinct trace events",
            guided.events,
            "events",
            _ratio(guided.events, blind.events),
            note=f"blind {blind.events}",
        ),
        Result(
            "guided",
            "unique findings",
            len(guided.findings),
            "findings",
            _ratio(len(guided.findings), len(blind.findings)),
            note=f"blind {len(blind.findings)}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--seed", type=int, default=1, help="the seed of both runs")
    ns = parser.parse_args()
    print_results(run(ns.minutes, ns.workers, ns.seed))


if __name__ == "__main__":
    main()
