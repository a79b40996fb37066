"""A Hypothesis state machine over the resources a run creates on one q35 QEMU.

The behaviour rules (`conformance/behaviour/rules`) check one documented sentence each,
from a fresh machine. Resources break on sequences: a node deleted while it is the
medium, a bitmap re-added after a transaction that aborted, a tray closed on an empty
drive and opened again. The machine drives the q35 profile's CD-ROM (``cd0``, holding
the null-co node ``null0``), block nodes, dirty bitmaps and chardevs with real QMP
commands, and a small model predicts every step:

- the reply: success or error, and the error class where the doc names it and the
  condition is about a name on an existing node ("If @name is already taken" / "is not
  found", GenericError). The class for a node that doesn't exist (DeviceNotFound in the
  doc) is left to `test_doc_error`, which induces that condition on its own QEMU;
- the DEVICE_TRAY_MOVED events it causes: one, with the right ``tray-open``, when the
  tray moves; none for a no-op or anything else. A fence (``query-status``) after every
  step proves absence: events are sent before the reply of a later command;
- the state afterwards, held as invariants by query: cd0's tray and medium
  (``query-block``), the nodes the run named and their bitmaps with ``recording``
  (``query-named-block-nodes``), the chardevs it named (``query-chardev``), and that
  QEMU is alive.

A transaction succeeds when each action would succeed in order and no ``abort`` is
among them; when it fails nothing changes. One case the doc leaves open: an action that
adds a bitmap which an earlier action of the same transaction removed. QEMU removes
bitmaps only at commit, so the add sees the name taken; nothing in qapi/transaction.json
says whether later actions see earlier ones, so either reply is accepted there (atomicity
is still checked).

Every mismatch is a `Failure` (behaviour) citing the doc sentence the model followed; a
failing sequence shrinks to a short one and its transcript is attached.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from conformance.behaviour.rules.block import ADD, DEL
from conformance.behaviour.rules.medium import INSERT, REMOVE, REMOVE_NOOP
from conformance.behaviour.rules.transaction import ABORT, ATOMIC
from conformance.behaviour.rules.tray import CLOSE, CLOSE_NOOP, MOVED, OPEN, OPEN_NOOP
from conformance.machine.instance import QemuInstance
from conformance.oracle.conversation import messages
from conformance.oracle.failure import Citation, Failure, FindingKind, qapi
from conformance.oracle.judge import judge_events
from conformance.plugin import RunContext
from conformance.qmp.message import Kind, Message
from conformance.qmp.session import Reply
from conformance.spec import Schema
from conformance.spec.model import ArrayType
from conformance.suite.report import evidence, label

#: Steps per run; the `ci` profile's 20 runs give up to 600 (the summary says how many).
STEPS = 30
PROFILE = "q35"
NULL0 = "null0"  # the profile's node, in cd0
CD0 = {"id": "cd0"}
CD0_IDS = ("cd0", "/machine/peripheral/cd0")  # DEVICE_TRAY_MOVED id: "name or QOM path"
NOSUCH = "nosuch"  # a name nothing in the run ever has
SIZE = 1048576
BITMAP_NAMES = ("b0", "b1", "b2")
BITMAP_OPS = ("add", "remove", "clear", "enable", "disable")

TRAY_MOVED = qapi(
    "qapi/block.json: DEVICE_TRAY_MOVED",
    "Emitted whenever the tray of a removable device is moved by the guest or by HMP/QMP commands",
)
INSERT_NODE = qapi(
    "qapi/block.json: blockdev-insert-medium",
    "node-name: name of a node in the block driver state graph",
)
_BLOCK_CORE = "qapi/block-core.json: "
BITMAP_DOES = {
    "add": qapi(
        _BLOCK_CORE + "block-dirty-bitmap-add",
        "Create a dirty bitmap with a name on the node, and start tracking the writes.",
    ),
    "remove": qapi(
        _BLOCK_CORE + "block-dirty-bitmap-remove",
        "Stop write tracking and remove the dirty bitmap that was created with "
        "block-dirty-bitmap-add.",
    ),
    "clear": qapi(
        _BLOCK_CORE + "block-dirty-bitmap-clear", "Clear (reset) a dirty bitmap on the device"
    ),
    "enable": qapi(
        _BLOCK_CORE + "block-dirty-bitmap-enable",
        "Enables a dirty bitmap so that it will begin tracking disk changes.",
    ),
    "disable": qapi(
        _BLOCK_CORE + "block-dirty-bitmap-disable",
        "Disables a dirty bitmap so that it will stop tracking disk changes.",
    ),
}
BITMAP_TAKEN = qapi(
    _BLOCK_CORE + "block-dirty-bitmap-add",
    "If @name is already taken, GenericError with an explanation",
)
BITMAP_MISSING_NODE = {
    op: qapi(
        f"{_BLOCK_CORE}block-dirty-bitmap-{op}",
        "If @node is not a valid block device"
        + (" or node" if op in ("add", "remove") else "")
        + ", DeviceNotFound",
    )
    for op in BITMAP_OPS
}
BITMAP_NOT_FOUND = {
    op: qapi(
        f"{_BLOCK_CORE}block-dirty-bitmap-{op}",
        "If @name is not found, GenericError with an explanation",
    )
    for op in BITMAP_OPS
}
BITMAP_DISABLED = qapi(
    _BLOCK_CORE + "BlockDirtyBitmapAdd",
    "disabled: the bitmap is created in the disabled state, which means that it will not "
    "track drive changes.",
)
RECORDING = qapi(
    _BLOCK_CORE + "BlockDirtyInfo",
    "recording: true if the bitmap is recording new writes from the guest.",
)
CHARDEV_ADD = qapi("qapi/char.json: chardev-add", "id: the chardev's ID, must be unique")
CHARDEV_REMOVE = qapi(
    "qapi/char.json: chardev-remove", "id: the chardev's ID, must exist and not be in use"
)
COMMANDS = (
    "blockdev-add",
    "blockdev-del",
    *(f"block-dirty-bitmap-{op}" for op in BITMAP_OPS),
    "blockdev-open-tray",
    "blockdev-close-tray",
    "blockdev-remove-medium",
    "blockdev-insert-medium",
    "transaction",
    "chardev-add",
    "chardev-remove",
)

Bitmaps = dict[str, dict[str, bool]]  # node -> bitmap name -> recording


@dataclass(frozen=True, slots=True)
class Expect:
    """The model's prediction for one step."""

    ok: bool
    why: str  # the model's reason, shown in a failure
    citation: Citation  # the doc sentence the prediction follows
    error_class: str | None = None  # the class the doc names for this error, if checked
    tray: bool | None = None  # the tray-open of the one DEVICE_TRAY_MOVED, None: no event
    event_citation: Citation = TRAY_MOVED
    either: bool = False  # the doc doesn't decide: success or error both conform


@dataclass
class Model:
    """What the run has done to the machine, as the docs say it should be."""

    tray_open: bool = False
    inserted: str | None = NULL0
    nodes: Bitmaps = field(default_factory=lambda: {NULL0: {}})
    known_nodes: set[str] = field(default_factory=lambda: {NULL0, NOSUCH})
    chardevs: set[str] = field(default_factory=set)
    known_chardevs: set[str] = field(default_factory=set)


def bitmap_step(
    nodes: Bitmaps, op: str, node: str, name: str, disabled: bool | None = None
) -> Expect:
    """Predict one bitmap command on `nodes`, and apply it there when it succeeds."""
    if node not in nodes:
        # The doc names DeviceNotFound; test_doc_error judges that class.
        return Expect(False, f"node {node!r} does not exist", BITMAP_MISSING_NODE[op])
    bitmaps = nodes[node]
    if op == "add":
        if name in bitmaps:
            return Expect(False, f"{node!r} has a bitmap {name!r}", BITMAP_TAKEN, "GenericError")
        bitmaps[name] = not disabled
        return Expect(True, f"{node!r} has no bitmap {name!r}", BITMAP_DOES[op])
    if name not in bitmaps:
        return Expect(
            False, f"{node!r} has no bitmap {name!r}", BITMAP_NOT_FOUND[op], "GenericError"
        )
    if op == "remove":
        del bitmaps[name]
    elif op in ("enable", "disable"):
        bitmaps[name] = op == "enable"
    return Expect(True, f"{node!r} has a bitmap {name!r}", BITMAP_DOES[op])


def transaction_step(nodes: Bitmaps, actions: list[tuple[str, str, str, bool | None]]) -> Expect:
    """Predict a transaction of bitmap actions (op "abort" for an abort) on a copy of
    `nodes`; the copy is applied only by the caller, on success."""
    removed: set[tuple[str, str]] = set()
    either = False
    for number, (op, node, name, disabled) in enumerate(actions, start=1):
        if op == "abort":
            return Expect(False, f"action {number} is abort", ABORT)
        step = bitmap_step(nodes, op, node, name, disabled)
        if not step.ok:
            return Expect(False, f"action {number} would fail: {step.why}", ATOMIC)
        if op == "add" and (node, name) in removed:
            either = True  # see the module docstring
        if op == "remove":
            removed.add((node, name))
    why = "every action would succeed in order"
    if either:
        why += "; one re-adds a bitmap an earlier action removed (doc silent)"
    return Expect(True, why, ATOMIC, either=either)


def _action(op: str, node: str, name: str, disabled: bool | None) -> dict[str, object]:
    if op == "abort":
        return {"type": "abort", "data": {}}
    data: dict[str, object] = {"node": node, "name": name}
    if op == "add" and disabled is not None:
        data["disabled"] = disabled
    return {"type": f"block-dirty-bitmap-{op}", "data": data}


def transaction_kinds(schema: Schema) -> frozenset[str]:
    """The action types `transaction` takes in this binary."""
    args = schema.object_type(schema.command("transaction").arg_type)
    actions = next(m for m in args.members if m.name == "actions")
    array = schema.type(actions.type)
    if not isinstance(array, ArrayType):
        return frozenset()
    action = schema.object_type(array.element_type)
    return frozenset(v.case for v in action.variants)


# -- strategies ----------------------------------------------------------------------------

nodes = Bundle[str]("nodes")
bitmaps = Bundle[tuple[str, str]]("bitmaps")
chardevs = Bundle[str]("chardevs")
node_names = st.one_of(nodes, st.just(NOSUCH))
# Half the references are ones the run added (most still exist), half a name on a node
# the run named (deleted nodes included, so a missing node comes up too).
bitmap_refs = st.one_of(bitmaps, st.tuples(nodes, st.sampled_from(BITMAP_NAMES)))
# In a transaction a failing action is the point (atomicity): names on no node too.
action_refs = st.one_of(bitmaps, st.tuples(node_names, st.sampled_from(BITMAP_NAMES)))
disabled_flags = st.one_of(st.none(), st.booleans())


class ResourceMachine(RuleBasedStateMachine):
    """cd0, nodes, bitmaps and chardevs of one q35 QEMU; `steps` counts rules (all runs)."""

    steps = 0
    nodes = nodes
    bitmaps = bitmaps
    chardevs = chardevs

    def __init__(self, make: Callable[[], QemuInstance], schema: Schema) -> None:
        super().__init__()
        self.schema = schema
        self.kinds = transaction_kinds(schema)
        self.inst = make()
        self.inst.start()
        self.model = Model()
        self.created = 0
        self.last = "the profile's initial state"
        self.cite = CLOSE  # the sentence behind the model's latest change

    # -- helpers -----------------------------------------------------------------------

    def _fresh(self, prefix: str) -> str:
        self.created += 1
        return f"{prefix}{self.created}"

    def _step(self, command: str, arguments: Mapping[str, object], expect: Expect) -> bool:
        """Send one command and a fence; compare reply and events with `expect`.
        Returns whether QEMU succeeded; the caller updates the model on success."""
        ResourceMachine.steps += 1
        shown = f"{command} {json.dumps(arguments, sort_keys=True)}"
        self.last, self.cite = shown, expect.citation
        with evidence(self.inst):
            reply = self.inst.execute(command, dict(arguments))
            fence = self.inst.execute("query-status")
            message = reply.message
            ok = message.kind is Kind.RETURN
            predicted = "success" if expect.ok else "an error"
            if expect.either:
                predicted = "success or an error"
            if ok != expect.ok and not expect.either:
                raise Failure(
                    "resources.reply",
                    expect.citation,
                    f"{shown}: the model predicted {predicted} ({expect.why}); QEMU replied "
                    f"{message.raw[:300]!r}",
                    kind=FindingKind.BEHAVIOUR,
                    command=command,
                )
            if not ok and expect.error_class and message.error_class != expect.error_class:
                raise Failure(
                    "resources.error-class",
                    expect.citation,
                    f"{shown}: the model predicted {expect.error_class} ({expect.why}); QEMU "
                    f"replied {message.raw[:300]!r}",
                    kind=FindingKind.BEHAVIOUR,
                    command=command,
                    path="$.error.class",
                )
            self._check_tray_events(shown, command, expect if ok else None, reply, fence)
        return ok

    def _check_tray_events(
        self, shown: str, command: str, expect: Expect | None, *replies: Reply
    ) -> None:
        """Exactly the DEVICE_TRAY_MOVED `expect` predicts; none after an error."""
        moved = [e for r in replies for e in r.events if e.event_name == MOVED]
        wanted = None if expect is None else expect.tray
        seen = [_event_data(e) for e in moved]
        good = (wanted is None and not seen) or (
            len(seen) == 1 and seen[0].get("tray-open") is wanted and seen[0].get("id") in CD0_IDS
        )
        if not good:
            want = "no event" if wanted is None else f"one {MOVED} with tray-open {wanted}"
            cite = TRAY_MOVED if expect is None else expect.event_citation
            raise Failure(
                "resources.tray-event",
                cite,
                f"{shown}: the model predicted {want}; QEMU sent "
                f"{[e.raw.decode(errors='replace').strip() for e in moved] or 'none'}",
                kind=FindingKind.BEHAVIOUR,
                command=command,
            )

    def _fail(self, check: str, message: str, citation: Citation | None = None) -> Failure:
        return Failure(
            check,
            citation or self.cite,
            f"after {self.last}: {message}",
            kind=FindingKind.BEHAVIOUR,
        )

    def _query(self, command: str) -> object:
        reply = self.inst.execute(command)
        if reply.message.kind is not Kind.RETURN:
            raise self._fail("resources.query", f"{command} failed: {reply.message.raw[:300]!r}")
        # Nothing moves the tray between steps.
        self._check_tray_events(f"{command} (after {self.last})", command, None, reply)
        return reply.value

    # -- rules: nodes ------------------------------------------------------------------

    @initialize(target=nodes)
    def profile_node(self) -> str:
        return NULL0

    @initialize(target=bitmaps)
    def first_bitmap_name(self) -> tuple[str, str]:
        return (NULL0, BITMAP_NAMES[0])  # not added yet: a name to add or to miss

    def _add_node(self, name: str) -> bool:
        model = self.model
        if name in model.nodes:
            expect = Expect(False, f"node {name!r} exists", ADD)
        else:
            expect = Expect(True, f"no node {name!r}", ADD)
        ok = self._step(
            "blockdev-add", {"driver": "null-co", "node-name": name, "size": SIZE}, expect
        )
        model.known_nodes.add(name)
        if ok:
            model.nodes[name] = {}
        return ok

    @rule(target=nodes)
    def add_node(self) -> str:
        name = self._fresh("n")
        self._add_node(name)
        return name

    @rule(name=nodes)
    def add_node_again(self, name: str) -> None:
        """A name the run used: refused while the node exists, free after blockdev-del."""
        self._add_node(name)

    @rule(name=node_names)
    def delete_node(self, name: str) -> None:
        model = self.model
        if name not in model.nodes:
            expect = Expect(False, f"no node {name!r}", DEL)
        elif model.inserted == name:
            expect = Expect(False, f"{name!r} is the medium of cd0", DEL)
        else:
            expect = Expect(True, f"{name!r} exists and is not in use", DEL)
        if self._step("blockdev-del", {"node-name": name}, expect):
            del model.nodes[name]

    # -- rules: bitmaps ----------------------------------------------------------------

    @rule(target=bitmaps, ref=bitmap_refs, disabled=disabled_flags)
    def add_bitmap(
        self, ref: tuple[str, str], disabled: bool | None
    ) -> tuple[str, str] | MultipleResults[tuple[str, str]]:
        node, name = ref
        after = {n: dict(b) for n, b in self.model.nodes.items()}
        expect = bitmap_step(after, "add", node, name, disabled)
        if disabled is not None and expect.ok:
            expect = Expect(True, expect.why, BITMAP_DISABLED if disabled else expect.citation)
        arguments: dict[str, object] = {"node": node, "name": name}
        if disabled is not None:
            arguments["disabled"] = disabled
        if self._step("block-dirty-bitmap-add", arguments, expect):
            self.model.nodes = after
            return ref
        return multiple()

    @rule(ref=bitmap_refs, op=st.sampled_from(BITMAP_OPS[1:]))
    def bitmap_command(self, ref: tuple[str, str], op: str) -> None:
        node, name = ref
        after = {n: dict(b) for n, b in self.model.nodes.items()}
        expect = bitmap_step(after, op, node, name)
        if self._step(f"block-dirty-bitmap-{op}", {"node": node, "name": name}, expect):
            self.model.nodes = after

    @rule(
        actions=st.lists(
            st.tuples(st.sampled_from(BITMAP_OPS), action_refs, disabled_flags),
            min_size=1,
            max_size=3,
        ),
        abort_at=st.one_of(st.none(), st.integers(0, 3)),
    )
    def transaction(
        self,
        actions: list[tuple[str, tuple[str, str], bool | None]],
        abort_at: int | None,
    ) -> None:
        plan = [
            (op, node, name, disabled)
            for op, (node, name), disabled in actions
            if f"block-dirty-bitmap-{op}" in self.kinds
        ]
        if abort_at is not None and "abort" in self.kinds:
            plan.insert(min(abort_at, len(plan)), ("abort", "", "", None))
        after = {n: dict(b) for n, b in self.model.nodes.items()}
        expect = transaction_step(after, plan)
        if self._step("transaction", {"actions": [_action(*a) for a in plan]}, expect):
            self.model.nodes = after

    # -- rules: tray and medium --------------------------------------------------------

    @rule(force=st.one_of(st.none(), st.booleans()))
    def open_tray(self, force: bool | None) -> None:
        model = self.model
        if model.tray_open:
            expect = Expect(True, "the tray is open", OPEN_NOOP, event_citation=OPEN_NOOP)
        else:
            expect = Expect(True, "the tray is closed", OPEN, tray=True, event_citation=OPEN)
        arguments: dict[str, object] = dict(CD0)
        if force is not None:
            arguments["force"] = force
        if self._step("blockdev-open-tray", arguments, expect):
            model.tray_open = True

    @rule()
    def close_tray(self) -> None:
        model = self.model
        if model.tray_open:
            expect = Expect(True, "the tray is open", CLOSE, tray=False)
        else:
            expect = Expect(True, "the tray is closed", CLOSE_NOOP, event_citation=CLOSE_NOOP)
        if self._step("blockdev-close-tray", CD0, expect):
            model.tray_open = False

    @rule()
    def remove_medium(self) -> None:
        model = self.model
        if not model.tray_open:
            expect = Expect(False, "the tray is closed", REMOVE)
        elif model.inserted is None:
            expect = Expect(True, "the tray is open and empty", REMOVE_NOOP)
        else:
            expect = Expect(True, f"the tray is open, holding {model.inserted!r}", REMOVE)
        if self._step("blockdev-remove-medium", CD0, expect):
            model.inserted = None

    @rule(name=node_names)
    def insert_medium(self, name: str) -> None:
        model = self.model
        if not model.tray_open:
            expect = Expect(False, "the tray is closed", INSERT)
        elif model.inserted is not None:
            expect = Expect(False, f"the tray holds {model.inserted!r}", INSERT)
        elif name not in model.nodes:
            expect = Expect(False, f"no node {name!r}", INSERT_NODE)
        else:
            expect = Expect(True, f"the tray is open and empty, {name!r} is free", INSERT)
        if self._step("blockdev-insert-medium", {**CD0, "node-name": name}, expect):
            model.inserted = name

    # -- rules: chardevs ---------------------------------------------------------------

    def _add_chardev(self, name: str) -> bool:
        model = self.model
        exists = name in model.chardevs
        expect = Expect(
            not exists, f"chardev {name!r} {'exists' if exists else 'is new'}", CHARDEV_ADD
        )
        ok = self._step(
            "chardev-add", {"id": name, "backend": {"type": "null", "data": {}}}, expect
        )
        model.known_chardevs.add(name)
        if ok:
            model.chardevs.add(name)
        return ok

    @rule(target=chardevs)
    def add_chardev(self) -> str:
        name = self._fresh("chr")
        self._add_chardev(name)
        return name

    @rule(name=chardevs)
    def add_chardev_again(self, name: str) -> None:
        self._add_chardev(name)

    @rule(name=chardevs)
    def remove_chardev(self, name: str) -> None:
        model = self.model
        exists = name in model.chardevs
        expect = Expect(
            exists, f"chardev {name!r} {'exists' if exists else 'is gone'}", CHARDEV_REMOVE
        )
        if self._step("chardev-remove", {"id": name}, expect):
            model.chardevs.discard(name)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        with evidence(self.inst):
            if not self.inst.alive():
                info = self.inst.settle(RuntimeError("process exited"))
                raise Failure(
                    "resources.alive",
                    self.cite,
                    f"after {self.last}: QEMU is gone: {info.describe()}",
                    kind=FindingKind.CRASH,
                )
            self._check_cd0()
            self._check_nodes()
            self._check_chardevs()

    def _check_cd0(self) -> None:
        model = self.model
        devices = _records(self._query("query-block"))
        cd0 = next((d for d in devices if d.get("qdev") in CD0_IDS), None)
        if cd0 is None:
            raise self._fail("resources.cd0", "query-block lists no device cd0")
        if cd0.get("tray_open") is not model.tray_open:
            raise self._fail(
                "resources.tray",
                f"query-block cd0 tray_open is {cd0.get('tray_open')!r}, the model says "
                f"{model.tray_open}",
            )
        inserted = cd0.get("inserted")
        name = inserted.get("node-name") if isinstance(inserted, dict) else None
        if inserted is None and model.inserted is None:
            return
        if name != model.inserted:
            shown = "nothing inserted" if inserted is None else f"node-name {name!r} inserted"
            raise self._fail(
                "resources.medium",
                f"query-block cd0 has {shown}, the model says "
                + (f"{model.inserted!r}" if model.inserted else "nothing inserted"),
            )

    def _check_nodes(self) -> None:
        model = self.model
        listed = {
            str(n.get("node-name")): n for n in _records(self._query("query-named-block-nodes"))
        }
        for name in sorted(model.known_nodes):
            node = listed.get(name)
            if name not in model.nodes:
                if node is not None:
                    raise self._fail(
                        "resources.nodes",
                        f"query-named-block-nodes lists {name!r}, which the model says "
                        "does not exist",
                    )
                continue
            if node is None:
                raise self._fail(
                    "resources.nodes",
                    f"query-named-block-nodes does not list {name!r}, which the model says exists",
                )
            shown = {
                str(b.get("name")): b.get("recording") for b in _records(node.get("dirty-bitmaps"))
            }
            want = model.nodes[name]
            if set(shown) != set(want):
                raise self._fail(
                    "resources.bitmaps",
                    f"node {name!r} has dirty bitmaps {sorted(shown)}, the model says "
                    f"{sorted(want)}",
                )
            for bitmap, recording in sorted(want.items()):
                if shown[bitmap] is not recording:
                    raise self._fail(
                        "resources.recording",
                        f"bitmap {bitmap!r} of {name!r} has recording {shown[bitmap]!r}, the "
                        f"model says {recording}",
                        RECORDING,
                    )

    def _check_chardevs(self) -> None:
        model = self.model
        if not model.known_chardevs:
            return
        labels = {str(c.get("label")) for c in _records(self._query("query-chardev"))}
        for name in sorted(model.known_chardevs):
            if (name in labels) != (name in model.chardevs):
                raise self._fail(
                    "resources.chardevs",
                    f"query-chardev {'lists' if name in labels else 'does not list'} {name!r}, "
                    f"the model says it {'exists' if name in model.chardevs else 'is gone'}",
                )

    def teardown(self) -> None:
        try:
            with evidence(self.inst):
                events = [m for m in messages(self.inst.transcript) if m.kind is Kind.EVENT]
                judge_events(self.schema, events)
        finally:
            self.inst.close()


def _event_data(event: Message) -> dict[str, object]:
    value = event.value
    data = value.get("data") if isinstance(value, dict) else None
    return data if isinstance(data, dict) else {}


def _records(value: object) -> list[dict[str, object]]:
    """The objects of a list reply (anything else counts as none)."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


# Hypothesis types this function in newer releases and not in older ones, and its
# first parameter is declared as a class although any factory works.
_run: Callable[..., None] = run_state_machine_as_test


def test_resource_state_machine(
    qmp_run: RunContext, schema: Schema, request: pytest.FixtureRequest
) -> None:
    label(
        epic="behaviour",
        feature="resources",
        story="state machine",
        citation="; ".join(str(c) for c in (OPEN, INSERT, DEL, ATOMIC)),
    )
    if PROFILE not in qmp_run.profiles:
        pytest.skip(f"needs the {PROFILE} profile")
    missing = [c for c in COMMANDS if c not in schema.commands]
    if missing:
        pytest.skip(f"not in this binary: {', '.join(missing)}")
    ResourceMachine.steps = 0
    runs = 0

    def make() -> QemuInstance:
        nonlocal runs
        runs += 1
        return QemuInstance(qmp_run.launch_config(PROFILE))

    try:
        _run(
            lambda: ResourceMachine(make, schema),
            settings=settings(
                settings.default,
                stateful_step_count=STEPS,
                # Every example starts a QEMU: shrinking one failure at a time keeps a
                # failing run within minutes.
                report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        request.node.user_properties.append(("resource-steps", ResourceMachine.steps))
        request.node.user_properties.append(("resource-runs", runs))
