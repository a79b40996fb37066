"""Differential runs: the same generated cases on two QEMU set-ups, compared.

A side is a binary, a machine profile and an optional ``-compat`` policy; the two sides
differ in at least one of them (two QEMU versions for a packager, two machine types or
two compat policies here). For each command of side A's schema, one Hypothesis run
draws cases from A's schema and from strings harvested from A (valid and malformed
arguments, ids), and every case goes to both sides through the suite's own exchange
(`conformance.drive.exchange.ArgumentRun`: host-safety confinement into each side's
workdir, a QEMU per side restarted after a crash). The two outcomes are compared by:

- reply kind: return, error, crash (with QEMU's exit kind) or hang;
- error class, when both sides refused;
- crash detail (the finding signature's detail), when both sides crashed;
- return shape, when both returned: every JSON path (array elements merged under
  ``[*]``) with the JSON types seen there; a path on one side only or other types at
  it are a difference, values never are (they carry addresses, times, workdirs);
- the names of the events each case caused, in arrival order.

The conformance oracle's verdicts are not compared: each side may fail the same check
and the run would still say nothing about what differs. Nothing here fails a
Hypothesis example, so nothing is shrunk: a diff reports, it doesn't search.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from conformance import compat_report
from conformance.drive.arguments import BODIES as ARGUMENT_BODIES
from conformance.drive.arguments import Body
from conformance.drive.exchange import ArgumentRun, snapshot
from conformance.drive.harvest import harvest
from conformance.errors import EXIT_FINDINGS, EXIT_HARNESS, EXIT_OK, SetupError
from conformance.findings.signature import crash_detail
from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.pool import InstancePool
from conformance.machine.probe import default_qemu, probe
from conformance.oracle.conversation import messages
from conformance.oracle.failure import Failure
from conformance.qmp.message import Kind
from conformance.qmp.wirejson import dumps
from conformance.spec import Schema, schema_from_reply
from conformance.spec.validate import json_type_of, member_path
from strategies import Malformed, safety
from strategies.policy import GenerationPolicy
from strategies.pools import Pools

DEFAULT_PROFILE = "none"
CASE_WIDTH = 60  # characters of a case's arguments shown in the table
MAX_SHAPE_ITEMS = 3  # shape differences listed per case; the rest are counted


@dataclass(frozen=True, slots=True)
class Side:
    """One set-up of a differential run."""

    name: str  # "A" or "B"
    binary: str  # resolved path
    profile: str
    compat: str  # a -compat policy, or "" for none

    def launch_config(self, workdir_base: str) -> LaunchConfig:
        extra = ("-compat", self.compat) if self.compat else ()
        return LaunchConfig(
            binary=self.binary, profile=self.profile, extra_args=extra, workdir_base=workdir_base
        )

    def describe(self) -> str:
        return f"{self.binary} machine {self.profile} compat {self.compat or '(none)'}"

    def to_json(self) -> dict[str, str]:
        return {"binary": self.binary, "machine": self.profile, "compat": self.compat}


@dataclass(frozen=True, slots=True)
class Observed:
    """What one side did with one case."""

    kind: str  # return | error | none | crash | hang
    error_class: str | None = None
    exit_kind: str | None = None
    detail: str | None = None  # crash_detail() of an exit
    value: object = None  # the return value
    events: tuple[str, ...] = ()

    def label(self) -> str:
        if self.kind == "error":
            return f"error:{self.error_class}"
        if self.kind == "crash":
            return f"crash:{self.exit_kind}"
        return self.kind


@dataclass(slots=True)
class Difference:
    """Cases of one command that differ the same way; the first is shown."""

    command: str
    mode: str  # valid | malformed | schema
    case: str  # the first case's arguments, workdir abstracted
    a: str
    b: str
    what: tuple[str, ...]
    count: int = 1

    @property
    def key(self) -> tuple[str, str, str, tuple[str, ...]]:
        return (self.command, self.a, self.b, self.what)

    def to_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "mode": self.mode,
            "case": self.case,
            "a": self.a,
            "b": self.b,
            "what": list(self.what),
            "count": self.count,
        }


@dataclass
class Report:
    sides: tuple[Side, Side]
    differences: dict[tuple[str, str, str, tuple[str, ...]], Difference] = field(
        default_factory=dict
    )
    commands: int = 0
    examples: int = 0
    unsatisfiable: list[str] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)

    def add(self, diff: Difference) -> None:
        known = self.differences.get(diff.key)
        if known is None:
            self.differences[diff.key] = diff
        else:
            known.count += 1

    def to_json(self) -> dict[str, object]:
        return {
            "sides": {s.name: s.to_json() for s in self.sides},
            "commands": self.commands,
            "examples": self.examples,
            "differences": [d.to_json() for d in self.differences.values()],
            "no-runnable-examples": self.unsatisfiable,
            "harness-errors": self.harness_errors,
        }


# -- comparison ----------------------------------------------------------------------------


def shape(value: object) -> dict[str, set[str]]:
    """Every JSON path of `value` with the JSON types found there; the elements of an
    array merge under ``[*]``, so that lengths and order don't count, kinds do."""
    return _shape(value)[0]


def _shape(value: object) -> tuple[dict[str, set[str]], dict[str, str]]:
    """`shape` and, for every path but the root, the path of what holds it."""
    types: dict[str, set[str]] = {}
    parents: dict[str, str] = {}
    stack: list[tuple[str, object]] = [("$", value)]
    while stack:
        path, item = stack.pop()
        types.setdefault(path, set()).add(json_type_of(item) or "?")
        children: list[tuple[str, object]] = []
        if isinstance(item, dict):
            children = [(member_path(path, k), v) for k, v in item.items()]
        elif isinstance(item, list):
            children = [(f"{path}[*]", v) for v in item]
        for child_path, child in children:
            parents[child_path] = path
            stack.append((child_path, child))
    return types, parents


def shape_differences(a: object, b: object) -> list[str]:
    """Paths on one side only (the outermost of each missing subtree) and paths whose
    JSON types differ."""
    (sa, parents_a), (sb, parents_b) = _shape(a), _shape(b)
    parents = {**parents_a, **parents_b}
    found: list[str] = []
    for path in sorted(sa.keys() | sb.keys()):
        if path in sa and path in sb:
            if sa[path] != sb[path]:
                found.append(
                    f"{path}: {'|'.join(sorted(sa[path]))} vs {'|'.join(sorted(sb[path]))}"
                )
            continue
        side, other = ("A", sb) if path in sa else ("B", sa)
        if parents[path] in other:
            found.append(f"{path}: on {side} only")
    if len(found) > MAX_SHAPE_ITEMS:
        found = [*found[:MAX_SHAPE_ITEMS], f"{len(found) - MAX_SHAPE_ITEMS} more"]
    return found


def compare(a: Observed, b: Observed) -> tuple[str, ...]:
    """What differs between two outcomes of the same case."""
    what: list[str] = []
    if a.kind != b.kind or a.exit_kind != b.exit_kind:
        what.append("reply kind")
    elif a.kind == "error" and a.error_class != b.error_class:
        what.append("error class")
    elif a.kind == "crash" and a.detail != b.detail:
        what.append(f"crash detail: {a.detail} vs {b.detail}")
    elif a.kind == "return":
        what.extend(f"return shape {d}" for d in shape_differences(a.value, b.value))
    if a.events != b.events:
        what.append(f"events {list(a.events)} vs {list(b.events)}")
    return tuple(what)


# -- running -------------------------------------------------------------------------------


def observe(
    run: ArgumentRun, arguments: object, sent_id: object, malformed: Malformed | None
) -> Observed:
    """Send one case through the suite's exchange on `run`'s side and record the outcome.

    The exchange's checks are not the diff's business, so a `Failure` only means the
    liveness probe may not have run: a fence takes its place, so that the events the
    case caused after its reply are seen on both sides alike.
    """
    inst = run.instance()  # the exchange uses this one: the pool keeps it while it lives
    mark = len(inst.transcript)
    gone: QemuGone | None = None
    try:
        run.exchange(arguments, sent_id, malformed=malformed)
    except QemuGone as exc:
        gone = exc
    except Failure:
        try:
            inst.execute("query-status")
        except QemuGone as exc:
            gone = exc
    received = messages(inst.transcript.since(mark))
    events = tuple(m.event_name or "?" for m in received if m.kind is Kind.EVENT)
    reply = next((m for m in received if m.kind in (Kind.RETURN, Kind.ERROR)), None)
    if gone is not None:
        info = gone.exit_info
        kind = "hang" if info.kind is ExitKind.HANG else "crash"
        return Observed(kind, exit_kind=info.kind.value, detail=crash_detail(info), events=events)
    if reply is None:
        return Observed("none", events=events)
    if reply.kind is Kind.ERROR:
        return Observed("error", error_class=reply.error_class, events=events)
    value = reply.value.get("return") if isinstance(reply.value, dict) else None
    return Observed("return", value=value, events=events)


@dataclass
class BothSides(ArgumentRun):
    """To the suite's argument-test bodies, one `ArgumentRun` (they draw from its
    schema and pools: side A's); its exchange runs each case on both sides."""

    sides: tuple[ArgumentRun, ...] = ()
    report: Report | None = None

    def exchange(self, arguments: object, sent_id: object, *, malformed: Malformed | None) -> None:
        run_a, run_b = self.sides
        a = observe(run_a, arguments, sent_id, malformed)
        b = observe(run_b, arguments, sent_id, malformed)
        assert self.report is not None
        self.report.examples += 1
        what = compare(a, b)
        if what:
            case = dumps(arguments).decode("utf-8", "replace") if arguments is not None else "-"
            mode = "malformed" if malformed else "valid"
            self.report.add(Difference(self.command, mode, case, a.label(), b.label(), what))


#: The argument drivers the suite's tests run (conformance.drive.arguments): a diff
#: draws its cases exactly as the conformance run does.
BODIES: tuple[Body, ...] = tuple(ARGUMENT_BODIES.values())


def run_command(
    command: str,
    schema: Schema,
    pools: Pools,
    policy: GenerationPolicy,
    sides: tuple[Side, Side],
    workdir_base: str,
    report: Report,
    *,
    examples: int,
    seed_value: int,
) -> None:
    """Up to `examples` cases of `command` (half valid, half malformed), on both sides."""
    instance_pools = [_instance_pool(side, workdir_base) for side in sides]
    try:
        runs = tuple(
            ArgumentRun(command, schema, snapshot(pools), policy, ip, side.profile)
            for ip, side in zip(instance_pools, sides, strict=True)
        )
        both = BothSides(
            command,
            schema,
            pools,
            policy,
            instance_pools[0],
            sides[0].profile,
            sides=runs,
            report=report,
        )
        # `examples` per command, split between the valid and the malformed body.
        shares = (examples - examples // 2, examples // 2)
        for body, share in zip(BODIES, shares, strict=True):
            if not share:
                continue
            try:
                _hypothesis_run(body, both, share, seed_value)()
            except Unsatisfiable:
                if command not in report.unsatisfiable:
                    report.unsatisfiable.append(command)
    finally:
        for ip in instance_pools:
            ip.close()


def _hypothesis_run(
    body: Body,
    run: ArgumentRun,
    examples: int,
    seed_value: int,
) -> Callable[[], None]:
    """`body` as a Hypothesis test of `examples` cases on `run`, seeded: every side
    and every rerun with the same seed sees the same cases."""

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(data=st.data())
    def cases(data: st.DataObject) -> None:
        body(run, data)

    return cases


def _instance_pool(side: Side, workdir_base: str) -> InstancePool:
    return InstancePool(lambda _profile: side.launch_config(workdir_base))


def sides_from(ns: argparse.Namespace) -> tuple[Side, Side]:
    """Side A and side B from the repeated options; a usage error when they are equal."""
    chosen: list[list[str]] = []
    for option, values, default in (
        ("--qemu", ns.qemu, default_qemu()),
        ("--machine", ns.machine, DEFAULT_PROFILE),
        ("--compat", ns.compat, ""),
    ):
        given_values = list(values or [default])
        if len(given_values) > 2:
            raise SetupError(f"{option} given {len(given_values)} times: one per side at most")
        chosen.append(given_values * 2 if len(given_values) == 1 else given_values)
    binaries = [probe(b).path for b in chosen[0]]
    a, b = (
        Side(name, binaries[i], chosen[1][i], chosen[2][i].strip())
        for i, name in enumerate(("A", "B"))
    )
    for side in (a, b):
        if side.compat and probe(side.binary).storage_daemon:
            raise SetupError(f"side {side.name}: qemu-storage-daemon has no -compat option")
    if (a.binary, a.profile, a.compat) == (b.binary, b.profile, b.compat):
        raise SetupError(
            "both sides are the same set-up: give a second --qemu, --machine or --compat"
        )
    return a, b


def _schema_of(side: Side, workdir_base: str) -> Schema:
    try:
        with QemuInstance(side.launch_config(workdir_base)) as inst:
            return schema_from_reply(inst.execute("query-qmp-schema").value)
    except QemuGone as exc:
        raise SetupError(f"side {side.name}: QEMU {exc.exit_info.describe()}") from exc


def _commands(ns: argparse.Namespace, schema: Schema) -> list[str]:
    def reason(command: str) -> str | None:
        return lifecycle_reason(command) or safety.skip_reason(command)

    if not ns.commands:
        return [c for c in sorted(schema.commands) if not reason(c)]
    chosen = [c.strip() for c in ns.commands.split(",") if c.strip()]
    for command in chosen:
        if command not in schema.commands:
            raise SetupError(f"--commands: {command} is not a command of side A's binary")
        why = reason(command)
        if why:
            raise SetupError(f"--commands: {command} is not run with generated arguments: {why}")
    return chosen


def cmd_diff(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    if ns.schema:
        return compat_report.cmd_schema_files(ns)
    if ns.examples < 1:
        raise SetupError("--examples must be at least 1")
    sides = sides_from(ns)
    workdir = tempfile.mkdtemp(prefix="qmpc-diff-")
    try:
        schemas = (_schema_of(sides[0], workdir), _schema_of(sides[1], workdir))
        schema_diff = compat_report.SchemaDiff.of(_label(sides[0]), _label(sides[1]), *schemas)
        if ns.schema_only:
            compat_report.print_diff(schema_diff, ns.json)
            return schema_diff.exit_code()
        report = diff(ns, sides, workdir, schemas)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if ns.json:
        json.dump({"schema": schema_diff.to_json(), **report.to_json()}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(compat_report.render(schema_diff))
        sys.stdout.write(render(report))
    if report.harness_errors:
        return EXIT_HARNESS
    return EXIT_FINDINGS if report.differences or schema_diff.findings else EXIT_OK


def _label(side: Side) -> str:
    return f"QEMU {probe(side.binary).version_text} {side.binary}"


def diff(
    ns: argparse.Namespace, sides: tuple[Side, Side], workdir: str, schemas: tuple[Schema, Schema]
) -> Report:
    """Run every chosen command's cases on both sides; the differences found."""
    schema_a, schema_b = schemas
    report = Report(sides)
    commands = _commands(ns, schema_a)
    for command in commands:
        if command not in schema_b.commands:
            report.add(Difference(command, "schema", "-", "in schema", "absent", ("command",)))
    for command in sorted(set(schema_b.commands) - set(schema_a.commands)):
        report.add(Difference(command, "schema", "-", "absent", "in schema", ("command",)))
    pools = Pools()
    try:
        with QemuInstance(sides[0].launch_config(workdir)) as inst:
            harvest(inst, schema_a, pools)
    except QemuGone as exc:
        # Like the schema read: the diff can't start without side A's names.
        raise SetupError(f"side A: QEMU {exc.exit_info.describe()} while harvesting") from exc
    policy = safety.generation_policy()
    for command in commands:
        if command not in schema_b.commands:
            continue
        report.commands += 1
        try:
            run_command(
                command,
                schema_a,
                pools,
                policy,
                sides,
                workdir,
                report,
                examples=ns.examples,
                seed_value=ns.seed,
            )
        except SetupError:
            raise
        except Exception as exc:  # the diff's own bug: reported, the run goes on
            report.harness_errors.append(f"{command}: {type(exc).__name__}: {exc}")
    return report


def render(report: Report) -> str:
    """The differences as a table, then a summary line."""
    a, b = report.sides
    lines = [f"A: {a.describe()}", f"B: {b.describe()}"]
    rows = [
        (d.command, _short(f"{d.mode} {d.case}"), d.a, d.b, "; ".join(d.what), d.count)
        for d in report.differences.values()
    ]
    if rows:
        widths = [max(len(str(r[i])) for r in [*rows, _HEADER]) for i in range(4)]
        for row in [_HEADER, *rows]:
            cells = [str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True)]
            count = f" (x{row[5]})" if isinstance(row[5], int) and row[5] > 1 else ""
            lines.append("  ".join([*cells, f"{row[4]}{count}"]).rstrip())
    for command in report.unsatisfiable:
        lines.append(f"no runnable examples for {command} (all dropped by the host-safety policy)")
    for error in report.harness_errors:
        lines.append(f"harness error: {error}")
    cases = sum(d.count for d in report.differences.values())
    lines.append(
        f"{len(report.differences)} differences ({cases} cases) in "
        f"{len({d.command for d in report.differences.values()})} commands; "
        f"{report.commands} commands, {report.examples} cases on each side"
    )
    return "\n".join(lines) + "\n"


_HEADER: tuple[str, str, str, str, str, str] = ("command", "case", "A", "B", "what differs", "")


def _short(text: str) -> str:
    return text if len(text) <= CASE_WIDTH else text[: CASE_WIDTH - 1] + "…"


__all__ = ["Difference", "Observed", "Side", "cmd_diff", "compare", "shape", "shape_differences"]
