"""`qmp-conformance report`: the HTML report of a run, built with Allure 3.

Allure 3 is the npm package ``allure``, pinned in reports/package.json with its lock
file and installed there with ``npm ci`` (never globally), only when node_modules is
missing or was installed from another lock file. The report is generated from
REPORTS/allure-results into REPORTS/html, with a config written beside it
(REPORTS/allurerc.mjs) that

- makes two reports of the results (`REPORTS`), each an awesome report in a directory
  of its own, which Allure's summary page, REPORTS/html/index.html, the first screen,
  lists with their names and statistics: the findings (only the results that are
  findings, grouped new or known, then by finding kind, then by command), named with
  the run's verdict counted from the results (conformance.reporting.verdict):
  "QEMU 7.2.22 x86_64 — 0 new findings, 34 known: 5 crashes, …"; and every result by
  command (epic, then feature: the command or event, then story: the check). On its
  own page an awesome report opens the groups with failures and scrolls its first
  failing result into view, past its title in a whole run: the summary page is where
  the verdict stays in sight;
- sorts failures into the finding kinds (conformance.reporting.categories) instead of
  allure's default "Product errors" / "Test errors", each kind split into new and
  known findings (the ``finding-status`` label), then by command;
- makes each known finding a known issue (``resolutions``, from the run's
  known-findings.json: conformance.reporting.known), which allure records in
  REPORTS/known-issues.json.

The findings directories (REPORTS/findings) are copied into the HTML, so that each
finding's reproducer links work wherever the report is opened.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from conformance.errors import SetupError
from conformance.reporting.categories import categories, deviation_category, write_categories
from conformance.reporting.known import (
    FINDINGS_DIR,
    KnownFinding,
    merge_known,
    read_known,
    resolutions,
    rewrite,
)
from conformance.reporting.labels import KIND_LABEL, STATUS_LABEL
from conformance.reporting.output import write_report
from conformance.reporting.results import read_allure
from conformance.reporting.verdict import verdict
from conformance.tool import run_tool

#: The project's npm directory in a source checkout: reports/ beside conformance/.
PROJECT_NPM_DIR = Path(__file__).resolve().parents[2] / "reports"
NPM_TIMEOUT = 600.0
GENERATE_TIMEOUT = 600.0
#: Written into node_modules after `npm ci`: the lock file it was installed from.
STAMP = ".qmpc-package-lock.sha256"
NPM_CACHE = ".npm-cache"
GROUP_BY = ("epic", "feature", "story")
#: The HTML's two reports: the directory of each under REPORTS/html, and its tree.
FINDINGS_REPORT = "by-finding"
COMMANDS_REPORT = "by-command"
REPORTS = (FINDINGS_REPORT, COMMANDS_REPORT)
FINDINGS_GROUP_BY = (STATUS_LABEL, KIND_LABEL, "feature")
#: The findings report keeps the results that are findings (they carry STATUS_LABEL).
#: The awesome plugin takes a filter as a function only, so the config is an ES module
#: whose JSON carries this mark where the function goes.
_FILTER_MARK = "qmpc-findings-filter"
_FILTER = f'(result) => result.labels.some((label) => label.name === "{STATUS_LABEL}")'
#: Where allure records which results each known issue resolved, in REPORTS.
KNOWN_ISSUES = "known-issues.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``qmp-conformance report``."""
    parser.add_argument(
        "--reports",
        default="reports",
        help="report directory of a run: reads allure-results/, writes html/ (default ./reports)",
    )
    parser.add_argument(
        "--npm-dir",
        default=None,
        help="directory with the package.json and package-lock.json pinning allure "
        "(default: REPORTS if it has them, else ./reports, else the source checkout's)",
    )
    parser.add_argument(
        "--upstream",
        metavar="FINDING",
        help="instead of the HTML report, print a finding directory as a plain-text report "
        "for QEMU's issue tracker (docs/findings.md)",
    )


def cmd_report(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    if getattr(ns, "upstream", None):
        from conformance.findings.upstream import cmd_upstream

        return cmd_upstream(ns)
    reports = Path(ns.reports).resolve()
    results = reports / "allure-results"
    if not any(results.glob("*-result.json")):
        raise SetupError(
            f"no allure results in {results}: "
            f"run `qmp-conformance run --reports {ns.reports}` first"
        )
    npm_dir = find_npm_dir(reports, ns.npm_dir)
    install(npm_dir)
    html = generate(npm_dir, results, reports / "html")
    findings = reports / FINDINGS_DIR
    if findings.is_dir():
        shutil.copytree(findings, html / FINDINGS_DIR)
    print(f"HTML report: {html / 'index.html'}")
    return 0


def find_npm_dir(reports: Path, given: str | None) -> Path:
    """The directory whose package files pin allure."""
    # A wheel install has no reports/ beside the package: then the working directory's.
    candidates = [Path(given)] if given is not None else [reports, Path("reports"), PROJECT_NPM_DIR]
    for directory in candidates:
        if (directory / "package.json").is_file() and (directory / "package-lock.json").is_file():
            return directory.resolve()
    where = " or ".join(str(c) for c in candidates)
    raise SetupError(f"no package.json with a package-lock.json in {where}")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SetupError(
            f"{name} not found on PATH: the HTML report needs Node.js and npm "
            "(Debian: apt-get install --no-install-recommends nodejs npm)"
        )
    return found


def _lock_digest(npm_dir: Path) -> str:
    return hashlib.sha256((npm_dir / "package-lock.json").read_bytes()).hexdigest()


def is_installed(npm_dir: Path) -> bool:
    """Whether node_modules was installed from the current lock file."""
    stamp = npm_dir / "node_modules" / STAMP
    try:
        return stamp.read_text().strip() == _lock_digest(npm_dir)
    except OSError:
        return False


def install(npm_dir: Path) -> bool:
    """``npm ci`` in ``npm_dir`` unless node_modules matches the lock file; True if it ran."""
    _tool("node")
    npm = _tool("npm")
    if is_installed(npm_dir):
        return False
    print(f"installing the report tools: npm ci in {npm_dir}", flush=True)
    # npm's cache and logs stay beside the packages, not in $HOME.
    cache = npm_dir / NPM_CACHE
    env = {
        **os.environ,
        "npm_config_cache": str(cache),
        "npm_config_logs_dir": str(cache / "_logs"),
        "npm_config_update_notifier": "false",
    }
    _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], npm_dir, NPM_TIMEOUT, env)
    write_report(npm_dir / "node_modules" / STAMP, _lock_digest(npm_dir) + "\n")
    return True


def _run(argv: list[str], cwd: Path, timeout: float, env: Mapping[str, str] | None = None) -> None:
    status, said = run_tool(argv, timeout=timeout, cwd=cwd, env=env)
    if status != 0:
        lines = [ln for ln in said.splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise SetupError(f"{' '.join(argv[:2])} failed (exit {status}): {last}")


def report_name(results: Path) -> str:
    """The report's title, from the run's environment.properties when it has one."""
    values: dict[str, str] = {}
    try:
        text = (results / "environment.properties").read_text(encoding="utf-8")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key] = value.replace("\\:", ":").replace("\\=", "=")
    if "qemu.version" in values:
        return f"QMP conformance: QEMU {values['qemu.version']} {values.get('qemu.target', '')}"
    return "QMP conformance"


def targets(results: Path) -> set[str]:
    """The targets (allure parent suites) of the results in ``results``."""
    found: set[str] = set()
    for path in results.glob("*-result.json"):
        try:
            labels = json.loads(path.read_text(encoding="utf-8")).get("labels", [])
        except (OSError, ValueError, AttributeError):
            continue  # not ours to judge: allure reports what it can't read
        found.update(
            str(label.get("value"))
            for label in labels
            if isinstance(label, dict) and label.get("name") == "parentSuite"
        )
    return found


def config(
    title: str,
    output: Path,
    *,
    line: str = "",
    by_target: bool = False,
    known: list[KnownFinding] | None = None,
) -> dict[str, object]:
    """The Allure 3 config: the findings report named ``title — line`` (the verdict)
    and the per-command report (under each target first when the results come from
    several binaries), the finding-kind categories split into new and known, and the
    ``known`` findings as known issues. `config_module` writes it."""
    targets = ("parentSuite",) if by_target else ()
    split = [{"label": STATUS_LABEL}, {"label": "feature"}]
    awesome = "@allurereport/plugin-awesome"
    return {
        "name": f"{title} — {line}" if line else title,
        "output": str(output),
        "categories": [{**c, "groupBy": split} for c in categories()] + [deviation_category()],
        **({"resolutions": resolutions(known, output.parent / KNOWN_ISSUES)} if known else {}),
        "plugins": {
            FINDINGS_REPORT: {
                "import": awesome,
                "options": {
                    "reportName": f"{title} — {line}" if line else title,
                    "groupBy": [*targets, *FINDINGS_GROUP_BY],
                    "filter": _FILTER_MARK,
                },
            },
            COMMANDS_REPORT: {
                "import": awesome,
                "options": {
                    "reportName": f"{title}, by command",
                    "groupBy": [*targets, *GROUP_BY],
                },
            },
        },
    }


def config_module(cfg: Mapping[str, object]) -> str:
    """``cfg`` as the ES module Allure loads, the findings filter a function."""
    text = json.dumps(cfg, indent=1)
    return f"export default {text.replace(json.dumps(_FILTER_MARK), _FILTER)};\n"


def generate(npm_dir: Path, results: Path, output: Path) -> Path:
    """Generate the HTML report of ``results`` into ``output``."""
    allure = npm_dir / "node_modules" / ".bin" / "allure"
    if not allure.exists():
        raise SetupError(f"{allure} is missing: remove {npm_dir / 'node_modules'} and retry")
    # Results from before the categories existed (or from elsewhere) still get them.
    if not (results / "categories.json").exists():
        write_categories(results / "categories.json")
    # Results of a run before known findings were rewritten are rewritten here (without
    # the baseline's triage fields, which the run's known-findings.json would carry).
    known = merge_known([read_known(results), rewrite(results).known.values()])
    line = verdict(read_allure(results), known).line()
    rc = write_report(
        output.parent / "allurerc.mjs",
        config_module(
            config(
                report_name(results),
                output,
                line=line,
                by_target=len(targets(results)) > 1,
                known=known,
            )
        ),
    )
    if output.exists():
        shutil.rmtree(output)
    _run(
        [str(allure), "generate", "--config", str(rc), "--output", str(output), str(results)],
        npm_dir,
        GENERATE_TIMEOUT,
    )
    for page in (output / "index.html", *(output / r / "index.html" for r in REPORTS)):
        if not page.is_file():
            raise SetupError(f"allure generate wrote no {page}")
    return output
