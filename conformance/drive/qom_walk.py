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
reads pass unchanged) and is judged as a generated example is
(`conformance.drive.exchange.judged`): the reply against the schema and the QMP spec,
and the events. The reads of one object are pipelined (`judged_pipeline`, 8 in
flight), and no liveness probe follows each command: the next one, or the quit that
ends the walk, notices an exit, and every read has the same name and arguments' shape,
so the finding is signed the same. The harness's own monitor chardevs
(`conformance.machine.harness`) are read like any other object: qom-list and qom-get
change nothing, and the harness rule of the policy is for commands that could cut the
channel.

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

from conformance.drive.exchange import PIPELINE_DEPTH, judged, judged_pipeline
from conformance.drive.harvest import child_path
from conformance.drive.sweep_record import SweepTally, in_sample
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.oracle.failure import Failure
from conformance.oracle.qom import check_child_listed
from conformance.qmp.message import Kind, Message
from conformance.qmp.session import Reply
from conformance.spec import Schema
from strategies.safety import Unconfinable, confine

#: Failures after which the walk gives up (each carries a copy of its transcript).
MAX_FAILURES = 10
ROOT = "/"


@dataclass
class QomWalk:
    """One walk. `instance` hands out a live QEMU, restarted when the last one died (an
    `InstancePool.get`); `one_in` > 1 reads a deterministic sample of the properties
    (every object is still listed)."""

    instance: Callable[[], QemuInstance]
    schema: Schema
    one_in: int = 1
    sweep: SweepTally = field(default_factory=lambda: SweepTally("QOM properties", "qom-get"))
    listed: int = 0  # objects listed
    failures: list[Failure | QemuGone] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _stopped: int = 0

    def run(self) -> SweepTally:
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
            props = [
                (str(p.get("name")), str(p.get("type")))
                for p in listing.value
                if isinstance(p, dict)
            ]
            values = self._read(path, [name for name, _ in props])
            for name, kind in props:
                if kind.startswith("child<"):
                    found = child_path(path, name)
                    if found not in seen:
                        seen.add(found)
                        queue.append((found, True))
                    continue
                target = values.get(name)
                # A link already reached is not listed again: no loop, no repeat.
                if kind.startswith("link<") and isinstance(target, str) and target:
                    if target in seen:
                        continue
                    seen.add(target)
                    queue.append((target, False))
        # Left out in bulk, they are counted, not named (a walk that stopped early).
        stopped = f"the walk stopped after {MAX_FAILURES} failures"
        if queue:
            self.sweep.excluded[f"{len(queue)} objects not listed"] = stopped
        if self._stopped:
            self.sweep.excluded[f"{self._stopped} pairs"] = stopped
        # Pairs outside a sample are neither exercised nor excluded: total minus both
        # is the sample's gap, which the summary calls a sample.
        return self.sweep

    def _read(self, path: str, names: list[str]) -> dict[str, object]:
        """qom-get of the properties `names` of `path` (those in the sample, while the
        walk goes on), `PIPELINE_DEPTH` at a time: the values that returned, by name."""
        wanted: list[str] = []
        for name in names:
            self.sweep.total += 1
            if len(self.failures) >= MAX_FAILURES:
                self._stopped += 1
            elif in_sample(f"{path}.{name}", self.one_in):
                wanted.append(name)
        values: dict[str, object] = {}
        for start in range(0, len(wanted), PIPELINE_DEPTH):
            if len(self.failures) >= MAX_FAILURES:
                self._stopped += len(wanted) - start
                break
            batch = wanted[start : start + PIPELINE_DEPTH]
            self.sweep.exercised += len(batch)
            inst = self.instance()
            try:
                requests = [
                    (_admit(inst, "qom-get", {"path": path, "property": name}), self._id())
                    for name in batch
                ]
                replies = judged_pipeline(inst, self.schema, "qom-get", requests)
            except Unconfinable as exc:
                self.sweep.exercised -= len(batch)
                self.sweep.excluded[f"{path}: {len(batch)} properties"] = (
                    f"the host-safety policy refuses them: {exc}"
                )
                continue
            except (Failure, QemuGone) as exc:
                self.failures.append(exc)
                continue
            for name, reply in zip(batch, replies, strict=True):
                if reply.kind is Kind.RETURN and isinstance(reply.value, dict):
                    values[name] = reply.value.get("return")
        return values

    def _id(self) -> str:
        return f"qom-{next(self._ids)}"

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
        try:
            arguments_ = _admit(inst, command, arguments)
        except Unconfinable as exc:
            self.sweep.excluded[key] = f"the host-safety policy refuses it: {exc}"
            return None
        try:
            # No liveness probe: the reads of the listed object come next and notice an
            # exit, and quit ends the walk.
            return judged(inst, self.schema, command, arguments_, self._id(), check, probe=False)
        except (Failure, QemuGone) as exc:
            self.failures.append(exc)
            return None


def _admit(inst: QemuInstance, command: str, arguments: dict[str, object]) -> object:
    """`arguments` as the host-safety policy lets them run (QOM reads: unchanged)."""
    assert inst.workdir is not None
    return confine(command, arguments, str(inst.workdir))


def _listed(path: str, reply: Message) -> None:
    check_child_listed(reply, path)
