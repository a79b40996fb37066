"""A QEMU started in the preconfig phase: the run's machine with `--preconfig`.

QEMU then stops before it initialises the machine and serves QMP: only commands whose
QAPI definition has `allow-preconfig` run (monitor/qmp-dispatch.c asks
`qmp_command_available`), until `x-exit-preconfig` initialises the machine. The
harness's `-S` still holds the guest afterwards, so the machine leaves the phase
without running. qemu-storage-daemon has no such phase.
"""

from __future__ import annotations

from dataclasses import replace

from conformance.machine.instance import LaunchConfig

PRECONFIG_OPTION = "--preconfig"
#: The command that leaves the phase (QAPI misc.json; x- since 3.0, still in 10.x).
EXIT_PRECONFIG = "x-exit-preconfig"


def preconfig_config(config: LaunchConfig) -> LaunchConfig:
    """`config` started in the preconfig phase."""
    return replace(config, extra_args=(*config.extra_args, PRECONFIG_OPTION))
