"""A strict reader of the TAP 13 that `qmp-conformance run --tap` writes: every line must
be the version, a test line, a YAML block after a test line, or the plan (last), else
it fails; test numbers must run 1..N and agree with the plan."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is a test dependency (tox -e tests)")

_TEST = re.compile(
    r"^(?P<ok>ok|not ok) (?P<number>\d+) - (?P<description>(?:[^#\\]|\\.)*?)"
    r"(?: # (?P<directive>SKIP|TODO)(?: (?P<reason>.*))?)?$"
)
_PLAN = re.compile(r"^1\.\.(?P<count>\d+)(?: # SKIP (?P<reason>.+))?$")


@dataclass
class TapTest:
    ok: bool
    number: int
    description: str  # unescaped
    directive: str | None
    reason: str | None
    details: dict[str, object] | None = None


@dataclass
class TapRun:
    tests: list[TapTest] = field(default_factory=list)
    planned: int = -1
    skip_reason: str | None = None

    def by_id(self) -> dict[str, TapTest]:
        return {t.description: t for t in self.tests}


def parse_tap(text: str) -> TapRun:
    lines = text.splitlines()
    assert lines, "no TAP output"
    assert lines[0] == "TAP version 13", lines[0]
    run = TapRun()
    index = 1
    while index < len(lines):
        line = lines[index]
        index += 1
        assert run.planned < 0, f"line after the plan: {line!r}"
        if m := _PLAN.match(line):
            run.planned = int(m["count"])
            run.skip_reason = m["reason"]
            continue
        m = _TEST.match(line)
        assert m, f"not a TAP line: {line!r}"
        test = TapTest(
            ok=m["ok"] == "ok",
            number=int(m["number"]),
            description=re.sub(r"\\(.)", r"\1", m["description"]),
            directive=m["directive"],
            reason=m["reason"],
        )
        assert test.number == len(run.tests) + 1, f"test number out of order: {line!r}"
        run.tests.append(test)
        if index < len(lines) and lines[index] == "  ---":
            end = lines.index("  ...", index)
            block = lines[index + 1 : end]
            assert all(b.startswith("  ") for b in block), block
            test.details = yaml.safe_load("\n".join(b[2:] for b in block))
            assert isinstance(test.details, dict), block
            index = end + 1
    assert run.planned == len(run.tests), f"plan {run.planned}, tests {len(run.tests)}"
    if run.skip_reason is not None:
        assert run.planned == 0
    return run
