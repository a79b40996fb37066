"""Acceptance: installing qmp-conformance changes nothing for other pytest sessions.

A fresh virtualenv gets pytest and Hypothesis (the versions running this test) and the
package built from this tree. A plain Hypothesis test file run there with ``CI=true``
must get Hypothesis's own ``ci`` profile (Hypothesis loads it by itself when $CI is set;
the suite's profiles are named ``qmpc-*`` and registered only when the suite runs), no
option of ours, and no temporary directory of ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

INSTALL_TIMEOUT = 600
DEPENDENCIES = ("pytest", "hypothesis", "pexpect", "pytest-xdist", "allure-pytest")
# What a checkout holds besides the package's source: environments, caches, build and
# report output (by name anywhere, or at the top of the checkout).
NOT_SOURCE = ("__pycache__", "*.egg-info", ".*_cache", ".hypothesis")
NOT_SOURCE_TOP = {".git", ".venv", ".tox", "build", "dist", "reports"}

# Run in the fresh virtualenv: the settings a test sees, against Hypothesis's own `ci`.
PLAIN_TEST = """
import json, os
from hypothesis import given, settings, strategies as st

OWN = json.loads(os.environ["HYPOTHESIS_OWN_CI"])

@given(st.integers())
def test_gets_hypothesis_own_ci_profile(n):
    current = settings()
    assert current.derandomize is True
    assert current.derandomize == OWN["derandomize"]
    assert current.max_examples == OWN["max_examples"]
    assert current.deadline == OWN["deadline"]
    assert sorted(h.name for h in current.suppress_health_check) == OWN["suppress"]
    assert current.print_blob == OWN["print_blob"]

def test_no_plugin_of_ours(pytestconfig):
    assert not pytestconfig.pluginmanager.has_plugin("conformance.plugin")
    assert pytestconfig.getoption("--suite-profile", default=None) is None
"""

# Hypothesis's own `ci` profile, read from Hypothesis alone (no pytest, no plugin).
OWN_CI = """
import json
from hypothesis import settings
ci = settings.get_profile("ci")
print(json.dumps({
    "derandomize": ci.derandomize, "max_examples": ci.max_examples,
    "deadline": None if ci.deadline is None else ci.deadline.total_seconds(),
    "suppress": sorted(h.name for h in ci.suppress_health_check),
    "print_blob": ci.print_blob,
}))
"""


def _not_source(directory: str, names: list[str]) -> set[str]:
    ignored = set(shutil.ignore_patterns(*NOT_SOURCE)(directory, names))
    if Path(directory) == PROJECT_ROOT:
        ignored |= NOT_SOURCE_TOP & set(names)
    return ignored


def _run(
    argv: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("neighbour")
    root = base / "venv"
    scratch = base / "tmp"
    scratch.mkdir()
    # venv's ensurepip and pip's build, unpack and wheel-cache directories go to TMPDIR:
    # a test running beside this one (test_host_safety) watches the real one.
    env = {**os.environ, "TMPDIR": str(scratch)}
    made = _run([sys.executable, "-m", "venv", str(root)], env=env)
    if made.returncode != 0:
        pytest.skip(f"cannot make a virtualenv here: {made.stderr.strip()[-300:]}")
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "-q"]
    # The project's dependencies, at the versions running this test.
    deps = _run([*pip, *(f"{name}=={version(name)}" for name in DEPENDENCIES)], env=env)
    if deps.returncode != 0:
        pytest.skip(f"no package index reachable for the dependencies: {deps.stderr[-300:]}")
    # setuptools builds in the source tree (build/, *.egg-info): build a copy, so that the
    # checkout (test_host_safety watches the working directory) and a concurrent run of
    # this fixture see none of it.
    source = base / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=_not_source)
    ours = _run([*pip, "--no-deps", str(source)], env=env)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    return root


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    env.pop("PYTHONPATH", None)
    env.pop("CI", None)
    return {**env, "TMPDIR": str(tmp), **extra}


def test_plain_hypothesis_session_gets_hypothesis_own_ci_profile(
    venv: Path, tmp_path: Path
) -> None:
    python = str(venv / "bin" / "python")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_plain.py").write_text(PLAIN_TEST, encoding="utf-8")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    own = _run([python, "-c", OWN_CI], env=_env(tmp), cwd=project)
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["derandomize"] is True  # what "ci" means to Hypothesis

    env = _env(tmp, CI="true", HYPOTHESIS_OWN_CI=own.stdout.strip())
    done = _run([python, "-m", "pytest", "-p", "no:cacheprovider"], env=env, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    # Nothing of ours was made (the plugin's run workdir is a qmpc-run-* directory).
    left = [p.name for p in tmp.iterdir() if not p.name.startswith("pytest-of-")]
    assert not left, f"the session left {left} in TMPDIR"

    helped = _run([python, "-m", "pytest", "--help"], env=env, cwd=project)
    assert helped.returncode == 0, helped.stderr
    assert "--suite-profile" not in helped.stdout
    assert "qmp-conformance" not in helped.stdout


def test_the_installed_suite_still_loads_its_plugin(venv: Path, tmp_path: Path) -> None:
    """Pointed at the conformance suite, pytest gets the plugin from the entry point."""
    python = str(venv / "bin" / "python")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    args = [python, "-m", "pytest", "--pyargs", "conformance.suite", "--help"]
    helped = _run(args, env=_env(tmp), cwd=tmp_path)
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "--suite-profile" in helped.stdout
    assert "qmpc-full" in helped.stdout or "--hypothesis-profile" in helped.stdout
