"""A run's context on the pytest config, and the report properties that carry results
from the tests to the reporters.

The plugin fills it (`pytest_configure`); the suite's tests, the reporters and the
sharding read it. It lives apart from the plugin so that the reporters read it without
importing the plugin that loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.errors import EXIT_USAGE, SetupError
from conformance.findings import baseline as baselines
from conformance.machine.cache import BinaryCache
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.probe import BinaryInfo, probe
from conformance.machine.profiles import block_profile
from conformance.machine.targets import binary_machines, binary_profiles
from conformance.machine.trace_events import TraceEvents, trace_events
from conformance.spec import Schema, SchemaError, schema_from_reply

#: The CI profile's sample of each machine type's QOM walk: 1 property in this many.
CI_QOM_SAMPLE = 16
#: Why a check that needs a board or a device skips on qemu-storage-daemon.
NO_MACHINE = "qemu-storage-daemon has no machine or devices"


@dataclass
class RunContext:
    """Per-process state of a conformance run."""

    qemu: str
    chosen: tuple[str, ...]  # --machine, in order; empty: the target's default profiles
    timeout: float
    workdir: Path
    keep_workdir: bool
    own_workdir: bool
    info: BinaryInfo | None = None
    baseline: baselines.BaselineChoice | None = None
    suite_profile: str = "full"
    cache: BinaryCache | None = None
    _profiles: tuple[str, ...] = ()
    _machine_types: tuple[str, ...] | None = None
    _trace: TraceEvents | None = None

    @property
    def profiles(self) -> tuple[str, ...]:
        """The run's machine profiles: --machine's, or the default profiles of the
        binary's target that its build has boards for (asked on first use, so that a
        pytest run of anything but the suite starts no QEMU for it)."""
        if not self._profiles:
            try:
                self._profiles = self.chosen or binary_profiles(
                    self.qemu, str(self.workdir), self.cache, self.timeout
                )
            except (SetupError, QemuGone) as exc:
                pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)
        return self._profiles

    @property
    def machine_types(self) -> tuple[str, ...]:
        """Every machine type (names and aliases) `query-machines` lists for the binary,
        sorted (none for qemu-storage-daemon): asked on first use, cached with the
        binary's other answers."""
        if self._machine_types is None:
            try:
                names = binary_machines(self.qemu, str(self.workdir), self.cache, self.timeout)
            except (SetupError, QemuGone) as exc:
                pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)
            self._machine_types = tuple(sorted(set(names)))
        return self._machine_types

    @property
    def qom_sample(self) -> int:
        """The QOM walks of the machine-type sweep read 1 property in this many: every
        one in the full profile, a deterministic sample in the CI profile (its sweep
        records say how many of how many)."""
        return CI_QOM_SAMPLE if self.suite_profile == "ci" else 1

    @property
    def reuse(self) -> bool:
        """Whether tests share a QEMU while its state allows (the CI profile): argument
        tests, and the doc examples and error conditions that change nothing."""
        return self.suite_profile == "ci"

    @property
    def block_profile(self) -> str | None:
        """The first of the run's profiles with a CD-ROM tray (cd0 holding null0)."""
        return block_profile(self.profiles)

    def need_block_profile(self) -> str:
        """The run's block profile; skips the calling test when the run has none."""
        name = self.block_profile
        if name is None:
            if self.info is not None and self.info.storage_daemon:
                pytest.skip(NO_MACHINE)
            target = self.info.target if self.info is not None else self.qemu
            pytest.skip(
                f"target {target}: no machine profile with a CD-ROM tray "
                f"(profiles: {', '.join(self.profiles)})"
            )
        return name

    @property
    def argument_profile(self) -> str:
        """Generated arguments run on the block profile when there is one: it has block
        devices to hit."""
        return self.block_profile or self.profiles[0]

    schema: Schema | None = None

    @property
    def trace(self) -> TraceEvents:
        """What the run's QEMUs record of their trace events (found on first use,
        cached with the binary's other answers), or why they run blind."""
        if self._trace is None:
            self._trace = trace_events(self.qemu, cache=self.cache, workdir_base=str(self.workdir))
        return self._trace

    def launch_config(self, profile: str) -> LaunchConfig:
        return LaunchConfig(
            binary=self.qemu,
            profile=profile,
            timeout=self.timeout,
            workdir_base=str(self.workdir),
            keep_workdir=self.keep_workdir,
            trace=self.trace.setup,
        )


#: Where the plugin keeps the run context, on the pytest config.
RUN_CONTEXT = pytest.StashKey[RunContext]()
# Marks the reports of conformance tests; xdist carries user properties to the controller.
SUITE_MARK = ("qmp-conformance", "suite")
# The user property holding one finding of a report, as JSON (Finding.to_json).
FINDING_PROPERTY = "qmpc-finding"
DEVIATION_PROPERTY = "qmpc-deviation"
# The trace events a test's QEMUs logged (a JSON list), start-up's included.
TRACE_PROPERTY = "qmpc-trace"
KNOWN_PREFIX = "known finding: "


def run_context(config: pytest.Config) -> RunContext:
    return config.stash[RUN_CONTEXT]


def binary_info(config: pytest.Config) -> BinaryInfo:
    ctx = run_context(config)
    if ctx.info is None:
        try:
            ctx.info = probe(ctx.qemu)
        except SetupError as exc:
            pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)
    return ctx.info


def live_schema(config: pytest.Config) -> Schema:
    """The binary's schema, read once per process through `query-qmp-schema`."""
    ctx = run_context(config)
    if ctx.schema is None:
        info = binary_info(config)
        key = BinaryCache.key(info.path, "schema") if ctx.cache is not None else ""
        cached = ctx.cache.load(key) if ctx.cache is not None else None
        try:
            if cached is not None:
                ctx.schema = schema_from_reply(cached)
            else:
                with QemuInstance(ctx.launch_config("none")) as inst:
                    reply = inst.execute("query-qmp-schema")
                    ctx.schema = schema_from_reply(reply.value)
                if ctx.cache is not None:
                    ctx.cache.store(key, reply.value)
        except (SetupError, QemuGone, SchemaError) as exc:
            pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)
    return ctx.schema
