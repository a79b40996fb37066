"""Which packages make up one QEMU version, read from apt's own data.

`apt-cache show` records give the packages built from the same source upload (the
named qemu-system-*, its companions and every qemu-system-modules-* of that upload);
`apt-cache policy` gives the firmware version apt would pick. Pure functions over apt's
output, so they are tested on recorded output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conformance.errors import SetupError
from conformance.packages.deb822 import stanzas

#: Built from QEMU's source beside every qemu-system-*: the emulator needs common and
#: data; gui, block-extra and utils hold modules and qemu-img that QEMU loads or calls.
COMPANIONS = (
    "qemu-system-common",
    "qemu-system-data",
    "qemu-system-gui",
    "qemu-block-extra",
    "qemu-utils",
)
#: Without these QEMU can't start at all.
REQUIRED = ("qemu-system-common", "qemu-system-data")
#: Each module package of the version must be unpacked: a module the private tree lacks
#: is looked up in the system's module directory, and a module of another QEMU aborts
#: the emulator in module_load_dso.
MODULE_PREFIX = "qemu-system-modules-"


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"


def records(show_output: str) -> list[dict[str, str]]:
    """The package records of `apt-cache show` output (anything else it printed is not a
    record: it has no Package field)."""
    return [s for s in stanzas(show_output) if "package" in s and "version" in s]


def source_of(record: dict[str, str]) -> tuple[str, str]:
    """(source name, source version): a binNMU names its source version in parentheses
    ("qemu (1:7.2+dfsg-7+deb12u18)"), while its Architecture: all siblings carry that
    version as their own."""
    name, _, version = record.get("source", record["package"]).partition(" (")
    return name.strip(), version.rstrip(")").strip() or record["version"]


def find(recs: list[dict[str, str]], name: str, version: str) -> dict[str, str] | None:
    return next((r for r in recs if r["package"] == name and r["version"] == version), None)


def versions_of(recs: list[dict[str, str]], name: str) -> list[str]:
    return sorted({r["version"] for r in recs if r["package"] == name})


def same_upload(recs: list[dict[str, str]], main: dict[str, str]) -> list[Package]:
    """The named package and its companions and module packages from the same source
    upload as `main`; SetupError when one QEMU can't run without is missing."""
    upload = source_of(main)
    chosen: dict[str, Package] = {}
    for rec in recs:
        name = rec["package"]
        wanted = name == main["package"] or name in COMPANIONS or name.startswith(MODULE_PREFIX)
        if wanted and source_of(rec) == upload:
            chosen.setdefault(name, Package(name, rec["version"]))
    missing = [n for n in REQUIRED if n not in chosen]
    if missing:
        raise SetupError(
            f"{', '.join(missing)} of source {upload[0]} {upload[1]} not found in the "
            "apt sources (a partial mirror?)"
        )
    return sorted(chosen.values(), key=lambda p: p.name)


def depends(record: dict[str, str]) -> list[str]:
    """The package names of a record's Depends, first alternative of each."""
    names = []
    for relation in record.get("depends", "").split(","):
        first = relation.split("|", 1)[0].strip()
        if first:
            names.append(re.split(r"[\s(:\[]", first, maxsplit=1)[0])
    return names


def firmware_names(main: dict[str, str], dep_records: list[dict[str, str]]) -> list[str]:
    """The dependencies of `main` that are neither built from its source nor libraries:
    the firmware (seabios, ipxe-qemu, ...). `dep_records` are the `apt-cache show`
    records of the dependencies."""
    upload_source = source_of(main)[0]
    names = []
    for name in depends(main):
        recs = [r for r in dep_records if r["package"] == name]
        if not recs or any(source_of(r)[0] == upload_source for r in recs):
            continue
        if all(r.get("section", "").endswith("libs") for r in recs):
            continue
        names.append(name)
    return names


@dataclass(slots=True)
class Policy:
    """One package's `apt-cache policy`: its candidate and where each version comes from."""

    candidate: str | None
    origins: dict[str, list[str]] = field(default_factory=dict)

    def in_suite(self, version: str, suite: str) -> bool:
        # An origin reads "http://deb.debian.org/debian bookworm-backports/main amd64 Packages".
        return any(
            f" {suite}/" in o or o.endswith(f" {suite}") for o in self.origins.get(version, [])
        )


_PACKAGE = re.compile(r"^(\S+):$")
_CANDIDATE = re.compile(r"^\s+Candidate: (\S+)$")
_VERSION = re.compile(r"^ (?:\*\*\*|   ) (\S+) (-?\d+)$")
_ORIGIN = re.compile(r"^ {8}-?\d+ (.+)$")


def policies(policy_output: str) -> dict[str, Policy]:
    """`apt-cache policy NAME...` output, per package."""
    found: dict[str, Policy] = {}
    current: Policy | None = None
    version = None
    for line in policy_output.splitlines():
        if m := _PACKAGE.match(line):
            current = found[m[1]] = Policy(candidate=None)
            version = None
        elif current is None:
            continue
        elif m := _CANDIDATE.match(line):
            current.candidate = None if m[1] == "(none)" else m[1]
        elif m := _VERSION.match(line):
            version = m[1]
            current.origins[version] = []
        elif (m := _ORIGIN.match(line)) and version is not None:
            current.origins[version].append(m[1])
    return found


def choose_firmware(
    names: list[str], pols: dict[str, Policy], suite: str | None
) -> tuple[list[Package], list[str]]:
    """The firmware to fetch: each one's candidate (apt's pick, the suite preferred when
    there is one); with a suite, only firmware the suite carries, since the rest is what
    the system's own QEMU uses already. Also notes on what was left out, for the user."""
    chosen, notes = [], []
    for name in names:
        pol = pols.get(name)
        if pol is None or pol.candidate is None:
            notes.append(f"{name}: no candidate version in the apt sources; not fetched")
        elif suite is not None and not pol.in_suite(pol.candidate, suite):
            notes.append(f"{name}: not in {suite}; the system's is used")
        else:
            chosen.append(Package(name, pol.candidate))
    return chosen, notes
