"""A finding as a report for QEMU's issue tracker: ``qmp-conformance report --upstream DIR``.

Plain text in the shape of QEMU's bug template (.gitlab/issue_templates/bug.md: "Host
environment", "Emulated/Virtualized environment", "Description of problem", "Steps to
reproduce", "Additional information"), from what a finding directory holds
(`conformance.findings.store`): the title; the host (this report's: uname and
/etc/os-release) and the QEMU version the finding was recorded on, with its package;
the one-liner that needs nothing but QEMU (`reproducer.one_liner`) and the messages it
sends; what the cited sentence (the finding's citation: QMP spec, QAPI doc, RFC 8259 or
QEMU's tests) expects against what QEMU did; QEMU's stderr; the affected versions of
``affected.json`` (`conformance.findings.affected`), or how to check them.

Nothing is claimed that wasn't checked. Whether the defect is known upstream is not
looked up: the report says so. The triage of the project's packaged baseline for the
QEMU version (verdict, note, link: `conformance.findings.baseline`) is quoted when the
baseline has the signature, and said to be missing otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
from dataclasses import dataclass
from pathlib import Path

from conformance.errors import SetupError
from conformance.findings import affected as affected_versions
from conformance.findings import baseline as baselines
from conformance.findings.reproducer import Reproducer, one_liner
from conformance.jsonfile import read_json

__all__ = ["FindingDir", "cmd_upstream", "host_lines", "render"]

#: Where QEMU's issues are filed, and where the report says it did not look.
TRACKER = "https://gitlab.com/qemu-project/qemu/-/issues"
_STDERR_LINES = 30
_MESSAGE_LINES = 60
#: Longer messages are cut in the listing (the one-liner and reproducer.jsonl keep them).
_MESSAGE_CHARS = 400
#: A longer one-liner (an unminimised known finding's) is pointed to, not pasted.
_ONE_LINER_CHARS = 4000
_TITLE_MAX = 120
_OS_RELEASE = Path("/etc/os-release")


@dataclass(frozen=True, slots=True)
class FindingDir:
    """What a finding directory says (see `conformance.findings.store`)."""

    path: Path
    finding: dict[str, object]
    reproducer: Reproducer | None
    stderr: str
    qemu: dict[str, str]  # version, package, binary: where the finding was recorded
    flavor: str  # qemu-system-x86_64, qemu-storage-daemon

    @classmethod
    def load(cls, path: Path) -> FindingDir:
        if not (path / "finding.json").is_file():
            raise SetupError(f"{path}: not a finding directory (no finding.json)")
        finding = read_json(path / "finding.json", "finding")
        if not isinstance(finding, dict) or not isinstance(finding.get("signature"), str):
            raise SetupError(f"{path / 'finding.json'}: not a finding (no signature)")
        rep = Reproducer.load(path) if (path / "reproducer.jsonl").is_file() else None
        try:
            stderr = (path / "qemu-stderr.txt").read_text(encoding="utf-8", errors="replace")
        except OSError:
            stderr = ""
        qemu = _qemu_of(path, finding)
        binary = qemu.get("binary", "")
        if not binary and (path / "command-line.txt").is_file():
            words = shlex.split((path / "command-line.txt").read_text(encoding="utf-8"))
            binary = words[0] if words else ""
        return cls(path, finding, rep, stderr, qemu, Path(binary).name or "qemu-system-x86_64")

    def text(self, key: str) -> str:
        value = self.finding.get(key)
        return value if isinstance(value, str) else ""

    @property
    def target(self) -> str:
        """The baseline section of the flavor (`BinaryInfo.target`'s rule)."""
        return self.flavor.removeprefix("qemu-system-")


def _qemu_of(path: Path, finding: dict[str, object]) -> dict[str, str]:
    """The QEMU a finding was recorded on: finding.json's own record, else the index of
    the findings directory it sits in (written before finding.json had one)."""
    own = finding.get("qemu")
    if isinstance(own, dict):
        return {str(k): str(v) for k, v in own.items()}
    index = path.parent / "index.json"
    if index.is_file():
        try:
            data = read_json(index, "findings index")
        except SetupError:
            return {}
        qemu = data.get("qemu") if isinstance(data, dict) else None
        if isinstance(qemu, dict):
            return {str(k): str(v) for k, v in qemu.items()}
    return {}


def host_lines() -> list[str]:
    """The template's host fields, of the host this report is written on."""
    uname = platform.uname()
    system = "unknown"
    try:
        for line in _OS_RELEASE.read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.partition("=")[2].strip().strip('"')
    except OSError:
        pass
    kernel = " ".join(
        [uname.system, uname.node, uname.release, uname.version, uname.machine]
    ).strip()
    return [
        f" - Operating system: {system}",
        f" - OS/kernel version: {kernel}",
        f" - Architecture: {uname.machine}",
    ]


def title(found: FindingDir) -> str:
    """The issue's title: what QMP command does what to QEMU, in QEMU's terms."""
    kind, command = found.text("kind"), found.text("command") or "-"
    detail = found.text("title")
    for prefix in (f"{kind}: {command}: ", f"{kind}: "):
        detail = detail.removeprefix(prefix)
    detail = detail.removeprefix(f"{found.flavor}: ").removeprefix("crashed: ").strip()
    head = {
        "crash": f"QMP {command} crashes QEMU",
        "sandbox-hit": f"QMP {command} makes QEMU hit its seccomp sandbox",
        "hang": f"QMP {command} hangs QEMU's monitor",
        "unexpected-disconnect": f"QMP {command} makes QEMU exit",
        "doc-mismatch": f"QMP {command}: the QAPI documentation disagrees with QEMU",
        "schema-violation": f"QMP {command}: a reply breaks the QAPI schema",
        "protocol-violation": f"QMP {command}: QEMU breaks the QMP protocol",
        "parser-differential": f"QMP {command}: QEMU's JSON parser resumes inside rejected input",
        "visitor-mismatch": f"QMP {command}: schema-valid arguments refused",
    }.get(kind, f"QMP {command}: {kind}")
    if kind == "hang":
        return head
    # A crash that left only its signal is told apart by its arguments' shape.
    _, args, shape = found.text("signature").rpartition(" args=")
    if kind == "crash" and args:
        detail = f"{detail} ({shape})"
    text = f"{head}: {detail}" if detail else head
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def render(found: FindingDir, *, packaged: Path = baselines.PACKAGED_DIR) -> str:
    """The report (see the module docstring)."""
    rep = found.reproducer
    version = found.qemu.get("version", "")
    package = found.qemu.get("package", "")
    out = [f"Title: {title(found)}", "", "## Host environment", *host_lines()]
    out.append(f" - QEMU flavor: {found.flavor}")
    recorded = f"{version} ({package})" if package else version or "not recorded"
    out.append(f" - QEMU version: {recorded}")
    out.append(" - QEMU command line:")
    argv = _command_line(found)
    out += ["   ```", f"   {argv}" if argv else "   (not recorded)", "   ```"]
    out.append(
        "   (host fields: the machine this report was written on; the finding was "
        f"recorded on QEMU {recorded})"
    )
    out += ["", "## Emulated/Virtualized environment", _guest(found), ""]
    out += ["## Description of problem", *_description(found), ""]
    out += ["## Steps to reproduce", *_steps(found), ""]
    out += ["## Additional information", *_additional(found, packaged)]
    if rep is None:
        out.append(" - No reproducer was recorded with this finding.")
    out += ["", '/label ~"kind::Bug"']
    return "\n".join(out) + "\n"


def _command_line(found: FindingDir) -> str:
    if found.reproducer is not None and found.reproducer.argv:
        from conformance.findings.reproducer import one_liner_argv

        return shlex.join(one_liner_argv(found.reproducer, found.flavor))
    return ""


def _guest(found: FindingDir) -> str:
    rep = found.reproducer
    profile = rep.profile if rep is not None else "?"
    paused = rep is not None and "-S" in rep.argv
    state = "paused (-S), " if paused else ""
    return (
        f" - No guest OS: QEMU is started {state}with the board of the `{profile}` profile "
        "and no guest image (see the command line); the problem is reached through QMP alone."
    )


def _description(found: FindingDir) -> list[str]:
    citation = found.text("citation")
    # A check's message ends with its citation, quoted on the next line already; the
    # title is cut at 200 characters, the message is whole.
    message = found.text("message").removesuffix(f" — {citation}")
    title = found.text("title") or found.text("signature")
    lines = [message if message and message not in title else title, ""]
    lines.append(
        f"Expected, per {citation}" if citation else "Expected: (the finding cites nothing)"
    )
    rep = found.reproducer
    lines += ["", f"Actual: {_outcome(rep)}." if rep is not None else f"Actual: {message}"]
    return lines


def _outcome(rep: Reproducer) -> str:
    """What the reproducer's last message brings about, in words."""
    expected = rep.expected
    nth = f"message {expected.trigger + 1} ({rep.command or 'the trigger'})"
    if expected.end == "exit":
        how = {"abort": "aborts", "crash": "crashes", "sandbox": "is killed by its sandbox"}
        what = how.get(expected.exit_kind or "", "exits")
        return f"on {nth} QEMU {what}: {expected.detail or expected.exit_kind}"
    if expected.end == "hang":
        return (
            f"{nth} gets no reply, and QEMU, still running, answers nothing after it "
            "(the one-liner ends it after 20 s with SIGKILL)"
        )
    if expected.check is not None:
        return f"the conversation breaks the rule `{expected.check}` (see the reply to {nth})"
    reply = expected.reply or "no reply"
    if expected.violation:
        return f"{nth} gets {reply}, which violates the schema at {expected.violation}"
    return f"{nth} gets {reply}"


def _steps(found: FindingDir) -> list[str]:
    rep = found.reproducer
    if rep is None:
        return ["(no reproducer was recorded)"]
    messages = [m.decode("utf-8", errors="backslashreplace") for m in rep.messages]
    shown = [m if len(m) <= _MESSAGE_CHARS else m[:_MESSAGE_CHARS] + " …" for m in messages]
    command = one_liner(rep, found.flavor)
    lines = [
        "1. Run this shell one-liner. It needs nothing but QEMU: it starts QEMU with its "
        "QMP monitor on stdio (`-chardev stdio,id=qmp -mon chardev=qmp,mode=control`, "
        "as `-qmp stdio`) in a new temporary directory, sends the messages below, then "
        "`quit`, and prints QEMU's exit status:",
    ]
    if len(command) <= _ONE_LINER_CHARS:
        lines += ["   ```", f"   {command}", "   ```"]
    else:
        # An unminimised reproducer (a known finding's) would drown the report.
        lines.append(
            f"   (it is {len(command)} characters long: reproduce.sh in the finding "
            "directory, to attach. It was not minimised; a run that doesn't know the "
            "finding minimises it.)"
        )
    lines += [f"2. The QMP messages it sends ({len(messages)}), one a line:", "   ```"]
    if len(shown) > _MESSAGE_LINES:
        # The first ones set the state up, the last ones hold the trigger.
        half = _MESSAGE_LINES // 2
        cut = len(shown) - 2 * half
        shown = [*shown[:half], f"… {cut} more (see reproducer.jsonl) …", *shown[-half:]]
    lines += [f"   {m}" for m in shown]
    lines += ["   ```", f"3. Observe: {_outcome(rep)}."]
    return lines


def _additional(found: FindingDir, packaged: Path) -> list[str]:
    stderr = [line for line in found.stderr.splitlines() if line.strip()]
    lines = [" - QEMU's stderr:"]
    if stderr:
        tail = stderr[-_STDERR_LINES:]
        skipped = (
            f" (the last {len(tail)} of {len(stderr)} lines)" if len(tail) < len(stderr) else ""
        )
        lines[0] += skipped
        lines += ["   ```", *(f"   {line}" for line in tail), "   ```"]
    else:
        lines[0] += " empty (QEMU wrote nothing there)."
    lines += _affected(found)
    lines += _triage(found, packaged)
    lines.append(
        f" - Known upstream: not checked. This report was not compared with QEMU's "
        f"issue tracker ({TRACKER}) or the qemu-devel archive; search both for "
        f"`{found.text('command') or found.text('signature')}` before filing."
    )
    tests = found.finding.get("tests")
    test = tests[0] if isinstance(tests, list) and tests else "?"
    lines.append(f" - Found by qmp-conformance ({test}); signature `{found.text('signature')}`.")
    return lines


def _affected(found: FindingDir) -> list[str]:
    recorded = affected_versions.load(found.path)
    if recorded is None or not recorded.versions:
        return [
            " - Affected versions: not checked. To check, replay the finding on each "
            f"version: `qmp-conformance replay {found.path} --qemu A --qemu B` (or "
            "`--package PACKAGE=VERSION`); it writes affected.json, which this report "
            "then quotes."
        ]
    runs = {v.runs for v in recorded.versions if v.runs}
    each = f", {runs.pop()} run(s) each" if len(runs) == 1 else ""
    lines = [
        f" - Affected versions (qmp-conformance replay{each}, ordered by QEMU version):",
        "   ```",
    ]
    for row in recorded.versions:
        lines.append(f"   {row.label}: {row.outcome} (checked {row.checked})")
    lines.append("   ```")
    earliest, latest = recorded.earliest, recorded.latest
    if earliest is None or latest is None:
        lines.append("   It reproduced on none of these.")
    else:
        lines.append(f"   Earliest reproducing: {earliest.label}; latest: {latest.label}.")
    return lines


def _triage(found: FindingDir, packaged: Path) -> list[str]:
    version = found.qemu.get("version", "")
    parts = version.split(".")
    if len(parts) < 2:
        return [" - Triage: not looked up (the QEMU version isn't recorded)."]
    path = packaged / f"qemu-{parts[0]}.{parts[1]}.json"
    if not path.is_file():
        return [f" - Triage: none (no packaged baseline {path.name})."]
    known = baselines.load(path, found.target)
    entry = known.entry(found.text("signature"))
    if entry is None:
        return [f" - Triage: none ({path.name} [{found.target}] doesn't know this signature)."]
    triage = baselines.triage_of(entry[1])
    verdict = triage["verdict"] or "not judged yet"
    lines = [f" - Triage ({path.name} [{found.target}]): verdict: {verdict}"]
    if triage["note"]:
        lines.append(f"   note: {triage['note']}")
    lines.append(f"   link: {triage['link'] or 'none recorded'}")
    return lines


def cmd_upstream(ns: argparse.Namespace) -> int:
    """``report --upstream FINDING``: print the report; 0, or 2 (one line) for a directory
    that isn't a finding's."""
    found = FindingDir.load(Path(os.fspath(ns.upstream)))
    print(render(found), end="")
    return 0
