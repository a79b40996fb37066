"""The migration driver: a source and a destination QEMU of one profile, a migration
held in precopy, and `migrate-start-postcopy` during it (`test_migration.py` runs it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from conformance.drive.report import evidence
from conformance.machine.instance import EventMissing, LaunchConfig, QemuInstance
from conformance.machine.profiles import Profile
from conformance.oracle.conversation import messages
from conformance.oracle.failure import Citation, Failure, FindingKind, qapi
from conformance.oracle.judge import judge_events
from conformance.qmp.message import Kind
from conformance.spec import Schema

# The board's smallest RAM (64 MiB on most): zero pages over a unix socket take well
# under 1 s.
MIGRATION_DEADLINE = 60.0
COMMAND = "migrate-start-postcopy"
SOCKET = "migrate.sock"
# Bytes per second that keep a precopy migration active for about half a minute (64 MiB
# of zero pages are some 150 KB on the wire). QEMU applies the limit per 100 ms, so a
# value under 10 rounds to 0, which means unlimited.
THROTTLE = 4096

POSTCOPY = qapi(
    "qapi/migration.json: migrate-start-postcopy",
    "Followup to a migration command to switch the migration to postcopy mode. The "
    "postcopy-ram capability must be set on both source and destination before the "
    "original migration command.",
)
STATUSES = qapi(
    "qapi/migration.json: MigrationStatus",
    "setup: migration process has been initiated. active: in the process of doing "
    "migration. postcopy-active: like active, but now in postcopy mode. completed: "
    "migration is finished.",
)
CANCEL = qapi(
    "qapi/migration.json: migrate_cancel", "Cancel the current executing migration process."
)
POSTCOPY_PATH = ("setup", "active", "postcopy-active", "completed")


@contextmanager
def pair(
    launch_config: Callable[[str], LaunchConfig], machine: Profile
) -> Iterator[tuple[QemuInstance, QemuInstance, str]]:
    """A source and a destination waiting on a unix socket in its own workdir."""
    with ExitStack() as stack:
        memory = ("-m", str(machine.small_memory))
        dst_config = launch_config(machine.name)
        # QEMU's cwd is its workdir, so the bare socket name lands there.
        dst_config.extra_args = (*memory, "-incoming", f"unix:{SOCKET}")
        dst = stack.enter_context(QemuInstance(dst_config))
        src_config = launch_config(machine.name)
        src_config.extra_args = memory
        src = stack.enter_context(QemuInstance(src_config))
        stack.enter_context(evidence(src))
        assert dst.workdir is not None
        yield src, dst, f"unix:{dst.workdir / SOCKET}"


def ok(inst: QemuInstance, command: str, arguments: dict[str, object] | None = None) -> None:
    reply = inst.execute(command, arguments)
    if reply.message.kind is not Kind.RETURN:
        raise Failure(
            "migration.setup",
            qapi(f"qapi/migration.json: {command}", "Returns: nothing on success"),
            f"{command} failed: {reply.message.raw[:300]!r}",
            kind=FindingKind.BEHAVIOUR,
            command=command,
        )


def expect(src: QemuInstance, kind: Kind, check: str, given: str) -> None:
    """`migrate-start-postcopy` on `src` must get a reply of `kind` (the doc's promise
    for the state `given` describes)."""
    reply = src.execute(COMMAND)
    if reply.message.kind is not kind:
        raise Failure(
            check,
            POSTCOPY,
            f"{given}, yet {COMMAND} replied {reply.message.raw[:300]!r}",
            kind=FindingKind.BEHAVIOUR,
            command=COMMAND,
        )


def capabilities(inst: QemuInstance, postcopy: bool) -> None:
    caps: list[dict[str, object]] = [{"capability": "events", "state": True}]
    if postcopy:
        caps.append({"capability": "postcopy-ram", "state": True})
    ok(inst, "migrate-set-capabilities", {"capabilities": caps})


def no_userfaultfd() -> str:
    """Why this process's QEMUs can't have userfaultfd, or "" when nothing says so: a
    user without CAP_SYS_PTRACE gets it only with vm.unprivileged_userfaultfd=1."""
    if os.geteuid() == 0:
        return ""
    try:
        allowed = Path("/proc/sys/vm/unprivileged_userfaultfd").read_text().strip()
    except OSError:
        return ""  # no such knob: unprivileged users have it (older kernels)
    if allowed == "1":
        return ""
    return "this host keeps it from unprivileged users (vm.unprivileged_userfaultfd=0)"


def migrate_throttled(src: QemuInstance, dst: QemuInstance, uri: str, *, postcopy: bool) -> None:
    """Start a migration held in precopy (active) until it is switched or cancelled:
    unthrottled, 64 MiB of zero pages could converge before the next command arrives."""
    capabilities(dst, postcopy=postcopy)
    capabilities(src, postcopy=postcopy)
    ok(src, "migrate-set-parameters", {"max-bandwidth": THROTTLE})
    ok(src, "migrate", {"uri": uri})
    wait_status(src, "active", "source", STATUSES)


def wait_status(inst: QemuInstance, status: str, side: str, citation: Citation) -> None:
    try:
        inst.wait_event("MIGRATION", {"status": status}, timeout=MIGRATION_DEADLINE)
    except EventMissing:
        raise Failure(
            "migration.event",
            citation,
            f"the {side} sent no MIGRATION event with status {status!r} within "
            f"{MIGRATION_DEADLINE:g} s",
            kind=FindingKind.BEHAVIOUR,
            command=COMMAND,
        ) from None


def statuses(inst: QemuInstance) -> list[str]:
    out = []
    for m in messages(inst.transcript):
        value = m.value
        if m.event_name == "MIGRATION" and isinstance(value, dict):
            data = value.get("data")
            if isinstance(data, dict):
                out.append(str(data.get("status")))
    return out


def judge_all(schema: Schema, *instances: QemuInstance) -> None:
    for inst in instances:
        judge_events(schema, [m for m in messages(inst.transcript) if m.kind is Kind.EVENT])


def postcopy_during_migration(
    launch_config: Callable[[str], LaunchConfig], machine: Profile, schema: Schema
) -> None:
    """With postcopy-ram on both sides, the command switches a held migration to
    postcopy and both sides complete."""
    with pair(launch_config, machine) as (src, dst, uri):
        migrate_throttled(src, dst, uri, postcopy=True)
        expect(src, Kind.RETURN, "migration.postcopy", "postcopy-ram was set on both sides")
        wait_status(src, "completed", "source", STATUSES)
        wait_status(dst, "completed", "destination", STATUSES)
        seen = [s for s in statuses(src) if s in POSTCOPY_PATH]
        # Each status once, in this order: the source went through postcopy.
        if seen != list(POSTCOPY_PATH):
            raise Failure(
                "migration.postcopy-statuses",
                STATUSES,
                f"the source's MIGRATION statuses were {statuses(src)}, expected "
                f"{' -> '.join(POSTCOPY_PATH)} after {COMMAND}",
                kind=FindingKind.BEHAVIOUR,
                command=COMMAND,
                path="$.data.status",
            )
        judge_all(schema, src, dst)


def postcopy_refused_without_capability(
    launch_config: Callable[[str], LaunchConfig], machine: Profile, schema: Schema
) -> None:
    """Without postcopy-ram, the command fails during an active migration, which then cancels."""
    with pair(launch_config, machine) as (src, dst, uri):
        migrate_throttled(src, dst, uri, postcopy=False)
        expect(
            src,
            Kind.ERROR,
            "migration.postcopy-needs-capability",
            "postcopy-ram was not set, during an active migration",
        )
        ok(src, "migrate_cancel")
        wait_status(src, "cancelled", "source", CANCEL)
        judge_all(schema, src, dst)
