"""(1) Command loop: the suite's QMP session against the raw-socket limit and qemu.qmp.

One QEMU (`-M none`) with four QMP monitors, so that every client talks to the same
main loop: the suite's `Session` (monitor 0), a minimal blocking raw-socket loop and
the two other plain loops that could carry the channel (a selector loop and pexpect, on
monitor 1), and qemu.qmp's async `QMPClient` and legacy sync client (unix-socket
monitors in the workdir). Each loop runs `query-status` N times per round, in
blocks of 250 (the loops take turns block by block), and keeps its best round. Ratios
are rates relative to the raw loop (1.0 = as fast as the raw socket): the median over
the turns of the raw block's time over the loop's block, since the load on a shared
machine moves within a round (the best rounds' ratio is in the note).

The plain loops send the bytes the suite sends, `{"execute":"query-status","id":N}`
with N counting up, so that the ratio measures the client and not the request: QEMU
reads a QMP monitor one byte per main-loop iteration (monitor/monitor.c:
`monitor_can_read` returns 1), and each byte costs a few microseconds, so the id's 7
to 11 bytes alone add about a fifth to a round trip. The raw loop with the old 28-byte
request without an id (`{"execute":"query-status"}` and CRLF) is shown for that.

    python bench/command_loop.py [-n 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import selectors
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import QEMU, Result, best, median, print_results, timed, workdir

from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.qmp.session import Session
from conformance.qmp.wirejson import dumps

#: The request of the benchmark's first versions: no id, CRLF-terminated.
REQUEST_WITHOUT_ID = b'{"execute":"query-status"}\r\n'
TRANSPORT_TARGET = 0.90  # issue 20
PIPELINE = 8
BLOCK = 250  # commands per turn: short enough that load changes hit every loop alike


def _unix_monitor(name: str) -> list[str]:
    return [
        "-chardev",
        f"socket,id={name},path={name}.sock,server=on,wait=off",
        "-mon",
        f"chardev={name},mode=control",
    ]


def requests() -> Iterator[bytes]:
    """The suite's own bytes for `query-status` with ids 1, 2, ...: one stream per loop,
    so that every loop's ids have as many digits as the suite's."""
    return (dumps({"execute": "query-status", "id": n}) for n in itertools.count(1))


def raw_loop(sock: socket.socket, n: int, reqs: Iterator[bytes]) -> None:
    """The physical limit: a blocking socket, one request, read to the end of line."""
    sock.setblocking(True)
    for request in itertools.islice(reqs, n):
        sock.sendall(request)
        data = sock.recv(65536)
        while not data.endswith(b"\n"):
            data += sock.recv(65536)


def raw_pipelined(sock: socket.socket, n: int, reqs: Iterator[bytes]) -> None:
    """The raw loop with PIPELINE requests in flight per write."""
    sock.setblocking(True)
    for _ in range(n // PIPELINE):
        sock.sendall(b"".join(itertools.islice(reqs, PIPELINE)))
        lines = 0
        while lines < PIPELINE:
            lines += sock.recv(65536).count(b"\n")


def selector_loop(sock: socket.socket, n: int, reqs: Iterator[bytes]) -> None:
    """A non-blocking socket and a selector, as an event loop would drive it."""
    sock.setblocking(False)
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        for request in itertools.islice(reqs, n):
            sock.sendall(request)
            data = b""
            while not data.endswith(b"\n"):
                sel.select(5.0)
                data += sock.recv(65536)
    sock.setblocking(True)


def pexpect_loop(sock: socket.socket, n: int, reqs: Iterator[bytes]) -> None:
    """pexpect's fdspawn on the channel, matching each reply's line end."""
    from pexpect.fdpexpect import fdspawn

    sock.setblocking(True)
    child = fdspawn(sock.fileno(), timeout=5, use_poll=True)
    for request in itertools.islice(reqs, n):
        child.send(request)
        child.expect_exact(b"\n")


def suite_loop(session: Session, n: int) -> None:
    """The suite's own path: envelope encoding, transcript, strict parsing, pairing."""
    for _ in range(n):
        session.execute("query-status")


def run(n: int = 5000, rounds: int = 3) -> list[Result]:
    from qemu.qmp import QMPClient
    from qemu.qmp.legacy import QEMUMonitorProtocol

    with workdir() as wd:
        config = LaunchConfig(
            binary=QEMU,
            profile="none",
            monitors=2,
            workdir_base=wd,
            extra_args=[*_unix_monitor("async"), *_unix_monitor("sync")],
        )
        with QemuInstance(config) as inst:
            assert inst.workdir is not None
            raw = inst._extra_sessions[0].transport._sock
            loop = asyncio.new_event_loop()
            client = QMPClient("bench")
            loop.run_until_complete(client.connect(str(inst.workdir / "async.sock")))
            legacy = QEMUMonitorProtocol(str(inst.workdir / "sync.sock"))
            legacy.connect(negotiate=True)

            async def qmp_async(count: int) -> None:
                for _ in range(count):
                    await client.execute("query-status")

            def qmp_sync(count: int) -> None:
                for _ in range(count):
                    legacy.cmd("query-status")

            streams = {name: requests() for name in ("raw", "selector", "pexpect", "pipelined")}
            without_id = itertools.repeat(REQUEST_WITHOUT_ID)
            loops: dict[str, Callable[[int], None]] = {
                "raw socket": lambda k: raw_loop(raw, k, streams["raw"]),
                "suite Session.execute": lambda k: suite_loop(inst._primary(), k),
                "selector loop": lambda k: selector_loop(raw, k, streams["selector"]),
                "pexpect fdspawn": lambda k: pexpect_loop(raw, k, streams["pexpect"]),
                "qemu.qmp QMPClient (async)": lambda k: loop.run_until_complete(qmp_async(k)),
                "qemu.qmp legacy (sync)": qmp_sync,
                f"raw socket, {PIPELINE} pipelined": lambda k: raw_pipelined(
                    raw, k, streams["pipelined"]
                ),
                "raw socket, 28-byte request without id": lambda k: raw_loop(raw, k, without_id),
            }
            for each in loops.values():
                each(200)  # warm-up: imports, caches, the monitor's buffers
            samples: dict[str, list[float]] = {name: [] for name in loops}
            blocks: dict[str, list[float]] = {name: [] for name in loops}
            block = min(BLOCK, n)
            for _ in range(rounds):
                # Each round runs every loop n times in blocks, taking turns block by
                # block, so that a change of load hits all loops alike.
                spent = dict.fromkeys(loops, 0.0)
                for _ in range(n // block):
                    for name, each in loops.items():
                        took = timed(lambda each=each: each(block))
                        spent[name] += took
                        blocks[name].append(took)
                for name in loops:
                    samples[name].append(spent[name] / (n // block * block))
            loop.run_until_complete(client.disconnect())
            loop.close()
            legacy.close()
    limit = best(samples["raw socket"])
    results = []
    for name, times in samples.items():
        per = best(times)
        target = TRANSPORT_TARGET if name == "suite Session.execute" else None
        results.append(
            Result(
                "command loop",
                name,
                per * 1e6,
                "us",
                ratio=paired_ratio(blocks["raw socket"], blocks[name]),
                target=target,
                note=f"{1 / per:,.0f} commands/s; best rounds' ratio {limit / per:.2f}x",
            )
        )
    return results


def paired_ratio(limit: list[float], loop: list[float]) -> float:
    """The median, over the turns, of the raw block's time over the loop's block of the
    same turn. On a shared machine the load moves within a round: blocks a second
    apart share it, where whole rounds summed don't."""
    return median([a / b for a, b in zip(limit, loop, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="commands per round (>= 5000)")
    parser.add_argument("--rounds", type=int, default=3)
    ns = parser.parse_args()
    print_results(run(ns.n, ns.rounds))


if __name__ == "__main__":
    main()
