"""What every benchmark shares: the binary, the machine, a private workdir, the results.

Benchmarks are scripts, not tests: each prints ratios measured side by side in one run
on the same QEMU, because on a shared 2-core machine absolute times move with the load
while the ratio of two loops that take turns mostly doesn't.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
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
