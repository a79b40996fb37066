"""Every action the binary's TransactionAction union lists has behaviour rules.

The rules themselves run in `test_behaviour` (`transaction.<action>.alone` and
`.with-abort`); this test fails, naming them, on the binary's actions that have none:
a newer QEMU's new action is then a visible gap of the suite (a harness failure, the
union's cases as evidence), never a skip that would leave it silently untested.
"""

from __future__ import annotations

import pytest

from conformance.behaviour.rules.transaction import (
    ABORT_ACTION,
    ACTIONS,
    transaction_kinds,
    uncovered_actions,
)
from conformance.drive.report import label
from conformance.spec import Schema


def test_transaction_actions_covered(schema: Schema) -> None:
    label(epic="behaviour", feature="transaction", story="actions covered")
    if "transaction" not in schema.commands:
        pytest.skip("transaction is not in this binary")
    listed = transaction_kinds(schema) - {ABORT_ACTION["type"]}
    missing = uncovered_actions(schema)
    if missing:
        pytest.fail(
            f"no behaviour rules for transaction actions {', '.join(missing)} "
            f"(TransactionAction lists {', '.join(sorted(listed))}; covered: "
            f"{', '.join(sorted(ACTIONS))}): add them to "
            "conformance/behaviour/rules/transaction.py",
            pytrace=False,
        )
    # An empty union would make the check above vacuous.
    assert listed, "the binary's TransactionAction union lists no action but abort"
