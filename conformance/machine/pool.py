"""Reuse of QEMU instances across tests, one per (profile, negotiated) per process.

Starting QEMU costs tens of milliseconds; running a command costs a fraction of one.
A pool hands out a live instance and starts a fresh one whenever the previous one died
or was marked spoiled (a command changed state that later checks rely on).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from conformance.machine.instance import LaunchConfig, QemuInstance

log = logging.getLogger(__name__)


class InstancePool:
    def __init__(self, make_config: Callable[[str], LaunchConfig]) -> None:
        self._make_config = make_config
        self._instances: dict[tuple[str, bool], QemuInstance] = {}
        self.starts = 0

    def get(self, profile: str, *, negotiated: bool = True) -> QemuInstance:
        """A live instance of `profile`, started afresh if the last one is gone."""
        key = (profile, negotiated)
        inst = self._instances.get(key)
        if inst is not None and (not inst.alive() or inst.exit_info is not None):
            inst.close()
            log.info(
                "restarting QEMU (profile %s): the previous one %s",
                profile,
                inst.exit_info.describe() if inst.exit_info is not None else "is gone",
            )
            inst = None
        if inst is None:
            self._instances.pop(key, None)
            inst = QemuInstance(self._make_config(profile))
            self.starts += 1
            inst.start(negotiate=negotiated)  # closes itself if it fails
            self._instances[key] = inst
        return inst

    def take(self, profile: str) -> QemuInstance:
        """A live, negotiated instance of `profile` that is the caller's to close: for
        a test that changes the machine, so that no later test sees the change."""
        inst = self.get(profile)
        self._instances.pop((profile, True))
        return inst

    def give_back(self, inst: QemuInstance) -> None:
        """Return an instance that `take` handed out and that is still as its profile
        made it (`conformance.machine.reuse`): the next `get` or `take` of its profile
        reuses it. A dead one, or one whose slot was filled meanwhile, is closed."""
        key = (inst.profile.name, True)
        if key in self._instances or not inst.alive() or inst.exit_info is not None:
            inst.close()
        else:
            self._instances[key] = inst

    def retire(self, profile: str, *, negotiated: bool = True) -> None:
        """Close the pooled instance of `profile`, if any: the next `get` starts afresh."""
        inst = self._instances.pop((profile, negotiated), None)
        if inst is not None:
            log.info("retiring QEMU (profile %s): the next test gets a fresh one", profile)
            inst.close()

    def discard(self, inst: QemuInstance) -> None:
        """Close `inst` so the next `get` starts a fresh one."""
        for key, value in list(self._instances.items()):
            if value is inst:
                del self._instances[key]
        inst.close()

    def close(self) -> None:
        for inst in self._instances.values():
            inst.close()
        self._instances.clear()
