"""How a failure is filed in allure: its finding kind, category, severity and links."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.oracle.failure import Failure, FindingKind, qapi
from conformance.reporting.categories import (
    DEVIATION_LABEL,
    HARNESS_ERROR,
    KINDS,
    KNOWN_MESSAGE,
    categories,
    deviation_category,
    kind_note,
    write_categories,
)
from conformance.reporting.labels import SEVERITY, citation_links, file_failure
from conformance.runcontext import KNOWN_PREFIX

ISSUE_NAMES = {
    "crash",
    "hang",
    "sandbox hit",
    "protocol violation",
    "parser differential",
    "schema violation",
    "doc mismatch",
    "behaviour mismatch",
    "incompatible change",
    "visitor mismatch",
    "harness error",
}


def filed(message: str, status: str) -> str | None:
    """The category allure 3 picks: the first whose statuses and regex match (search)."""
    for category in categories():
        statuses = category["matchedStatuses"]
        assert isinstance(statuses, list)
        if status in statuses and re.search(str(category["messageRegex"]), message):
            return str(category["name"])
    return None


def message_of(exc: BaseException) -> str:
    """The status message allure-pytest records: pytest's exconly(), notes included."""
    with pytest.raises(type(exc)) as info:
        raise exc
    return info.exconly()


def test_a_category_per_kind() -> None:
    names = [str(c["name"]) for c in categories()]
    assert len(names) == len(set(names))
    assert ISSUE_NAMES | {"unexpected disconnect"} == set(names)
    assert set(KINDS) == {k.value for k in FindingKind} | {HARNESS_ERROR}
    assert names[0] == "crash"
    assert names[-1] == "harness error"


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_filed_under_its_own_category(kind: str) -> None:
    exc = Failure("doc.check", qapi("x"), "hang on: crash", kind=FindingKind.DOC)
    exc.add_note(kind_note(kind))
    exc.add_note("Falsifying example: test_x(\n    arguments={'id': 'hang'},\n)")
    message = message_of(exc)
    assert message.startswith("conformance.oracle.failure.Failure: [doc.check]")
    name = kind.replace("-", " ")
    assert filed(message, "failed") == name
    assert filed(message, "broken") == name  # a QEMU exit is no AssertionError
    # allure 2 (Java) matches the whole message.
    matching = [c["name"] for c in categories() if re.fullmatch(str(c["messageRegex"]), message)]
    assert matching == [name]


def test_no_note_no_kind_category() -> None:
    # The text of a kind elsewhere in the message is not the note.
    message = message_of(Failure("c", qapi("x"), "finding kind: crash", kind=FindingKind.DOC))
    assert filed(message, "failed") is None


def test_a_known_finding_is_filed_under_its_kind() -> None:
    # As the end of the run rewrites it (conformance.reporting.known): a failure whose
    # message names its signatures first; as pytest's xfail, in no category.
    rewritten = "known finding: crash | pmemsave | x\n\nQemuGone: crashed\nfinding kind: crash"
    assert filed(rewritten, "broken") == "crash"
    assert filed(KNOWN_MESSAGE + rewritten.removeprefix("known finding: "), "skipped") is None
    assert KNOWN_MESSAGE == "XFAIL " + KNOWN_PREFIX


def test_kind_of_longer_name_is_not_a_prefix_match() -> None:
    message = "QemuGone: hung\n" + kind_note("hang") + "-up"
    assert filed(message, "broken") is None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_regexes_mean_the_same_in_javascript() -> None:
    # Allure 3 runs them as JavaScript RegExps: same verdicts as Python's search.
    messages = ["Failure: [c] x\n" + kind_note(k) + "\nFalsifying example: y" for k in KINDS] + [
        "Failure: [c] no note",
        "known finding: k\nfinding kind: hanging",
    ]
    script = (
        "const [cats, msgs] = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(msgs.map(m => cats.filter("
        "c => new RegExp(c.messageRegex).test(m)).map(c => c.name))));"
    )
    done = subprocess.run(
        ["node", "-e", script, json.dumps([categories(), messages])],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    expected = [
        [str(c["name"]) for c in categories() if re.search(str(c["messageRegex"]), m)]
        for m in messages
    ]
    assert json.loads(done.stdout) == expected
    assert all(len(names) == 1 for names in expected[:-2])


def test_write_categories(tmp_path: Path) -> None:
    path = write_categories(tmp_path / "results" / "categories.json")
    assert json.loads(path.read_text()) == categories()
    (tmp_path / "file").write_text("")
    with pytest.raises(SetupError, match="cannot write"):
        write_categories(tmp_path / "file" / "categories.json")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="not a finding kind"):
        kind_note("bad-luck")


def test_every_kind_has_a_severity_and_crashes_rank_first() -> None:
    assert set(SEVERITY) == set(KINDS)
    assert SEVERITY[FindingKind.CRASH] == "blocker"
    assert SEVERITY[FindingKind.DOC] == "minor"


def test_file_failure_notes_the_kind_once() -> None:
    exc = RuntimeError("boom")
    file_failure(exc, HARNESS_ERROR)
    file_failure(exc, HARNESS_ERROR)  # a failure in call and again in teardown
    assert exc.__notes__ == [kind_note(HARNESS_ERROR)]
    assert filed(message_of(exc), "broken") == "harness error"


REPO = "https://gitlab.com/qemu-project/qemu/-/blob/v7.2.22"


@pytest.mark.parametrize(
    ("citation", "links"),
    [
        (
            'qapi § qapi/block.json: blockdev-open-tray: "the tray opens"',
            [("qapi/block.json: blockdev-open-tray", f"{REPO}/qapi/block.json")],
        ),
        (
            "qapi § qapi/job.json: JobVerb; job.c JobVerbTable",
            [
                ("qapi/job.json: JobVerb", f"{REPO}/qapi/job.json"),
                ("job.c JobVerbTable", f"{REPO}/job.c"),
            ],
        ),
        (
            'qmp-spec § Compatibility Considerations: "The QMP Server performs a type check"',
            [
                (
                    "qmp-spec: Compatibility Considerations",
                    f"{REPO}/docs/interop/qmp-spec.txt",
                )
            ],
        ),
        (
            "qapi § block_resize: every argument is optional",
            [
                (
                    "QMP reference: block_resize: every argument is optional",
                    "https://qemu.readthedocs.io/en/v7.2.22/interop/qemu-qmp-ref.html",
                )
            ],
        ),
        (
            # The installed man page is the reference, rendered from the same doc comments.
            "man § block_resize, error condition 1",
            [
                (
                    "QMP reference: block_resize, error condition 1",
                    "https://qemu.readthedocs.io/en/v7.2.22/interop/qemu-qmp-ref.html",
                )
            ],
        ),
        ("docs § block_resize (drift)", []),
    ],
)
def test_citation_links(citation: str, links: list[tuple[str, str]]) -> None:
    assert citation_links(citation, (7, 2, 22)) == links


def test_the_qmp_spec_is_rst_from_8_2() -> None:
    ((_, url),) = citation_links("qmp-spec § Commands Responses", (8, 2, 0))
    assert url.endswith("/v8.2.0/docs/interop/qmp-spec.rst")


def test_deviations_have_an_allure_3_category_of_their_own_by_label() -> None:
    # A deviation is no finding: its result passes, and only its label can file it.
    category = deviation_category()
    assert category["name"] == "deviation"
    assert category["matchers"] == {
        "statuses": ["passed", "failed", "broken", "skipped"],
        "labels": {DEVIATION_LABEL: ".+"},
    }
    assert category["groupBy"] == [{"label": DEVIATION_LABEL}, {"label": "feature"}]
    # allure 2's categories.json has no label matcher: it stays out of it.
    assert "deviation" not in {c["name"] for c in categories()}
