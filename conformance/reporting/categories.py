"""allure categories: every failure of a run sorted by finding kind, or as a harness error.

allure files a failure under the first category whose ``messageRegex`` matches its
status message. A check failure's message starts with ``[check-id]`` and a QEMU exit's
with ``crashed:``/``hung:``; neither names the kind, and pytest reports an exit as
*broken* like any bug of ours. So the plugin adds one line to the exception of every
failed conformance test, ``finding kind: KIND`` (:func:`kind_note`), which pytest and
allure print after the message, and the categories match that line. Without it allure
would sort everything into its default "Product defects" / "Test defects".

A finding the baseline knows is an xfail to pytest, which allure-pytest writes as
skipped with ``XFAIL known finding: …``; the end of the run makes it the failure it is
(conformance.reporting.known), so that it is filed under its kind like a new one, and
the report's categories split each kind into new and known (the ``finding-status``
label, conformance.reporting.html).

The regexes must hold for allure 2 (Java, the whole message must match) and Allure 3
(JavaScript, a match anywhere): ``[\\s\\S]*`` on both sides, no inline flags.
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance.oracle.failure import FindingKind
from conformance.reporting.output import write_report

HARNESS_ERROR = "harness-error"
#: How allure-pytest words a known finding: its xfail prefix, then conformance.plugin's
#: KNOWN_PREFIX (not imported: the plugin imports this package).
KNOWN_MESSAGE = "XFAIL known finding: "
_NOTE = "finding kind: "

# The order people triage in: what takes QEMU down first; a kind added to FindingKind
# later still gets a category, after these; our own bugs last.
_FIRST = (
    FindingKind.CRASH,
    FindingKind.SANDBOX,
    FindingKind.HANG,
    FindingKind.DISCONNECT,
    FindingKind.PROTOCOL,
    FindingKind.PARSER_DIFFERENTIAL,
    FindingKind.SCHEMA,
    FindingKind.BEHAVIOUR,
    FindingKind.DOC,
)
#: Every kind a failed conformance result is filed under: QEMU's findings, then ours.
KINDS: tuple[str, ...] = (
    *(k.value for k in _FIRST),
    *(k.value for k in FindingKind if k not in _FIRST),
    HARNESS_ERROR,
)


def kind_note(kind: str) -> str:
    """The line that files a failure under ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"not a finding kind: {kind!r}")
    return _NOTE + kind


def category_name(kind: str) -> str:
    """``sandbox-hit`` → ``sandbox hit``: the name the report shows."""
    return kind.replace("-", " ")


def message_regex(kind: str) -> str:
    """A message carrying ``kind_note(kind)`` on a line of its own, anywhere."""
    # Kinds are lowercase words and hyphens: nothing to escape. The line must end
    # where the kind does, so that no kind can match as the prefix of a longer one.
    return r"[\s\S]*\n" + kind_note(kind) + r"(?:\n[\s\S]*)?$"


def categories() -> list[dict[str, object]]:
    """allure 2 ``categories.json`` entries (Allure 3 reads the same keys): a known
    finding is filed under its kind like a new one."""
    return [
        {
            "name": category_name(kind),
            "matchedStatuses": ["failed", "broken"],
            "messageRegex": message_regex(kind),
        }
        for kind in KINDS
    ]


#: The label naming each deliberate deviation (conformance.oracle.deviation) a result
#: saw: behaviour QEMU documents or tests as deliberate, which is no finding, so its
#: result passes, and only a label can file it.
DEVIATION_LABEL = "deviation"
DEVIATION = "deviation"


def deviation_category() -> dict[str, object]:
    """The Allure 3 category of the results that saw a deviation, whatever their status,
    by deviation, then by command. Allure 3's own matcher keys (a label): allure 2's
    categories.json has no label matcher, so this one goes only into the Allure 3
    config, after the kinds (a failure that also saw a deviation is filed by its kind)."""
    return {
        "name": DEVIATION,
        "matchers": {
            "statuses": ["passed", "failed", "broken", "skipped"],
            "labels": {DEVIATION_LABEL: ".+"},
        },
        "groupBy": [{"label": DEVIATION_LABEL}, {"label": "feature"}],
    }


def write_categories(path: Path) -> Path:
    """Write ``categories.json`` to ``path`` (a file path)."""
    return write_report(path, json.dumps(categories(), indent=1) + "\n")
