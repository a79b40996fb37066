"""Every documented example: replayed and compared, or skipped with the reason it can't be.

Passed = the binary matches the example; failed = a doc mismatch (with the diff);
skipped = not replayable (with the reason).
"""

from __future__ import annotations

import pytest

from conformance.docs.model import DocEntry, DocExample, DocSet
from conformance.docs.replay import (
    plan,
)
from conformance.drive.doc_replay import NotReplayable, replay
from conformance.drive.report import label
from conformance.machine.pool import InstancePool
from conformance.machine.reuse import unchanged
from conformance.oracle.failure import qapi
from conformance.runcontext import RunContext
from conformance.spec import Schema


def test_doc_example(
    doc_example: tuple[DocEntry, int, DocExample],
    doc_set: DocSet,
    schema: Schema,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
) -> None:
    entry, index, example = doc_example
    where = f"{entry.source.rsplit(':', 1)[0]}:{example.line}"
    citation = qapi(f"{doc_set.format}: {entry.name}, example {index + 1} ({where})")
    label(
        epic="documentation",
        feature=entry.name,
        story=f"example {index + 1}",
        citation=str(citation),
    )
    # On the block profile when the run has one: examples name devices and nodes.
    how = plan(entry, example, schema, qmp_run.block_profile or qmp_run.profiles[0])
    if not how.replayable:
        pytest.skip(f"not replayable: {how.reason}")
    # Every replay may change the machine (a tray opened, a bitmap added), so each
    # one has a QEMU of its own, as the profile's argv made it; in the CI profile, one
    # whose replay only read or was refused serves the next test.
    inst = qemu_pool.take(how.profile)
    mark = len(inst.transcript)
    try:
        replay(entry, example, how, inst, citation)
    except NotReplayable as exc:
        pytest.skip(str(exc))
    finally:
        if qmp_run.reuse and not how.setup and unchanged(inst.transcript.records[mark:]):
            qemu_pool.give_back(inst)
        else:
            inst.close()
