"""(2) Fuzz throughput: examples per second of the fuzz worker's two engines, side by side.

Two fuzz workers (`conformance.fuzz.worker.Worker`) run in this process on the same
binary, one per engine (`--engine hypothesis`, the @given chunks of 20 examples, and
`--engine compiled`, the generators compiled from the schema, 100 examples per chunk
pipelined in batches of 7 before one liveness probe). They take turns chunk by chunk
over the same chunk positions (commands spread over the schema, valid and malformed),
so that a change of the machine's load hits both alike. Every example is generated,
confined by the host-safety policy, sent, judged against the schema and followed by a
liveness probe and the event checks (a batch's probe after its last example), and a
failure is shrunk and replayed as in `qmp-conformance fuzz`. The ratio is the
compiled engine's rate over the Hypothesis engine's; the raw loop
(bench/command_loop.py) runs on the same binary before and after, for scale.

With `--cli SECONDS`, it then runs `qmp-conformance fuzz --workers 1` once per engine,
both at the same time on the same binary and seed, and compares what their summaries
count: every example (state-machine steps included) and the argument examples alone.
With `--against REF` too, the fuzz CLI of a checkout of REF (a temporary git worktree,
imported through PYTHONPATH; its own engine, default options) and this checkout's run
at the same time the same way: issue 20's "5x today's examples per second" measured
against the code it was filed on (8b24b64), not against this checkout's old engine,
which now pays for the trace recording both engines share.

    python bench/fuzz_throughput.py [--commands 40] [--examples 20] [--cli 60] [--against 8b24b64]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from command_loop import raw_loop, requests
from common import PROJECT, QEMU, Result, print_results, timed, workdir

from conformance.fuzz import worker
from conformance.fuzz.run import fuzz_commands
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.spec import schema_from_reply

SPEED_UP_TARGET = 5.0
SEED = 20
#: main before issue 20's changes: "today's" fuzzer of its throughput target.
ISSUE_20_BASE = "8b24b64"


def raw_rate(wd: str, n: int = 2000) -> float:
    """Commands per second of the raw loop on a fresh `-M none` QEMU of the binary."""
    with QemuInstance(LaunchConfig(binary=QEMU, profile="none", monitors=2, workdir_base=wd)) as q:
        sock = q._extra_sessions[0].transport._sock
        reqs = requests()  # the suite's own bytes, as the command loop sends them
        raw_loop(sock, 200, reqs)
        return n / min(timed(lambda: raw_loop(sock, n, reqs)) for _ in range(3))


class _Outbox:
    """What a worker reports, kept: the examples its chunks ran, its findings."""

    def __init__(self) -> None:
        self.examples = 0
        self.findings: list[str] = []
        self.errors: list[str] = []

    def put(self, note: worker.Note) -> None:
        if isinstance(note, worker.Chunk):
            self.examples += note.examples
        elif isinstance(note, worker.Found):
            self.findings.append(str(note.finding["signature"]))
        elif isinstance(note, worker.HarnessError):
            self.errors.append(note.summary)


def _worker(engine: str, wd: str, commands: tuple[str, ...], box: _Outbox) -> worker.Worker:
    config = worker.WorkerConfig(0, 1, QEMU, SEED, commands, f"{wd}/{engine}", engine=engine)
    fuzzer = worker.Worker(config, threading.Event(), box)  # type: ignore[arg-type]
    fuzzer.prepare()
    return fuzzer


def positions(commands: int, count: int) -> list[int]:
    """`count` chunk positions per mode, spread evenly over the commands."""
    step = max(1, commands // count)
    chosen = list(range(0, commands, step))[:count]
    return [*chosen, *(commands + p for p in chosen)]


def run(count: int = 40, _examples: int = 20) -> list[Result]:
    with workdir() as wd:
        before = raw_rate(wd)
        with QemuInstance(LaunchConfig(binary=QEMU, profile="none", workdir_base=wd)) as inst:
            schema = schema_from_reply(inst.execute("query-qmp-schema").value)
        commands = fuzz_commands(schema, SEED)
        boxes = {engine: _Outbox() for engine in worker.ENGINES}
        fuzzers = {e: _worker(e, wd, commands, boxes[e]) for e in worker.ENGINES}
        spent = dict.fromkeys(worker.ENGINES, 0.0)
        try:
            for position in positions(len(commands), count):
                for engine, fuzzer in fuzzers.items():
                    start = time.perf_counter()
                    try:
                        fuzzer.argument_chunk(position)
                    except Exception as exc:  # a harness error: counted, as the worker does
                        boxes[engine].errors.append(f"{type(exc).__name__}: {exc}")
                    spent[engine] += time.perf_counter() - start
        finally:
            for fuzzer in fuzzers.values():
                fuzzer.close()
        after = raw_rate(wd)
    limit = max(before, after)
    rates = {e: boxes[e].examples / spent[e] for e in worker.ENGINES}
    results = []
    for engine in ("hypothesis", "compiled"):
        box = boxes[engine]
        note = (
            f"{len(positions(len(commands), count))} chunks, {box.examples} examples in "
            f"{spent[engine]:.1f}s, {len(box.findings)} findings, "
            f"{len(box.errors)} harness errors; raw {limit:,.0f} commands/s"
        )
        compiled = engine == "compiled"
        results.append(
            Result(
                "fuzz",
                f"examples/s, {engine} engine" + (" over hypothesis" if compiled else " over raw"),
                rates[engine],
                "/s",
                rates[engine] / rates["hypothesis"] if compiled else rates[engine] / limit,
                SPEED_UP_TARGET if compiled else None,
                note=note,
            )
        )
    return results


_SUMMARY = re.compile(r"^fuzz ended \(.*\) after (?P<m>\d+):(?P<s>\d+): (?P<n>\d+) examples", re.M)
_STEPS = re.compile(r"(\d+) steps")


@dataclass(frozen=True)
class Contestant:
    """One `qmp-conformance fuzz` of the CLI comparison: its label and how it is run."""

    label: str
    options: tuple[str, ...] = ()
    pythonpath: str | None = None  # a checkout whose `conformance` is imported instead


@contextlib.contextmanager
def checkout(ref: str) -> Iterator[str]:
    """A detached worktree of this repository at `ref`, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="qmpc-ref-") as parent:
        path = f"{parent}/tree"
        git = ["git", "-C", str(PROJECT)]
        subprocess.run(
            [*git, "worktree", "add", "--detach", path, ref],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield path
        finally:
            subprocess.run(
                [*git, "worktree", "remove", "--force", path],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def _fuzz_rates(seconds: int, contestants: list[Contestant]) -> dict[str, tuple[float, float]]:
    """Every example and the argument examples per second of each contestant, all run at
    once with one worker each on the same binary and seed, as their summaries count."""
    with workdir() as wd:
        procs = {}
        for c in contestants:
            command = [sys.executable, "-m", "conformance.cli", "fuzz", "--qemu", QEMU]
            command += ["--time", f"{seconds}s", "--workers", "1", "--seed", str(SEED)]
            command += [*c.options, "--reports", f"{wd}/{c.label}", "--baseline", "auto"]
            env = {**os.environ, "TMPDIR": wd}
            if c.pythonpath is not None:
                env["PYTHONPATH"] = c.pythonpath
            # `python -m` puts the working directory first on sys.path, ahead of
            # PYTHONPATH: from the project root every contestant would import this checkout.
            procs[c.label] = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                cwd=wd,
            )
        outs = {label: p.communicate(timeout=seconds + 300)[0] for label, p in procs.items()}
    rates: dict[str, tuple[float, float]] = {}
    for label, out in outs.items():
        found = _SUMMARY.search(out)
        if found is None:
            raise RuntimeError(f"fuzz ({label}) printed no summary:\n{out}")
        elapsed = int(found["m"]) * 60 + int(found["s"])
        steps = sum(int(n) for n in _STEPS.findall(out[found.start() :].splitlines()[0]))
        examples = int(found["n"])
        rates[label] = (examples / elapsed, (examples - steps) / elapsed)
    return rates


def _rate_rows(
    bench: str, rates: dict[str, tuple[float, float]], old: str, new: str, note: str
) -> list[Result]:
    results = []
    for index, what in ((0, "every example"), (1, "argument examples")):
        before, after = rates[old][index], rates[new][index]
        results.append(
            Result(
                bench,
                f"{what}/s, {new} over {old}",
                after,
                "/s",
                after / before if before else None,
                SPEED_UP_TARGET,
                note=f"{note}; {old} {before:.1f}/s",
            )
        )
    return results


def cli_run(seconds: int) -> list[Result]:
    """Both engines' `qmp-conformance fuzz` at once, one worker each."""
    engines = [Contestant(e, ("--engine", e)) for e in ("hypothesis", "compiled")]
    rates = _fuzz_rates(seconds, engines)
    note = f"fuzz --workers 1 --time {seconds}s, both at once"
    return _rate_rows("fuzz cli", rates, "hypothesis", "compiled", note)


def against_run(seconds: int, ref: str) -> list[Result]:
    """`qmp-conformance fuzz` of the checkout at `ref` (the code issue 20 measured) and of
    this one (its default engine), at once, one worker each."""
    with checkout(ref) as tree:
        rates = _fuzz_rates(seconds, [Contestant(ref, (), tree), Contestant("now")])
    note = f"fuzz --workers 1 --time {seconds}s, both at once"
    return _rate_rows("fuzz vs ref", rates, ref, "now", note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=40, help="commands sampled per mode")
    parser.add_argument("--examples", type=int, default=20, help="unused: kept for run_all")
    parser.add_argument("--cli", type=int, default=0, help="also both fuzz CLIs for N seconds")
    parser.add_argument(
        "--against",
        metavar="REF",
        help=f"with --cli: REF's fuzz CLI against this one (issue 20: {ISSUE_20_BASE})",
    )
    ns = parser.parse_args()
    results = run(ns.commands, ns.examples)
    if ns.cli:
        results += cli_run(ns.cli)
        if ns.against:
            results += against_run(ns.cli, ns.against)
    print_results(results)


if __name__ == "__main__":
    main()
