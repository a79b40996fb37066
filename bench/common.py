"""What every benchmark shares: the binary, the machine, a private workdir, the results.

Benchmarks are scripts, not tests: each prints ratios measured side by side in one run
on the same QEMU, because on a shared 2-core machine absolute times move with the load
while the ratio of two loops that take turns mostly doesn't.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

QEMU = os.environ.get("QMPC_QEMU", "qemu-system-x86_64")
PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    """One line of a benchmark's table.

    `value` is what was measured, in `unit`; `target` (when there is one) says what
    `ratio` must reach, and `higher` whether the ratio must be at least (True) or at
    most (False) the target.
    """

    bench: str
    name: str
    value: float
    unit: str
    ratio: float | None = None
    target: float | None = None
    higher: bool = True
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target if self.higher else self.ratio <= self.target

    def row(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        bound = ">=" if self.higher else "<="
        target = "" if self.target is None else f"{bound} {self.target:g}x"
        met = {True: "met", False: "MISSED", None: ""}[self.met]
        return [self.bench, self.name, _fmt(self.value, self.unit), ratio, target, met, self.note]


def _fmt(value: float, unit: str) -> str:
    if unit == "s" and value < 1:
        return f"{value * 1e3:.1f} ms"
    if unit in ("us", "ms"):
        return f"{value:.1f} {unit}"
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:.2f} {unit}"


HEADER = ["bench", "measure", "value", "ratio", "target", "", "note"]


def table(rows: list[list[str]]) -> str:
    """A plain-text table, as bench/README.md quotes it."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_results(results: list[Result]) -> None:
    print(table([HEADER, *(r.row() for r in results)]))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> str:
    from conformance.machine.probe import probe

    info = probe(QEMU)
    return (
        f"{os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, QEMU {info.version_text} ({info.package})"
    )


@contextlib.contextmanager
def workdir() -> Iterator[str]:
    """A private directory for the QEMUs a benchmark starts, removed afterwards."""
    path = tempfile.mkdtemp(prefix="qmpc-bench-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def best(samples: list[float]) -> float:
    return min(samples)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True)
class SuiteRun:
    """One `qmp-conformance run` as a benchmark times it."""

    wall: float  # seconds
    cpu: float  # CPU seconds of the run and every process it waited for (workers, QEMUs)
    rc: int
    stdout: str
    line: str  # pytest's result line, or the end of stderr

    def note(self) -> str:
        status = {0: "no new findings", 1: "new findings", 2: "USAGE ERROR", 3: "HARNESS ERROR"}
        return (
            f"{self.cpu:.0f} CPU s, {self.cpu / self.wall:.2f} cores busy; exit {self.rc} "
            f"({status.get(self.rc, '?')}): {self.line}"
        )


def suite_run(arguments: list[str]) -> SuiteRun:
    """Time `qmp-conformance run ARGUMENTS` on the benchmark's binary. On an idle
    2-core machine a run with two workers keeps nearly 2 cores busy; fewer means other
    load took the rest. A harness error (exit 3) or usage error (2): the time means
    nothing."""
    argv = [sys.executable, "-m", "conformance.cli", "run", "--qemu", QEMU, *arguments]
    before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=PROJECT, capture_output=True, text=True, timeout=3600, check=False
    )
    wall = time.perf_counter() - start
    cpu = _children_cpu() - before
    lines = [ln for ln in done.stdout.splitlines() if " in " in ln and "passed" in ln]
    line = lines[-1].strip("= ") if lines else done.stderr[-300:]
    return SuiteRun(wall, cpu, done.returncode, done.stdout, line)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
