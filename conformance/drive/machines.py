"""Every machine type of a binary: started bare, its queries and its QOM tree swept, quit.

QEMU's qom-test starts every machine type `query-machines` lists (but the ones
libqtest's `qtest_cb_for_every_machine` leaves out as unusable for qtests: xenfv*,
xenpv, xenpvh, nitro-enclave, vmapple) and walks its QOM tree; qmp-cmd-test runs the
no-argument queries on `-machine none` only. Here each machine type, aliases included,
starts with `-nodefaults -S` on TCG (`conformance.machine.profiles.machine_profile`), in
its own workdir with the run's deadlines, then takes the no-argument query sweep (every
query `conformance.oracle.queries.is_query` picks, judged by `check_query_returns` as
`test_no_arguments` judges them) and the QOM walk (`conformance.drive.qom_walk`), then
quits. A type that can't start here (it needs KVM or firmware this host lacks) is
refused with QEMU's first stderr line, which is no failure; a crash, abort or hang at
start, during the sweeps or at quit is a finding. `start_every_type` only starts and
quits each type (the sweep "machine types").

`EXPECTED_ERRORS` is by command and QEMU version, not by board: on every machine type
of the x86_64 7.2 and 10.0.2 and of the aarch64, ppc64, s390x and riscv64 7.2
binaries, no query answered an error it doesn't admit, so no board needs entries of
its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from conformance.drive.exchange import judged
from conformance.drive.qom_walk import QomWalk
from conformance.drive.sweep_record import SweepTally
from conformance.errors import SetupError
from conformance.machine.exits import first_line
from conformance.machine.instance import DiedAtStart, LaunchConfig, QemuGone, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import MACHINE_PREFIX
from conformance.machine.reuse import keeps_state
from conformance.oracle.failure import Failure
from conformance.oracle.queries import Version, check_query_returns, is_query
from conformance.qmp.message import Message
from conformance.spec import Schema


def machine_of(profile: str) -> str:
    return profile[len(MACHINE_PREFIX) :]


@dataclass
class MachineRun:
    """One machine type: started, then (`sweep`) its queries and its QOM walk, then
    quit. `refused` is QEMU's first stderr line when the type can't start here;
    `failures` are the findings, each with its evidence."""

    profile: str  # a "machine:" profile name
    schema: Schema
    version: Version
    make_config: Callable[[str], LaunchConfig]
    one_in: int = 1  # the QOM walk's sample
    refused: str | None = None
    failures: list[Failure | QemuGone] = field(default_factory=list)
    queries: SweepTally = field(
        default_factory=lambda: SweepTally("queries", "no-argument queries")
    )
    walk: QomWalk | None = None

    def run(self, *, sweep: bool = True) -> None:
        """Start, sweep (unless not `sweep`: start and quit only), quit."""
        pool = InstancePool(self.make_config)
        try:
            if not self._start(pool):
                return
            if sweep:
                self.queries.name = f"queries on {machine_of(self.profile)}"
                self._queries(pool)
                self.walk = QomWalk(lambda: pool.get(self.profile), self.schema, self.one_in)
                self.walk.sweep.name = f"QOM properties of {machine_of(self.profile)}"
                self.walk.run()
                self.failures += self.walk.failures
            self._quit(pool)
        finally:
            pool.close()

    def _start(self, pool: InstancePool) -> bool:
        inst = QemuInstance(self.make_config(self.profile))
        try:
            inst.start()
        except SetupError as exc:
            # A hang while negotiating is recorded on the instance, not on the error.
            info = exc.exit_info if isinstance(exc, DiedAtStart) else inst.exit_info
            if info is not None and info.is_finding:
                self.failures.append(QemuGone(info, inst.transcript))
            elif isinstance(exc, DiedAtStart):
                self.refused = first_line(exc.stderr) or str(exc)
            else:
                raise
            return False
        pool.give_back(inst)
        return True

    def _queries(self, pool: InstancePool) -> None:
        for command in sorted(c for c in self.schema.commands if is_query(self.schema, c)):
            self.queries.total += 1
            reason = lifecycle_reason(command)
            if reason:
                self.queries.excluded[command] = reason
                continue
            self.queries.exercised += 1
            inst = pool.get(self.profile)
            inst.drain_events()
            check = partial(_query_returns, self.schema, command, self.version)
            try:
                reply = judged(inst, self.schema, command, None, f"noargs-{command}", check)
            except (Failure, QemuGone) as exc:
                self.failures.append(exc)
                continue
            if not keeps_state(command, reply.message.kind):
                # The next query must see the machine as it started.
                pool.retire(self.profile)

    def _quit(self, pool: InstancePool) -> None:
        """quit returns and QEMU exits cleanly (qom-test asserts the return)."""
        inst = pool.take(self.profile)
        info = inst.close()
        if info is not None and info.is_finding:
            self.failures.append(QemuGone(info, inst.transcript))


def start_every_type(
    machines: Sequence[str],
    schema: Schema,
    version: Version,
    make_config: Callable[[str], LaunchConfig],
) -> tuple[SweepTally, list[Failure | QemuGone]]:
    """Every machine type of `machines` started and quit: the sweep "machine types"
    of `query-machines` (each type QEMU refuses excluded with its line) and the
    findings (a crash, abort or hang at start or at quit)."""
    started = SweepTally("machine types", "query-machines", total=len(machines))
    failures: list[Failure | QemuGone] = []
    for machine in machines:
        run = MachineRun(MACHINE_PREFIX + machine, schema, version, make_config)
        run.run(sweep=False)
        failures += run.failures
        if run.refused is not None:
            started.excluded[machine] = run.refused
        else:
            started.exercised += 1
    return started, failures


def _query_returns(schema: Schema, command: str, version: Version, reply: Message) -> None:
    check_query_returns(schema, command, reply, version)
