"""(3) Cold start, restart after a crash, and their ratio.

- raw cold start: `subprocess.Popen` of the same command line the suite uses (same
  machine profile, sandbox and QMP channel on a socketpair), read the greeting, send
  `qmp_capabilities`, read its reply: the least a harness can do.
- suite cold start: `QemuInstance.start()` (workdir, process group, death signal,
  stderr reader, greeting, negotiation).
- restart after a crash: a live pooled instance is killed with SIGSEGV; the clock runs
  from the signal through the next command's failure (`QemuGone`: EOF, the exit
  classified, stderr read to its end) to a fresh negotiated instance from the pool.

Samples alternate (raw, suite, restart, raw, ...) per profile; medians are reported.

    python bench/startup.py [--samples 15]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import QEMU, Result, median, print_results, workdir

from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.probe import SANDBOX_ARG, probe
from conformance.machine.profiles import BASE_ARGS, profile

RESTART_TARGET = 1.2
PROFILES = ("none", "q35")


def raw_start(name: str, wd: str) -> float:
    """Seconds from spawn to a negotiated session, with nothing but Popen and a socket."""
    info = probe(QEMU)
    ours, theirs = socket.socketpair()
    argv = [info.path, *BASE_ARGS, *profile(name).args]
    if info.sandbox:
        argv += ["-sandbox", SANDBOX_ARG]
    argv += ["-chardev", f"socket,id=qmp,fd={theirs.fileno()}", "-mon", "chardev=qmp,mode=control"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        pass_fds=[theirs.fileno()],
        cwd=wd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    theirs.close()
    try:
        reader = ours.makefile("rb")
        reader.readline()  # the greeting
        ours.sendall(b'{"execute":"qmp_capabilities"}\r\n')
        reader.readline()
        elapsed = time.perf_counter() - start
        ours.sendall(b'{"execute":"quit"}\r\n')
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        ours.close()
    return elapsed


def suite_start(name: str, wd: str) -> float:
    inst = QemuInstance(LaunchConfig(binary=QEMU, profile=name, workdir_base=wd))
    start = time.perf_counter()
    inst.start()
    elapsed = time.perf_counter() - start
    inst.close()
    return elapsed


def restart(pool: InstancePool, name: str) -> float:
    inst = pool.get(name)
    assert inst.pid is not None
    start = time.perf_counter()
    os.kill(inst.pid, signal.SIGSEGV)
    with contextlib.suppress(QemuGone):  # SIGSEGV's default action: it can't answer
        inst.execute("query-status")
    pool.get(name)
    return time.perf_counter() - start


def run(samples: int = 15) -> list[Result]:
    results: list[Result] = []
    with workdir() as wd:
        pool = InstancePool(lambda p: LaunchConfig(binary=QEMU, profile=p, workdir_base=wd))
        try:
            for name in PROFILES:
                raw_start(name, wd)  # warm-up: page cache, probe
                times: dict[str, list[float]] = {"raw": [], "suite": [], "restart": []}
                for _ in range(samples):
                    times["raw"].append(raw_start(name, wd))
                    times["suite"].append(suite_start(name, wd))
                    times["restart"].append(restart(pool, name))
                raw, cold, again = (median(times[k]) for k in ("raw", "suite", "restart"))
                bench = f"start -M {name}"
                results += [
                    Result(
                        bench, "raw cold start", raw, "s", note="Popen + greeting + negotiation"
                    ),
                    Result(
                        bench,
                        "suite cold start",
                        cold,
                        "s",
                        ratio=cold / raw,
                        note="ratio: over the raw start",
                    ),
                    Result(
                        bench,
                        "restart after a crash",
                        again,
                        "s",
                        ratio=again / cold,
                        target=RESTART_TARGET,
                        higher=False,
                        note="ratio: over the suite's cold start",
                    ),
                ]
        finally:
            pool.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    ns = parser.parse_args()
    print_results(run(ns.samples))


if __name__ == "__main__":
    main()
