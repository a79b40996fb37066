"""Baselines: the signatures already known for a QEMU build, so a run fails only on new ones.

A packager keeps one baseline per package version, release CI one per QEMU version it
tests; this project ships one per QEMU version that its own CI installs, as package data
(`conformance/baselines/qemu-<major>.<minor>.json`), which ``--baseline auto`` picks
from the binary's version.

File format (JSON, written sorted so that a baseline diffs well under version control)::

    {"qmp-baseline": 1,
     "qemu": {"version": "7.2.22", "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"},
     "findings": {"crash | calc-dirty-rate | SIGSEGV": {"kind": "crash", "title": "…"}}}

The keys of ``findings`` are `Signature.key`s; kind and title are there for the reader.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.errors import SetupError
from conformance.jsonfile import read_json
from conformance.machine.probe import BinaryInfo

__all__ = [
    "AUTO",
    "FORMAT_VERSION",
    "Baseline",
    "BaselineChoice",
    "choose",
    "load",
    "packaged_path",
    "save",
]

FORMAT_VERSION = 1
AUTO = "auto"
_HEADER_KEY = "qmp-baseline"
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "baselines"


@dataclass(frozen=True, slots=True)
class Baseline:
    """The known signatures, with the QEMU they were recorded on."""

    findings: dict[str, dict[str, str]] = field(default_factory=dict)
    version: str = ""
    package: str = ""

    def __contains__(self, key: object) -> bool:
        return key in self.findings

    def unseen(self, keys: Iterable[str]) -> list[str]:
        """The known signatures that `keys` (a run's) lack: fixed, or not exercised."""
        seen = set(keys)
        return sorted(k for k in self.findings if k not in seen)


@dataclass(frozen=True, slots=True)
class BaselineChoice:
    """What ``--baseline`` resolved to: the file (to read and/or write) and its contents."""

    path: Path | None  # None: `auto` with no packaged baseline for the version
    baseline: Baseline | None  # None: no file yet (only allowed when updating)
    note: str  # one line for the run's summary


def packaged_path(info: BinaryInfo) -> Path:
    major, minor, _ = info.version
    return PACKAGED_DIR / f"qemu-{major}.{minor}.json"


def choose(spec: str, info: BinaryInfo | None, *, update: bool = False) -> BaselineChoice:
    """Resolve ``--baseline SPEC`` (a file, or `auto`) and load it.

    A missing or corrupt file is a SetupError, except when `update` will write it; `auto`
    with no packaged baseline for the binary's version runs without one.
    """
    if spec == AUTO:
        if info is None:
            raise SetupError("--baseline auto needs the QEMU binary's version")
        path = packaged_path(info)
        if not path.is_file() and not update:
            return BaselineChoice(
                None,
                None,
                f"baseline: none packaged for QEMU {info.version[0]}.{info.version[1]} "
                f"({path.name}); every finding counts as new",
            )
    else:
        path = Path(spec)
    if update and not path.exists():
        return BaselineChoice(path, None, f"baseline: {path} (new)")
    baseline = load(path)
    return BaselineChoice(
        path,
        baseline,
        f"baseline: {path} (QEMU {baseline.version or '?'}, "
        f"{len(baseline.findings)} known signatures)",
    )


def load(path: str | os.PathLike[str]) -> Baseline:
    """Read a baseline file; SetupError (one line) when it is missing or corrupt."""
    p = Path(path)
    data = read_json(p, "baseline")
    if not isinstance(data, dict) or data.get(_HEADER_KEY) != FORMAT_VERSION:
        raise SetupError(f"baseline {p}: not a qmp-baseline version {FORMAT_VERSION} file")
    findings = data.get("findings")
    if not isinstance(findings, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
        for v in findings.values()
    ):
        raise SetupError(f"baseline {p}: findings must map signatures to {{kind, title}}")
    qemu = data.get("qemu")
    qemu = qemu if isinstance(qemu, dict) else {}
    return Baseline(
        {str(k): dict(v) for k, v in findings.items()},
        str(qemu.get("version", "")),
        str(qemu.get("package", "")),
    )


def save(
    path: str | os.PathLike[str],
    findings: Iterable[tuple[str, str, str]],
    *,
    version: str,
    package: str,
) -> Baseline:
    """Write a baseline of `findings` (key, kind, title) recorded on QEMU `version`."""
    baseline = Baseline(
        {key: {"kind": kind, "title": title} for key, kind, title in findings}, version, package
    )
    data = {
        _HEADER_KEY: FORMAT_VERSION,
        "qemu": {"version": version, "package": package},
        "findings": baseline.findings,
    }
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"baseline {p}: cannot write: {exc.strerror or exc}") from None
    return baseline
