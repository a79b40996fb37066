"""Which QEMU versions a finding affects: one reproducer replayed on several binaries.

``qmp-conformance replay FINDING --qemu A --qemu B …`` (and ``--package
PACKAGE=VERSION``, a Debian version fetched as ``qmp-conformance fetch`` does) replays
the finding ``--runs`` times on each binary, as a single ``replay`` does
(`conformance.findings.replay.Replayer`), and prints a table ordered by QEMU version
(``-version``'s, then the package string it names, numbers compared as numbers), not by
argument order, with each version's verdict, then the earliest and the latest version
that reproduce it. The finding directory records the table in ``affected.json``.

File format of ``affected.json`` (JSON, one file per finding directory)::

    {"qmp-affected": 1,
     "signature": "crash | transaction | SIGSEGV args=…",
     "versions": [
       {"qemu": "7.2.22", "package": "Debian 1:7.2+dfsg-7+deb12u18+b3",
        "binary": "/usr/bin/qemu-system-x86_64", "fetched": "",
        "verdict": "reproduced", "reproduced": 3, "runs": 3,
        "seen": "crash: SIGSEGV", "checked": "2026-12-07T17:40:00Z"},
       {"qemu": "10.0.2", "package": "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1",
        "binary": "…/bin/qemu-system-x86_64",
        "fetched": "qemu-system-x86=1:10.0.2+ds-2+deb13u1~bpo12+1", …}],
     "earliest": {"qemu": "7.2.22", "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"},
     "latest": {"qemu": "10.0.2", "package": "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1"}}

``verdict`` is one of `VERDICTS`: ``reproduced`` (in ``reproduced`` of ``runs``),
``not reproduced``, ``deviation`` (the check failed again only as behaviour QEMU
documents as deliberate: not reproduced), ``cannot test`` (the binary is missing, isn't
QEMU, can't start, or its package couldn't be fetched; ``qemu`` is then ``""`` when
unknown, and ``seen`` says why). ``fetched`` is the ``--package`` spec a binary was
fetched for (``""`` for a ``--qemu``). A later replay merges into the file: a version
(QEMU version and package, or the argument when the version is unknown) replayed
again replaces its row, the others stay, each with the time it was ``checked``;
``earliest`` and ``latest`` (``null`` when nothing reproduced) are over every row.
A harness error is no verdict on QEMU: it is printed, never recorded.

The exit code of such a replay (`exit_code`): 1 when a version reproduced the finding;
else 128 when a version's replay was a harness error; else 0 when a version could be
tested; else 125, none could. One binary is the bisecting replay, unchanged.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from conformance.errors import (
    EXIT_CANNOT_TEST,
    EXIT_FINDINGS,
    EXIT_NO_VERDICT,
    EXIT_OK,
    SetupError,
)
from conformance.findings.reproducer import Reproducer
from conformance.jsonfile import read_json
from conformance.machine.probe import BinaryInfo, probe
from conformance.machine.process import NoSetpriv

__all__ = [
    "AFFECTED_FILE",
    "CANNOT_TEST",
    "DEVIATION",
    "FORMAT_VERSION",
    "NOT_REPRODUCED",
    "NO_VERDICT",
    "REPRODUCED",
    "VERDICTS",
    "Affected",
    "Candidate",
    "VersionResult",
    "exit_code",
    "finding_dir",
    "load",
    "merge",
    "replay_versions",
    "table",
]

AFFECTED_FILE = "affected.json"
FORMAT_VERSION = 1
_HEADER_KEY = "qmp-affected"

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
DEVIATION = "deviation"
CANNOT_TEST = "cannot test"
#: A harness error: printed, never recorded (it says nothing about QEMU).
NO_VERDICT = "no verdict"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, DEVIATION, CANNOT_TEST)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A binary to replay on: a path (``--qemu``), or a package spec to fetch first."""

    binary: str  # as given, or the fetched launcher once resolved
    fetched: str = ""  # the PACKAGE=VERSION spec it comes from


@dataclass(frozen=True, slots=True)
class VersionResult:
    """One version's row of the table."""

    qemu: str  # "7.2.22"; "" when the binary couldn't be identified
    package: str  # what -version names in parentheses: "Debian 1:7.2+dfsg-7+deb12u18+b3"
    binary: str
    fetched: str
    verdict: str
    reproduced: int
    runs: int
    seen: str  # the last run's observation, or why the binary can't be tested
    checked: str  # UTC, ISO 8601

    @property
    def version(self) -> tuple[int, ...] | None:
        return tuple(int(p) for p in self.qemu.split(".")) if self.qemu else None

    @property
    def label(self) -> str:
        """How the table names the version: QEMU's own, then the package's."""
        if not self.qemu:
            return self.fetched or self.binary
        return f"{self.qemu} ({self.package})" if self.package else self.qemu

    @property
    def key(self) -> tuple[str, str]:
        """What a later replay of the same version replaces."""
        return (self.qemu, self.package) if self.qemu else ("", self.fetched or self.binary)

    @property
    def outcome(self) -> str:
        """The verdict cell: ``reproduced 2/3``, ``not reproduced 0/3``, …"""
        if self.verdict in (REPRODUCED, NOT_REPRODUCED):
            return f"{self.verdict} {self.reproduced}/{self.runs}"
        return self.verdict

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: object, where: str) -> VersionResult:
        if not isinstance(value, dict):
            raise SetupError(f"{where}: a version must be an object")

        def text(name: str) -> str:
            item = value.get(name, "")
            if not isinstance(item, str):
                raise SetupError(f"{where}: a version's {name} must be a string: {item!r}")
            return item

        def count(name: str) -> int:
            item = value.get(name, 0)
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise SetupError(f"{where}: a version's {name} must be a count: {item!r}")
            return item

        row = cls(
            text("qemu"),
            text("package"),
            text("binary"),
            text("fetched"),
            text("verdict"),
            count("reproduced"),
            count("runs"),
            text("seen"),
            text("checked"),
        )
        if row.verdict not in VERDICTS:
            raise SetupError(f"{where}: verdict {row.verdict!r} is not one of {VERDICTS}")
        if row.qemu and not re.fullmatch(r"\d+\.\d+\.\d+", row.qemu):
            raise SetupError(f"{where}: qemu {row.qemu!r} is not a QEMU version")
        return row


def _order(row: VersionResult) -> tuple[bool, tuple[int, ...], list[tuple[int, str]]]:
    # A version not known (cannot test) sorts last. Package strings compare with their
    # numbers as numbers (deb12u9 before deb12u15).
    natural = [(0, p.zfill(20)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", row.package)]
    return (row.version is None, row.version or (), natural)


@dataclass(frozen=True, slots=True)
class Affected:
    """A finding's versions, ordered by QEMU version."""

    signature: str
    versions: tuple[VersionResult, ...]

    @property
    def reproducing(self) -> list[VersionResult]:
        return [v for v in self.versions if v.verdict == REPRODUCED]

    @property
    def earliest(self) -> VersionResult | None:
        found = self.reproducing
        return found[0] if found else None

    @property
    def latest(self) -> VersionResult | None:
        found = self.reproducing
        return found[-1] if found else None

    def to_json(self) -> dict[str, object]:
        def ends(row: VersionResult | None) -> dict[str, str] | None:
            return None if row is None else {"qemu": row.qemu, "package": row.package}

        return {
            _HEADER_KEY: FORMAT_VERSION,
            "signature": self.signature,
            "versions": [v.to_json() for v in self.versions],
            "earliest": ends(self.earliest),
            "latest": ends(self.latest),
        }

    def save(self, directory: Path) -> Path:
        path = directory / AFFECTED_FILE
        try:
            path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            raise SetupError(f"{path}: cannot write: {exc.strerror or exc}") from None
        return path


def merge(old: Affected | None, signature: str, rows: Iterable[VersionResult]) -> Affected:
    """`old`'s versions with `rows` replacing those of the same version, in order."""
    by_key = {v.key: v for v in (old.versions if old is not None else ())}
    for row in rows:
        if row.verdict != NO_VERDICT:
            by_key[row.key] = row
    return Affected(signature, tuple(sorted(by_key.values(), key=_order)))


def load(directory: Path) -> Affected | None:
    """A finding directory's ``affected.json``, or None when it has none; SetupError (one
    line) when it is corrupt."""
    path = directory / AFFECTED_FILE
    if not path.is_file():
        return None
    data = read_json(path, "affected versions")
    if not isinstance(data, dict) or data.get(_HEADER_KEY) != FORMAT_VERSION:
        raise SetupError(f"affected versions {path}: not a {_HEADER_KEY} {FORMAT_VERSION} file")
    versions = data.get("versions")
    if not isinstance(versions, list):
        raise SetupError(f"affected versions {path}: versions must be a list")
    rows = [VersionResult.from_json(v, f"affected versions {path}") for v in versions]
    return Affected(str(data.get("signature", "")), tuple(sorted(rows, key=_order)))


def finding_dir(reproducer: str) -> Path | None:
    """The finding directory a replay argument names: the directory itself, or the one
    holding a ``reproducer.jsonl``; None for a reproducer file elsewhere."""
    path = Path(reproducer)
    if path.is_dir():
        return path
    if path.name == "reproducer.jsonl":
        return path.parent
    return None


# -- replaying ---------------------------------------------------------------------------

#: Replays `rep` `runs` times on a probed binary: one observation line and whether it
#: reproduced (None: a deviation), per run, via the callback; raises SetupError when the
#: binary can't be tested. `conformance.findings.replay` provides it.
Replay = Callable[[Reproducer, BinaryInfo], list[tuple[bool | None, str]]]
#: Fetches a PACKAGE=VERSION spec and returns its launcher (SetupError when it can't).
Fetch = Callable[[str], str]


def replay_versions(
    rep: Reproducer,
    candidates: Sequence[Candidate],
    *,
    runs: int,
    replay: Replay,
    fetch: Fetch,
    say: Callable[[str], None],
) -> list[VersionResult]:
    """Each candidate's row: fetched if it is a package, probed, replayed `runs` times."""
    rows = []
    for candidate in candidates:
        rows.append(_one(rep, candidate, runs, replay, fetch, say))
    return sorted(rows, key=_order)


def _one(
    rep: Reproducer,
    candidate: Candidate,
    runs: int,
    replay: Replay,
    fetch: Fetch,
    say: Callable[[str], None],
) -> VersionResult:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = VersionResult("", "", candidate.binary, candidate.fetched, CANNOT_TEST, 0, 0, "", now)
    try:
        binary = fetch(candidate.fetched) if candidate.fetched else candidate.binary
        row = replace(row, binary=binary)
        info = probe(binary)
    except NoSetpriv:
        raise  # the host's: no verdict on any version
    except SetupError as exc:
        say(f"{row.label}: cannot test: {exc}")
        return replace(row, seen=str(exc))
    row = replace(row, qemu=info.version_text, package=info.package, binary=info.path)
    try:
        seen = replay(rep, info)
    except NoSetpriv:
        raise
    except SetupError as exc:
        say(f"{row.label}: cannot test: {exc}")
        return replace(row, seen=str(exc))
    except Exception as exc:  # our own bug: shown, and no verdict on this version
        say(f"{row.label}: harness error: {type(exc).__name__}: {exc}")
        return replace(row, verdict=NO_VERDICT, seen=f"{type(exc).__name__}: {exc}")
    hits = sum(1 for reproduced, _ in seen if reproduced)
    deviations = sum(1 for reproduced, _ in seen if reproduced is None)
    verdict = REPRODUCED if hits else DEVIATION if deviations else NOT_REPRODUCED
    return replace(row, verdict=verdict, reproduced=hits, runs=len(seen), seen=seen[-1][1])


def exit_code(rows: Sequence[VersionResult]) -> int:
    """1 reproduced on a version; else 128 a harness error; else 0 when a version could
    be tested; else 125 (none could)."""
    verdicts = {r.verdict for r in rows}
    if REPRODUCED in verdicts:
        return EXIT_FINDINGS
    if NO_VERDICT in verdicts:
        return EXIT_NO_VERDICT
    if verdicts & {NOT_REPRODUCED, DEVIATION}:
        return EXIT_OK
    return EXIT_CANNOT_TEST


def table(rows: Sequence[VersionResult]) -> list[str]:
    """The table's lines: version, verdict, binary; then the earliest and latest versions
    that reproduce."""
    head = ("version", "verdict", "binary")
    cells = [head, *((r.label, r.outcome, r.fetched or r.binary) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in cells]
    found = Affected("", tuple(rows))
    earliest, latest = found.earliest, found.latest
    if earliest is None or latest is None:
        tested = sum(1 for r in rows if r.verdict in (NOT_REPRODUCED, DEVIATION))
        lines.append(f"reproduced on none of the {tested} version(s) tested")
    else:
        lines.append(f"earliest reproducing: {earliest.label}")
        lines.append(f"latest reproducing: {latest.label}")
    return lines
