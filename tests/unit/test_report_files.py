"""The files a report is built from: environment.properties, the Allure 3 config, and
the checks `qmp-conformance report` makes before it runs npm (no npm runs here)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.machine.probe import BinaryInfo
from conformance.reporting import html
from conformance.reporting.environment import (
    environment,
    host_os,
    properties_text,
    write_environment,
)

INFO = BinaryInfo(
    path="/usr/bin/qemu-system-x86_64",
    version=(7, 2, 22),
    package="Debian 1:7.2+dfsg-7+deb12u18+b3",
    storage_daemon=False,
    sandbox=True,
)


def read_properties(text: str) -> dict[str, str]:
    """Java properties, as allure reads them (only the escapes properties_text writes)."""
    values = {}
    for line in text.splitlines():
        key, value = "", ""
        i, target = 0, "key"
        while i < len(line):
            ch = line[i]
            if ch == "\\":
                i += 1
                ch = {"n": "\n", "r": "\r"}.get(line[i], line[i])
            elif ch == "=" and target == "key":
                target = "value"
                i += 1
                continue
            if target == "key":
                key += ch
            else:
                value += ch
            i += 1
        values[key] = value
    return values


def test_environment_names_the_binary_and_host() -> None:
    values = environment(INFO, ("none", "q35"), "tcg")
    assert values["qemu.version"] == "7.2.22"
    assert values["qemu.package"] == "Debian 1:7.2+dfsg-7+deb12u18+b3"
    assert values["qemu.target"] == "x86_64"
    assert values["machine"] == "none, q35"
    assert values["accelerator"] == "tcg"
    assert values["host.os"]
    assert values["suite.version"]


def test_properties_read_back_as_written(tmp_path: Path) -> None:
    values = {"a key": "x=1: y\\z", "multi": "line\nbreak", "plain": "v"}
    path = write_environment(tmp_path / "r" / "environment.properties", values)
    assert read_properties(path.read_text()) == values
    assert properties_text({"k": "a:b"}) == "k=a\\:b\n"


def test_host_os_from_os_release(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    assert host_os(release) == "Debian GNU/Linux 12 (bookworm)"
    assert host_os(tmp_path / "missing")  # falls back to the platform's name


def test_report_needs_results(tmp_path: Path) -> None:
    ns = argparse.Namespace(reports=str(tmp_path), npm_dir=None)
    with pytest.raises(SetupError, match=r"no allure results in .*qmp-conformance run"):
        html.cmd_report(ns, [])


def test_npm_dir_needs_package_and_lock_files(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text("{}")
    with pytest.raises(SetupError, match=r"no package\.json with a package-lock\.json"):
        html.find_npm_dir(tmp_path, str(tmp_path))
    (tmp_path / "package-lock.json").write_text("{}")
    assert html.find_npm_dir(tmp_path / "elsewhere", str(tmp_path)) == tmp_path
    assert html.find_npm_dir(tmp_path, None) == tmp_path


# The checkout's reports/, not html.PROJECT_NPM_DIR: tox runs the tests against the
# installed package, which has no reports/ beside it.
CHECKOUT_REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_the_project_pins_allure_3_exactly() -> None:
    package = json.loads((CHECKOUT_REPORTS / "package.json").read_text())
    lock = json.loads((CHECKOUT_REPORTS / "package-lock.json").read_text())
    pinned = package["devDependencies"]
    assert pinned["allure"].startswith("3.")
    assert all(v[0].isdigit() for v in pinned.values())  # exact versions, no ranges
    for name, version in pinned.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_installed_only_from_the_same_lock_file(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3}')
    assert not html.is_installed(tmp_path)
    (tmp_path / "node_modules").mkdir()
    stamp = tmp_path / "node_modules" / html.STAMP
    stamp.write_text("0" * 64)
    assert not html.is_installed(tmp_path)
    stamp.write_text(html._lock_digest(tmp_path) + "\n")
    assert html.is_installed(tmp_path)
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3, "changed": 1}')
    assert not html.is_installed(tmp_path)


def test_missing_node_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SetupError, match=r"node not found on PATH: .*Node\.js and npm") as info:
        html.install(tmp_path)
    assert "\n" not in str(info.value)


def test_config_groups_by_command_and_files_by_kind(tmp_path: Path) -> None:
    cfg = html.config("QMP conformance: QEMU 7.2.22 x86_64", tmp_path / "html", line="0 new")
    commands = cfg["plugins"]["by-command"]["options"]  # type: ignore[index]
    assert commands["groupBy"] == ["epic", "feature", "story"]
    assert commands["reportName"] == "QMP conformance: QEMU 7.2.22 x86_64, by command"
    # The findings report: the verdict its name, new or known, then kind, then command.
    findings = cfg["plugins"]["by-finding"]["options"]  # type: ignore[index]
    assert findings["reportName"] == "QMP conformance: QEMU 7.2.22 x86_64 — 0 new"
    assert findings["groupBy"] == ["finding-status", "finding-kind", "feature"]
    categories = cfg["categories"]
    assert isinstance(categories, list)
    assert {c["name"] for c in categories} >= {"crash", "doc mismatch", "harness error"}
    # Each kind split into new and known findings, then by command.
    split = [{"label": "finding-status"}, {"label": "feature"}]
    assert all(c["groupBy"] == split for c in categories[:-1])
    assert cfg["output"] == str(tmp_path / "html")
    assert "resolutions" not in cfg  # no known findings: no known issues
    # Deviations last: a failure that also saw one is filed by its kind.
    assert categories[-1]["name"] == "deviation"


def test_results_of_several_targets_group_by_target_first(tmp_path: Path) -> None:
    for number, target in enumerate(("x86_64", "aarch64", "x86_64")):
        result = {"labels": [{"name": "parentSuite", "value": target}, {"name": "epic"}]}
        (tmp_path / f"{number}-result.json").write_text(json.dumps(result))
    (tmp_path / "broken-result.json").write_text("{")  # skipped, not fatal
    assert html.targets(tmp_path) == {"x86_64", "aarch64"}
    cfg = html.config("merged", tmp_path / "html", by_target=True)
    commands = cfg["plugins"]["by-command"]["options"]  # type: ignore[index]
    assert commands["groupBy"] == ["parentSuite", "epic", "feature", "story"]
    findings = cfg["plugins"]["by-finding"]["options"]  # type: ignore[index]
    assert findings["groupBy"][0] == "parentSuite"


def test_the_config_module_filters_the_findings_report_with_a_function(tmp_path: Path) -> None:
    text = html.config_module(html.config("t", tmp_path / "html"))
    assert text.startswith("export default {")
    assert text.endswith("};\n")
    # A function, not a string: the JSON mark is gone.
    filters = [line.strip() for line in text.splitlines() if '"filter":' in line]
    assert filters == [
        '"filter": (result) => result.labels.some((label) => label.name === "finding-status")'
    ], filters


def test_report_name_from_the_environment(tmp_path: Path) -> None:
    assert html.report_name(tmp_path) == "QMP conformance"
    write_environment(tmp_path / "environment.properties", environment(INFO, ("q35",), "tcg"))
    assert html.report_name(tmp_path) == "QMP conformance: QEMU 7.2.22 x86_64"
