"""transaction: the empty group, abort, and atomicity checked by query."""

from __future__ import annotations

from conformance.behaviour.rule import Rule, State, Step
from conformance.oracle.failure import qapi

ATOMIC = qapi(
    "qapi/transaction.json: transaction",
    "Executes a number of transactionable QMP commands atomically. If any operation fails, "
    "then the entire set of actions will be abandoned and the appropriate error returned.",
)
ABORT = qapi(
    "qapi/transaction.json: Abort",
    "This action can be used to test transaction failure.",
)
BITMAP = {"type": "block-dirty-bitmap-add", "data": {"node": "null0", "name": "b1"}}
NO_BITMAP = State("query-named-block-nodes", {"node-name": "null0"}, "dirty-bitmaps", absent=True)

RULES: tuple[Rule, ...] = (
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
        (Step("transaction", {"actions": [{"type": "abort", "data": {}}]}, reply="error"),),
        since=(1, 6, 0),
    ),
    Rule(
        "transaction.atomic",
        "a bitmap added in a group that then aborts is not there afterwards",
        "transaction",
        ATOMIC,
        (
            Step(
                "transaction",
                {"actions": [BITMAP, {"type": "abort", "data": {}}]},
                reply="error",
                state=(NO_BITMAP,),
            ),
        ),
        since=(2, 5, 0),
    ),
    Rule(
        "transaction.single-action",
        "the same bitmap action alone takes effect",
        "transaction",
        ATOMIC,
        (
            Step(
                "transaction",
                {"actions": [BITMAP]},
                state=(
                    State(
                        "query-named-block-nodes",
                        {"node-name": "null0"},
                        "dirty-bitmaps",
                        has={"name": "b1"},
                    ),
                ),
            ),
        ),
        since=(2, 5, 0),
    ),
)
