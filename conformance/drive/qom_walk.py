"""A full walk of a QEMU's QOM tree: qom-list of every object, qom-get of every property.

QEMU's qom-test (tests/qtest/qom-test.c) walks `/machine` of every machine type: it
lists each object, descends into child<> properties, lists a link<>'s target without
descending (so a link back up the tree can't loop), and reads every other property,
skipping none by name ("qom-get may fail but should not, e.g., segfault"). This walk
starts at the root `/` instead (so `/objects`, `/chardevs` and `/backend` are read
too), visits each object once by its canonical path (a child<> property's path is its
child's canonical path), follows a link<> to the path its qom-get returns when that
object wasn't reached yet, and reads child<> and link<> properties too (their value is
a path: a read like any other).

Every command goes through the host-safety policy (`strategies.safety.confine`: QOM
reads pass unchanged) and `conformance.drive.exchange.judged`, as a generated example
does: the reply against the schema and the QMP spec, a liveness probe, the events. The
harness's own monitor chardevs (`conformance.machine.harness`) are read like any other
object: qom-list and qom-get change nothing, and the harness rule of the policy is for
commands that could cut the channel.

A crash or hang is a finding: the walk records it, and the next command gets a fresh
QEMU (`InstancePool.get`), so one crash doesn't hide the rest of the tree. The walk
stops after `MAX_FAILURES` failures: a check that fails on every reply would otherwise
record a finding per property.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from conformance.drive.exchange import judged
from conformance.drive.sweep import Sweep, in_sample, sample_reason
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.oracle.failure import Failure
from conformance.oracle.qom import check_child_listed
from conformance.qmp.message import Message
from conformance.qmp.session import Reply
from conformance.spec import Schema
from strategies.safety import Unconfinable, confine

#: Failures after which the walk gives up (each carries a copy of its transcript).
MAX_FAILURES = 10
ROOT = "/"


def child_path(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"


@dataclass
class QomWalk:
    """One walk. `instance` hands out a live QEMU, restarted when the last one died (an
    `InstancePool.get`); `one_in` > 1 reads a deterministic sample of the properties
    (every object is still listed)."""

    instance: Callable[[], QemuInstance]
    schema: Schema
    one_in: int = 1
    sweep: Sweep = field(default_factory=lambda: Sweep("qom-get", "qom-get"))
    listed: int = 0  # objects listed
    failures: list[Failure | QemuGone] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def run(self) -> Sweep:
        """Walk the tree; the sweep counts (path, property) pairs, named "path.property"
        as qom-test's messages name them."""
        queue: deque[tuple[str, bool]] = deque([(ROOT, True)])
        seen = {ROOT}
        while queue and len(self.failures) < MAX_FAILURES:
            path, is_child = queue.popleft()
            listing = self._send(
                "qom-list", {"path": path}, path, partial(_listed, path) if is_child else None
            )
            if listing is None:
                continue
            self.listed += 1
            if not listing.ok or not isinstance(listing.value, list):
                continue  # a link's target may be gone (qom-test asserts nothing)
            for prop in listing.value:
                if not isinstance(prop, dict):
                    continue
                name, kind = str(prop.get("name")), str(prop.get("type"))
                target = self._read(path, name, kind)
                if kind.startswith("child<"):
                    found = child_path(path, name)
                    if found not in seen:
                        seen.add(found)
                        queue.append((found, True))
                elif kind.startswith("link<") and isinstance(target, str) and target:
                    # A link already reached is not listed again: no loop, no repeat.
                    if target in seen:
                        continue
                    seen.add(target)
                    queue.append((target, False))
        if queue:
            self.sweep.excluded[f"{len(queue)} objects not listed"] = (
                f"the walk stopped after {MAX_FAILURES} failures"
            )
        return self.sweep

    def _read(self, path: str, name: str, kind: str) -> object:
        """qom-get of one property (in the sample, and while the walk goes on): its
        value, or None."""
        pair = f"{path}.{name}"
        self.sweep.total += 1
        if len(self.failures) >= MAX_FAILURES:
            self.sweep.excluded[pair] = f"the walk stopped after {MAX_FAILURES} failures"
            return None
        if not in_sample(pair, self.one_in):
            self.sweep.excluded[pair] = sample_reason(self.one_in)
            return None
        reply = self._send("qom-get", {"path": path, "property": name}, pair)
        if pair not in self.sweep.excluded:
            self.sweep.exercised += 1
        return reply.value if reply is not None and reply.ok else None

    def _send(
        self,
        command: str,
        arguments: dict[str, object],
        key: str,
        check: Callable[[Message], None] | None = None,
    ) -> Reply | None:
        """One judged exchange; None when it failed (the failure is recorded) or the
        policy refused it (`key` excluded from the sweep with why)."""
        inst = self.instance()
        assert inst.workdir is not None
        try:
            arguments_ = confine(command, arguments, str(inst.workdir))
        except Unconfinable as exc:
            self.sweep.excluded[key] = f"the host-safety policy refuses it: {exc}"
            return None
        sent_id = f"qom-{next(self._ids)}"
        try:
            # No liveness probe between reads: the next read has the same shape, so it
            # signs an exit after this reply as this one would; quit ends the walk.
            return judged(inst, self.schema, command, arguments_, sent_id, check, probe=False)
        except (Failure, QemuGone) as exc:
            self.failures.append(exc)
            return None


def _listed(path: str, reply: Message) -> None:
    check_child_listed(reply, path)
