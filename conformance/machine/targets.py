"""The default machine profiles of a binary: its target's, for the boards it has.

A binary's target (BinaryInfo.target) says which profiles fit it; `query-machines`
says which of their boards this build has (a distribution may leave boards out), so
the answer needs one QEMU start, and is cached with the binary's other answers.
"""

from __future__ import annotations

from conformance.machine.cache import BinaryCache
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.machine.probe import probe
from conformance.machine.profiles import default_profiles


def machine_names(binary: str, workdir_base: str | None = None, timeout: float = 5.0) -> list[str]:
    """The machine types (names and aliases) `query-machines` lists, asked of a
    board-less QEMU of `binary`."""
    config = LaunchConfig(binary=binary, workdir_base=workdir_base, timeout=timeout)
    with QemuInstance(config) as inst:
        reply = inst.execute("query-machines")
    names: list[str] = []
    listed = reply.value if isinstance(reply.value, list) else []
    for machine in listed:
        if isinstance(machine, dict):
            names += [v for k in ("name", "alias") if isinstance(v := machine.get(k), str)]
    return names


def binary_machines(
    binary: str,
    workdir_base: str | None = None,
    cache: BinaryCache | None = None,
    timeout: float = 5.0,
) -> list[str]:
    """`machine_names` of `binary`, cached with its other answers; none for
    qemu-storage-daemon, which has no machines."""
    info = probe(binary)
    if info.storage_daemon:
        return []
    key = BinaryCache.key(info.path, "machines") if cache is not None else ""
    cached = cache.load(key) if cache is not None else None
    if isinstance(cached, list) and all(isinstance(n, str) for n in cached):
        return [str(n) for n in cached]
    names = machine_names(info.path, workdir_base, timeout)
    if cache is not None:
        cache.store(key, names)
    return names


def binary_profiles(
    binary: str,
    workdir_base: str | None = None,
    cache: BinaryCache | None = None,
    timeout: float = 5.0,
) -> tuple[str, ...]:
    """The default profiles of `binary`'s target that its build has boards for."""
    info = probe(binary)
    if info.storage_daemon:
        return default_profiles(info.target)  # no machines to ask about
    return default_profiles(info.target, binary_machines(binary, workdir_base, cache, timeout))
