"""The spec model for people (a summary) and for programs (a JSON dump)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

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
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            data = {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            meta = getattr(obj, "meta_type", None)
            if meta is not None:
                data["meta-type"] = meta
            return data
        if isinstance(obj, Mapping):
            return {k: dump(v) for k, v in obj.items()}
        if isinstance(obj, tuple | list):
            return [dump(v) for v in obj]
        return obj

    return {
        "counts": schema.counts(),
        "commands": {n: dump(c) for n, c in schema.commands.items()},
        "events": {n: dump(e) for n, e in schema.events.items()},
        "types": {n: dump(t) for n, t in schema.types.items()},
    }
