"""Harvest-driven sweeps: every value the live QEMU lists, sent to each command that
takes it (issue 19).

Random examples draw a few of QEMU's 750-odd QOM types per test; QEMU's own
device-introspect-test introspects every one, and says in its header that this found
"an astounding number of crash bugs". A sweep does the same for each command whose
argument names something the harvest lists: every type of `qom-list-types` (abstract
ones included) for `qom-list-properties` and `device-list-properties`, every CPU model
of `query-cpu-definitions` for the `query-cpu-model-*` commands, every block node,
chardev and object of the profile for the commands taking one.

Each value goes through the same exchange as a random example (`ArgumentRun.admitted`
and `send`, which `exchange` runs for a drawn example:
the host-safety policy, the judge, the liveness probe). A crash or hang is a finding:
the value is sent again alone on a fresh QEMU, so that the reproducer is that one
command when it crashes by itself, and the sweep goes on with the next value. After
every value of a command that only reads, the QOM tree must be as it was before the
sweep (device-introspect-test's other check: "Some devices leave dangling pointers in
QOM behind. Walking the QOM tree via qom-list has a good chance at crashing then.").

What a sweep did is a `SweepTally`, recorded as the test's `sweep` property.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from conformance.drive.exchange import ArgumentRun, Dropped
from conformance.drive.harvest import qom_tree
from conformance.drive.report import evidence
from conformance.drive.resources import OBJECT_TYPES, SIZE
from conformance.drive.sweep_record import SweepTally
from conformance.machine.exits import module_not_loadable
from conformance.machine.harness import names_harness_resource
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.reuse import reads_only
from conformance.oracle.failure import Failure, FindingKind, qemu_tests
from conformance.oracle.required import check_succeeded
from conformance.spec import Schema
from conformance.spec.minimal import is_string, minimal
from conformance.spec.model import ObjectType
from strategies import safety
from strategies.pools import MEMBER_POOLS

log = logging.getLogger(__name__)


#: Where the listed values of each kind come from: the listing command, its arguments,
#: the member naming each value, and the noun the summary counts them in.
LISTINGS: dict[str, tuple[str, dict[str, object] | None, str, str]] = {
    "type-name": ("qom-list-types", {"abstract": True}, "name", "types"),
    "cpu-model": ("query-cpu-definitions", None, "name", "CPU models"),
    "node-name": ("query-named-block-nodes", None, "node-name", "block nodes"),
    "chardev-id": ("query-chardev", None, "label", "chardevs"),
    "object-id": ("qom-list", {"path": "/objects"}, "name", "objects"),
}

#: Commands swept over every QOM type: device-introspect-test's commands.
TYPE_COMMANDS = ("qom-list-properties", "device-list-properties")
#: The kinds swept for every command with a member of that kind (profile resources).
RESOURCE_KINDS = ("node-name", "chardev-id", "object-id")

#: Commands whose argument names a listed thing under a member name that means other
#: things elsewhere (`id`, `device`), so the pools' heuristics can't tell: the QAPI doc
#: of each says what it names.
NAMED_BY_COMMAND: dict[str, tuple[str, str]] = {
    "chardev-remove": ("id", "chardev-id"),
    "chardev-send-break": ("id", "chardev-id"),
    "chardev-change": ("id", "chardev-id"),
    "ringbuf-write": ("device", "chardev-id"),
    "ringbuf-read": ("device", "chardev-id"),
    "object-del": ("id", "object-id"),
}

#: What a resource sweep's QEMU holds besides its profile's own: one of each thing the
#: resource state machine creates (`conformance.drive.resources`), so that the sweep's
#: values are the machine's as well as the profile's. Created on every fresh QEMU.
SETUP: tuple[tuple[str, dict[str, object]], ...] = (
    ("blockdev-add", {"driver": "null-co", "node-name": "sweep-node", "size": SIZE}),
    ("chardev-add", {"id": "sweep-chr", "backend": {"type": "null", "data": {}}}),
    *(
        ("object-add", {"qom-type": qom_type, "id": f"sweep-{qom_type}", **dict(extra)})
        for qom_type, extra in sorted(OBJECT_TYPES.items())
    ),
)

#: Values per sweep in the `ci` profile: an evenly spread sample (`sample`), which the
#: summary says it is.
CI_SAMPLE = 100

INTROSPECT_TREE = qemu_tests(
    "tests/qtest/device-introspect-test.c: test_device_intro_concrete",
    "Some devices leave dangling pointers in QOM behind. Walking the QOM tree via "
    "qom-list has a good chance at crashing then. Also make sure that the tree did "
    "not change.",
)


@dataclass(frozen=True)
class Sweep:
    """One command swept over every listed value of `kind`, the value put at each of
    `paths` (a member, or a member inside one: ``("model", "name")``)."""

    command: str
    kind: str
    paths: tuple[tuple[str, ...], ...]

    @property
    def noun(self) -> str:
        return LISTINGS[self.kind][3]

    def introspects(self) -> bool:
        """Whether the command only reads, so that the QOM tree must not change."""
        return reads_only(self.command)


def sweeps(schema: Schema) -> list[Sweep]:
    """The binary's sweeps, one per command, in command order. Commands the host-safety
    policy or their lifecycle keep from generated arguments are not swept either."""
    found: dict[str, Sweep] = {}
    for name in sorted(schema.commands):
        if lifecycle_reason(name) or safety.skip_reason(name):
            continue
        arg_type = schema.command(name).arg_type
        if name in TYPE_COMMANDS:
            found[name] = Sweep(name, "type-name", (("typename",),))
            continue
        if name in NAMED_BY_COMMAND:
            member, kind = NAMED_BY_COMMAND[name]
            found[name] = Sweep(name, kind, ((member,),))
            continue
        for kind in ("cpu-model", *RESOURCE_KINDS):
            paths = tuple(_member_paths(schema, arg_type, kind))
            if paths:
                found[name] = Sweep(name, kind, paths)
                break
    return list(found.values())


def profile_for(sweep: Sweep, profiles: Sequence[str], argument_profile: str) -> str:
    """Where a sweep runs: types and CPU models on the board-less `none` when the run
    has it (device-introspect-test's `-machine none`: a small QOM tree to compare after
    every value), a profile's resources on the profile that has them."""
    if sweep.kind in ("type-name", "cpu-model") and "none" in profiles:
        return "none"
    return argument_profile if sweep.kind in RESOURCE_KINDS else profiles[0]


def _member_paths(schema: Schema, arg_type: str, kind: str) -> Iterator[tuple[str, ...]]:
    """The argument members (top level, or one level into an object member) that the
    pools' naming heuristics give to `kind` alone."""
    if not arg_type or schema.is_empty_object(arg_type):
        return
    obj = schema.type(arg_type)
    if not isinstance(obj, ObjectType):
        return
    for member in obj.members:
        if MEMBER_POOLS.get(member.name) == (kind,) and is_string(schema, member.type):
            yield (member.name,)
        inner = schema.type(member.type)
        if isinstance(inner, ObjectType):
            for sub in inner.members:
                if MEMBER_POOLS.get(f"{member.name}.{sub.name}") == (kind,):
                    yield (member.name, sub.name)


def listed(inst: QemuInstance, kind: str) -> list[str]:
    """Every value of `kind` the live QEMU lists, in its order, each once."""
    command, arguments, key, _ = LISTINGS[kind]
    reply = inst.execute(command, arguments)
    values = reply.value if reply.ok and isinstance(reply.value, list) else []
    names = [
        v[key]
        for v in values
        if isinstance(v, dict)
        and isinstance(v.get(key), str)
        # qom-list lists a path's properties: its children are the objects.
        and (command != "qom-list" or str(v.get("type", "")).startswith("child<"))
    ]
    return list(dict.fromkeys(names))


def sample(values: Sequence[str], size: int | None) -> list[str]:
    """`size` values spread evenly over `values` (sorted first, so that the sample
    depends on the binary only), or all of them when `size` is None."""
    ordered = sorted(values)
    if size is None or size >= len(ordered):
        return ordered
    step = len(ordered) / size
    return [ordered[int(i * step)] for i in range(size)]


def arguments_for(schema: Schema, sweep: Sweep, value: str, run: ArgumentRun) -> object:
    """The smallest valid arguments of the command, with `value` at each swept path."""
    arg_type = schema.command(sweep.command).arg_type
    args = minimal(schema, arg_type, excluded=run.policy.excluded_values) if arg_type else {}
    if not isinstance(args, dict):
        return args
    for path in sweep.paths:
        _put(schema, args, arg_type, path, value)
    return args


def _put(
    schema: Schema, args: dict[str, object], arg_type: str, path: tuple[str, ...], value: str
) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        args[head] = value
        return
    inner = args.get(head)
    if not isinstance(inner, dict):
        member = next(m for m in schema.object_type(arg_type).members if m.name == head)
        built = minimal(schema, member.type)
        inner = built if isinstance(built, dict) else {}
        args[head] = inner
    inner[rest[0]] = value


@dataclass
class SweepRun:
    """One sweep on instances of `run.profile`, restarted after a crash or after a
    value that changed the machine."""

    sweep: Sweep
    run: ArgumentRun
    sample_size: int | None = None
    tally: SweepTally = field(init=False)
    failures: list[Failure | QemuGone] = field(default_factory=list)
    _tree: list[str] | None = None
    _prepared: QemuInstance | None = None

    def __post_init__(self) -> None:
        self.tally = SweepTally(self.sweep.noun, self.sweep.command)

    def ready(self) -> QemuInstance:
        """The run's QEMU (restarted if it died), holding `SETUP` for a resource sweep."""
        inst = self.run.instance()
        if inst is not self._prepared:
            self._prepared = inst
            if self.sweep.kind in RESOURCE_KINDS:
                with evidence(inst):
                    for command, arguments in SETUP:
                        if command in self.run.schema.commands:
                            reply = inst.execute(command, arguments)
                            check_succeeded(reply.message, command)
                inst.drain_events()
        return inst

    def values(self) -> list[str]:
        inst = self.ready()
        everything = listed(inst, self.sweep.kind)
        self.tally.total = len(everything)
        return sample(everything, self.sample_size)

    def go(self, on_value: Callable[[str], None] = lambda _: None) -> None:
        """Send every value; raise the failures (one group) at the end."""
        for index, value in enumerate(self.values()):
            on_value(value)
            if names_harness_resource(value):
                # The harness's own monitor: a command on it cuts the suite's channel.
                self.tally.excluded[value] = "the harness's own resource"
                continue
            self._one(value, index)
        if len(self.failures) == 1:
            raise self.failures[0]
        if self.failures:
            raise ExceptionGroup(
                f"{self.sweep.command}: {len(self.failures)} values failed", self.failures
            )

    def _one(self, value: str, index: int) -> None:
        try:
            self.ready()
            self._tree_before()
            self._send(value, index)
            self.tally.exercised += 1
            self._tree_after(value)
        except Dropped as why:
            self.tally.excluded[value] = f"host-safety policy: {why}"
        except QemuGone as gone:
            self._gone(value, index, gone)
        except Failure as failure:
            self.tally.exercised += 1
            self.failures.append(failure)
        if self.run.spoiled:
            # The value changed the machine: the next one gets the profile as it starts.
            self.run.instances.retire(self.run.profile)
            self.run.spoiled = False
            self._tree = None

    def _gone(self, value: str, index: int, gone: QemuGone) -> None:
        self._tree = None
        why = module_not_loadable(gone.exit_info)
        if why:
            self.tally.excluded[value] = why
            return
        self.tally.exercised += 1
        log.info("%s %s: %s; sending it again alone", self.sweep.command, value, gone)
        # Alone on a fresh QEMU, so that the reproducer is this one command when it
        # crashes by itself; otherwise the sweep's transcript up to it is the evidence.
        self.run.instances.retire(self.run.profile)
        try:
            self.ready()
            self._send(value, index)
        except Dropped:
            self.failures.append(gone)  # confined for the dead QEMU's workdir only
        except (QemuGone, Failure) as again:
            self.failures.append(again)
        else:
            self.failures.append(gone)
        self.run.instances.retire(self.run.profile)

    def _send(self, value: str, index: int) -> None:
        """`value` in the command's smallest arguments, admitted, sent and judged."""
        arguments = arguments_for(self.run.schema, self.sweep, value, self.run)
        self.run.send(self.run.admitted(arguments, None), f"sweep-{index}", malformed=None)

    def _tree_before(self) -> None:
        if self.sweep.introspects() and self._tree is None:
            self._tree = sorted(qom_tree(self.ready()))

    def _tree_after(self, value: str) -> None:
        if not self.sweep.introspects() or self._tree is None:
            return
        inst = self.ready()
        with evidence(inst):
            after = sorted(qom_tree(inst))
            check_tree_unchanged(self.sweep.command, value, self._tree, after)


def check_tree_unchanged(
    command: str, value: str, before: Sequence[str], after: Sequence[str]
) -> None:
    """The QOM composition tree after an introspection is the tree before it."""
    if list(before) == list(after):
        return
    added = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    raise Failure(
        "sweep.qom-tree-changed",
        INTROSPECT_TREE,
        f"the QOM tree changed after introspecting {value!r}: "
        f"{len(added)} paths added, {len(gone)} gone",
        kind=FindingKind.BEHAVIOUR,
        command=command,
        details=tuple(f"+ {p}" for p in added[:20]) + tuple(f"- {p}" for p in gone[:20]),
        paths=(added or gone)[:1],
    )
