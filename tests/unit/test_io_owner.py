"""QemuInstance is the one owner of QEMU I/O: no code outside conformance/machine/
reaches its sessions, so whatever the transport raises is classified in one place."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "conformance"
#: The instance (machine/) and the QMP layer it is built on (qmp/).
OWNERS = (PACKAGE / "machine", PACKAGE / "qmp")
#: Attributes that hand out a QMP session or its transport.
PRIVATE = frozenset({"session", "_session", "extra_sessions", "_extra_sessions", "_primary"})


def _offences(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and node.module == "conformance.qmp.transport":
            names = {a.name for a in node.names} - {"MONITOR_READ_RATE", "write_seconds"}
            if names:
                found.append((node.lineno, f"import {', '.join(sorted(names))}"))
    return sorted(found)


def test_no_session_access_outside_machine() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: .{attr}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(owner in path.parents for owner in OWNERS)
        for line, attr in _offences(ast.parse(path.read_text(), str(path)))
    ]
    assert offences == []


def test_the_check_sees_an_offence() -> None:
    code = "inst.session.send_raw(b'x')\nfrom conformance.qmp.transport import Disconnected\n"
    assert _offences(ast.parse(code)) == [(1, "session"), (2, "import Disconnected")]
