"""The fuzz worker's compiled engine on the real binary: a batch that crashes QEMU is
re-sent one by one, the culprit shrunk and replayed on a fresh QEMU; the per-example
point sees every example; a known signature is reported without shrinking."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from conformance.feedback.corpus import Entry
from conformance.findings.reproducer import Reproducer
from conformance.fuzz import worker
from conformance.machine.trace_events import trace_events
from conformance.spec import Schema
from strategies.compiled import Compiled, compiled_for
from strategies.policy import GenerationPolicy
from strategies.pools import Pools

pytestmark = pytest.mark.qemu

# Both 7.2 and 10.0.2 abort on blockdev-reopen of an empty list (both baselines hold it).
REOPEN_CRASH = "crash | blockdev-reopen | block.c:N: bdrv_reopen_multiple: Assertion"


class Box:
    def __init__(self) -> None:
        self.notes: list[worker.Note] = []

    def put(self, note: worker.Note) -> None:
        self.notes.append(note)

    def found(self) -> list[dict[str, object]]:
        return [n.finding for n in self.notes if isinstance(n, worker.Found)]


def compiled_worker(
    binary: str, tmp_path: Path, box: Box, known: frozenset[str] = frozenset()
) -> worker.Worker:
    config = worker.WorkerConfig(
        0, 1, binary, 3, ("blockdev-reopen",), str(tmp_path / "work"), known=known
    )
    fuzzer = worker.Worker(config, threading.Event(), box)  # type: ignore[arg-type]
    fuzzer.prepare()
    return fuzzer


def test_a_crash_is_signed_by_its_example_shrunk_and_replayed(
    qemu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Box()
    fuzzer = compiled_worker(qemu_binary, tmp_path, box)
    seen: list[tuple[str, object]] = []
    monkeypatch.setattr(
        fuzzer, "after_example", lambda inst, command, arguments: seen.append((command, arguments))
    )
    try:
        fuzzer.compiled_chunk(0)  # position 0: valid arguments of blockdev-reopen
    finally:
        fuzzer.close()
    (finding,) = box.found()
    assert str(finding["signature"]).startswith(REOPEN_CRASH), finding["signature"]
    assert finding["test"] == "fuzz::valid-arguments[blockdev-reopen]"
    reproducer = Reproducer.from_jsonl(str(finding["reproducer"]))
    sent = [json.loads(m) for m in reproducer.messages]
    # The replay on a fresh QEMU: negotiation, then the shrunk example alone.
    assert [m["execute"] for m in sent] == ["qmp_capabilities", "blockdev-reopen"]
    assert sent[1]["arguments"] == {"options": []}
    assert sent[1]["id"] == 0
    assert seen
    assert all(command == "blockdev-reopen" for command, _ in seen)
    (chunk,) = [n for n in box.notes if isinstance(n, worker.Chunk)]
    assert chunk.examples >= 1


def test_a_known_signature_is_not_shrunk(
    qemu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Box()
    fuzzer = compiled_worker(qemu_binary, tmp_path, first)
    try:
        fuzzer.compiled_chunk(0)
    finally:
        fuzzer.close()
    (found,) = first.found()
    known = frozenset({str(found["signature"])})
    box = Box()
    fuzzer = compiled_worker(qemu_binary, tmp_path, box, known=known)
    sent: list[object] = []
    monkeypatch.setattr(
        fuzzer, "after_example", lambda inst, command, arguments: sent.append(arguments)
    )
    try:
        fuzzer.compiled_chunk(0)
    finally:
        fuzzer.close()
    (again,) = box.found()
    assert again["signature"] == found["signature"]
    # The batches up to the crashing one, then that batch's cases again one by one up to
    # the culprit: no shrink tries (new arguments), no replay.
    again_from = next(i for i, arguments in enumerate(sent) if arguments in sent[:i])
    crashing = sent[max(0, again_from - worker.BATCH) : again_from]
    assert 0 < len(sent) - again_from <= worker.BATCH
    assert all(arguments in crashing for arguments in sent[again_from:])
    reproducer = Reproducer.from_jsonl(str(again["reproducer"]))
    # Sent one by one, so that the reproducer ends at the example that crashed QEMU.
    *before, last = [json.loads(m) for m in reproducer.messages]
    assert last["execute"] == "blockdev-reopen"
    assert reproducer.expected.trigger == len(before)


def test_a_set_up_is_sent_first_its_names_drawn_and_replayed_with_a_failure(
    qemu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Box()
    fuzzer = compiled_worker(qemu_binary, tmp_path, box)
    taken = ("blockdev-add", {"driver": "null-co", "node-name": "null0"})  # the profile's
    node = ("blockdev-add", {"driver": "null-co", "node-name": "n1"})
    monkeypatch.setattr(fuzzer.feedback, "setup_for", lambda wanted: (taken, node))
    created: list[tuple[object, frozenset[str]]] = []
    monkeypatch.setattr(
        fuzzer.feedback.setups, "created", lambda seq, kinds: created.append((seq, kinds))
    )
    pools: list[tuple[str, ...]] = []

    def spy(schema: Schema, draw_pools: Pools, policy: GenerationPolicy) -> Compiled:
        pools.append(tuple(draw_pools.values("node-name")))
        return compiled_for(schema, draw_pools, policy)

    monkeypatch.setattr("conformance.fuzz.worker.compiled_for", spy)
    try:
        fuzzer.compiled_chunk(0)
    finally:
        fuzzer.close()
    # The chunk drew from pools holding the node its set-up created.
    assert pools
    assert "n1" in pools[0]
    assert "n1" not in fuzzer.pools.values("node-name")
    # Seen to create a node (the taken name failed and is left out, the rest went on).
    assert created == [((taken, node), frozenset({"node-name"}))]
    (finding,) = box.found()
    assert str(finding["signature"]).startswith(REOPEN_CRASH), finding["signature"]
    sent = [json.loads(m) for m in Reproducer.from_jsonl(str(finding["reproducer"])).messages]
    # The replay on a fresh QEMU sent the set-up before the shrunk example.
    commands = [m["execute"] for m in sent]
    assert commands[:3] == ["qmp_capabilities", "blockdev-add", "blockdev-add"]
    assert commands[-1] == "blockdev-reopen"
    assert sent[2]["arguments"] == node[1]


def test_a_chunk_tells_the_deviations_its_checks_excused(qemu_binary: str, tmp_path: Path) -> None:
    # device_add reads its arguments by hand ('gen': false): an ill-typed id beside a bus
    # path through no device is refused with DeviceNotFound, not GenericError. A
    # deviation, not a finding; the chunk (here the corpus replay's) tells the parent.
    arguments = {"driver": "usb-kbd", "bus": "/no-such-device/bus", "id": 0.0}
    entry = Entry("device_add", "malformed", arguments, (), "wrong-type", "$.id")
    box = Box()
    config = worker.WorkerConfig(
        0, 1, qemu_binary, 3, ("device_add",), str(tmp_path / "work"), corpus=(entry,)
    )
    fuzzer = worker.Worker(config, threading.Event(), box)  # type: ignore[arg-type]
    fuzzer.prepare()
    try:
        fuzzer.corpus_chunks()
    finally:
        fuzzer.close()
    (chunk,) = [n for n in box.notes if isinstance(n, worker.Chunk)]
    assert chunk.what == "device_add"
    assert [(d.name, d.check) for d in chunk.deviations] == [
        ("device-add-bypasses-qapi", "malformed.wrong-type.class")
    ], chunk.deviations
    assert not box.found(), box.found()


def test_the_argument_qemu_has_buses_that_take_a_pci_device(
    qemu_binary: str, tmp_path: Path
) -> None:
    # q35's pcie.0 refuses hotplug: the argument QEMU has root ports, whose buses are in
    # the pools `bus` draws from, and a PCI device_add on one gets to realize the device.
    trace = trace_events(qemu_binary, workdir_base=str(tmp_path))
    config = worker.WorkerConfig(
        0, 1, qemu_binary, 3, ("device_add",), str(tmp_path / "work"), trace=trace
    )
    fuzzer = worker.Worker(config, threading.Event(), Box())  # type: ignore[arg-type]
    fuzzer.prepare()
    try:
        assert fuzzer.argument_profile == "q35"
        assert {"pcie.0", "hp0", "hp7"} <= set(fuzzer.pools.values("bus-id"))
        inst = fuzzer.instances.get(fuzzer.argument_profile)
        refused = inst.execute("device_add", {"driver": "e1000e", "id": "n0"})
        assert b"does not support hotplugging" in refused.message.raw, refused.message.raw
        assert inst.execute("device_add", {"driver": "e1000e", "id": "n1", "bus": "hp0"}).ok
        fuzzer.feedback.credit("device_add")
    finally:
        fuzzer.close()
    assert fuzzer.feedback.coverage is not None
    reached = {e for c, e in fuzzer.feedback.coverage.pairs if c == "device_add"}
    assert any(e.startswith("e1000e_") for e in reached), sorted(reached)
