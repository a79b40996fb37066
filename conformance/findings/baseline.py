"""Baselines: the signatures already known for a QEMU build, so a run fails only on new ones.

A packager keeps one baseline file per package version, with a section per target
(``x86_64``, ``s390x``, ``qemu-storage-daemon``: `BinaryInfo.target`), since one source
package ships every target and a defect of one target's code is not another's; release
CI keeps one per QEMU version it tests; this project ships one per QEMU version that
its own CI installs, as package data (`conformance/baselines/qemu-<major>.<minor>.json`),
which ``--baseline auto`` picks from the binary's version, and then the binary's target's
section.

File format (JSON, written sorted so that a baseline diffs well under version control)::

    {"qmp-baseline": 2,
     "targets": {
       "x86_64": {
         "qemu": {"version": "7.2.22", "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"},
         "findings": {"crash | calc-dirty-rate | SIGSEGV": {
             "kind": "crash", "title": "…",
             "verdict": "code bug", "note": "…", "link": ""}}}}}

The keys of ``findings`` are `Signature.key`s; kind and title are there for the reader.
``verdict``, ``note`` and ``link`` are the triage state a person gives a known finding:
the verdict one of `VERDICTS` (``""`` until someone judges it), free text, and a URL (an
upstream report) or ``""``. A reader treats a missing one as ``""`` (files written
before the fields existed); ``--baseline-update`` writes them empty for a new signature
and keeps what an existing entry had (`save`).
A version 1 file (``{"qmp-baseline": 1, "qemu": …, "findings": …}``, before targets) is
still read: its findings count for every target, until ``--baseline-update`` writes it
as version 2 with the run's target alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.errors import SetupError
from conformance.findings.signature import covers
from conformance.jsonfile import read_json
from conformance.machine.probe import BinaryInfo

__all__ = [
    "ANY_TARGET",
    "AUTO",
    "FORMAT_VERSION",
    "TRIAGE_FIELDS",
    "VERDICTS",
    "Baseline",
    "BaselineChoice",
    "BaselineFile",
    "choose",
    "load",
    "load_file",
    "packaged_path",
    "save",
    "triage_of",
]

FORMAT_VERSION = 2
AUTO = "auto"
ANY_TARGET = "*"  # the section a version 1 file's findings are read into
_HEADER_KEY = "qmp-baseline"
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "baselines"
#: What a person may conclude of a known finding; "" is "not judged yet".
VERDICTS = ("", "code bug", "doc bug", "deviation")
#: The triage state of an entry, beside its kind and title; each "" when missing.
TRIAGE_FIELDS = ("verdict", "note", "link")


def triage_of(entry: dict[str, str]) -> dict[str, str]:
    """An entry's triage fields, each "" when the entry lacks it."""
    return {name: entry.get(name, "") for name in TRIAGE_FIELDS}


@dataclass(frozen=True, slots=True)
class Baseline:
    """The known signatures of one target, with the QEMU they were recorded on."""

    findings: dict[str, dict[str, str]] = field(default_factory=dict)
    version: str = ""
    package: str = ""
    target: str = ""

    def __contains__(self, key: object) -> bool:
        # A signal-only crash's key is known by one whose argument shape it holds
        # (signature.covers); every other key only by itself.
        return isinstance(key, str) and (
            key in self.findings or any(covers(known, key) for known in self.findings)
        )

    def entry(self, key: str) -> tuple[str, dict[str, str]] | None:
        """The known signature that stands for `key` (itself, else the first, sorted, of
        those that cover it) and its entry; None when `key` is new."""
        if key in self.findings:
            return key, self.findings[key]
        for known in sorted(self.findings):
            if covers(known, key):
                return known, self.findings[known]
        return None

    def triage(self, key: str) -> dict[str, str]:
        """The triage fields of the entry that knows `key`, each "" when the entry lacks
        it or nothing knows `key`."""
        found = self.entry(key)
        return triage_of(found[1] if found is not None else {})

    def unseen(self, keys: Iterable[str]) -> list[str]:
        """The known signatures that `keys` (a run's) lack: fixed, or not exercised."""
        seen = set(keys)
        return sorted(k for k in self.findings if not any(covers(k, s) for s in seen))


@dataclass(frozen=True, slots=True)
class BaselineFile:
    """A whole baseline file: a `Baseline` per target."""

    targets: dict[str, Baseline] = field(default_factory=dict)

    def section(self, target: str | None) -> Baseline | None:
        """What `target` knows: its section, plus a version 1 file's findings; every
        section together when `target` is None; None when the file has nothing for it."""
        if target is None:
            parts = list(self.targets.values())
        else:
            parts = [b for t, b in self.targets.items() if t in (target, ANY_TARGET)]
        if not parts:
            return None
        findings: dict[str, dict[str, str]] = {}
        for part in parts:
            for key, value in part.findings.items():
                findings.setdefault(key, value)
        own = self.targets.get(target or "", parts[0])
        return Baseline(findings, own.version, own.package, target or "")


@dataclass(frozen=True, slots=True)
class BaselineChoice:
    """What ``--baseline`` resolved to: the file (to read and/or write) and its contents."""

    path: Path | None  # None: `auto` with no packaged baseline for the version and target
    baseline: Baseline | None  # None: no file yet (only allowed when updating)
    note: str  # one line for the run's summary
    target: str | None = None  # the section a --baseline-update writes


def packaged_path(info: BinaryInfo) -> Path:
    major, minor, _ = info.version
    return PACKAGED_DIR / f"qemu-{major}.{minor}.json"


def choose(spec: str, info: BinaryInfo | None, *, update: bool = False) -> BaselineChoice:
    """Resolve ``--baseline SPEC`` (a file, or `auto`) for the binary `info` describes,
    and load its target's section.

    A missing or corrupt file is a SetupError, except when `update` will write it; `auto`
    with no packaged baseline for the binary's version and target runs without one.
    """
    target = info.target if info is not None else None
    if spec == AUTO:
        if info is None:
            raise SetupError("--baseline auto needs the QEMU binary's version")
        path = packaged_path(info)
        none = BaselineChoice(
            None,
            None,
            f"baseline: none packaged for QEMU {info.version[0]}.{info.version[1]} on "
            f"{info.target} ({path.name}); every finding counts as new",
        )
        if not path.is_file():
            return BaselineChoice(path, None, f"baseline: {path} (new)", target) if update else none
        if load_file(path).section(target) is None and not update:
            return none
    else:
        path = Path(spec)
    if update and not path.exists():
        return BaselineChoice(path, None, f"baseline: {path} (new)", target)
    baseline = load(path, target)
    where = f" on {target}" if target else ""
    return BaselineChoice(
        path,
        baseline,
        f"baseline: {path} (QEMU {baseline.version or '?'}{where}, "
        f"{len(baseline.findings)} known signatures)",
        target,
    )


def load(path: str | os.PathLike[str], target: str | None = None) -> Baseline:
    """The known signatures of `target` in a baseline file (every target's when None;
    none when the file has no section for it); SetupError (one line) when the file is
    missing or corrupt."""
    found = load_file(path).section(target)
    return found if found is not None else Baseline(target=target or "")


def load_file(path: str | os.PathLike[str]) -> BaselineFile:
    """Read a baseline file; SetupError (one line) when it is missing or corrupt."""
    p = Path(path)
    data = read_json(p, "baseline")
    version = data.get(_HEADER_KEY) if isinstance(data, dict) else None
    if not isinstance(data, dict) or version not in (1, FORMAT_VERSION):
        raise SetupError(f"baseline {p}: not a qmp-baseline version 1 or {FORMAT_VERSION} file")
    if version == 1:
        return BaselineFile({ANY_TARGET: _section(p, ANY_TARGET, data)})
    targets = data.get("targets")
    if not isinstance(targets, dict) or not all(
        isinstance(t, str) and t and isinstance(v, dict) for t, v in targets.items()
    ):
        raise SetupError(f"baseline {p}: targets must map target names to sections")
    return BaselineFile({t: _section(p, t, v) for t, v in targets.items()})


def _section(p: Path, target: str, data: dict[str, object]) -> Baseline:
    findings = data.get("findings")
    if not isinstance(findings, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
        for v in findings.values()
    ):
        raise SetupError(f"baseline {p}: findings must map signatures to {{kind, title}}")
    for key, value in findings.items():
        if value.get("verdict", "") not in VERDICTS:
            allowed = ", ".join(f'"{v}"' for v in VERDICTS)
            raise SetupError(
                f"baseline {p}: {target}: {key}: verdict {value['verdict']!r} is not one of "
                f"{allowed}"
            )
    qemu = data.get("qemu")
    qemu = qemu if isinstance(qemu, dict) else {}
    return Baseline(
        {str(k): dict(v) for k, v in findings.items()},
        str(qemu.get("version", "")),
        str(qemu.get("package", "")),
        target,
    )


def save(
    path: str | os.PathLike[str],
    findings: Iterable[tuple[str, str, str]],
    *,
    version: str,
    package: str,
    target: str,
) -> Baseline:
    """Write `findings` (key, kind, title), recorded on QEMU `version`, as `target`'s
    section of the baseline file, keeping the other targets' sections (a version 1
    file's target-less findings are dropped: the file is version 2 from now on).

    Each entry keeps the triage fields (`TRIAGE_FIELDS`) of the entry the file had for
    its signature, or for a signature that covers it (`Baseline.entry`), and gets them
    empty when it is new: a person's verdict outlives the runs that re-find the finding."""
    if not target or target == ANY_TARGET:
        raise ValueError(f"a baseline section needs a target name, not {target!r}")
    p = Path(path)
    existing = load_file(p) if p.is_file() else BaselineFile()
    before = existing.section(target) or Baseline()
    entries: dict[str, dict[str, str]] = {}
    for key, kind, title in findings:
        had = before.entry(key)
        entries[key] = {"kind": kind, "title": title, **triage_of(had[1] if had else {})}
    baseline = Baseline(entries, version, package, target)
    sections = dict(existing.targets)
    sections.pop(ANY_TARGET, None)
    sections[target] = baseline
    data = {
        _HEADER_KEY: FORMAT_VERSION,
        "targets": {
            t: {"qemu": {"version": b.version, "package": b.package}, "findings": b.findings}
            for t, b in sections.items()
        },
    }
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"baseline {p}: cannot write: {exc.strerror or exc}") from None
    return baseline
