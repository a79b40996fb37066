"""`qmp-conformance docs` on every kind of doc source against the recorded 7.2 schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.docs.drift import KINDS


def docs_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "docs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "source", ["hx/qmp-commands.hx", "qapi-latest", "qapi-latest/block-core.json"]
)
def test_json_report(corpus: Path, schema_72_x86: Path, source: str) -> None:
    done = docs_cli("--schema", str(schema_72_x86), "--docs", str(corpus / source), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["summary"]) == set(KINDS)
    assert sum(report["summary"].values()) == len(report["drift"])
    assert report["examples"] > 0
    assert sum(report["messages"].values()) > 0
    for item in report["drift"]:
        assert item["path"].startswith("$")
        assert item["source"]


def test_bad_source_is_one_line_exit_2(schema_72_x86: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.hx"
    empty.write_text("nothing here\n")
    for source in ("/nonexistent/docs", str(empty)):
        done = docs_cli("--schema", str(schema_72_x86), "--docs", source)
        assert done.returncode == 2, done.stdout
        assert len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr
