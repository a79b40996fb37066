"""Machine profiles per target: the defaults, their filtering by the binary's boards,
and the consistency of what each profile says it creates."""

from __future__ import annotations

import pytest

from conformance.behaviour.rules import RULES
from conformance.machine.profiles import (
    BASE_ARGS,
    FEATURES,
    HOTPLUG_PORTS,
    PROFILES,
    TRAY,
    block_profile,
    default_profiles,
    hotplug_ports,
    profile,
)
from strategies.pools import KINDS

# What `query-machines` lists on Debian 12's QEMU 7.2, abridged to what matters here.
X86_MACHINES = ("none", "pc", "pc-i440fx-7.2", "q35", "pc-q35-7.2", "microvm", "isapc")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("x86_64", ("none", "q35", "pc")),
        ("i386", ("none", "q35", "pc")),
        ("aarch64", ("none", "virt")),
        ("arm", ("none", "virt")),
        ("riscv64", ("none", "virt")),
        ("ppc64", ("none", "pseries")),
        ("s390x", ("none", "s390-ccw-virtio")),
        ("avr", ("none",)),
        ("m68k", ("none",)),
        ("x86_64-microvm", ("none",)),
        ("qemu-storage-daemon", ("daemon",)),
    ],
)
def test_default_profiles_by_target(target: str, expected: tuple[str, ...]) -> None:
    assert default_profiles(target) == expected


def test_defaults_are_filtered_to_the_binarys_boards() -> None:
    assert default_profiles("x86_64", X86_MACHINES) == ("none", "q35", "pc")
    # A build without the q35 board keeps what it has, in the default order.
    assert default_profiles("x86_64", ("none", "pc")) == ("none", "pc")
    assert default_profiles("aarch64", ("none", "virt", "virt-7.2")) == ("none", "virt")
    assert default_profiles("ppc64", ("none", "powernv")) == ("none",)


def test_nothing_left_falls_back_to_none() -> None:
    assert default_profiles("x86_64", ()) == ("none",)
    assert default_profiles("aarch64", ("raspi3b",)) == ("none",)


def test_names_are_unique_and_every_default_is_defined() -> None:
    assert all(name == p.name for name, p in PROFILES.items())
    for target in ("x86_64", "i386", "aarch64", "arm", "riscv64", "ppc64", "s390x", "avr"):
        for name in default_profiles(target):
            assert name in PROFILES, (target, name)
    # One name, one argv: `virt` serves arm, aarch64 and riscv64 with the same devices.
    argvs = [p.args for p in PROFILES.values()]
    assert len(set(argvs)) == len(argvs)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_is_consistent(name: str) -> None:
    p = profile(name)
    assert set(p.features) <= FEATURES
    assert set(p.names) <= set(KINDS), "names are keyed by pool kinds"
    assert not set(p.args) & {"-S", "-nodefaults"}, "BASE_ARGS adds those to every profile"
    assert {"-S", "-nodefaults", "-no-user-config"} <= set(BASE_ARGS)
    argv = " ".join(p.args)
    # Each name the profile says it creates is in its argv, under the right option.
    if "device-id" in p.names:
        assert p.names["device-id"] in p.device_ids
    if "node-name" in p.names:
        assert f"node-name={p.names['node-name']}" in argv
    if "qom-path" in p.names:
        assert p.names["qom-path"] == f"/machine/peripheral/{p.names['device-id']}"
    if p.tray:
        assert (p.names.get("device-id"), p.names.get("node-name")) == ("cd0", "null0")
        assert "drive=null0" in argv
        assert p.cd_template, "a block profile can take a second CD-ROM"
    else:
        assert "device-id" not in p.names, "only a block profile names a device (cd0)"
    if p.machine is not None:
        assert p.args[p.args.index("-machine") + 1] == p.machine


def test_cd_args_fill_the_profiles_bus() -> None:
    assert profile("q35").cd_args("cd1", "drv0") == (
        "-device",
        "ide-cd,id=cd1,drive=drv0,bus=ide.1",
    )
    assert profile("virt").cd_args("cd1", "drv0") == (
        "-device",
        "scsi-cd,id=cd1,drive=drv0,bus=scsi0.0",
    )
    with pytest.raises(KeyError, match="no CD-ROM bus"):
        profile("none").cd_args("cd1", "drv0")


def test_block_profile_is_the_first_with_a_tray() -> None:
    assert block_profile(("none", "q35", "pc")) == "q35"
    assert block_profile(("none", "pc", "q35")) == "pc"
    assert block_profile(("none", "virt")) == "virt"
    assert block_profile(("none",)) is None
    assert block_profile(("daemon", "none")) is None  # unknown names are no block profile
    for name in ("q35", "pc", "virt", "pseries", "s390-ccw-virtio"):
        assert TRAY in profile(name).features


def test_rules_say_what_a_profile_lacks() -> None:
    needs_usb = next(r for r in RULES if r.id == "device-del.by-id")
    fixed_cd = next(r for r in RULES if r.id == "device-del.not-hot-unpluggable")
    second_cd = next(r for r in RULES if r.id == "tray.open-by-device-name")
    assert needs_usb.lacks(profile("s390-ccw-virtio")) == "usb"
    assert needs_usb.lacks(profile("virt")) == ""
    assert fixed_cd.lacks(profile("virt")) == "fixed-cd"
    assert fixed_cd.lacks(profile("pc")) == ""
    assert second_cd.lacks(profile("none")) == "a second CD-ROM"
    assert second_cd.launch_args(profile("virt"))[-1] == "scsi-cd,id=cd1,drive=drv0,bus=scsi0.0"


def test_a_pcie_board_gets_root_ports_that_take_hotplug() -> None:
    args = hotplug_ports(PROFILES["q35"])
    devices = args[1::2]
    assert args[::2] == ("-device",) * HOTPLUG_PORTS
    assert devices[0] == "pcie-root-port,id=hp0,chassis=1"
    assert len({d.split(",")[2] for d in devices}) == HOTPLUG_PORTS  # a chassis each
    assert hotplug_ports(PROFILES["virt"]) == args
    # pc's pci.0 takes hotplug itself; "none" has no PCI bus.
    assert hotplug_ports(PROFILES["pc"]) == hotplug_ports(PROFILES["none"]) == ()
