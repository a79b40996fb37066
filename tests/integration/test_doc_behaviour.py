"""Documented behaviour against the real binary: error conditions induced, examples
replayed after their setup, the summary agreeing with the per-result reports.

These check the suite, not QEMU: whichever way QEMU answers, a mismatch must state both
sides and the summary must count what the results say.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.docs.manpage import find_man_page
from conformance.docs.model import DocError
from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu

SELECTED = (
    "(test_doc_error and (block_resize-1 or query-balloon-2 or block-dirty-bitmap-add-2))"
    " or (test_doc_example and (blockdev-close-tray-1 or block-dirty-bitmap-clear-1))"
)


@pytest.fixture(scope="module")
def man_page() -> Path:
    try:
        return find_man_page()
    except DocError as exc:
        pytest.skip(f"no installed man page: {exc}")


def test_conditions_and_setups(qemu_binary: str, man_page: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_suite(qemu_binary, reports, "q35", "-k", SELECTED)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr
    results = {}
    for path in (reports / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text())
        results[result["name"] + result.get("parameters", [{}])[0].get("value", "")] = result
    by_test: dict[str, list[dict[str, object]]] = {"test_doc_error": [], "test_doc_example": []}
    for name, result in results.items():
        by_test[name.split("[")[0]].append(result)
    assert len(by_test["test_doc_error"]) == 3
    assert len(by_test["test_doc_example"]) == 2
    # The tray example closes a tray its setup opened; the bitmap example clears a bitmap
    # its setup added. Without the setups both would be refused.
    for result in by_test["test_doc_example"]:
        assert result["status"] != "skipped", result.get("statusDetails")
    statuses = [r["status"] for r in by_test["test_doc_error"]]
    for result in by_test["test_doc_error"]:
        if result["status"] == "failed":
            details = result["statusDetails"]
            assert isinstance(details, dict)
            sides = re.search(r"documented (\w+) .*QEMU replied (\w+)", str(details["message"]))
            assert sides, details["message"]
            assert sides.group(1) != sides.group(2)
    line = re.search(
        r"documented error conditions: (\d+): match (\d+), mismatch (\d+), "
        r"not inducible (\d+)",
        done.stdout,
    )
    assert line, done.stdout[-2000:]
    assert [int(g) for g in line.groups()] == [
        3,
        statuses.count("passed"),
        statuses.count("failed"),
        statuses.count("skipped"),
    ]
