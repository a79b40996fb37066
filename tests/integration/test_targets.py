"""The default block profile of each installed non-default target starts, negotiates, and
its CD-ROM's tray moves with DEVICE_TRAY_MOVED, as the tray checks expect."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.machine.profiles import block_profile, default_profiles
from conformance.machine.targets import binary_profiles

pytestmark = pytest.mark.qemu

# Target, and the Debian package that installs it.
TARGETS = (
    ("aarch64", "qemu-system-arm"),
    ("arm", "qemu-system-arm"),
    ("ppc64", "qemu-system-ppc"),
    ("riscv64", "qemu-system-misc"),
    ("s390x", "qemu-system-s390x"),
    ("i386", "qemu-system-x86"),
)
EVENT_DEADLINE = 5.0


def _binary(target: str, package: str) -> str:
    path = shutil.which(f"qemu-system-{target}")
    if path is None:
        pytest.skip(f"qemu-system-{target} is not installed (apt-get install {package})")
    return path


@pytest.mark.parametrize(("target", "package"), TARGETS, ids=[t for t, _ in TARGETS])
def test_block_profile_tray_moves(target: str, package: str, tmp_path: Path) -> None:
    binary = _binary(target, package)
    work = str(tmp_path / "work")
    profiles = binary_profiles(binary, work)
    # The build has every board its target's defaults name.
    assert profiles == default_profiles(target)
    name = block_profile(profiles)
    assert name is not None, f"{target}: no default profile with a CD-ROM tray"
    config = LaunchConfig(binary=binary, profile=name, workdir_base=work, timeout=10.0)
    with QemuInstance(config) as inst:
        reply = inst.execute("blockdev-open-tray", {"id": "cd0"})
        assert reply.ok, reply.message.raw
        moved = [e for e in reply.events if e.event_name == "DEVICE_TRAY_MOVED"]
        event = moved[0] if moved else inst.wait_event("DEVICE_TRAY_MOVED", timeout=EVENT_DEADLINE)
        assert isinstance(event.value, dict)
        assert event.value["data"]["id"] == "cd0"
        assert event.value["data"]["tray-open"] is True
        block = inst.execute("query-block").value
        assert isinstance(block, list)
        cd0 = next(b for b in block if b.get("qdev") == "cd0")
        assert cd0["tray_open"] is True
        assert cd0["inserted"]["node-name"] == "null0"
