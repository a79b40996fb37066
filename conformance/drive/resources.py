"""A Hypothesis state machine over the resources a run creates on one QEMU of the run's
block profile.

The behaviour rules (`conformance/behaviour/rules`) check one documented sentence each,
from a fresh machine. Resources break on sequences: a node deleted while a job copies it,
a bitmap re-added after a transaction that aborted, a tray closed on an empty drive and
opened again, an id reused after its device went away. The machine drives the block
profile's CD-ROM (``cd0``, holding the null-co node ``null0``) and, on the same QEMU, a
``qemu-xhci`` controller (``-device qemu-xhci,id=xhci``, as the device_del rules use).
Its bundles hold what the run creates: node names, dirty bitmaps, chardev ids, object ids
(``secret`` and ``throttle-group`` objects), device ids (``usb-kbd`` and ``usb-tablet`` on
``xhci.0``: USB unplugs without a guest) and job ids (``blockdev-backup`` between two
1 MiB null-co nodes the run added, with ``auto-dismiss`` false so that a job stays listed
until ``job-dismiss``; every run starts with two such nodes). A small model predicts
every step:

- the reply: success or error, and the error class where the doc names it and the
  condition is about a name the run made ("If @name is already taken" / "is not found",
  GenericError; device_del of a missing id, DeviceNotFound). The class for a node that
  doesn't exist (DeviceNotFound in the doc) is left to `test_doc_error`, which induces
  that condition on its own QEMU;
- who uses a node: cd0 while it is the medium, a job from its start until it concludes
  (``blockdev-del`` of it must fail meanwhile); a verb on a job is accepted exactly in
  the states QEMU's JobVerbTable allows (job-dismiss only when concluded, job-finalize
  only when pending);
- the events it causes: one DEVICE_TRAY_MOVED with the right ``tray-open`` when the tray
  moves and none otherwise (a fence, ``query-status``, after every step proves absence:
  events are sent before the reply of a later command); a DEVICE_DELETED with the id and
  QOM path after ``device_del``; and the JOB_STATUS_CHANGE that brings a job to the
  status the doc gives it (``running`` with sync none, ``pending`` with auto-finalize
  false, ``concluded`` otherwise and after job-cancel or job-finalize, ``null`` after
  job-dismiss), each waited for with the reply deadline;
- the state afterwards, held as invariants by query: cd0's tray and medium
  (``query-block``), the nodes the run named and their bitmaps with ``recording``
  (``query-named-block-nodes``), the chardevs it named (``query-chardev``), exactly the
  model's objects (``qom-list /objects``; the machine's own, such as ``pc.ram``, are read
  once at start) and devices (``qom-list /machine/peripheral``), exactly the model's jobs
  with their statuses (``query-jobs``), every listed status being the last one the job's
  JOB_STATUS_CHANGE events announced before that reply, and that QEMU is alive. A run
  queries chardevs, objects, devices and jobs only once it has touched that kind.

On qemu-storage-daemon (no machine, no devices) the machine runs on the daemon's null0,
held by nothing, without the tray and device rules, and fences with ``query-version``.

A transaction draws 1 to `TRANSACTION_ACTIONS` actions from every kind the binary's
TransactionAction lists (`PLANNED_ACTIONS`: abort, the bitmap actions, blockdev-backup
and drive-backup, which start jobs, and the three snapshot actions), in either
completion mode or none (`TransactionPlan`, `plan_action`). It succeeds when each action
would succeed in order and no ``abort`` is among them; when it fails nothing of it
remains (no bitmap, job or snapshot node; cd0's medium unchanged). Its jobs come to rest
where their mode says, or, grouped, where the group does (one job still running keeps
the others waiting, one waiting for finalization keeps all pending), and a verb that
cancels or finalizes one job of a group does so to its peers. Grouped completion "may
be rejected by Actions that do not support" it: with any action but a job's or abort
either reply conforms. An external snapshot changes the graph in ways the model doesn't
follow (the overlay becomes cd0's medium; the node below it is a backing node): both
nodes are unsure from then on. One case the doc leaves open: an action that
adds a bitmap which an earlier action of the same transaction removed. QEMU removes
bitmaps only at commit, so the add sees the name taken; nothing in qapi/transaction.json
says whether later actions see earlier ones, so either reply is accepted there (atomicity
is still checked). The doc is silent too on whether a job may copy from or to a node that
is in use, whether such a node may become a medium, and whether a concluded job still
holds its nodes until it is dismissed: there too either reply is accepted (a success
having its usual effect).

One rule sends generated commands (issue 3's strategies) fed from the bundles: a command
of the binary whose arguments name nodes, devices, chardevs, objects or jobs, with valid
arguments drawn from pools holding the run's names, through the host-safety policy the
argument tests use, judged like them (reply shape, id, return type, event types); a
crash or a hang there is a finding like any other. The model can't predict its effect,
so it reads the state back from the invariants' queries. A name that an accepted
generated command mentioned is *unsure* from then on (something the model can't see may
hold it, and a job the command started may change it at any time): predictions about it
accept either reply, the invariants leave unsure nodes alone, an unsure job's status is
the one its events announced, and generated commands leave unsure nodes alone (one may
be of any size).

Every mismatch is a `Failure` (behaviour) citing the doc sentence the model followed; a
crash is a finding with QEMU's exit; a failing sequence shrinks to a short one and its
transcript is attached.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from conformance.behaviour.rules.backup import BACKUP, SAME
from conformance.behaviour.rules.block import ADD, DEL
from conformance.behaviour.rules.device import DELETED, DELETED_DATA
from conformance.behaviour.rules.medium import INSERT, REMOVE, REMOVE_NOOP
from conformance.behaviour.rules.transaction import (
    ABORT,
    ATOMIC,
    GROUPED,
    transaction_kinds,
)
from conformance.behaviour.rules.tray import CLOSE, CLOSE_NOOP, MOVED, OPEN, OPEN_NOOP
from conformance.drive.report import evidence
from conformance.drive.unshrunk import run_state_machine
from conformance.machine.instance import EventMissing, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.profiles import TRAY, USB, Profile, block_profile, profile
from conformance.oracle.conversation import messages
from conformance.oracle.failure import ANSWERED, Citation, Failure, FindingKind, qapi, qemu_tests
from conformance.oracle.jobs import CHANGE_EVENT, ENDS, EVENT, Version, verbs
from conformance.oracle.judge import judge_events, judge_reply
from conformance.qmp.message import Kind, Message
from conformance.qmp.session import Reply
from conformance.qmp.transcript import Direction
from conformance.spec import Schema, validate_arguments
from conformance.spec.model import AlternateType, ArrayType, ObjectType
from strategies import arguments as generated_arguments
from strategies import safety
from strategies.policy import GenerationPolicy
from strategies.pools import MEMBER_POOLS, Pools

#: Steps per run; the `ci` profile's 20 runs give up to 600 (the summary says how many).
#: A run adds at most one USB device a step, so 30 steps can't fill xhci.0 (QEMU 7.2
#: attaches 39 there, adding hubs as ports run out).
STEPS = 30
NULL0 = "null0"  # the profile's node, in cd0
CD0 = {"id": "cd0"}
CD0_IDS = ("cd0", "/machine/peripheral/cd0")  # DEVICE_TRAY_MOVED id: "name or QOM path"
NOSUCH = "nosuch"  # a name nothing in the run ever has
SIZE = 1048576
BITMAP_NAMES = ("b0", "b1", "b2")
BITMAP_OPS = ("add", "remove", "clear", "enable", "disable")
XHCI_ID = "xhci"  # XHCI's id, and its bus
USB_BUS = "xhci.0"
USB_DEVICES = ("usb-kbd", "usb-tablet")
PERIPHERAL = "/machine/peripheral"
OBJECTS = "/objects"
# Harmless objects: no host resource behind them. A secret needs its data.
OBJECT_TYPES: Mapping[str, Mapping[str, object]] = {
    "secret": {"data": "s"},
    "throttle-group": {},
}
# object-add that must fail, with the object then left nowhere, as in qmp-cmd-test's
# test_object_add_failure_modes (a wrong-typed property, an unknown one, a required one
# missing): the first two are refused by the input visitor, the rest by the object's
# complete() after QEMU has created it and added it under /objects.
OBJECT_FAILURES: Mapping[str, tuple[str, Mapping[str, object]]] = {
    "wrong-type": ("secret", {"data": 1}),
    "unknown-property": ("throttle-group", {"x-no-such-property": 1}),
    "no-data": ("secret", {}),
    "bad-base64": ("secret", {"format": "base64", "data": "!!!"}),
    "limit-out-of-range": ("throttle-group", {"limits": {"bps-total": -1}}),
    "limits-conflict": ("throttle-group", {"limits": {"bps-total": 1, "bps-read": 1}}),
}
# The pool kinds whose strings are the names a run creates: a generated command that
# takes one of them can touch the model's resources.
NAME_KINDS = frozenset({"node-name", "device-id", "chardev-id", "object-id", "job-id"})
JOB_VERBS = ("cancel", "dismiss", "finalize")

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
OBJECT_ADD = qapi("qapi/qom.json: ObjectOptions", "id: the name of the new object")
OBJECT_DEL = qapi("qapi/qom.json: object-del", "Remove a QOM object.")
OBJECT_ADD_FAILS = qemu_tests(
    "tests/qtest/qmp-cmd-test.c: test_object_add_failure_modes",
    "/* attempt to create an object with a property of a wrong type */ ... "
    'qmp_expect_error_and_unref(resp, "GenericError"); resp = qtest_qmp(qts, '
    "\"{'execute': 'object-add', 'arguments': {'qom-type': 'memory-backend-ram', 'id': "
    "'ram1', 'size': 1048576 } }\"); g_assert(qdict_haskey(resp, \"return\"));",
)
OBJECT_MISSING = qapi("qapi/qom.json: object-del", "Error if id is not a valid id for a QOM object")
DEVICE_ID = qapi("qapi/qdev.json: device_add", "id: the device's ID, must be unique")
DEVICE_MISSING = qapi("qapi/qdev.json: device_del", "If @id is not a valid device, DeviceNotFound")
DEVICE_REUSE = qapi(
    "qapi/qdev.json: DEVICE_DELETED",
    "At this point, it's safe to reuse the specified device ID.",
)
JOB_ID = qapi(_BLOCK_CORE + "BackupCommon", "job-id: identifier for the newly-created block job.")
BACKUP_TARGET = qapi(
    _BLOCK_CORE + "BlockdevBackup",
    "target: the device name or node-name of the backup target node.",
)
SYNC_NONE = qapi(_BLOCK_CORE + "MirrorSyncMode", "none: only copy data written from now on")
AUTO_FINALIZE = qapi(
    _BLOCK_CORE + "BackupCommon",
    "auto-finalize: When false, this job will wait in a PENDING state after it has finished "
    "its work, waiting for block-job-finalize before making any block graph changes.",
)
AUTO_DISMISS = qapi(
    _BLOCK_CORE + "BackupCommon",
    "auto-dismiss: When false, this job will wait in a CONCLUDED state after it has "
    "completely ceased all work, and awaits block-job-dismiss.",
)
VERB_DOES = {
    "cancel": qapi(
        "qapi/job.json: job-cancel",
        "Instruct an active background job to cancel at the next opportunity.",
    ),
    "dismiss": qapi(
        "qapi/job.json: job-dismiss",
        "This command will refuse to operate on any job that has not yet reached its "
        "terminal state, JOB_STATUS_CONCLUDED.",
    ),
    "finalize": qapi(
        "qapi/job.json: job-finalize",
        "This command requires that all involved jobs are in the PENDING state.",
    ),
}
JOB_MISSING = {
    "cancel": qapi("qapi/job.json: job-cancel", "id: The job identifier."),
    "dismiss": qapi("qapi/job.json: job-dismiss", "id: The job identifier."),
    "finalize": qapi(
        "qapi/job.json: job-finalize",
        "id: The identifier of any job in the transaction, or of a job that is not part of "
        "any transaction.",
    ),
}
DISMISSED = qapi("qapi/job.json: job-dismiss", "Deletes a job that is in the CONCLUDED state.")
JOBS_LISTED = qapi("qapi/job.json: query-jobs", "a list with a JobInfo for each active job")
DRIVE_BACKUP = qapi(
    _BLOCK_CORE + "drive-backup",
    "Start a point-in-time copy of a block device to a new destination.",
)
SNAPSHOT_TAKEN = qapi(
    _BLOCK_CORE + "blockdev-snapshot-sync", "Takes a synchronous snapshot of a block device."
)
SNAPSHOT_MISSING = qapi(
    _BLOCK_CORE + "blockdev-snapshot-sync",
    "If @device is not a valid block device, DeviceNotFound",
)
SNAPSHOT_OVERLAY = qapi(
    _BLOCK_CORE + "BlockdevSnapshot",
    "overlay: reference to the existing block device that will become the overlay of @node, "
    "as part of taking the snapshot.",
)
INTERNAL_MISSING = qapi(
    _BLOCK_CORE + "blockdev-snapshot-internal-sync",
    "If @device is not a valid block device, GenericError",
)
INTERNAL_UNSUPPORTED = qapi(
    _BLOCK_CORE + "blockdev-snapshot-internal-sync",
    "If the format of the image used does not support it, GenericError",
)
MERGE = qapi(
    _BLOCK_CORE + "block-dirty-bitmap-merge",
    "Merge dirty bitmaps listed in @bitmaps to the @target dirty bitmap.",
)
MERGE_NODE = qapi(
    _BLOCK_CORE + "block-dirty-bitmap-merge",
    "If @node is not a valid block device, DeviceNotFound",
)
MERGE_MISSING = qapi(
    _BLOCK_CORE + "block-dirty-bitmap-merge",
    "If any bitmap in @bitmaps or @target is not found, GenericError",
)
WAITING = qapi(
    "qapi/job.json: JobStatus",
    "waiting: The job is waiting for other jobs in the transaction to converge to the "
    "waiting state.",
)
GROUPED_PENDING = qapi(
    "qapi/transaction.json: ActionCompletionMode",
    "grouped: If any Action fails after the Transaction succeeds, cancel all Actions. "
    "Actions do not complete until all Actions are ready to complete.",
)
#: The actions grouped completion is documented for (jobs); any other "may reject" it.
GROUPED_ACTIONS = frozenset({"abort", "blockdev-backup", "drive-backup"})
#: The transaction action kinds the model predicts; the machine draws from those of the
#: binary (a new kind is test_transaction_actions_covered's to flag).
PLANNED_ACTIONS = frozenset(
    {
        "abort",
        *(f"block-dirty-bitmap-{op}" for op in (*BITMAP_OPS, "merge")),
        "blockdev-backup",
        "drive-backup",
        "blockdev-snapshot",
        "blockdev-snapshot-sync",
        "blockdev-snapshot-internal-sync",
    }
)
COMPLETION_MODES = ("individual", "grouped")
TRANSACTION_ACTIONS = 4  # at most, in one transaction
# What only a machine has: qemu-storage-daemon runs the machine without these rules.
TRAY_COMMANDS = (
    "blockdev-open-tray",
    "blockdev-close-tray",
    "blockdev-remove-medium",
    "blockdev-insert-medium",
)
DEVICE_COMMANDS = ("device_add", "device_del")
COMMANDS = (
    "blockdev-add",
    "blockdev-del",
    *(f"block-dirty-bitmap-{op}" for op in BITMAP_OPS),
    *TRAY_COMMANDS,
    "transaction",
    "chardev-add",
    "chardev-remove",
    "object-add",
    "object-del",
    *DEVICE_COMMANDS,
    "blockdev-backup",
    *(f"job-{verb}" for verb in JOB_VERBS),
    "query-jobs",
    "qom-list",
)


@dataclass(frozen=True, slots=True)
class JobMode:
    """How `start_job` runs a backup, and the status the doc says it then rests in."""

    sync: str
    auto_finalize: bool | None  # None: left out (true)
    rests: str
    citation: Citation


JOB_MODES = {
    # A sync=none backup copies only what the guest writes from now on; -S runs no guest,
    # so it keeps running until cancelled.
    "none": JobMode("none", None, "running", SYNC_NONE),
    "pending": JobMode("full", False, "pending", AUTO_FINALIZE),
    "concluded": JobMode("full", None, "concluded", AUTO_DISMISS),
}
# Where an accepted verb leaves a job of ours (auto-dismiss false): cancel ends at
# concluded whether the job aborts or, as the doc allows, completes instead.
VERB_RESTS = {
    "cancel": ("concluded", AUTO_DISMISS),
    "finalize": ("concluded", AUTO_DISMISS),
    "dismiss": ("null", DISMISSED),
}

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


def missing_features(machine: Profile) -> str:
    """What the machine lacks of what it drives: cd0's tray and a qemu-xhci controller
    ("" when it has both)."""
    return ", ".join(f for f in (TRAY, USB) if f not in machine.features)


def daemon_commands() -> tuple[str, ...]:
    """The commands the machine drives on qemu-storage-daemon: no tray, no devices."""
    return tuple(c for c in COMMANDS if c not in (*TRAY_COMMANDS, *DEVICE_COMMANDS))


def resource_profile(names: Iterable[str]) -> Profile | None:
    """The profile the state machine runs on among `names`: the block profile, when it
    has everything the machine drives."""
    found = block_profile(names)
    machine = None if found is None else profile(found)
    return machine if machine is not None and not missing_features(machine) else None


def hedged(expect: Expect, why: str | None) -> Expect:
    """`expect`, accepting either reply when `why` (the reason the model can't tell) is
    given; success still has the effect `expect` describes."""
    if why is None:
        return expect
    return dataclasses.replace(expect, why=f"{expect.why}; but {why}", either=True)


@dataclass
class Job:
    """A job the model knows: its status, and the nodes it copies (none known for a job
    a generated command started)."""

    status: str
    nodes: tuple[str, ...] = ()
    group: str | None = None  # the grouped transaction that started it, with its peers


@dataclass
class Model:
    """What the run has done to the machine, as the docs say it should be."""

    tray_open: bool = False
    inserted: str | None = NULL0
    nodes: Bitmaps = field(default_factory=lambda: {NULL0: {}})
    known_nodes: set[str] = field(default_factory=lambda: {NULL0, NOSUCH})
    chardevs: set[str] = field(default_factory=set)
    known_chardevs: set[str] = field(default_factory=set)
    objects: set[str] = field(default_factory=set)  # /objects: the machine's and the run's
    known_objects: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=lambda: {CD0["id"], XHCI_ID})
    known_devices: set[str] = field(default_factory=lambda: {CD0["id"], XHCI_ID})
    jobs: dict[str, Job] = field(default_factory=dict)
    known_jobs: set[str] = field(default_factory=set)
    # Names an accepted generated command mentioned: see the module docstring.
    unsure: set[str] = field(default_factory=set)

    def known(self) -> set[str]:
        """Every name the run has used, of any kind."""
        return (
            self.known_nodes
            | self.known_chardevs
            | self.known_objects
            | self.known_devices
            | self.known_jobs
        )

    def holder(self, node: str) -> str | None:
        """What the model says uses `node` (its medium, or a job until it concludes)."""
        if self.inserted == node:
            return "it is the medium of cd0"
        for name, job in sorted(self.jobs.items()):
            if node in job.nodes and job.status not in ENDS and name not in self.unsure:
                return f"job {name!r} ({job.status}) uses it"
        return None

    def doubt(self, node: str) -> str | None:
        """Why the model can't tell whether something holds `node`, or None."""
        used = self.generated_use(node)
        if used is not None:
            return used
        for name, job in sorted(self.jobs.items()):
            if node in job.nodes and name in self.unsure:
                return f"a generated command used job {name!r}, which uses {node!r}"
            if node in job.nodes and job.status == "concluded":
                return (
                    f"job {name!r} concluded; the doc doesn't say whether it holds its nodes "
                    "until dismissed"
                )
        return None

    # -- predictions ------------------------------------------------------------------

    def delete_node(self, name: str) -> Expect:
        if name not in self.nodes:
            return hedged(Expect(False, f"no node {name!r}", DEL), self.generated_use(name))
        held = self.holder(name)
        if held is not None:
            return Expect(False, f"{name!r}: {held}", DEL)
        return hedged(Expect(True, f"{name!r} exists and is not in use", DEL), self.doubt(name))

    def insert_medium(self, name: str) -> Expect:
        if not self.tray_open:
            return Expect(False, "the tray is closed", INSERT)
        if self.inserted is not None:
            return Expect(False, f"the tray holds {self.inserted!r}", INSERT)
        if name not in self.nodes:
            return hedged(Expect(False, f"no node {name!r}", INSERT_NODE), self.generated_use(name))
        expect = Expect(True, f"the tray is open and empty, {name!r} exists", INSERT)
        held = self.holder(name)
        if held is not None:
            # blockdev-insert-medium says nothing of a node a job uses.
            return hedged(expect, f"{held} (the doc is silent)")
        return hedged(expect, self.doubt(name))

    def backup(self, job: str, source: str, target: str) -> Expect:
        """blockdev-backup from `source` to `target` as job `job`."""
        if job in self.jobs:
            known = self.jobs[job]
            return hedged(
                Expect(False, f"job {job!r} exists ({known.status})", JOB_ID),
                self.generated_use(job),
            )
        for node, citation in ((source, BACKUP), (target, BACKUP_TARGET)):
            if node not in self.nodes:
                return hedged(
                    Expect(False, f"no node {node!r}", citation), self.generated_use(node)
                )
        if source == target:
            return Expect(False, f"device and target are both {source!r}", SAME)
        expect = Expect(True, f"{source!r} and {target!r} exist, {job!r} is free", BACKUP)
        for node in (source, target):
            held = self.holder(node)
            if held is not None:
                # The doc doesn't say whether a node in use may be copied or written.
                return hedged(expect, f"{node!r}: {held} (the doc is silent)")
            expect = hedged(expect, self.doubt(node))
        return expect

    def drive_backup(self, job: str, source: str) -> Expect:
        """drive-backup from `source` into a new image file as job `job`."""
        if job in self.jobs:
            known = self.jobs[job]
            return hedged(
                Expect(False, f"job {job!r} exists ({known.status})", JOB_ID),
                self.generated_use(job),
            )
        if source not in self.nodes:
            return hedged(
                Expect(False, f"no node {source!r}", DRIVE_BACKUP), self.generated_use(source)
            )
        expect = Expect(True, f"{source!r} exists, {job!r} is free", DRIVE_BACKUP)
        held = self.holder(source)
        if held is not None:
            return hedged(expect, f"{source!r}: {held} (the doc is silent)")
        return hedged(expect, self.doubt(source))

    def group_peers(self, job: str) -> list[str]:
        """The other jobs of `job`'s grouped transaction that have not ended."""
        group = self.jobs[job].group if job in self.jobs else None
        if group is None:
            return []
        return sorted(
            name
            for name, other in self.jobs.items()
            if other.group == group and name != job and other.status not in ENDS
        )

    def job_verb(self, job: str, verb: str, version: Version) -> Expect:
        known = self.jobs.get(job)
        if known is None:
            return hedged(
                Expect(False, f"no job {job!r}", JOB_MISSING[verb]), self.generated_use(job)
            )
        accepted = verb in verbs(version).get(known.status, frozenset())
        expect = Expect(
            accepted,
            f"job {job!r} is {known.status}, which "
            + ("accepts" if accepted else "refuses")
            + f" {verb} (job.c JobVerbTable)",
            VERB_DOES[verb],
        )
        return hedged(expect, self.generated_use(job))

    def generated_use(self, name: str) -> str | None:
        """Why the model can't vouch for `name`, or None: a generated command used it (and
        a job it started may remove, add or hold what it names at any time)."""
        if name not in self.unsure:
            return None
        return f"a generated command or a snapshot used {name!r}"


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


@dataclass
class TransactionPlan:
    """A transaction's actions predicted one by one, in order, on a copy of the model
    (`model`, taken as the model's only when QEMU accepts the whole group)."""

    model: Model
    grouped: bool
    actions: int = 0  # planned so far
    fail: Expect | None = None  # the first action that must fail
    doubts: list[str] = field(default_factory=list)  # why either reply conforms
    removed: set[tuple[str, str]] = field(default_factory=set)  # bitmaps removed so far
    jobs: list[tuple[str, str]] = field(default_factory=list)  # (job, JOB_MODES key)
    known_nodes: set[str] = field(default_factory=set)  # names the group may create
    known_jobs: set[str] = field(default_factory=set)
    snapshots: bool = False  # an external snapshot may have changed the graph

    def note(self, number: int, kind: str, expect: Expect) -> bool:
        """Record action `number`'s prediction; whether it may succeed (then the caller
        applies its effect to `model`)."""
        if self.grouped and kind not in GROUPED_ACTIONS:
            self.doubts.append(f"action {number} ({kind}) may reject grouped completion")
        if expect.either:
            self.doubts.append(f"action {number}: {expect.why}")
        elif not expect.ok:
            if self.fail is None:
                self.fail = Expect(
                    False, f"action {number} would fail: {expect.why}", expect.citation
                )
            return False
        return True

    def expect(self) -> Expect:
        """The group's prediction: an error when an action must fail, success when every
        action must succeed, else either (success still has every action's effect)."""
        if self.fail is not None:
            cite = ABORT if self.fail.citation is ABORT else ATOMIC
            return Expect(False, self.fail.why, cite)
        cite = GROUPED if self.grouped and self.jobs else ATOMIC
        if self.doubts:
            return Expect(True, "; ".join(self.doubts), cite, either=True)
        return Expect(True, "every action would succeed in order", cite)

    def rests(self) -> list[tuple[str, str, Citation]]:
        """Each job the group starts, where it comes to rest, and the sentence saying so:
        its own mode's rest when individual; grouped, no job completes before all are
        ready (a job still running keeps the others waiting; one that waits for
        finalization keeps all pending)."""
        modes = [JOB_MODES[mode] for _, mode in self.jobs]
        if not self.grouped or len(self.jobs) < 2:
            return [
                (job, how.rests, how.citation)
                for (job, _), how in zip(self.jobs, modes, strict=True)
            ]
        if any(how.rests == "running" for how in modes):
            return [
                (job, "running", how.citation)
                if how.rests == "running"
                else (job, "waiting", WAITING)
                for (job, _), how in zip(self.jobs, modes, strict=True)
            ]
        if any(how.auto_finalize is False for how in modes):
            return [(job, "pending", GROUPED_PENDING) for job, _ in self.jobs]
        return [(job, "concluded", AUTO_DISMISS) for job, _ in self.jobs]


#: One drawn action: an index into the binary's planned kinds, a bitmap reference, two
#: sized nodes, another bitmap name, a job mode, and a flag (a bitmap added disabled; a
#: backup reusing a job id).
ActionDraw = tuple[int, tuple[str, str], str, str, str, str, bool]


def plan_action(
    plan: TransactionPlan, number: int, kind: str, draw: ActionDraw, fresh: str
) -> dict[str, object]:
    """Action `number` of kind `kind` from `draw` (`fresh`: a name nothing has had, for a
    job, a snapshot node or an image file), predicted on `plan`."""
    _, (node, name), source, target, other, mode, flag = draw
    model = plan.model
    if kind == "abort":
        plan.note(number, kind, Expect(False, "it is abort", ABORT))
        return {"type": "abort", "data": {}}
    if kind.startswith("block-dirty-bitmap-"):
        return _plan_bitmap(plan, number, kind, (node, name), other, flag)
    if kind in ("blockdev-backup", "drive-backup"):
        job = fresh
        if flag:  # a job id in use: one of this group's, else one of the model's
            earlier = [j for j, _ in plan.jobs] or sorted(model.jobs)
            job = earlier[0] if earlier else job
        plan.known_jobs.add(job)
        how = JOB_MODES[mode]
        data: dict[str, object] = {
            "job-id": job,
            "device": source,
            "sync": how.sync,
            "auto-dismiss": False,
        }
        if how.auto_finalize is not None:
            data["auto-finalize"] = how.auto_finalize
        if kind == "blockdev-backup":
            data["target"] = target
            expect = model.backup(job, source, target)
            nodes: tuple[str, ...] = (source, target)
        else:
            # A new image in QEMU's workdir (its cwd), copied to by an unnamed node; qcow2,
            # since sync none makes the source its backing file (raw has none).
            data.update({"target": f"{fresh}.qcow2", "format": "qcow2"})
            expect = model.drive_backup(job, source)
            nodes = (source,)
        if plan.note(number, kind, expect):
            model.jobs[job] = Job("running", nodes)
            plan.jobs.append((job, mode))
        return {"type": kind, "data": data}
    if kind == "blockdev-snapshot-sync":
        plan.known_nodes.add(fresh)
        data = {
            "node-name": node,
            "snapshot-file": f"{fresh}.qcow2",
            "snapshot-node-name": fresh,
            "format": "qcow2",
        }
        if node not in model.nodes:
            expect = hedged(
                Expect(False, f"no node {node!r}", SNAPSHOT_MISSING), model.generated_use(node)
            )
        else:
            expect = Expect(True, f"{node!r} exists, {fresh!r} is new", SNAPSHOT_TAKEN)
            held = model.holder(node) if model.inserted != node else None
            expect = hedged(expect, f"{held} (the doc is silent)" if held else model.doubt(node))
        if plan.note(number, kind, expect):
            plan.snapshots = True
            model.nodes[fresh] = {}
            # The overlay takes the node's place in its parents (cd0's medium), and the
            # graph below it is the model's no longer.
            if model.inserted == node:
                model.inserted = fresh
            model.unsure |= {node, fresh}
        return {"type": kind, "data": data}
    if kind == "blockdev-snapshot":
        overlay = source
        data = {"node": node, "overlay": overlay}
        missing = next((n for n in (node, overlay) if n not in model.nodes), None)
        if missing is not None:
            expect = hedged(
                Expect(False, f"no node {missing!r}", SNAPSHOT_OVERLAY),
                model.generated_use(missing),
            )
        else:
            # Whether a null-co node can be an overlay the doc doesn't say.
            expect = Expect(True, f"{node!r} and {overlay!r} exist", SNAPSHOT_OVERLAY, either=True)
            expect = dataclasses.replace(
                expect,
                why=expect.why + "; the doc doesn't say whether a null-co node may be an overlay",
            )
        if plan.note(number, kind, expect):
            plan.snapshots = True
            if model.inserted == node:
                model.inserted = overlay
            model.unsure |= {node, overlay}
        return {"type": kind, "data": data}
    if kind == "blockdev-snapshot-internal-sync":
        data = {"device": node, "name": other}
        if node not in model.nodes:
            expect = Expect(False, f"no node {node!r}", INTERNAL_MISSING)
        else:
            expect = Expect(False, f"{node!r} is a null-co node", INTERNAL_UNSUPPORTED)
        # A node a snapshot or a generated command touched may be a qcow2 overlay by now.
        plan.note(number, kind, hedged(expect, model.generated_use(node)))
        return {"type": kind, "data": data}
    raise ValueError(f"no planner for transaction action {kind!r}")


def _plan_bitmap(
    plan: TransactionPlan, number: int, kind: str, ref: tuple[str, str], other: str, flag: bool
) -> dict[str, object]:
    node, name = ref
    model = plan.model
    op = kind.removeprefix("block-dirty-bitmap-")
    data: dict[str, object] = {"node": node, "name": name}
    if op == "merge":
        data = {"node": node, "target": name, "bitmaps": [other]}
        bitmaps = model.nodes.get(node)
        if bitmaps is None:
            expect = Expect(False, f"node {node!r} does not exist", MERGE_NODE)
        elif name not in bitmaps or other not in bitmaps:
            gone = name if name not in bitmaps else other
            expect = Expect(False, f"{node!r} has no bitmap {gone!r}", MERGE_MISSING)
        else:
            expect = Expect(True, f"{node!r} has bitmaps {name!r} and {other!r}", MERGE)
        if {(node, name), (node, other)} & plan.removed:
            expect = hedged(expect, "a bitmap of it was removed earlier in the group (doc silent)")
        plan.note(number, kind, hedged(expect, model.generated_use(node)))
        return {"type": kind, "data": data}
    if op == "add":
        if flag:
            data["disabled"] = True
        step = bitmap_step(model.nodes, op, node, name, True if flag else None)
        if step.ok and (node, name) in plan.removed:
            # QEMU removes bitmaps only at commit: see the module docstring.
            step = hedged(step, "it re-adds a bitmap an earlier action removed (doc silent)")
    else:
        step = bitmap_step(model.nodes, op, node, name)
    if op == "remove" and step.ok:
        plan.removed.add((node, name))
    plan.note(number, kind, hedged(step, model.generated_use(node)))
    return {"type": kind, "data": data}


def referencing_commands(schema: Schema) -> tuple[str, ...]:
    """The commands generated arguments can aim at the run's resources, sorted (so that a
    failure shrinks toward the first): those with a member, at any depth, whose name
    draws from a pool of names a run creates (`NAME_KINDS`). Commands that end, stop or
    reset the machine, and commands the host-safety policy skips, are left out."""
    chosen = []
    for name in sorted(schema.commands):
        if lifecycle_reason(name) or safety.skip_reason(name):
            continue
        members = _member_names(schema, schema.command(name).arg_type, set())
        if any(NAME_KINDS.intersection(MEMBER_POOLS.get(m, ())) for m in members):
            chosen.append(name)
    return tuple(chosen)


def _member_names(schema: Schema, type_name: str, seen: set[str]) -> Iterator[str]:
    """The names of every member a value of `type_name` may carry, at any depth."""
    if type_name in seen:
        return
    seen.add(type_name)
    info = schema.type(type_name)
    if isinstance(info, ObjectType):
        for member in info.members:
            yield member.name
            yield from _member_names(schema, member.type, seen)
        for variant in info.variants:
            yield from _member_names(schema, variant.type, seen)
    elif isinstance(info, ArrayType):
        yield from _member_names(schema, info.element_type, seen)
    elif isinstance(info, AlternateType):
        for branch in info.branches:
            yield from _member_names(schema, branch, seen)


def mentioned(value: object, names: Iterable[str]) -> set[str]:
    """The `names` that `value` mentions: a string equal to one, or a QOM path with one
    as a component (``/machine/peripheral/dev3``)."""
    found: set[str] = set()
    wanted = set(names)
    for text in _strings(value):
        found.update(wanted.intersection((text, *text.split("/"))))
    return found


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def pool_contents(model: Model) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What a generated command draws names from, by pool kind: the names the run has
    used (gone ones too, so that missing names come up), their QOM paths, the USB device
    types and bus. Sorted, so that the same steps give the same pools (Hypothesis replays
    a run from its choices, and pools are read when a string is drawn)."""
    paths = [f"{PERIPHERAL}/{d}" for d in model.known_devices]
    paths += [f"{OBJECTS}/{o}" for o in model.known_objects]
    kinds = {
        "node-name": model.known_nodes - {NOSUCH},
        "device-id": model.known_devices,
        "chardev-id": model.known_chardevs,
        "object-id": model.known_objects,
        "job-id": model.known_jobs,
        "qom-path": set(paths),
        "type-name": set(USB_DEVICES),
        "seen": {USB_BUS},
    }
    return tuple((kind, tuple(sorted(names))) for kind, names in kinds.items())


# -- strategies ----------------------------------------------------------------------------

nodes = Bundle[str]("nodes")
sized = Bundle[str]("sized")  # nodes the run added, all SIZE bytes: what jobs copy
bitmaps = Bundle[tuple[str, str]]("bitmaps")
chardevs = Bundle[str]("chardevs")
objects = Bundle[str]("objects")
devices = Bundle[str]("devices")
jobs = Bundle[str]("jobs")
node_names = st.one_of(nodes, st.just(NOSUCH))
# Objects, devices and jobs are named from their bundles only: a missing name comes up
# once the run deleted one (a name nothing ever had would make the rule always
# available, and spend most of its steps on it).
# Half the references are ones the run added (most still exist), half a name on a node
# the run named (deleted nodes included, so a missing node comes up too).
bitmap_refs = st.one_of(bitmaps, st.tuples(nodes, st.sampled_from(BITMAP_NAMES)))
# In a transaction a failing action is the point (atomicity): names on no node too.
action_refs = st.one_of(bitmaps, st.tuples(node_names, st.sampled_from(BITMAP_NAMES)))
disabled_flags = st.one_of(st.none(), st.booleans())
object_types = st.sampled_from(sorted(OBJECT_TYPES))
object_failures = st.sampled_from(sorted(OBJECT_FAILURES))
usb_devices = st.sampled_from(USB_DEVICES)
job_modes = st.sampled_from(sorted(JOB_MODES))


class ResourceMachine(RuleBasedStateMachine):
    """cd0, nodes, bitmaps, chardevs, objects, USB devices and backup jobs of one QEMU,
    and generated commands aimed at them; `steps` counts rules (all runs)."""

    steps = 0
    nodes = nodes
    sized = sized
    bitmaps = bitmaps
    chardevs = chardevs
    objects = objects
    devices = devices
    jobs = jobs

    def __init__(
        self,
        make: Callable[[], QemuInstance],
        schema: Schema,
        policy: GenerationPolicy,
        generated: tuple[str, ...],
        *,
        machine: bool = True,
    ) -> None:
        super().__init__()
        # Without a machine (qemu-storage-daemon) there is no cd0 and no device: null0
        # is held by nothing, and the tray and device rules don't run.
        self.machine = machine
        self.fence = "query-status" if "query-status" in schema.commands else "query-version"
        self.schema = schema
        self.policy = policy
        self.generated = generated
        self.kinds = transaction_kinds(schema)
        self.planned = tuple(sorted(self.kinds & PLANNED_ACTIONS))
        self.inst = make()
        self.inst.start()
        self.model = Model()
        # The board's devices besides cd0 (the SCSI controller cd0 sits on, where it has
        # one) are the profile's, not the run's: known from the start.
        self.model.devices |= self.inst.profile.device_ids
        self.model.known_devices |= self.inst.profile.device_ids
        if not machine:
            self.model.inserted = None
            self.model.devices, self.model.known_devices = set(), set()
        self.created = 0
        self.last = "the profile's initial state"
        self.cite = CLOSE  # the sentence behind the model's latest change
        self.job_events: dict[str, str] = {}  # job id -> its last announced status
        self._cursor = 0  # transcript records read for job_events
        # The generated commands' pools: one a run, so that the strategies built from them
        # are too; they only grow, as the names a run has used do.
        self.pools = Pools()
        # The kinds of resource the run has touched ("chardev", "object", "device",
        # "job"): the invariants query only those (a run that never touched one can't
        # have moved it, and each query costs a round trip on every step).
        self.touched: set[str] = set()
        try:
            assert self.inst.info is not None
            self.version: Version = self.inst.info.version
            with evidence(self.inst):
                # Read, not predicted: the board's own objects (its RAM backend) and the
                # harness's monitor chardevs are named by no QMP doc.
                self.model.objects = self._children(OBJECTS)
                self.harness_chardevs = self._chardevs()
        except BaseException:
            self.inst.close()
            raise
        self.model.known_objects = set(self.model.objects)

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
            # This step's events only: a wait in it must not take an older one.
            self.inst.drain_events()
            reply = self.inst.execute(command, dict(arguments))
            fence = self.inst.execute(self.fence)
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

    def _await(self, event: str, match: Mapping[str, object], citation: Citation) -> Message:
        """The step's `event` whose data holds `match`, waited for with the reply deadline
        (the event may come after the step's fence: jobs and unplugs are asynchronous)."""
        with evidence(self.inst):
            try:
                return self.inst.wait_event(event, match)
            except EventMissing:
                raise self._fail(
                    "resources.event",
                    f"no {event} with {json.dumps(match, sort_keys=True)} within "
                    f"{self.inst.config.timeout:g} s",
                    citation,
                ) from None

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

    def _ask(self, command: str, arguments: Mapping[str, object] | None = None) -> Reply:
        reply = self.inst.execute(command, None if arguments is None else dict(arguments))
        if reply.message.kind is not Kind.RETURN:
            raise self._fail("resources.query", f"{command} failed: {reply.message.raw[:300]!r}")
        # Nothing moves the tray between steps.
        self._check_tray_events(f"{command} (after {self.last})", command, None, reply)
        return reply

    def _query(self, command: str, arguments: Mapping[str, object] | None = None) -> object:
        return self._ask(command, arguments).value

    # -- reading the state -------------------------------------------------------------

    def _cd0(self) -> tuple[object, str | None]:
        """cd0's ``tray_open`` and the node-name of its medium (None: none)."""
        devices = _records(self._query("query-block"))
        cd0 = next((d for d in devices if d.get("qdev") in CD0_IDS), None)
        if cd0 is None:
            raise self._fail("resources.cd0", "query-block lists no device cd0")
        inserted = cd0.get("inserted")
        name = inserted.get("node-name") if isinstance(inserted, dict) else None
        return cd0.get("tray_open"), name if isinstance(name, str) else None

    def _named_nodes(self) -> dict[str, dict[str, object]]:
        """Each named node's named dirty bitmaps: name -> ``recording``. (A backup job
        tracks its copy in a bitmap without a name, which no QMP command can reach.)"""
        return {
            str(node.get("node-name")): {
                str(b["name"]): b.get("recording")
                for b in _records(node.get("dirty-bitmaps"))
                if isinstance(b.get("name"), str)
            }
            for node in _records(self._query("query-named-block-nodes"))
        }

    def _chardevs(self) -> set[str]:
        return {str(c.get("label")) for c in _records(self._query("query-chardev"))}

    def _children(self, path: str) -> set[str]:
        """The names of `path`'s child<...> properties: the objects or devices under it."""
        if not self.machine and path == OBJECTS:
            # qemu-storage-daemon makes /objects with its first object: until then, none.
            missing = self.inst.execute("qom-list", {"path": path}).message
            if missing.error_class == "DeviceNotFound":
                return set()
        listed = _records(self._query("qom-list", {"path": path}))
        return {str(p.get("name")) for p in listed if str(p.get("type")).startswith("child<")}

    def _jobs(self) -> dict[str, str]:
        """query-jobs as id -> status; `job_events` is brought up to its reply."""
        reply = self._ask("query-jobs")
        self._fold_job_events(reply.message)
        return {str(j.get("id")): str(j.get("status")) for j in _records(reply.value)}

    def _fold_job_events(self, until: Message) -> None:
        """Read the transcript on to the reply `until`, noting the status each job's
        JOB_STATUS_CHANGE events last announced. QEMU sends events and replies in the
        order they happen, so those received before a query-jobs reply say what it lists."""
        records = self.inst.transcript.records
        while self._cursor < len(records):
            record = records[self._cursor]
            self._cursor += 1
            value = record.value
            if record.direction is not Direction.RECV or not isinstance(value, dict):
                continue
            data = value.get("data")
            if value.get("event") == EVENT and isinstance(data, dict):
                self.job_events[str(data.get("id"))] = str(data.get("status"))
            elif (
                record.kind in (Kind.RETURN.value, Kind.ERROR.value) and value.get("id") == until.id
            ):
                return

    def _reread(self) -> None:
        """Take QEMU's state as the model's, from the invariants' queries."""
        model = self.model
        if self.machine:
            tray, model.inserted = self._cd0()
            model.tray_open = tray is True
        listed = self._named_nodes()
        model.nodes = {
            name: {b: recording is True for b, recording in listed[name].items()}
            for name in model.known_nodes
            if name in listed
        }
        model.chardevs = self._chardevs() - self.harness_chardevs
        model.known_chardevs |= model.chardevs
        model.objects = self._children(OBJECTS)
        model.known_objects |= model.objects
        if self.machine:
            model.devices = self._children(PERIPHERAL)
            model.known_devices |= model.devices
        jobs = self._jobs()
        self._follow_jobs(jobs, set(jobs) | set(model.jobs))
        model.known_jobs |= set(jobs)

    def _follow_jobs(self, listed: Mapping[str, str], names: set[str]) -> None:
        """Take the listed status of the jobs `names` (dropping those not listed); a job
        new to the model was started by a generated command, so it is unsure."""
        model = self.model
        for name in sorted(names):
            if name not in listed:
                model.jobs.pop(name, None)
                continue
            if name not in model.jobs:
                model.unsure.add(name)
            model.jobs.setdefault(name, Job(listed[name])).status = listed[name]

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
        expect = hedged(expect, model.generated_use(name))
        ok = self._step(
            "blockdev-add", {"driver": "null-co", "node-name": name, "size": SIZE}, expect
        )
        model.known_nodes.add(name)
        if ok:
            model.nodes[name] = {}
            model.unsure.discard(name)  # a node of ours now, nothing holds it
        return ok

    def _new_node(self) -> str:
        name = self._fresh("n")
        self._add_node(name)
        return name

    @initialize(targets=(nodes, sized))
    def first_nodes(self) -> MultipleResults[str]:
        """Two nodes in every run, whichever rules Hypothesis enables for it (it runs
        each with a random subset): a job needs two."""
        return multiple(self._new_node(), self._new_node())

    @rule(targets=(nodes, sized))
    def add_node(self) -> str:
        return self._new_node()

    @rule(name=nodes)
    def add_node_again(self, name: str) -> None:
        """A name the run used: refused while the node exists, free after blockdev-del."""
        self._add_node(name)

    @rule(name=node_names)
    def delete_node(self, name: str) -> None:
        model = self.model
        if self._step("blockdev-del", {"node-name": name}, model.delete_node(name)):
            model.nodes.pop(name, None)  # absent if the model was unsure of it
            model.unsure.discard(name)

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
        expect = hedged(expect, self.model.generated_use(node))
        if self._step("block-dirty-bitmap-add", arguments, expect):
            self.model.nodes = after
            return ref
        return multiple()

    @rule(ref=bitmap_refs, op=st.sampled_from(BITMAP_OPS[1:]))
    def bitmap_command(self, ref: tuple[str, str], op: str) -> None:
        node, name = ref
        after = {n: dict(b) for n, b in self.model.nodes.items()}
        expect = hedged(bitmap_step(after, op, node, name), self.model.generated_use(node))
        if self._step(f"block-dirty-bitmap-{op}", {"node": node, "name": name}, expect):
            self.model.nodes = after

    @precondition(lambda self: bool(self.planned))
    @rule(
        target=jobs,
        draws=st.lists(
            st.tuples(
                st.integers(0, 63),
                action_refs,
                sized,
                sized,
                st.sampled_from(BITMAP_NAMES),
                job_modes,
                st.booleans(),
            ),
            min_size=1,
            max_size=TRANSACTION_ACTIONS,
        ),
        mode=st.sampled_from((None, *COMPLETION_MODES)),
        clean=st.booleans(),
    )
    def transaction(
        self, draws: list[ActionDraw], mode: str | None, clean: bool
    ) -> MultipleResults[str]:
        """1 to TRANSACTION_ACTIONS actions of any kind the binary's TransactionAction
        lists (`PLANNED_ACTIONS`), jobs included, in either completion mode: all take
        effect or none does; the jobs it starts come to rest where their mode and the
        group's say. A `clean` group holds only actions the model says succeed (a drawn
        kind that must fail gives way to the next kind that may not): with four actions
        drawn freely, most groups would fail, and their jobs never start."""
        grouped = mode == "grouped"
        plan = TransactionPlan(copy.deepcopy(self.model), grouped)
        actions: list[dict[str, object]] = []
        for draw in draws:
            plan, action = self._plan_next(plan, draw, clean)
            if action is not None:
                actions.append(action)
        arguments: dict[str, object] = {"actions": actions}
        if mode is not None:
            arguments["properties"] = {"completion-mode": mode}
        # Names the group would create: absent after a failure (atomicity), checked.
        for model in (self.model, plan.model):
            model.known_nodes |= plan.known_nodes
            model.known_jobs |= plan.known_jobs
        if plan.jobs:
            self.touched.add("job")
        if not self._step("transaction", arguments, plan.expect()):
            return multiple()
        self.model = plan.model
        group = f"group{self.created}" if grouped and len(plan.jobs) > 1 else None
        for job, status, citation in plan.rests():
            self._await(EVENT, {"id": job, "status": status}, citation)
            self.model.jobs[job].status = status
            self.model.jobs[job].group = group
        return multiple(*(job for job, _ in plan.jobs))

    def _plan_next(
        self, plan: TransactionPlan, draw: ActionDraw, clean: bool
    ) -> tuple[TransactionPlan, dict[str, object] | None]:
        """`plan` with the action `draw` picks; for a `clean` group, the first kind from
        the drawn one on that may succeed (grouped: one that takes grouped completion),
        or no action at all."""
        first = draw[0] % len(self.planned)
        kinds = self.planned[first:] + self.planned[:first]
        for kind in kinds if clean else kinds[:1]:
            if clean and plan.grouped and kind not in GROUPED_ACTIONS:
                continue
            trial = copy.deepcopy(plan) if clean else plan
            action = plan_action(trial, trial.actions + 1, kind, draw, self._fresh("t"))
            if not clean or trial.fail is None:
                trial.actions += 1
                return trial, action
        return plan, None

    # -- rules: tray and medium --------------------------------------------------------

    @precondition(lambda self: self.machine)
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

    @precondition(lambda self: self.machine)
    @rule()
    def close_tray(self) -> None:
        model = self.model
        if model.tray_open:
            expect = Expect(True, "the tray is open", CLOSE, tray=False)
        else:
            expect = Expect(True, "the tray is closed", CLOSE_NOOP, event_citation=CLOSE_NOOP)
        if self._step("blockdev-close-tray", CD0, expect):
            model.tray_open = False

    @precondition(lambda self: self.machine)
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

    @precondition(lambda self: self.machine)
    @rule(name=node_names)
    def insert_medium(self, name: str) -> None:
        model = self.model
        if self._step(
            "blockdev-insert-medium", {**CD0, "node-name": name}, model.insert_medium(name)
        ):
            model.inserted = name

    # -- rules: chardevs, objects and devices ------------------------------------------

    def _add_named(
        self,
        what: str,
        name: str,
        present: set[str],
        command: str,
        arguments: Mapping[str, object],
        citation: Citation,
    ) -> None:
        """Add the chardev, object or device `name`: refused while one of that name is in
        `present` (the model's), accepted otherwise."""
        self.touched.add(what)
        exists = name in present
        expect = Expect(not exists, f"{what} {name!r} {'exists' if exists else 'is new'}", citation)
        if self._step(command, arguments, expect):
            present.add(name)
            self.model.unsure.discard(name)

    def _remove_named(
        self,
        what: str,
        name: str,
        present: set[str],
        command: str,
        citation: Citation,
        missing: tuple[Citation, str | None] | None = None,
    ) -> bool:
        """Remove the chardev, object or device `name`: accepted while it is in `present`
        and nothing the model can't see may hold it, refused once it is gone (with the
        `missing` citation and error class, if the doc has its own sentence for that)."""
        self.touched.add(what)
        exists = name in present
        expect = Expect(exists, f"{what} {name!r} {'exists' if exists else 'is gone'}", citation)
        if exists:
            expect = hedged(expect, self.model.generated_use(name))
        elif missing is not None:
            expect = dataclasses.replace(expect, citation=missing[0], error_class=missing[1])
        ok = self._step(command, {"id": name}, expect)
        if ok:
            present.discard(name)
            self.model.unsure.discard(name)
        return ok

    def _chardev(self, name: str) -> None:
        self.model.known_chardevs.add(name)
        arguments = {"id": name, "backend": {"type": "null", "data": {}}}
        self._add_named("chardev", name, self.model.chardevs, "chardev-add", arguments, CHARDEV_ADD)

    @rule(target=chardevs)
    def add_chardev(self) -> str:
        name = self._fresh("chr")
        self._chardev(name)
        return name

    @rule(name=chardevs)
    def add_chardev_again(self, name: str) -> None:
        self._chardev(name)

    @rule(name=chardevs)
    def remove_chardev(self, name: str) -> None:
        self._remove_named("chardev", name, self.model.chardevs, "chardev-remove", CHARDEV_REMOVE)

    def _object(self, name: str, qom_type: str, citation: Citation = OBJECT_ADD) -> None:
        self.model.known_objects.add(name)
        arguments = {"qom-type": qom_type, "id": name, **OBJECT_TYPES[qom_type]}
        self._add_named("object", name, self.model.objects, "object-add", arguments, citation)

    @rule(target=objects, qom_type=object_types)
    def add_object(self, qom_type: str) -> str:
        name = self._fresh("obj")
        self._object(name, qom_type)
        return name

    @rule(name=objects, qom_type=object_types)
    def add_object_again(self, name: str, qom_type: str) -> None:
        self._object(name, qom_type)

    @initialize(target=objects, failure=object_failures)
    def first_failed_object(self, failure: str) -> str:
        """One failed object-add in every run, whichever rules Hypothesis enables: the CI
        profile's few examples would otherwise rarely reach `add_object_badly`."""
        return self._object_badly(failure)

    @rule(target=objects, failure=object_failures)
    def add_object_badly(self, failure: str) -> str:
        return self._object_badly(failure)

    def _object_badly(self, failure: str) -> str:
        """A failed object-add leaves no residue: the id is free again, so a valid
        object-add with it succeeds (and the invariant's qom-list /objects lists exactly
        the model's objects)."""
        name = self._fresh("obj")
        qom_type, properties = OBJECT_FAILURES[failure]
        self.touched.add("object")
        self.model.known_objects.add(name)
        arguments = {"qom-type": qom_type, "id": name, **properties}
        expect = Expect(False, f"object {name!r}: {failure}", OBJECT_ADD_FAILS, "GenericError")
        self._step("object-add", arguments, expect)
        self._object(name, "secret", OBJECT_ADD_FAILS)
        return name

    @rule(name=objects)
    def delete_object(self, name: str) -> None:
        missing = (OBJECT_MISSING, None)
        self._remove_named("object", name, self.model.objects, "object-del", OBJECT_DEL, missing)

    def _device(self, name: str, driver: str) -> None:
        model = self.model
        # A deleted device's id: DEVICE_DELETED came (delete_device waits for it).
        cite = DEVICE_REUSE if name in model.known_devices - model.devices else DEVICE_ID
        model.known_devices.add(name)
        arguments = {"driver": driver, "id": name, "bus": USB_BUS}
        self._add_named("device", name, model.devices, "device_add", arguments, cite)

    @precondition(lambda self: self.machine)
    @rule(target=devices, driver=usb_devices)
    def add_device(self, driver: str) -> str:
        name = self._fresh("dev")
        self._device(name, driver)
        return name

    @rule(name=devices, driver=usb_devices)
    def add_device_again(self, name: str, driver: str) -> None:
        """Refused while the device exists; free again once DEVICE_DELETED came."""
        self._device(name, driver)

    @rule(name=devices)
    def delete_device(self, name: str) -> None:
        missing = (DEVICE_MISSING, "DeviceNotFound")
        if not self._remove_named(
            "device", name, self.model.devices, "device_del", DELETED, missing
        ):
            return
        # A USB device needs no guest to let go: the removal completes on its own.
        event = self._await("DEVICE_DELETED", {"device": name}, DELETED)
        path = _event_data(event).get("path")
        if path != f"{PERIPHERAL}/{name}":
            raise self._fail(
                "resources.device-deleted",
                f"DEVICE_DELETED for {name!r} has path {path!r}, not {PERIPHERAL}/{name}",
                DELETED_DATA,
            )

    # -- rules: jobs -------------------------------------------------------------------

    def _backup(self, job: str, source: str, target: str, mode: str) -> bool:
        model = self.model
        self.touched.add("job")
        how = JOB_MODES[mode]
        arguments: dict[str, object] = {
            "job-id": job,
            "device": source,
            "target": target,
            "sync": how.sync,
            "auto-dismiss": False,
        }
        if how.auto_finalize is not None:
            arguments["auto-finalize"] = how.auto_finalize
        ok = self._step("blockdev-backup", arguments, model.backup(job, source, target))
        model.known_jobs.add(job)
        if ok:
            self._await(EVENT, {"id": job, "status": how.rests}, how.citation)
            model.jobs[job] = Job(how.rests, (source, target))
            model.unsure.discard(job)
        return ok

    @rule(target=jobs, source=sized, copy_to=sized, mode=job_modes)
    def start_job(self, source: str, copy_to: str, mode: str) -> str | MultipleResults[str]:
        # Only jobs that were: a verb on a missing job comes up once one is dismissed.
        name = self._fresh("job")
        return name if self._backup(name, source, copy_to, mode) else multiple()

    @rule(job=jobs, source=sized, copy_to=sized, mode=job_modes)
    def start_job_again(self, job: str, source: str, copy_to: str, mode: str) -> None:
        """Refused while the job exists; its id is free again once it is dismissed."""
        self._backup(job, source, copy_to, mode)

    @rule(job=jobs, verb=st.sampled_from(JOB_VERBS))
    def job_verb(self, job: str, verb: str) -> None:
        model = self.model
        if not self._step(f"job-{verb}", {"id": job}, model.job_verb(job, verb, self.version)):
            return
        if job in model.unsure:
            # Where it goes the model can't tell: its events say (see _check_jobs).
            if verb == "dismiss":
                model.jobs.pop(job, None)
                model.unsure.discard(job)
            return
        status, citation = VERB_RESTS[verb]
        # Cancelling or finalizing one job of a grouped transaction does it to all.
        peers = model.group_peers(job) if verb != "dismiss" else []
        for name in [job, *peers]:
            self._await(
                EVENT, {"id": name, "status": status}, GROUPED if name in peers else citation
            )
            model.jobs[name].status = status
        if verb == "dismiss":
            del model.jobs[job]

    # -- rules: generated commands -----------------------------------------------------

    @precondition(lambda self: bool(self.generated))
    @rule(data=st.data())
    def generated_command(self, data: st.DataObject) -> None:
        """A command of the binary that names resources, with valid arguments drawn from
        pools of the run's names; judged like the argument tests judge it, then the model
        takes QEMU's state."""
        model = self.model
        command = data.draw(st.sampled_from(self.generated), label="command")
        for kind, names in pool_contents(model):
            self.pools.extend(kind, names)
        drawn = data.draw(
            generated_arguments(self.schema, command, pools=self.pools, policy=self.policy),
            label="arguments",
        )
        # The argument tests' host-safety path (`admit`: policy exclusions, then
        # confinement to the workdir); an example confinement changed the meaning of is
        # not the one drawn, so it isn't sent.
        try:
            sent = safety.admit(command, drawn, str(self.inst.workdir))
        except safety.Unconfinable:
            return
        if not isinstance(sent, dict) or validate_arguments(self.schema, command, sent):
            return
        # A node a generated command made may have any size, and one copied into a file
        # in the workdir could fill the disk: generated commands leave those alone.
        if mentioned(sent, model.unsure & model.known_nodes):
            return
        self.touched |= {"chardev", "object", "device", "job"}
        ResourceMachine.steps += 1
        sent_id = f"generated-{ResourceMachine.steps}"
        self.last = f"{command} {json.dumps(sent, sort_keys=True)[:300]}"
        self.cite = qapi(command, "arguments as introspected by query-qmp-schema")
        with evidence(self.inst):
            reply = self.inst.execute(command, sent, id=sent_id)
            fence = self.inst.execute(self.fence)
            judge_reply(self.schema, command, reply.message, sent_id)
            judge_events(self.schema, [*reply.events, *fence.events])
            if reply.ok:
                model.unsure |= mentioned(sent, model.known())
            self._reread()

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        with evidence(self.inst):
            if not self.inst.alive():
                info = self.inst.settle(RuntimeError("process exited"))
                raise Failure(
                    "resources.alive",
                    ANSWERED,
                    f"after {self.last}: QEMU is gone: {info.describe()}",
                    kind=FindingKind.CRASH,
                )
            if self.machine:
                self._check_cd0()
            self._check_nodes()
            if "chardev" in self.touched:
                self._check_chardevs()
            if "object" in self.touched:
                self._check_children("objects", OBJECTS, self.model.objects)
            if "device" in self.touched and self.machine:
                self._check_children("devices", PERIPHERAL, self.model.devices)
            if "job" in self.touched:
                self._check_jobs()

    def _check_cd0(self) -> None:
        model = self.model
        tray, name = self._cd0()
        if tray is not model.tray_open:
            raise self._fail(
                "resources.tray",
                f"query-block cd0 tray_open is {tray!r}, the model says {model.tray_open}",
            )
        if name != model.inserted:
            shown = "nothing inserted" if name is None else f"node-name {name!r} inserted"
            raise self._fail(
                "resources.medium",
                f"query-block cd0 has {shown}, the model says "
                + (f"{model.inserted!r}" if model.inserted else "nothing inserted"),
            )

    def _check_nodes(self) -> None:
        model = self.model
        listed = self._named_nodes()
        # An unsure node may change at any time (a job a generated command started).
        for name in sorted(model.known_nodes - model.unsure):
            shown = listed.get(name)
            if name not in model.nodes:
                if shown is not None:
                    raise self._fail(
                        "resources.nodes",
                        f"query-named-block-nodes lists {name!r}, which the model says "
                        "does not exist",
                    )
                continue
            if shown is None:
                raise self._fail(
                    "resources.nodes",
                    f"query-named-block-nodes does not list {name!r}, which the model says exists",
                )
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
        labels = self._chardevs()
        for name in sorted(model.known_chardevs):
            if (name in labels) != (name in model.chardevs):
                raise self._fail(
                    "resources.chardevs",
                    f"query-chardev {'lists' if name in labels else 'does not list'} {name!r}, "
                    f"the model says it {'exists' if name in model.chardevs else 'is gone'}",
                )

    def _check_children(self, what: str, path: str, want: set[str]) -> None:
        """qom-list `path` lists exactly the model's objects or devices."""
        listed = self._children(path)
        if listed != want:
            raise self._fail(
                f"resources.{what}",
                f"qom-list {path} has {what} {sorted(listed)}, the model says {sorted(want)}"
                f" (only in QEMU: {sorted(listed - want)}; only in the model: "
                f"{sorted(want - listed)})",
            )

    def _check_jobs(self) -> None:
        """query-jobs lists what the jobs' events announced, and the model's jobs."""
        model = self.model
        listed = self._jobs()
        for job, status in sorted(listed.items()):
            if self.job_events.get(job) != status:
                raise self._fail(
                    "resources.job-event",
                    f"query-jobs lists {job!r} as {status!r}; its last {EVENT} before that "
                    f"reply said {self.job_events.get(job)!r}",
                    CHANGE_EVENT,
                )
        for job, status in sorted(self.job_events.items()):
            if status != "null" and job not in listed:
                raise self._fail(
                    "resources.job-listed",
                    f"{job!r} last announced {status!r}, and query-jobs doesn't list it",
                    JOBS_LISTED,
                )
        # An unsure job goes where its events (checked above) say.
        self._follow_jobs(listed, (set(listed) | set(model.jobs)) & model.unsure)
        if set(listed) != set(model.jobs):
            raise self._fail(
                "resources.jobs",
                f"query-jobs lists {sorted(listed)}, the model says {sorted(model.jobs)}",
            )
        for job, known in sorted(model.jobs.items()):
            if listed[job] != known.status:
                raise self._fail(
                    "resources.job-status",
                    f"query-jobs lists {job!r} as {listed[job]!r}, the model says {known.status!r}",
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


def run_resource_machine(
    make: Callable[[], QemuInstance],
    schema: Schema,
    policy: GenerationPolicy,
    generated: tuple[str, ...],
    *,
    machine: bool,
) -> None:
    """Run the machine as one test, a QEMU from `make` per example; it counts its steps
    in `ResourceMachine.steps`."""
    ResourceMachine.steps = 0
    run_state_machine(
        lambda: ResourceMachine(make, schema, policy, generated, machine=machine),
        settings=settings(
            settings.default,
            stateful_step_count=STEPS,
            # Every example starts a QEMU: shrinking one failure at a time keeps a
            # failing run within minutes.
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
