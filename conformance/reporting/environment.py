"""allure's ``environment.properties``: what a report's results were measured on.

A report read weeks later in a distro build log must say which QEMU it judged: its
version and package string, the binary, target, machine profiles and accelerator, the
host OS and the suite's own version.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from conformance.feedback.credit import reached_parts
from conformance.machine.probe import BinaryInfo
from conformance.reporting.output import write_report

DISTRIBUTION = "qmp-conformance"
OS_RELEASE = Path("/etc/os-release")


def environment(info: BinaryInfo, profiles: Sequence[str], accelerator: str) -> dict[str, str]:
    """The run's environment, as allure shows it (key → value, in this order)."""
    return {
        "qemu.version": info.version_text,
        "qemu.package": info.package or "(none)",
        "qemu.binary": info.path,
        "qemu.target": info.target,
        "qemu.sandbox": "on" if info.sandbox else "unsupported",
        "machine": ", ".join(profiles),
        "accelerator": accelerator,
        "host.os": host_os(),
        "host.kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "suite.version": suite_version(),
    }


def trace_environment(reached: dict[str, object]) -> dict[str, str]:
    """The trace events a run reached, out of the recorded ones, in total and per
    subsystem prefix (or why it ran blind)."""
    head, prefixes = reached_parts(reached)
    values = {"trace.events": head.removeprefix("trace events").strip(" :")}
    if prefixes:
        values["trace.prefixes"] = prefixes
    return values


def host_os(os_release: Path = OS_RELEASE) -> str:
    """``PRETTY_NAME`` of os-release, or the platform's name when there is none."""
    try:
        lines = os_release.read_text(errors="replace").splitlines()
    except OSError:
        return platform.platform()
    for line in lines:
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME" and value:
            return value.strip().strip('"')
    return platform.platform()


def suite_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown (not installed)"


def properties_text(values: Mapping[str, str]) -> str:
    """Java properties text: one ``key=value`` a line, with ``\\``, ``=``, ``:`` and
    line breaks escaped so that a value read back is the value written."""

    def escape(text: str, key: bool) -> str:
        text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        text = text.replace("=", "\\=").replace(":", "\\:")
        return text.replace(" ", "\\ ") if key else text

    return "".join(f"{escape(k, True)}={escape(v, False)}\n" for k, v in values.items())


def write_environment(path: Path, values: Mapping[str, str]) -> Path:
    """Write ``environment.properties`` to ``path`` (a file path)."""
    return write_report(path, properties_text(values))
