"""The `pytest11` entry point: loads the suite's plugin only for a run of the suite.

An installed package's entry point is loaded by every pytest session in that
environment, a project's own tests included. So this module defines one hook and imports
nothing: the plugin (`conformance.plugin`, with its options, its temporary workdir and
its Hypothesis profiles) is loaded only when the session collects the conformance suite,
named as a package (``--pyargs conformance.suite``) or by its path (``.../conformance/
suite``); `qmp-conformance run` also names it with ``-p conformance.plugin``. xdist
workers get the controller's arguments, so they decide the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

PLUGIN = "conformance.plugin"
SUITE_PACKAGE = "conformance.suite"
_SUITE_DIR = Path(__file__).resolve().parent / "suite"


def runs_suite(args: list[str], invocation_dir: Path) -> bool:
    """Whether the command line names the conformance suite, or a test in it."""
    for arg in args:
        if arg.startswith("-"):
            continue
        name = arg.split("::", 1)[0]
        if name == SUITE_PACKAGE or name.startswith(SUITE_PACKAGE + "."):
            return True
        try:
            path = (invocation_dir / name).resolve()
        except (OSError, ValueError):
            continue
        if any(_is_suite_dir(d) for d in (path, *path.parents)):
            return True
    return False


def _is_suite_dir(path: Path) -> bool:
    """The installed suite, or the suite of a checkout of this project (a developer's
    `pytest conformance/suite/…` while another copy is installed)."""
    return path == _SUITE_DIR or (
        path.name == "suite"
        and path.parent.name == "conformance"
        and (path.parent / "plugin" / "__init__.py").is_file()
    )


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # Called before the command line is parsed for good: options the plugin adds now
    # are known to the final parse (pytest_addoption is a historic hook).
    manager = early_config.pluginmanager
    if manager.has_plugin(PLUGIN):
        return
    if runs_suite(args, early_config.invocation_params.dir):
        manager.import_plugin(PLUGIN)
