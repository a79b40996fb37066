"""transaction: the empty group, abort, and every action the 7.2 TransactionAction
union lists, alone (it takes effect) and followed by abort (nothing takes effect,
checked by query). `ACTIONS` is keyed by action; `test_transaction_actions_covered`
fails on any action of the binary under test that has no entry (`uncovered_actions`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conformance.behaviour.rule import EITHER, Event, Rule, State, Step
from conformance.behaviour.rules.block import OVERLAY_SETUP
from conformance.machine.profiles import TRAY
from conformance.oracle.failure import Citation, qapi
from conformance.spec import Schema
from conformance.spec.model import ArrayType

ATOMIC = qapi(
    "qapi/transaction.json: transaction",
    "Executes a number of transactionable QMP commands atomically. If any operation fails, "
    "then the entire set of actions will be abandoned and the appropriate error returned.",
)
ABORT = qapi(
    "qapi/transaction.json: Abort",
    "This action can be used to test transaction failure.",
)
ABORT_ACTION = {"type": "abort", "data": {}}
NODES = "query-named-block-nodes"
Setup = tuple[Step | tuple[str, Mapping[str, object]], ...]


def _bitmap(value: Mapping[str, object] | None = None, *, gone: bool = False) -> State:
    if gone:
        return State(NODES, {"node-name": "null0"}, "dirty-bitmaps", absent=True)
    return State(NODES, {"node-name": "null0"}, "dirty-bitmaps", has=value)


def _add(name: str, **extra: object) -> tuple[str, Mapping[str, object]]:
    return ("block-dirty-bitmap-add", {"node": "null0", "name": name, **extra})


# 64 KiB written to the CD-ROM's node: one granule of every recording bitmap.
DIRTY = ("human-monitor-command", {"command-line": 'qemu-io -d cd0 "write 0 65536"'})
SOURCE = ("blockdev-add", {"driver": "null-co", "node-name": "src", "size": 1048576})
TARGET = ("blockdev-add", {"driver": "null-co", "node-name": "tgt", "size": 1048576})
SNAPSHOT_SYNC = {
    "node-name": "null0",
    "snapshot-file": "s.qcow2",
    "snapshot-node-name": "s1",
    "format": "qcow2",
}


def _no_job(job: str) -> State:
    return State("query-block-jobs", {"device": job}, none=True)


def _done(job: str) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": job, "status": "null"}, EITHER)


@dataclass(frozen=True, slots=True)
class Action:
    """One transaction action: what it needs, its data, and the state that shows it
    took effect (`effect`) or didn't (`unchanged`)."""

    data: Mapping[str, object]
    effect: tuple[State, ...]
    unchanged: tuple[State, ...]
    setup: Setup = ()
    events: tuple[Event, ...] = ()
    needs: frozenset[str] = frozenset()  # profile features (Rule.needs)


ACTIONS: Mapping[str, Action] = {
    "block-dirty-bitmap-add": Action(
        {"node": "null0", "name": "b1"}, (_bitmap({"name": "b1"}),), (_bitmap(gone=True),)
    ),
    "block-dirty-bitmap-remove": Action(
        {"node": "null0", "name": "b1"},
        (_bitmap(gone=True),),
        (_bitmap({"name": "b1"}),),
        setup=(_add("b1"),),
    ),
    "block-dirty-bitmap-clear": Action(
        {"node": "null0", "name": "b1"},
        (_bitmap({"name": "b1", "count": 0}),),
        (_bitmap({"name": "b1", "count": 65536}),),
        setup=(_add("b1"), DIRTY),
    ),
    "block-dirty-bitmap-enable": Action(
        {"node": "null0", "name": "b1"},
        (_bitmap({"name": "b1", "recording": True}),),
        (_bitmap({"name": "b1", "recording": False}),),
        setup=(_add("b1", disabled=True),),
    ),
    "block-dirty-bitmap-disable": Action(
        {"node": "null0", "name": "b1"},
        (_bitmap({"name": "b1", "recording": False}),),
        (_bitmap({"name": "b1", "recording": True}),),
        setup=(_add("b1"),),
    ),
    "block-dirty-bitmap-merge": Action(
        {"node": "null0", "target": "b1", "bitmaps": ["b2"]},
        (_bitmap({"name": "b1", "count": 65536}),),
        (_bitmap({"name": "b1", "count": 0}),),
        setup=(_add("b1", disabled=True), _add("b2"), DIRTY),
    ),
    "blockdev-backup": Action(
        {"job-id": "j1", "device": "src", "target": "tgt", "sync": "full"},
        (),
        (_no_job("j1"),),
        setup=(SOURCE, TARGET),
        events=(_done("j1"),),
    ),
    "drive-backup": Action(
        {"job-id": "j1", "device": "src", "target": "b.raw", "format": "raw", "sync": "full"},
        (),
        (_no_job("j1"),),
        setup=(SOURCE,),
        events=(_done("j1"),),
    ),
    "blockdev-snapshot": Action(
        {"node": "null0", "overlay": "ov"},
        (State("query-block", {"qdev": "cd0"}, "inserted.node-name", "ov"),),
        (State("query-block", {"qdev": "cd0"}, "inserted.node-name", "null0"),),
        setup=OVERLAY_SETUP,
    ),
    "blockdev-snapshot-sync": Action(
        SNAPSHOT_SYNC,
        (State("query-block", {"qdev": "cd0"}, "inserted.node-name", "s1"),),
        (State("query-block", {"qdev": "cd0"}, "inserted.node-name", "null0"),),
    ),
    "blockdev-snapshot-internal-sync": Action(
        {"device": "s1", "name": "snap1"},
        (State(NODES, {"node-name": "s1"}, "image.snapshots", has={"name": "snap1"}),),
        (State(NODES, {"node-name": "s1"}, "image.snapshots", absent=True),),
        setup=(("blockdev-snapshot-sync", SNAPSHOT_SYNC),),
        # Only a parent of null0 (the CD-ROM) keeps the overlay s1 once the setup's
        # snapshot is done; without one, s1 is released at once.
        needs=frozenset({TRAY}),
    ),
}


def transaction_kinds(schema: Schema) -> frozenset[str]:
    """The action types `schema`'s transaction takes (its TransactionAction union's
    cases, ``abort`` included); empty when the binary has no transaction."""
    if "transaction" not in schema.commands:
        return frozenset()
    arguments = schema.object_type(schema.command("transaction").arg_type)
    actions = next(m for m in arguments.members if m.name == "actions")
    array = schema.type(actions.type)
    if not isinstance(array, ArrayType):
        return frozenset()
    return frozenset(v.case for v in schema.object_type(array.element_type).variants)


def uncovered_actions(schema: Schema) -> list[str]:
    """The actions of `schema`'s transaction that `ACTIONS` has no rules for."""
    return sorted(transaction_kinds(schema) - {ABORT_ACTION["type"]} - set(ACTIONS))


def _action_rules(name: str, action: Action) -> tuple[Rule, Rule]:
    one = {"type": name, "data": dict(action.data)}
    return (
        Rule(
            f"transaction.{name}.alone",
            f"a {name} action alone takes effect",
            "transaction",
            ATOMIC,
            (Step("transaction", {"actions": [one]}, events=action.events, state=action.effect),),
            setup=action.setup,
            since=(2, 5, 0),
            needs=action.needs,
        ),
        Rule(
            f"transaction.{name}.with-abort",
            f"a {name} action followed by abort takes no effect",
            "transaction",
            ATOMIC,
            (
                Step(
                    "transaction",
                    {"actions": [one, ABORT_ACTION]},
                    reply="error",
                    state=action.unchanged,
                ),
            ),
            setup=action.setup,
            since=(2, 5, 0),
            needs=action.needs,
        ),
    )


GROUPED = qapi(
    "qapi/transaction.json: ActionCompletionMode",
    "grouped: If any Action fails after the Transaction succeeds, cancel all Actions.",
)
INDIVIDUAL = qapi(
    "qapi/transaction.json: ActionCompletionMode",
    "individual: Do not attempt to cancel any other Actions if any Actions fail after the "
    "Transaction request succeeds. All Actions that can complete successfully will do so "
    "without waiting on others.",
)
# Two backups in one transaction; the second one's target fails every write (blkdebug),
# so it fails after the transaction has succeeded. The first is slowed to 256 KiB/s so
# that it is still running then.
TWO_BACKUPS: Setup = (
    *(
        ("blockdev-add", {"driver": "null-co", "node-name": n, "size": 1048576})
        for n in ("s1", "t1", "s2")
    ),
    (
        "blockdev-add",
        {
            "driver": "blkdebug",
            "node-name": "bad",
            "image": {"driver": "null-co", "size": 1048576},
            "inject-error": [
                {"event": "none", "iotype": t, "errno": 5} for t in ("write", "write-zeroes")
            ],
        },
    ),
)


def _two_backups(mode: str) -> dict[str, object]:
    return {
        "actions": [
            {
                "type": "blockdev-backup",
                "data": {
                    "job-id": "ok",
                    "device": "s1",
                    "target": "t1",
                    "sync": "full",
                    "speed": 262144,
                },
            },
            {
                "type": "blockdev-backup",
                "data": {"job-id": "ko", "device": "s2", "target": "bad", "sync": "full"},
            },
        ],
        "properties": {"completion-mode": mode},
    }


def _completion(
    mode: str, title: str, citation: Citation, other: Event, *, ordered: bool = False
) -> Rule:
    """Two backups in one transaction of `mode`: "ko" fails, `other` is what "ok" does."""
    failed = Event("BLOCK_JOB_ERROR", {"device": "ko"}, EITHER)
    return Rule(
        f"transaction.{mode}-completion",
        f"{mode}: {title}",
        "transaction",
        citation,
        (Step("transaction", _two_backups(mode), events=(failed, other), ordered=ordered),),
        setup=TWO_BACKUPS,
        since=(2, 5, 0),
    )


RULES: tuple[Rule, ...] = (
    _completion(
        "grouped",
        "when one backup fails after the transaction, the other is cancelled",
        GROUPED,
        Event("BLOCK_JOB_CANCELLED", {"device": "ok"}, EITHER),
        # The cancel is caused by the failure.
        ordered=True,
    ),
    _completion(
        "individual",
        "(the default) the other backup completes although one failed",
        INDIVIDUAL,
        Event("BLOCK_JOB_COMPLETED", {"device": "ok", "offset": 1048576}, EITHER),
    ),
    Rule(
        "transaction.empty",
        "an empty list of actions succeeds",
        "transaction",
        ATOMIC,
        (Step("transaction", {"actions": []}),),
        since=(1, 1, 0),
    ),
    Rule(
        "transaction.abort",
        "an abort action alone fails the group",
        "transaction",
        ABORT,
        (Step("transaction", {"actions": [ABORT_ACTION]}, reply="error"),),
        since=(1, 6, 0),
    ),
    Rule(
        "transaction.two-actions-then-abort",
        "two bitmap actions and an abort: neither bitmap is there afterwards",
        "transaction",
        ATOMIC,
        (
            Step(
                "transaction",
                {
                    "actions": [
                        {"type": "block-dirty-bitmap-add", "data": {"node": "null0", "name": n}}
                        for n in ("b1", "b2")
                    ]
                    + [ABORT_ACTION]
                },
                reply="error",
                state=(_bitmap(gone=True),),
            ),
        ),
        since=(2, 5, 0),
    ),
    *(rule for name, action in ACTIONS.items() for rule in _action_rules(name, action)),
)
