"""A run's findings in its allure results: known ones as failures marked known (Allure 3's
known issues), new ones apart, each with its reproducer and replay command.

pytest reports a finding the baseline knows as an xfail (conformance.plugin.outcome), so
that it never fails the run, and allure-pytest writes it as *skipped*
(``XFAIL known finding: KEY; KEY…``), which would make a QEMU with 37 known crashes
and doc mismatches read "100%". At the end of the run (on the controller, after pytest
has settled its outcome and exit status) :func:`rewrite` gives such a result back the
status allure-pytest gives the same failure when it is new (*failed* for a check's
`Failure`, an AssertionError; *broken* for a QEMU exit, a RuntimeError: told apart by
the finding kind), marks it known (label ``finding-status``, tag ``known finding``)
and records the baseline entries it matched, with their triage fields, in
``known-findings.json`` beside the results: the known-issues file of the run.

``qmp-conformance report`` turns that file into Allure 3's ``resolutions`` config
(:func:`resolutions`): one rule per known signature, ``resolution: issue``, matched by
the result's message (which names its signatures), its id the finding's directory
name, its type the triage verdict, its comment the title and the triage note. Allure
then shows the result as a failure resolved by that issue and writes its own record
of them (``knownIssuesPath``).

Every finding's result (new or known) also gets a description that starts with what
it found: each signature, new or known, the triage fields, links to the finding's
directory and reproducer (``findings/<slug>/``, relative: ``report`` copies the
findings beside the HTML; the awesome report links only absolute http(s) URLs in a
result's Links, so they are in the description) and the command that replays it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance.errors import SetupError
from conformance.findings.signature import Signature
from conformance.oracle.failure import FindingKind
from conformance.reporting.categories import KNOWN_MESSAGE
from conformance.reporting.labels import FINDING_LABEL, STATUS_LABEL, finding_tag
from conformance.reporting.output import write_report

__all__ = [
    "FILE",
    "KNOWN_PREFIX",
    "KnownFinding",
    "findings_link",
    "json_text",
    "kind_of",
    "read_known",
    "replay_command",
    "resolutions",
    "rewrite",
    "write_known",
]

#: The known-issues file of a run, in its allure results directory.
FILE = "known-findings.json"
_HEADER = "qmp-known-findings"
_VERSION = 1
#: How a known finding's message starts once rewritten: its signatures follow.
KNOWN_PREFIX = "known finding: "
#: Where the findings directories are, relative to the HTML report (report copies them).
FINDINGS_DIR = "findings"
#: The kinds a QEMU exit is filed under (conformance.findings.signature.exit_finding_kind):
#: allure-pytest reports their exception, QemuGone, as broken, a check's as failed.
EXIT_KINDS = frozenset(
    {FindingKind.CRASH, FindingKind.HANG, FindingKind.SANDBOX, FindingKind.DISCONNECT}
)
#: The issue type of a known finding the baseline gives no verdict.
UNTRIAGED = "untriaged"
#: Allure 3 wants each issue type to have an HTTP(S) URL template (the awesome report of
#: 3.18.0 does not show it; the triage link is a link of the result itself). A finding's
#: id is searched for among QEMU's issues, where a filed report would name it.
ISSUE_URL = "https://gitlab.com/qemu-project/qemu/-/issues/?search=%s"


def kind_of(key: str) -> str:
    """A finding signature's kind: its first field."""
    return key.split(" | ", 1)[0]


def json_text(data: Mapping[str, object], name: str) -> str:
    """A string member of a record read back from JSON, "" when absent or not one."""
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class KnownFinding:
    """A baseline entry a run's results matched, as the report shows it."""

    key: str
    target: str = ""
    title: str = ""
    verdict: str = ""
    note: str = ""
    link: str = ""

    @property
    def slug(self) -> str:
        """The finding's directory name (and its known issue's id)."""
        return Signature.from_key(self.key).slug

    @property
    def kind(self) -> str:
        return kind_of(self.key)

    def to_json(self) -> dict[str, str]:
        return {
            "key": self.key,
            "target": self.target,
            "title": self.title,
            "verdict": self.verdict,
            "note": self.note,
            "link": self.link,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> KnownFinding:
        def text(name: str) -> str:
            return json_text(data, name)

        return cls(
            text("key"), text("target"), text("title"), text("verdict"), text("note"), text("link")
        )


def replay_command(binary: str, where: str) -> str:
    """The command that replays a finding directory (`where`, quoted as the caller
    needs) on `binary`."""
    return f"qmp-conformance replay --qemu {shlex.quote(binary)} {where}"


#: From a report page to REPORTS/html: each report is a directory of it
#: (conformance.reporting.html.REPORTS), where `report` copies REPORTS/findings too.
PAGE_TO_HTML = "../"


def findings_link(key: str) -> str:
    """A finding's directory relative to REPORTS (matrix.json's link), and so to
    REPORTS/html; a report page puts `PAGE_TO_HTML` before it."""
    return f"{FINDINGS_DIR}/{Signature.from_key(key).slug}/"


#: The known signature that stands for a signature and its baseline entry
#: (`Baseline.entry`), None when none does.
Entry = Callable[[str], tuple[str, Mapping[str, str]] | None]


def _entry(entry: Entry | None, key: str) -> dict[str, str]:
    found = entry(key) if entry is not None else None
    return dict(found[1]) if found is not None else {}


@dataclass
class Rewritten:
    """What :func:`rewrite` did: the known findings it met, and how many results it
    changed."""

    known: dict[tuple[str, str], KnownFinding] = field(default_factory=dict)
    results: int = 0


def rewrite(
    results_dir: Path,
    entry: Entry | None = None,
    findings_dir: str | None = None,
) -> Rewritten:
    """Mark the known findings among the allure results of ``results_dir`` as failures,
    and link every finding's result to its reproducer; idempotent.

    ``entry`` gives the baseline entry that knows a key (`Baseline.entry`: its title,
    verdict, note and link); without it (a report of results written before the
    rewrite existed) those stay empty. ``findings_dir``: the run's findings directory,
    for the replay command (else ``findings``, as in a reports directory).
    """
    done = Rewritten()
    for path in sorted(results_dir.glob("*-result.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SetupError(f"unreadable allure result {path}: {exc}") from exc
        if not isinstance(data, dict):
            continue
        changed, found = _rewrite_result(data, entry, findings_dir)
        for known in found:
            done.known.setdefault((known.target, known.key), known)
        if changed:
            write_report(path, json.dumps(data))
            done.results += 1
    return done


def _labels(data: dict[str, object]) -> list[dict[str, object]]:
    labels = data.get("labels")
    if not isinstance(labels, list):
        labels = []
        data["labels"] = labels
    return labels


def _label(labels: list[dict[str, object]], name: str) -> list[str]:
    return [str(lb.get("value", "")) for lb in labels if lb.get("name") == name]


def known_keys(message: str) -> list[str] | None:
    """The signatures a known finding's message names (before or after the rewrite);
    None when the message is not a known finding's."""
    for prefix in (KNOWN_MESSAGE, KNOWN_PREFIX):
        if message.startswith(prefix):
            return [k for k in message[len(prefix) :].split("\n", 1)[0].split("; ") if k]
    return None


def _rewrite_result(
    data: dict[str, object], entry: Entry | None, findings_dir: str | None
) -> tuple[bool, list[KnownFinding]]:
    """Rewrite one result in place: whether it changed, and the known findings it is."""
    details = data.get("statusDetails")
    details = details if isinstance(details, dict) else {}
    message = str(details.get("message") or "")
    labels = _labels(data)
    status = str(data.get("status", ""))
    changed = False
    keys = known_keys(message)
    if keys is not None and status == "skipped":
        kind = (_label(labels, "finding-kind") or [""])[-1]
        data["status"] = "broken" if kind in EXIT_KINDS else "failed"
        details["message"] = KNOWN_PREFIX + message[len(KNOWN_MESSAGE) :]
        data["statusDetails"] = details
        changed = True
    if keys is None or str(data.get("status")) not in ("failed", "broken"):
        keys = _label(labels, FINDING_LABEL) if status in ("failed", "broken") else []
        if not keys or _label(labels, STATUS_LABEL) != ["new"]:
            return changed, []
        return _link(data, keys, "new", {}, findings_dir) or changed, []
    target = (_label(labels, "parentSuite") or [""])[-1]
    entries = {k: _entry(entry, k) for k in keys}
    if _label(labels, STATUS_LABEL) != ["known"]:
        # Results written before the run labelled its findings (or by another tool).
        labels[:] = [lb for lb in labels if lb.get("name") != STATUS_LABEL]
        labels.append({"name": STATUS_LABEL, "value": "known"})
        labels.append({"name": "tag", "value": finding_tag(True)})
        labels += [{"name": FINDING_LABEL, "value": k} for k in keys]
        changed = True
    changed = _link(data, keys, "known", entries, findings_dir) or changed
    found = [
        KnownFinding(
            k,
            target,
            entries[k].get("title", ""),
            entries[k].get("verdict", ""),
            entries[k].get("note", ""),
            entries[k].get("link", ""),
        )
        for k in keys
    ]
    return changed, found


#: How the description of a finding's result starts: also tells a rewritten one.
_MARKS = ("**new finding** `", "**known finding** `")


def _link(
    data: dict[str, object],
    keys: list[str],
    status: str,
    entries: Mapping[str, Mapping[str, str]],
    findings_dir: str | None,
) -> bool:
    """A description that says, first thing, which findings the result is, new or known
    (with the baseline's triage fields), and links each one's reproducer in the
    findings directory (copied beside the HTML) with the command that replays it; the
    triage link as a link of the result. False when the result already has them."""
    description = str(data.get("description") or "")
    if description.startswith(_MARKS):
        return False
    links = data.get("links")
    links = links if isinstance(links, list) else []
    attachments = data.get("attachments")
    names = (
        {str(a.get("name")) for a in attachments if isinstance(a, dict)}
        if isinstance(attachments, list)
        else set()
    )
    binary = _parameter(data, "QEMU binary")
    lines: list[str] = []
    replays: list[str] = []
    for key in keys:
        where = PAGE_TO_HTML + findings_link(key)
        entry = entries.get(key, {})
        lines += [f"**{status} finding** `{key}`", ""]
        if status == "known":
            verdict = entry.get("verdict") or UNTRIAGED
            note = entry.get("note", "")
            lines.append(f"- triage: {verdict}" + (f": {note}" if note else ""))
            if entry.get("link"):
                # Only an absolute http(s) URL becomes a link in the awesome report.
                links.append({"type": "issue", "name": f"triage: {verdict}", "url": entry["link"]})
                lines.append(f"- link: <{entry['link']}>")
        lines.append(
            f"- finding: [{where}]({where}) "
            f"(index: [{FINDINGS_DIR}/index.md]({PAGE_TO_HTML}{FINDINGS_DIR}/index.md))"
        )
        if "reproducer.jsonl" in names:
            lines.append(
                f"- reproducer: [{where}reproducer.jsonl]({where}reproducer.jsonl) "
                f"(minimised; this result's own is attached), "
                f"shell one-liner: [{where}reproduce.sh]({where}reproduce.sh)"
            )
            if binary:
                slug = Signature.from_key(key).slug
                directory = str(Path(findings_dir) / slug) if findings_dir else where.rstrip("/")
                replay = replay_command(binary, shlex.quote(directory))
                lines.append(f"- replay: `{replay}`")
                replays.append(f"replay: {replay}")
        lines.append("")
    # The error box is the first thing a result shows: it names the findings, new or
    # known, and how to replay them, above the exception.
    details = data.get("statusDetails")
    details = details if isinstance(details, dict) else {}
    message = str(details.get("message") or "")
    if status == "known":
        message = message.split("\n", 1)[1] if "\n" in message else ""
    head = [f"{status} finding: " + "; ".join(keys), *replays]
    details["message"] = "\n".join(head) + "\n" + message
    data["statusDetails"] = details
    data["links"] = links
    data["description"] = "\n".join(lines) + ("\n" + description if description else "")
    data.pop("descriptionHtml", None)
    return True


def _parameter(data: Mapping[str, object], name: str) -> str:
    """A run parameter's value (allure-pytest stores its repr)."""
    parameters = data.get("parameters")
    for p in parameters if isinstance(parameters, list) else ():
        if isinstance(p, dict) and p.get("name") == name:
            value = str(p.get("value", ""))
            return value[1:-1] if value[:1] == value[-1:] == "'" else value
    return ""


# -- the known-issues file -----------------------------------------------------------------


def write_known(results_dir: Path, found: Iterable[KnownFinding]) -> Path:
    """``known-findings.json``: the baseline entries the run's results matched."""
    entries = sorted(found, key=lambda k: (k.target, k.key))
    return write_report(
        results_dir / FILE,
        json.dumps({_HEADER: _VERSION, "findings": [k.to_json() for k in entries]}, indent=1)
        + "\n",
    )


def read_known(results_dir: Path) -> list[KnownFinding]:
    """The known findings of ``results_dir`` (none without the file)."""
    path = results_dir / FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SetupError(f"unreadable {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get(_HEADER) != _VERSION:
        raise SetupError(f"{path}: not a {_HEADER} version {_VERSION} file")
    entries = data.get("findings")
    return [KnownFinding.from_json(e) for e in entries or () if isinstance(e, dict)]


def merge_known(files: Iterable[Iterable[KnownFinding]]) -> list[KnownFinding]:
    """Several runs' known findings, each (target, key) once (the first run's)."""
    merged: dict[tuple[str, str], KnownFinding] = {}
    for found in files:
        for k in found:
            merged.setdefault((k.target, k.key), k)
    return list(merged.values())


# -- Allure 3's resolutions config ---------------------------------------------------------


def _message_regexp(key: str) -> str:
    """A known finding's message naming ``key`` among its signatures (JavaScript)."""
    # re.escape only escapes characters special to a regex, which JavaScript's
    # non-unicode mode reads as the same literal characters.
    return "^" + re.escape(KNOWN_PREFIX) + r"(?:[^\n]*; )?" + re.escape(key) + r"(?:;|\n|$)"


def resolutions(found: Iterable[KnownFinding], record: Path) -> dict[str, object]:
    """The ``resolutions`` of the Allure 3 config: a known issue per known finding
    (allure records which results each resolved in ``record``)."""
    rules: list[dict[str, object]] = []
    types: set[str] = set()
    seen: set[str] = set()
    # The same signature on two targets is one issue: the entry triaged, if one is.
    triaged = sorted(found, key=lambda k: (k.kind, k.key, not (k.verdict or k.note), k.target))
    for k in triaged:
        if k.slug in seen:
            continue
        seen.add(k.slug)
        kind = k.verdict or UNTRIAGED
        types.add(kind)
        comment = "; ".join(p for p in (k.title or k.key, k.note, k.link) if p)
        rules.append(
            {
                "resolution": "issue",
                "issue": {"id": k.slug, "type": kind},
                "comment": comment,
                "messageRegexp": _message_regexp(k.key),
            }
        )
    return {
        "knownIssuesPath": str(record),
        "links": {t: {"urlTemplate": ISSUE_URL} for t in sorted(types)},
        "rules": rules,
    }
