"""The QMP reference man page (qemu-qmp-ref.7): groff layer, QAPI sections, the real page.

The real-page tests read the man pages Debian's QEMU installs and skip when they are
absent. Exact counts are asserted only for the QEMU 7.2 page this suite was written
against (Debian 12); another version's page must still parse without problems raising.
"""

from __future__ import annotations

import gzip
import json
import os
import shlex
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.docs import manpage
from conformance.docs.manpage import decode_escapes, find_man_page, parse_man, parse_man_text
from conformance.docs.model import DocEntry, DocError, DocExample, DocSet, Parse

NOT_INSTALLED = "{name}.7 not installed (apt-get install qemu-system-common)"


def page(body: str, heading: str = r".SS \fBdo\-it\fP (Command)") -> str:
    """A minimal man page in docutils' shape with one entry."""
    return f'.TH "QEMU-QMP-REF" "7" "" "7.2" "QEMU"\n.SH NAME\nqemu-qmp-ref\n{heading}\n{body}\n'


def entry(body: str, name: str = "do-it") -> DocEntry:
    return parse_man_text(page(body)).entries[name]


# --- groff escapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (r"\(dqa\(dq", '"a"'),
        (r"it\(aqs", "it's"),
        (r"\-\-x", "--x"),
        (r"a\eb", "a\\b"),
        (r"a\\b", "a\\b"),
        (r"\fBbold\fP \fIitalic\fR \f(CWmono\fP \f[CR]x\f[] \f3y\f1", "bold italic mono x y"),
        (r"\(lqq\(rq \(oqs\(cq", "\u201cq\u201d \u2018s\u2019"),
        (r"a\(emb\(enc", "a\u2014b\u2013c"),
        (r"a\ b\~c", "a b c"),
        (r"\&.dot", ".dot"),
        (r"\fI\%QEMU\fP", "QEMU"),
        (r"a\:b\|c\^d\)e\/f\,g", "abcdefg"),
        (r"\[dq]x\[aq]", "\"x'"),
        (r"\[u00E9]\[u0065_0301]\[char65]", "\u00e9e\u0301A"),
        (r"\(bu \(ga \' \(rs", "\u2022 ` \u00b4 \\"),
        (r"\*(lqx\*(rq \*[Aq] \*R", "\u201cx\u201d ' \u00ae"),
        (r"\s-1small\s0 \s+(12big\s[0]", "small big"),
        (r"\N'65'\N'66'", "AB"),
        (r"\h'2n'x\v'1'y\w'abc'z\X'tty: link'w\Z'q'", "xyzw"),
        (r"\m[red]c\M[blue]d", "cd"),
        (r"text\" a comment", "text"),
        (r"text\# a comment", "text"),
        ("no escapes at all", "no escapes at all"),
    ],
)
def test_escapes_decode_to_what_groff_prints(raw: str, text: str) -> None:
    assert decode_escapes(raw) == (text, [])


@pytest.mark.parametrize(
    ("raw", "text", "problem"),
    [
        (r"\[nosuchglyph]x", "x", "unknown special character"),
        (r"\(zzx", "x", "unknown special character"),
        (r"\qx", "qx", "unknown escape"),
        (r"\*[nostring]x", "x", "unknown string"),
        (r"\n[.g]x", "x", "number register"),
        ("x\\", "x", "lone backslash"),
    ],
)
def test_odd_escapes_are_kept_as_problems(raw: str, text: str, problem: str) -> None:
    decoded, problems = decode_escapes(raw)
    assert decoded == text
    assert len(problems) == 1
    assert problem in problems[0]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_decoding_arbitrary_text_never_raises(text: str) -> None:
    decoded, problems = decode_escapes(text)
    assert isinstance(decoded, str)
    assert all(isinstance(p, str) for p in problems)


# --- groff layout ----------------------------------------------------------------------

# Roff requests, escapes and QAPI words, so that fuzzing reaches the parser's branches.
ROFF_PIECES = st.sampled_from(
    [
        ".SS ", ".SH ", ".TP\n", ".B ", ".IP \\(bu 2\n", ".IP ", ".INDENT 0.0\n",
        ".UNINDENT\n", ".RS\n", ".RE\n", ".nf\n", ".fi\n", ".EX\n", ".EE\n", ".sp\n",
        ".de X\n", "..\n", ".TS\n", ".TE\n", ".\\\" c\n", "'\\\" t\n", "\\&.", "\\fB",
        "\\fP", "\\(dq", "\\[", "\\*(", "\\s", "\\N'", "\\", "\n", " ", ":", "(optional)",
        "(Command)", "(Event)", "(Object)", "Arguments", "Returns", "Since", "Example",
        "Examples:", "Note", "Features", "If", "TODO", "\\fBNote:\\fP\n", "->", "<-",
        "{", "}", '"', "'", "If x, GenericError", "x: int", "The members of ", "\t", "\r",
    ]
)  # fmt: skip
ROFF_TEXT = st.lists(st.one_of(ROFF_PIECES, st.text(max_size=8)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(ROFF_TEXT)
def test_any_text_after_an_entry_heading_parses_without_raising(text: str) -> None:
    docs = parse_man_text(page(text))
    assert docs.format == "man"
    assert all(isinstance(problem, str) for problem in docs.problems)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ROFF_TEXT, st.text()))
def test_any_text_parses_or_is_refused_with_doc_error(text: str) -> None:
    try:
        outcome: DocSet | DocError = parse_man_text(text)
    except DocError as exc:
        outcome = exc
    if isinstance(outcome, DocError):
        assert "\n" not in str(outcome)
    else:
        assert outcome.format == "man"


def test_comments_macro_definitions_and_control_lines_are_not_text() -> None:
    e = entry(
        '.\\" a comment line\n'
        "'\\\" t\n"
        '.de1 INDENT\n.\\" inside the macro\n. RS \\\\$1\n..\n'
        ".\n"
        ".sp\n"
        "The summary.\n"
        ".ad l\n"
        "\\&.starts with a dot\n"
    )
    assert e.summary == "The summary. .starts with a dot"


def test_heading_text_may_be_on_the_next_line_and_headings_can_be_unbolded() -> None:
    docs = parse_man_text(page(".sp\nOne.\n.SS\nother (Event)\n.sp\nTwo.\n"))
    assert docs.entries["do-it"].summary == "One."
    assert docs.entries["other"].kind == "event"
    assert docs.entries["other"].summary == "Two."


def test_indent_macros_and_rs_re_nest_the_same_way() -> None:
    docutils = entry(
        ".SS Returns\n.INDENT 0.0\n.IP \\(bu 2\nNothing on success\n.IP \\(bu 2\n"
        "If \\fBx\\fP is bad, GenericError\n.UNINDENT\n"
    )
    plain_man = entry(
        ".SS Returns\n.RS\n.IP \\(bu 2\nNothing on success\n.IP \\(bu 2\n"
        "If \\fBx\\fP is bad, GenericError\n.RE\n"
    )
    assert docutils.returns == plain_man.returns == "Nothing on success"
    assert docutils.errors == plain_man.errors == ("If x is bad, GenericError",)


def test_unbalanced_unindent_and_unclosed_literal_are_problems() -> None:
    docs = parse_man_text(
        page(".UNINDENT\n.SS Example\n.nf\n\\-> { \\(dqexecute\\(dq: \\(dqx\\(dq }\n")
    )
    assert any(".UNINDENT without a matching indent" in p for p in docs.problems)
    assert any("literal block not closed" in p for p in docs.problems)
    (example,) = docs.entries["do-it"].examples
    assert example.messages[0].value == {"execute": "x"}


def test_unknown_requests_are_problems_with_file_and_line() -> None:
    docs = parse_man_text(page(".sp\nText.\n.XYZ arg\n"), source="x.7")
    assert docs.problems == ["x.7:7: unknown request .XYZ"]


def test_tables_become_text() -> None:
    e = entry(".sp\nSummary.\n.TS\ncenter;\n|l|l|.\n_\nT{\nremote\nT}\tT{\nlocal\nT}\n_\n.TE\n")
    assert e.summary == "Summary.\n\nremote local"


# --- sections --------------------------------------------------------------------------

ARGUMENTS = r""".sp
Do it.
.SS Arguments
.INDENT 0.0
.TP
.B \fBdevice\fP: \fBstring\fP (optional)
Block device name
.TP
.B \fBid\fP: \fBstring\fP
The QOM path (since: 2.8)
.TP
.B \fBnames\fP: \fBarray of string\fP (optional) (since 5.0)
Names.
.sp
More about names.
.TP
.B \fBsecret\fP: \fBstring\fP (optional) (\fBIf: \fP\fBCONFIG_SECRET\fP)
Only with secrets. (Since 6.0)
.UNINDENT
"""


def test_arguments_have_type_optionality_and_since() -> None:
    e = entry(ARGUMENTS)
    assert e.summary == "Do it."
    got = {a.name: (a.type, a.optional, a.since) for a in e.arguments}
    assert got == {
        "device": ("string", True, None),
        "id": ("string", False, "2.8"),
        "names": ("array of string", True, "5.0"),
        "secret": ("string", True, "6.0"),
    }
    assert e.arguments[2].description == "Names.\n\nMore about names."


def test_boxed_arguments_are_a_note_not_an_argument() -> None:
    e = entry(
        ".SS Arguments\n.INDENT 0.0\n.TP\n.B The members of \\fBBlockdevOptions\\fP\n.UNINDENT\n"
    )
    assert e.arguments == ()
    assert e.notes == ("Arguments: the members of BlockdevOptions",)


def test_unrecognised_argument_terms_are_problems() -> None:
    docs = parse_man_text(
        page(".SS Arguments\n.INDENT 0.0\n.TP\n.B 42 is not a name\nx\n.UNINDENT\n")
    )
    assert docs.entries["do-it"].arguments == ()
    assert any("argument term '42 is not a name' not understood" in p for p in docs.problems)


def test_sphinx_typed_field_arguments() -> None:
    e = entry(
        ".TP\n.B Arguments\n.INDENT 7.0\n.IP \\(bu 2\n"
        "\\fBdevice\\fP (\\fIstring\\fP, optional) \\-\\- the device (since 2.8)\n"
        ".IP \\(bu 2\n\\fBsize\\fP (\\fIint\\fP) \\(en new size\n.UNINDENT\n"
    )
    got = [(a.name, a.type, a.optional, a.since, a.description) for a in e.arguments]
    assert got == [
        ("device", "string", True, "2.8", "the device (since 2.8)"),
        ("size", "int", False, None, "new size"),
    ]


@pytest.mark.parametrize(
    ("returns", "text", "errors"),
    [
        # 7.2's usual form: bullets under Returns.
        (
            ".INDENT 0.0\n.IP \\(bu 2\nnothing on success\n.IP \\(bu 2\n"
            "If \\fBdevice\\fP is not a valid block device, DeviceNotFound\n.IP \\(bu 2\n"
            "Any other error returns a GenericError.\n.UNINDENT\n",
            "nothing on success",
            (
                "If device is not a valid block device, DeviceNotFound",
                "Any other error returns a GenericError.",
            ),
        ),
        # Errors one per source line without bullets: rST joined them into one paragraph.
        (
            ".sp\nNothing on success\nIf \\fBid\\fP is not a valid device, DeviceNotFound\n",
            "Nothing on success",
            ("If id is not a valid device, DeviceNotFound",),
        ),
        # A definition list whose bullets complete "error if".
        (
            ".INDENT 0.0\n.TP\n.B error if\n.INDENT 7.0\n.IP \\(bu 2\nthe server is not running\n"
            ".IP \\(bu 2\nexport is not found\n.UNINDENT\n.UNINDENT\n",
            "",
            ("error if the server is not running", "error if export is not found"),
        ),
        # An error sentence inside the description of the value.
        (
            ".sp\nlist of \\fBRxFilterInfo\\fP for all NICs.\n"
            "Returns an error if the given \\fBname\\fP doesn\\(aqt exist.\n",
            "list of RxFilterInfo for all NICs.",
            ("Returns an error if the given name doesn't exist.",),
        ),
        (
            ".INDENT 0.0\n.IP \\(bu 2\nNothing on success\n.IP \\(bu 2\n"
            "\\fBDeviceNotFound\\fP error, if any of the YankInstances doesn\\(aqt exist\n.UNINDENT\n",
            "Nothing on success",
            ("DeviceNotFound error, if any of the YankInstances doesn't exist",),
        ),
        # Conditions that are not errors stay with the value.
        (
            ".sp\nIf successful, nothing\n",
            "If successful, nothing",
            (),
        ),
        (
            ".sp\nAn event is returned if:\n.INDENT 0.0\n.IP \\(bu 2\n"
            "if \\fBvcpu\\fP is given, the event has the \\(dqvcpu\\(dq property.\n.UNINDENT\n",
            'An event is returned if:\n\nif vcpu is given, the event has the "vcpu" property.',
            (),
        ),
    ],
)
def test_returns_and_error_conditions(returns: str, text: str, errors: tuple[str, ...]) -> None:
    e = entry(".SS Returns\n" + returns)
    assert (e.returns, e.errors) == (text, errors)


def test_errors_section_of_newer_docs() -> None:
    e = entry(
        ".SS Errors\n.INDENT 0.0\n.IP \\(bu 2\nIf \\fBdevice\\fP is not found, DeviceNotFound\n"
        ".IP \\(bu 2\nIf the job is paused, GenericError\n.UNINDENT\n"
    )
    assert e.errors == (
        "If device is not found, DeviceNotFound",
        "If the job is paused, GenericError",
    )


def test_since_features_notes_if_and_todo() -> None:
    e = entry(
        ".SS Features\n.INDENT 0.0\n.TP\n.B \\fBdeprecated\\fP\nMember \\fBdevice\\fP is"
        " deprecated.\n.TP\n.B \\fBunstable\\fP\nExperimental.\n.UNINDENT\n"
        ".SS Note\n.sp\nFirst note.\n.SS Notes\n.INDENT 0.0\n.IP 1. 3\none\n.IP 2. 3\ntwo\n"
        ".UNINDENT\n.SS TODO\n.sp\nBetter docs.\n.SS Since\n.sp\n2.5\n"
        ".SS If\n.sp\n\\fBCONFIG_SPICE\\fP\n"
    )
    assert e.features == (
        ("deprecated", "Member device is deprecated."),
        ("unstable", "Experimental."),
    )
    assert e.notes == ("First note.", "1. one\n\n2. two")
    assert e.since == "2.5"
    assert e.condition == "CONFIG_SPICE"
    assert "Better docs." not in e.summary


def test_admonition_and_field_list_forms_of_newer_docutils() -> None:
    e = entry(
        ".sp\nSummary.\n.sp\n\\fBNote:\\fP\n.INDENT 0.0\n.INDENT 3.5\nThis is a note.\n"
        ".UNINDENT\n.UNINDENT\n.INDENT 0.0\n.TP\n.B Returns\nNothing.\n.TP\n.B Since\n9.0\n"
        ".UNINDENT\n"
    )
    assert (e.summary, e.notes, e.returns, e.since) == (
        "Summary.",
        ("This is a note.",),
        "Nothing.",
        "9.0",
    )


def test_unknown_subsection_inside_an_entry_is_kept_and_reported() -> None:
    docs = parse_man_text(
        page(".SS Valid parameters combination table\n.sp\nTable.\n.SS Since\n.sp\n7.2\n")
    )
    e = docs.entries["do-it"]
    assert (e.notes, e.since) == (("Valid parameters combination table: Table.",), "7.2")
    assert any("unknown section 'Valid parameters combination table'" in p for p in docs.problems)


def test_doc_section_headings_and_types_end_an_entry() -> None:
    docs = parse_man_text(
        page(
            ".sp\nMine.\n.SS Background jobs\n.sp\nSection prose.\n"
            ".SS \\fBJobType\\fP (Enum)\n.SS Values\n.INDENT 0.0\n.TP\n.B \\fBcommit\\fP\nx\n"
            ".UNINDENT\n.SS Since\n.sp\n1.7\n.SS \\fBJobInfo\\fP (Object)\n.SS Members\n"
            ".SS \\fBStrOrNull\\fP (Alternate)\n.SS Since\n.sp\n2.10\n"
            ".SH NEXT CHAPTER\n.SS Since\n.sp\n9.9\n"
        )
    )
    assert list(docs.entries) == ["do-it"]
    e = docs.entries["do-it"]
    assert (e.summary, e.since) == ("Mine.", None)
    assert any("section 'Since' outside any entry" in p for p in docs.problems)


def test_duplicate_entries_keep_the_first() -> None:
    docs = parse_man_text(page(".sp\nFirst.\n.SS \\fBdo\\-it\\fP (Command)\n.sp\nSecond.\n"))
    assert docs.entries["do-it"].summary == "First."
    assert any("do-it is documented again" in p for p in docs.problems)


# --- examples --------------------------------------------------------------------------

LITERAL_72 = """.SS Example
.INDENT 0.0
.INDENT 3.5
.sp
.nf
.ft C
\\-> { \\(dqexecute\\(dq: \\(dqdo\\-it\\(dq,
     \\(dqarguments\\(dq: { \\(dqid\\(dq: \\(dqa\\e\\(dqb\\(dq } }
<\\- { \\(dqreturn\\(dq: {} }
.ft P
.fi
.UNINDENT
.UNINDENT
"""


def test_example_in_nf_literal_block() -> None:
    docs = parse_man_text(page(LITERAL_72), source="p.7")
    (example,) = docs.entries["do-it"].examples
    assert [(m.direction, m.status, m.line) for m in example.messages] == [
        ("->", Parse.PARSED, 11),
        ("<-", Parse.PARSED, 13),
    ]
    assert example.messages[0].value == {
        "execute": "do-it",
        "arguments": {"id": 'a"b'},
    }
    assert docs.entries["do-it"].source == "p.7:4"


def test_example_in_ex_ee_literal_block_with_prose_and_dot_lines() -> None:
    (example,) = entry(
        ".SS Examples\n.INDENT 0.0\n.INDENT 3.5\n.sp\n.EX\n1. First\n\\&... then\n"
        "\\-> { \\(aqexecute\\(aq: \\(aqx\\(aq }\n<\\- { \\(dqreturn\\(dq: {} }\n.EE\n"
        ".UNINDENT\n.UNINDENT\n"
    ).examples
    assert [m.status for m in example.messages] == [Parse.REPAIRED, Parse.PARSED]
    assert example.messages[0].repairs == ("single-quotes",)
    assert example.prose == "1. First\n... then"


def test_several_example_sections_and_titles() -> None:
    e = entry(
        LITERAL_72 + ".sp\nExample: Resize a disk\n.INDENT 0.0\n.INDENT 3.5\n.sp\n.EX\n"
        "\\-> { \\(dqexecute\\(dq: \\(dqdo\\-it\\(dq }\n.EE\n.UNINDENT\n.UNINDENT\n"
        '.INDENT 0.0\n.IP "Example: Annotated"\nFirst we ask:\n.INDENT 0.0\n.INDENT 3.5\n'
        ".sp\n.EX\n\\-> { \\(dqexecute\\(dq: \\(dqx\\(dq }\n.EE\n.UNINDENT\n.UNINDENT\n"
        ".sp\nthen it answers:\n.INDENT 0.0\n.INDENT 3.5\n.sp\n.EX\n<\\- { \\(dqreturn\\(dq: {} }\n"
        ".EE\n.UNINDENT\n.UNINDENT\n.UNINDENT\n"
    )
    assert [(x.title, x.annotated, len(x.messages)) for x in e.examples] == [
        ("", False, 2),
        ("Resize a disk", False, 1),
        ("Annotated", True, 2),
    ]
    assert e.examples[2].prose == "First we ask:\nthen it answers:"


def test_literal_with_messages_outside_example_sections_is_an_example() -> None:
    e = entry(
        ".sp\nSummary.\n.sp\nFor instance:\n.INDENT 0.0\n.INDENT 3.5\n.sp\n.nf\n"
        "\\-> { \\(dqexecute\\(dq: \\(dqx\\(dq }\n.fi\n.UNINDENT\n.UNINDENT\n"
    )
    assert e.summary == "Summary.\n\nFor instance:"
    assert [m.value for m in e.examples[0].messages] == [{"execute": "x"}]


def test_example_section_without_literal_block() -> None:
    docs = parse_man_text(page(".SS Example\n.sp\nSee the manual.\n"))
    assert docs.entries["do-it"].examples == ()
    assert any("Example section without a literal block" in p for p in docs.problems)
    docs = parse_man_text(page(".SS Example\n.sp\n\\-> { \\(dqexecute\\(dq: \\(dqx\\(dq }\n"))
    (example,) = docs.entries["do-it"].examples
    assert example.messages[0].value == {"execute": "x"}
    assert any("example messages not in a literal block" in p for p in docs.problems)


# --- files -----------------------------------------------------------------------------

SMALL = page(".sp\nDo it.\n" + LITERAL_72)


def test_gzip_and_plain_are_told_apart_by_content(tmp_path: Path) -> None:
    # Names that lie about the content: detection must not look at them.
    plain = tmp_path / "plain.7.gz"
    plain.write_text(SMALL, encoding="utf-8")
    zipped = tmp_path / "zipped.7"
    zipped.write_bytes(gzip.compress(SMALL.encode(), mtime=0))
    a, b = parse_man(plain), parse_man(os.fspath(zipped))
    assert a.entries.keys() == b.entries.keys() == {"do-it"}
    assert a.entries["do-it"].examples == b.entries["do-it"].examples
    assert (a.source, a.format) == (str(plain), "man")
    assert a.entries["do-it"].source == f"{plain}:4"


def test_invalid_utf8_is_a_problem_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.7"
    path.write_bytes(page(".sp\nCaf\xe9.\n").encode("latin-1"))
    docs = parse_man(path)
    assert docs.entries["do-it"].summary == "Caf\ufffd."
    assert docs.problems == [f"{path}:6: invalid UTF-8, replaced with U+FFFD"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\x1f\x8bthis is not deflate data", "corrupt gzip"),
        (gzip.compress(SMALL.encode(), mtime=0)[:40], "corrupt gzip"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary data"),
        (b"", "no '.SS name (Command|Event|"),
        (b'.TH "LS" "1"\n.SH NAME\nls \\- list\n.SS Options\n.TP\n.B \\-a\nall\n', "not a QMP"),
    ],
)
def test_unreadable_files_raise_one_line_doc_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "page.7"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DocError) as raised:
        parse_man(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_directory_is_a_doc_error(tmp_path: Path) -> None:
    with pytest.raises(DocError, match="is a directory"):
        parse_man(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_a_doc_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.7"
    path.write_text(SMALL)
    path.chmod(0)
    with pytest.raises(DocError, match="permission denied"):
        parse_man(path)


def test_find_man_page_falls_back_to_the_standard_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(manpage, "MAN_DIRS", (tmp_path / "a", tmp_path / "b"))
    assert find_man_page("qemu-qmp-ref") is None
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "qemu-qmp-ref.7.gz").write_bytes(gzip.compress(SMALL.encode(), mtime=0))
    assert find_man_page("qemu-qmp-ref") == tmp_path / "b" / "qemu-qmp-ref.7.gz"


def test_find_man_page_misses_quietly() -> None:
    assert find_man_page("no-such-page-for-qmp-conformance") is None


# --- the installed qemu-qmp-ref.7 --------------------------------------------------------


def installed(name: str) -> Path:
    path = find_man_page(name)
    if path is None:
        pytest.skip(NOT_INSTALLED.format(name=name))
    return path


def version_of(path: Path) -> str:
    """The version field of the page's .TH line (docutils writes it 4th)."""
    data = path.read_bytes()
    text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(".TH "):
            fields = shlex.split(line[4:])
            return fields[3] if len(fields) > 3 else ""
    return ""


@pytest.fixture(scope="module")
def qmp_ref() -> DocSet:
    return parse_man(installed("qemu-qmp-ref"))


@pytest.fixture(scope="module")
def qmp_ref_72(qmp_ref: DocSet) -> DocSet:
    version = version_of(Path(qmp_ref.source))
    if not version.startswith("7.2"):
        pytest.skip(f"installed qemu-qmp-ref.7 is QEMU {version or '?'}; exact counts are for 7.2")
    return qmp_ref


def test_installed_page_parses(qmp_ref: DocSet) -> None:
    assert qmp_ref.format == "man"
    assert qmp_ref.commands()
    assert qmp_ref.events()
    assert qmp_ref.examples()


@pytest.fixture(scope="module")
def storage_daemon_ref() -> DocSet:
    return parse_man(installed("qemu-storage-daemon-qmp-ref"))


def test_installed_storage_daemon_page_parses(storage_daemon_ref: DocSet) -> None:
    assert storage_daemon_ref.commands()
    assert storage_daemon_ref.events()
    assert "blockdev-add" in storage_daemon_ref.entries
    assert "device_add" not in storage_daemon_ref.entries  # the daemon has no guest


def test_72_storage_daemon_page_matches_its_schema(
    storage_daemon_ref: DocSet, corpus: Path
) -> None:
    version = version_of(Path(storage_daemon_ref.source))
    if not version.startswith("7.2"):
        pytest.skip(f"installed page is QEMU {version or '?'}; the corpus schema is 7.2")
    schema = corpus / "qemu-7.2" / "query-qmp-schema.qemu-storage-daemon.json"
    assert {e.name for e in storage_daemon_ref.commands()} == schema_names(schema, "command")
    assert {e.name for e in storage_daemon_ref.events()} == schema_names(schema, "event")
    assert storage_daemon_ref.problems == []
    statuses = Counter(m.status for _, x in storage_daemon_ref.examples() for m in x.messages)
    assert statuses == {Parse.PARSED: 116, Parse.REPAIRED: 1}


def test_72_page_counts_and_no_problems(qmp_ref_72: DocSet) -> None:
    assert qmp_ref_72.problems == []
    assert (len(qmp_ref_72.commands()), len(qmp_ref_72.events())) == (220, 52)
    assert len(qmp_ref_72.examples()) == 213
    statuses = Counter(m.status for _, x in qmp_ref_72.examples() for m in x.messages)
    assert statuses == {Parse.PARSED: 452, Parse.REPAIRED: 5, Parse.UNPARSABLE: 4}
    directions = Counter(m.direction for _, x in qmp_ref_72.examples() for m in x.messages)
    assert directions == {"<-": 259, "->": 194, "?": 8}


# Every 7.2 example that isn't clean JSON behind a direction marker, with why. The worst
# thing about each is named: unparsable > repaired > unmarked (no `->`/`<-`).
KNOWN_PROBLEM_EXAMPLES = {
    # "rd_operations":36772 and the two lines after it lack their commas.
    ("query-blockstats", 0): "repaired",
    # Written with single quotes throughout, as QMP accepts but JSON doesn't.
    ("NETDEV_STREAM_DISCONNECTED", 0): "repaired",
    # "{...more...}," elides further flows and leaves a trailing comma.
    ("query-rocker-of-dpa-flows", 0): "repaired",
    # "..." elides the channel list.
    ("query-spice", 0): "repaired",
    # No "->", and 'sample-pages' is single-quoted.
    ("calc-dirty-rate", 0): "repaired",
    # No "->", and `{"execute": …}` is closed before its "arguments" line.
    ("set-vcpu-dirty-limit", 0): "unparsable",
    ("cancel-vcpu-dirty-limit", 0): "unparsable",
    ("dumpdtb", 0): "unparsable",
    # A stray \(aq (') after the first reply's closing "]}".
    ("query-hotpluggable-cpus", 0): "unparsable",
    # No "->" before the command.
    ("query-vcpu-dirty-limit", 0): "unmarked",
    # No "<-" before the events.
    ("MIGRATION_PASS", 0): "unmarked",
    ("QUORUM_REPORT_BAD", 0): "unmarked",
}


def worst(example: DocExample) -> str | None:
    statuses = {m.status for m in example.messages}
    if Parse.UNPARSABLE in statuses:
        return "unparsable"
    if Parse.REPAIRED in statuses:
        return "repaired"
    if any(m.direction == "?" for m in example.messages):
        return "unmarked"
    return None if example.messages else "empty"


def test_72_known_problem_examples(qmp_ref_72: DocSet) -> None:
    found = {}
    for e in qmp_ref_72.entries.values():
        for index, example in enumerate(e.examples):
            if (problem := worst(example)) is not None:
                found[(e.name, index)] = problem
    assert found == KNOWN_PROBLEM_EXAMPLES


def test_72_known_commands(qmp_ref_72: DocSet) -> None:
    e = qmp_ref_72.entries
    query_block = e["query-block"]
    assert (query_block.kind, query_block.arguments, query_block.since) == ("command", (), "0.14")
    assert "BlockInfo" in query_block.returns
    assert query_block.source.endswith(":4470")
    assert [m.direction for m in query_block.examples[0].messages] == ["->", "<-"]
    assert query_block.examples[0].messages[0].value == {"execute": "query-block"}

    add = e["blockdev-add"]
    assert (add.arguments, add.notes, add.since) == (
        (),
        ("Arguments: the members of BlockdevOptions",),
        "2.9",
    )
    assert [m.status for m in add.examples[0].messages] == [Parse.PARSED] * 4

    device_del = e["device_del"]
    assert [(a.name, a.type, a.optional) for a in device_del.arguments] == [("id", "string", False)]
    assert device_del.returns == "Nothing on success"
    assert device_del.errors == ("If id is not a valid device, DeviceNotFound",)
    assert device_del.notes[0].startswith("When this command completes")

    tray = e["blockdev-open-tray"]
    assert [(a.name, a.optional, a.since) for a in tray.arguments] == [
        ("device", True, None),
        ("id", True, "2.8"),
        ("force", True, None),
    ]
    assert tray.features == (("deprecated", "Member device is deprecated. Use id instead."),)
    assert [m.direction for m in tray.examples[0].messages] == ["->", "<-", "<-"]
    assert tray.examples[0].messages[1].value["event"] == "DEVICE_TRAY_MOVED"  # type: ignore[index]

    transaction = e["transaction"]
    assert [(a.name, a.type, a.optional) for a in transaction.arguments] == [
        ("actions", "array of TransactionAction", False),
        ("properties", "TransactionProperties", True),
    ]
    assert transaction.errors == ("Errors depend on the operations of the transaction",)

    backup = e["blockdev-backup"]
    assert backup.errors == ("If device is not a valid block device, DeviceNotFound",)
    assert backup.notes == ("Arguments: the members of BlockdevBackup",)

    postcopy = e["migrate-start-postcopy"]
    assert (postcopy.arguments, postcopy.since, postcopy.returns) == ((), "2.5", "")
    assert [m.value for m in postcopy.examples[0].messages] == [
        {"execute": "migrate-start-postcopy"},
        {"return": {}},
    ]

    nbd_remove = e["nbd-server-remove"]
    assert nbd_remove.errors == (
        "error if the server is not running",
        "error if export is not found",
        "error if mode is 'safe' and there are existing connections",
    )
    assert e["query-spice"].condition == "CONFIG_SPICE"


def test_72_known_events(qmp_ref_72: DocSet) -> None:
    e = qmp_ref_72.entries
    tray = e["DEVICE_TRAY_MOVED"]
    assert tray.kind == "event"
    assert [(a.name, a.type, a.optional, a.since) for a in tray.arguments] == [
        ("device", "string", False, None),
        ("id", "string", False, "2.8"),
        ("tray-open", "boolean", False, None),
    ]
    assert tray.since == "1.1"
    (message,) = tray.examples[0].messages
    assert (message.direction, message.status) == ("<-", Parse.PARSED)

    completed = e["BLOCK_JOB_COMPLETED"]
    assert {a.name: (a.type, a.optional) for a in completed.arguments} == {
        "type": ("JobType", False),
        "device": ("string", False),
        "len": ("int", False),
        "offset": ("int", False),
        "speed": ("int", False),
        "error": ("string", True),
    }

    shutdown = e["SHUTDOWN"]
    assert [(a.name, a.type, a.since) for a in shutdown.arguments] == [
        ("guest", "boolean", "2.10"),
        ("reason", "ShutdownCause", "4.0"),
    ]
    assert shutdown.since == "0.12"
    assert "-no-shutdown" in shutdown.notes[0]
    assert shutdown.examples[0].messages[0].value["data"] == {  # type: ignore[index]
        "guest": True,
        "reason": "guest-shutdown",
    }


def schema_names(path: Path, meta_type: str) -> set[str]:
    schema = json.loads(path.read_text())["schema"]
    return {e["name"] for e in schema if e["meta-type"] == meta_type}


def test_72_page_against_the_x86_64_schema(
    qmp_ref_72: DocSet, schema_72_x86: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page documents every target's commands; x86_64 has a subset of them."""
    documented = {e.name for e in qmp_ref_72.commands()}
    x86 = schema_names(schema_72_x86, "command")
    other_targets = set().union(
        *(
            schema_names(path, "command")
            for path in schema_72_x86.parent.glob("query-qmp-schema.*.json")
        )
    )
    with capsys.disabled():
        print(
            f"\nqemu-qmp-ref.7: {len(documented)} commands; qemu-system-x86_64 7.2: {len(x86)};"
            f" documented, not in x86_64: {sorted(documented - x86)};"
            f" in x86_64, undocumented: {sorted(x86 - documented)}"
        )
    assert x86 <= documented
    assert documented - x86 <= other_targets  # target-specific (TARGET_S390X, TARGET_ARM…)
    assert {e.name for e in qmp_ref_72.events()} >= schema_names(schema_72_x86, "event")
