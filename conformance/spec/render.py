"""The spec model for people (a summary) and for programs (a JSON dump)."""

from __future__ import annotations

import dataclasses

from conformance.spec.model import META_TYPES, Schema


def schema_summary(schema: Schema) -> str:
    """Counts per meta-type, then every featured command, member, type and enum value."""
    counts = schema.counts()
    lines = ["meta-type   count"]
    lines += [f"{meta:<11} {counts.get(meta, 0):>5}" for meta in META_TYPES]
    featured = sorted(schema.featured(), key=lambda row: (row[0], row[1], row[2] or ""))
    lines.append("")
    lines.append(f"with features: {len(featured)}")
    for kind, definition, item, features in featured:
        where = f"{definition}.{item}" if item else definition
        lines.append(f"  {kind:<11} {where:<50} {', '.join(features)}")
    return "\n".join(lines) + "\n"


def schema_json(schema: Schema) -> dict[str, object]:
    """The whole model as JSON-able data: counts, commands, events, types."""

    def dump(obj: object) -> object:
        data = dataclasses.asdict(obj)  # type: ignore[call-overload]
        data["meta-type"] = type(obj).meta_type  # type: ignore[attr-defined]
        return data

    return {
        "counts": schema.counts(),
        "commands": {n: dump(c) for n, c in schema.commands.items()},
        "events": {n: dump(e) for n, e in schema.events.items()},
        "types": {n: dump(t) for n, t in schema.types.items()},
    }
