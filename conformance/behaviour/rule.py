"""The behaviour rule format: what a command's documentation promises, as steps.

A rule is a small declaration (see `conformance/behaviour/rules/`): an id and title,
the doc sentence it enforces, the QEMU versions that sentence holds for, the machine
profile (by default the run's block profile, whichever board the target has: the rules
name cd0 and null0, never a board) and setup it needs, and steps. Each step sends one
command and expects:

- the reply kind, or an error class;
- events, matched by name and a subset of their data, placed before the return, after
  it, or on either side (``Event``);
- no event of given names (``Quiet``): judged up to a fence command sent after the
  step, because the events these rules care about are emitted while the command runs;
- state, read back through a query (``State``).

Setup is requests or steps whose failure means the rule can't run on this binary (a
skip with QEMU's reason), not that the rule fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from conformance.machine.profiles import Profile
from conformance.oracle.failure import Citation, FindingKind
from conformance.oracle.jobs import Version

NO_DATA: Mapping[str, object] = MappingProxyType({})

BEFORE, AFTER, EITHER = "before", "after", "either"


@dataclass(frozen=True, slots=True)
class Event:
    """An event the step must cause: `name`, with `data` a subset of its data."""

    name: str
    data: Mapping[str, object] = field(default_factory=lambda: NO_DATA)
    when: str = EITHER  # relative to the step's return: before, after or either


@dataclass(frozen=True, slots=True)
class Quiet:
    """None of these events may come from the step."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class State:
    """After the step, `query` has an element (or is the object) whose members match
    `where`, and whose member at `path` (dotted; empty for the element) equals
    `equals`; `absent=True` instead requires that member to be missing, and `has` a
    list there with an element whose members match it; `none=True` that no element
    matches `where` at all."""

    query: str
    where: Mapping[str, object] = field(default_factory=lambda: NO_DATA)
    path: str = ""
    equals: object = None
    absent: bool = False
    arguments: Mapping[str, object] | None = None
    has: Mapping[str, object] | None = None  # instead of equals: a list with such an element
    none: bool = False  # instead: no element matches `where`


@dataclass(frozen=True, slots=True)
class Step:
    command: str
    arguments: Mapping[str, object] | None = None
    reply: str = "return"  # "return", "error" or an error class such as "DeviceNotFound"
    events: tuple[Event, ...] = ()
    ordered: bool = False  # the events must also come in the order listed
    quiet: Quiet | None = None
    state: tuple[State, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    command: str  # the command the rule is about (its allure feature)
    citation: Citation
    steps: tuple[Step, ...]
    profile: str | None = None  # None: the run's block profile (cd0 with a tray)
    # Requests, or steps whose expectations must hold, run before the rule's steps.
    setup: tuple[Step | tuple[str, Mapping[str, object]], ...] = ()
    since: Version = (0, 0, 0)  # the first version the cited doc sentence holds for
    until: Version | None = None  # the first version it no longer holds for
    extra_args: tuple[str, ...] = field(default=())  # devices beyond the profile's
    # One more CD-ROM (device id, drive id), attached the way the profile's board takes
    # one: the bus differs between boards, so the rule can't spell it out.
    second_cd: tuple[str, str] | None = None
    # Profile features (conformance.machine.profiles.FEATURES) the extra devices need.
    needs: frozenset[str] = frozenset()
    # What a broken expectation is: behaviour that breaks its doc sentence, or (DOC) a
    # doc sentence the code has outgrown, expected as written by one rule, so that the
    # stale sentence is filed once while the behaviour rules expect what the code does.
    kind: FindingKind = FindingKind.BEHAVIOUR

    def applies_to(self, version: Version) -> bool:
        return self.since <= version and (self.until is None or version < self.until)

    def launch_args(self, machine: Profile) -> tuple[str, ...]:
        """The arguments added to `machine`'s argv for this rule."""
        extra = self.extra_args
        if self.second_cd is not None:
            extra += machine.cd_args(*self.second_cd)
        return extra

    def lacks(self, machine: Profile) -> str:
        """Why `machine` can't host this rule ("" when it can)."""
        missing = sorted(self.needs - machine.features)
        if self.second_cd is not None and not machine.cd_template:
            missing.append("a second CD-ROM")
        return ", ".join(missing)
