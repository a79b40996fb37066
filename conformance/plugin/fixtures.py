"""The fixtures the suite's tests take: the run, the schema, QEMUs, pools, argument runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.docs.model import DocSet
from conformance.drive.exchange import ArgumentRun
from conformance.drive.harvest import harvest
from conformance.drive.report import command_tags, label
from conformance.errors import EXIT_USAGE
from conformance.machine.cache import BinaryCache
from conformance.machine.instance import QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import PROFILES
from conformance.oracle.failure import qapi
from conformance.plugin.parametrise import doc_set_of
from conformance.plugin.records import PolicySkip
from conformance.runcontext import (
    RunContext,
    binary_info,
    live_schema,
    run_context,
)
from conformance.spec import Schema
from strategies import safety
from strategies.policy import GenerationPolicy
from strategies.pools import KINDS, Pools
from strategies.wire import MAX_CASE_BYTES, MIN_MAX_SIZE


@pytest.fixture(scope="session")
def qmp_run(request: pytest.FixtureRequest) -> RunContext:
    """The run's settings (binary, profiles, deadlines, workdir)."""
    binary_info(request.config)
    return run_context(request.config)


@pytest.fixture(scope="session")
def schema(request: pytest.FixtureRequest) -> Schema:
    """The spec model of the binary under test."""
    return live_schema(request.config)


@pytest.fixture(scope="session")
def qemu_pool(qmp_run: RunContext) -> Iterator[InstancePool]:
    """Live QEMU instances reused across tests, restarted when one dies."""
    pool = InstancePool(qmp_run.launch_config)
    yield pool
    pool.close()


@pytest.fixture
def fresh_qemu(qmp_run: RunContext) -> Iterator[QemuInstance]:
    """A new, not yet started instance of the first profile; closed after the test."""
    inst = QemuInstance(qmp_run.launch_config(qmp_run.profiles[0]))
    try:
        yield inst
    finally:
        inst.close()


@pytest.fixture(scope="session")
def doc_set(request: pytest.FixtureRequest) -> DocSet:
    """The parsed documentation whose examples are replayed."""
    docs, why = doc_set_of(request.config)
    if docs is None:
        pytest.skip(why)
    return docs


@pytest.fixture(scope="session")
def wire_max_bytes(request: pytest.FixtureRequest) -> int:
    """The size bound of generated broken inputs (`strategies.wire.wire_bytes`)."""
    value = int(request.config.getoption("--wire-max-bytes"))
    if not MIN_MAX_SIZE <= value <= MAX_CASE_BYTES:
        pytest.exit(
            f"qmp-conformance: --wire-max-bytes must be between {MIN_MAX_SIZE} and "
            f"{MAX_CASE_BYTES}",
            returncode=EXIT_USAGE,
        )
    return value


@pytest.fixture(scope="session")
def generation_policy() -> GenerationPolicy:
    """What generated commands may contain: the host-safety exclusions."""
    return safety.generation_policy()


@pytest.fixture(scope="session")
def pools(qmp_run: RunContext, schema: Schema) -> Pools:
    """Strings harvested from the live binary, grown with every reply during the run
    (in the CI profile: as harvested, so that each test's cases are the same whatever
    ran before it on its worker)."""
    config = qmp_run.launch_config(qmp_run.argument_profile)
    cache = qmp_run.cache
    key = ""
    if cache is not None and qmp_run.info is not None:
        argv = PROFILES[qmp_run.argument_profile].args
        key = BinaryCache.key(qmp_run.info.path, "harvest", argv)
        cached = cache.load(key)
        if isinstance(cached, dict):
            return _pools_from_json(cached)
    found = Pools()
    with QemuInstance(config) as inst:
        harvest(inst, schema, found)
    if cache is not None and key:
        cache.store(key, _pools_json(found))
    return found


def _pools_json(pools: Pools) -> dict[str, list[str]]:
    return {kind: list(pools.values(kind)) for kind in KINDS}


def _pools_from_json(value: dict[str, object]) -> Pools:
    pools = Pools()
    for kind, strings in value.items():
        if kind in KINDS and isinstance(strings, list):
            pools.extend(kind, [v for v in strings if isinstance(v, str)])
    return pools


@pytest.fixture
def argument_run(
    request: pytest.FixtureRequest,
    command_name: str,
    schema: Schema,
    pools: Pools,
    generation_policy: GenerationPolicy,
    qmp_run: RunContext,
    qemu_pool: InstancePool,
) -> Iterator[ArgumentRun]:
    """One command's generated examples, on one QEMU restarted after crashes (in the
    CI profile: the worker's QEMU, while no earlier command changed its state)."""
    command = schema.commands[command_name]
    mode = "malformed" if "malformed" in request.function.__name__ else "valid"
    label(
        epic="commands",
        feature=command_name,
        story=f"{mode} arguments",
        tags=command_tags(command),
        citation=str(qapi(command_name, "arguments as introspected by query-qmp-schema")),
    )
    reason = lifecycle_reason(command_name) or safety.skip_reason(command_name)
    if reason:
        # For the summary's policy lines; the skip's text is for people.
        request.node.user_properties.append(PolicySkip(command_name, reason).to_property())
        pytest.skip(f"{command_name}: {reason}")
    shared = qmp_run.reuse
    instances = qemu_pool if shared else InstancePool(qmp_run.launch_config)
    run = ArgumentRun(
        command_name,
        schema,
        pools,
        generation_policy,
        instances,
        qmp_run.argument_profile,
        frozen=shared,
    )
    if shared:
        # Events an earlier test left queued are not this command's to judge.
        run.instance().drain_events()
    try:
        yield run
    finally:
        if not shared:
            instances.close()
        elif run.spoiled:
            instances.retire(qmp_run.argument_profile)
        request.node.user_properties.extend(run.properties())
        if shared:
            request.node.user_properties.append(("restarted", int(run.spoiled)))
