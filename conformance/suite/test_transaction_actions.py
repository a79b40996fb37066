"""Every action the binary's TransactionAction union lists has behaviour rules.

The rules themselves run in `test_behaviour` (`transaction.<action>.alone` and
`.with-abort`); this test names the binary's actions that have none, so that a newer
QEMU's new action shows up as uncovered instead of silently untested.
"""

from __future__ import annotations

import pytest

from conformance.behaviour.rules.transaction import ACTIONS
from conformance.drive.report import label
from conformance.spec import Schema


def test_transaction_actions_covered(schema: Schema) -> None:
    label(epic="behaviour", feature="transaction", story="actions covered")
    if "transaction" not in schema.commands:
        pytest.skip("transaction is not in this binary")
    actions = schema.object_type(schema.command("transaction").arg_type)
    (member,) = [m for m in actions.members if m.name == "actions"]
    element = schema.type(member.type)
    union = schema.object_type(getattr(element, "element_type", member.type))
    listed = {v.case for v in union.variants} - {"abort"}
    missing = sorted(listed - set(ACTIONS))
    if missing:
        pytest.skip(f"no behaviour rules yet for transaction actions: {', '.join(missing)}")
    assert listed <= set(ACTIONS)
