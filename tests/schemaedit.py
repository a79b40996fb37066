"""Editing a real `query-qmp-schema` reply for tests that need a schema QEMU doesn't have."""

from __future__ import annotations

import copy
from typing import Any


def with_transaction_action(entries: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """A copy of the schema `entries` whose TransactionAction union lists one more
    action, `name`, with abort's (empty) data: everything else is the real binary's."""
    entries = copy.deepcopy(entries)
    by_name = {e["name"]: e for e in entries}
    union = next(
        e
        for e in entries
        if e.get("meta-type") == "object"
        and any(v.get("case") == "abort" for v in e.get("variants", []))
    )
    tag = next(m for m in union["members"] if m["name"] == union["tag"])
    by_name[tag["type"]]["values"].append(name)
    if "members" in by_name[tag["type"]]:
        by_name[tag["type"]]["members"].append({"name": name})
    abort = next(v for v in union["variants"] if v["case"] == "abort")
    union["variants"].append({"case": name, "type": abort["type"]})
    return entries
