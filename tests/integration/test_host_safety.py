"""As root, host-touching commands run through the policy create nothing outside the workdir."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.spec import Schema, schema_from_reply
from strategies import arguments, safety
from strategies.safety import Unconfinable, confine

pytestmark = pytest.mark.qemu

# Names the harness itself creates in the temp dir (pytest's base temp, run workdirs of
# concurrently running CLI tests); anything else new there came from QEMU.
OURS = ("pytest-of-", "qmpc-run-")


def listing(path: Path) -> set[str]:
    try:
        return {p for p in os.listdir(path) if not p.startswith(OURS)}
    except FileNotFoundError:
        return set()


@pytest.fixture(scope="module")
def live_schema(qemu_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Schema:
    config = LaunchConfig(binary=qemu_binary, workdir_base=str(tmp_path_factory.mktemp("s")))
    with QemuInstance(config) as inst:
        return schema_from_reply(inst.execute("query-qmp-schema").value)


@pytest.mark.skipif(os.geteuid() != 0, reason="the claim is about running as root")
@pytest.mark.parametrize("command", safety.HOST_TOUCHING)
def test_nothing_is_created_outside_the_workdir(
    command: str, live_schema: Schema, config: LaunchConfig
) -> None:
    if command not in live_schema.commands:
        pytest.skip(f"{command} is not in this binary's schema")
    # /tmp itself as well as TMPDIR: the tests' TMPDIR is a private one (tests/conftest.py).
    system_tmp = {Path(tempfile.gettempdir()), Path("/tmp")}
    watched = [Path.cwd(), *sorted(system_tmp), Path.home(), Path("/")]
    before = {d: listing(d) for d in watched}
    policy = safety.generation_policy()
    # A crash here is a QEMU finding for the conformance run, not this test's concern:
    # the pool restarts QEMU so that every example still runs through the policy.
    instances = InstancePool(lambda profile: dataclasses.replace(config, profile=profile))
    ran = []

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(args=arguments(live_schema, command, policy=policy))
    def run(args: dict[str, object]) -> None:
        inst = instances.get("q35")
        try:
            confined = confine(command, args, str(inst.workdir))
        except Unconfinable:
            return
        with contextlib.suppress(QemuGone):
            inst.execute(command, confined)
        ran.append(command)

    try:
        run()
    finally:
        instances.close()
    after = {d: listing(d) for d in watched}
    created = {str(d): sorted(after[d] - before[d]) for d in watched if after[d] - before[d]}
    assert not created, f"{command} created files outside the workdir: {created}"
    assert ran, f"no example of {command} could run"
