"""The layering: test modules are leaves, and the drive layer runs without pytest.

By the AST of every module, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "conformance" / "suite"


def _modules(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, `from a import b` giving both `a` and `a.b`."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _test_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith("test_")


def test_imports_finds_every_form(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import a.test_x\nfrom b import test_y\ndef f():\n    from c.test_z import g\n"
    )
    assert set(filter(_test_module, _imports(source))) == {"a.test_x", "b.test_y", "c.test_z"}


def test_nothing_outside_the_suite_imports_a_test_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("conformance", "bench", "strategies")
        if SUITE not in path.parents
        for name in _imports(path)
        if _test_module(name)
    ]
    assert offenders == []


def test_no_test_module_imports_another() -> None:
    # What tests share lives in helper modules (tests/integration/replaying.py,
    # processes.py, tests/unit/reproducers.py…) or in a conftest, never in a test module.
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("conformance/suite", "tests")
        for name in _imports(path)
        if _test_module(name)
        and name.split(".")[0] in {"conformance", "bench", "strategies", "tests"}
    ]
    assert offenders == []


def test_the_drivers_run_without_pytest() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("conformance/drive", "conformance/behaviour")
        for name in _imports(path)
        if name.split(".")[0] in {"pytest", "_pytest"}
    ]
    assert offenders == []
