"""Machine profiles: the argv that sets up the guest machine the suite talks to.

Every profile starts from `-nodefaults -display none -S` so that no guest code runs and
no default device (with host-side backends) is created; the profile then adds the
devices that checks need. A block profile gives the tray and medium checks a CD-ROM
(it has a tray) holding a null-co node (no host file behind it): an IDE one on the x86
boards, a SCSI one behind a virtio-scsi controller elsewhere, since most boards have
no IDE bus. Each target has default profiles (`default_profiles`); code that needs the
CD asks for the run's block profile (`block_profile`), never for a board by name.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

BASE_ARGS: tuple[str, ...] = ("-nodefaults", "-no-user-config", "-display", "none", "-S")

#: A CD-ROM with a tray (device id cd0) holding the null-co node null0.
TRAY = "tray"
#: A PCI bus that takes a qemu-xhci USB controller (the device_del rules plug into it).
USB = "usb"
#: cd0 sits on a bus without hotplug (IDE), so device_del of it is refused.
FIXED_CD = "fixed-cd"
FEATURES = frozenset({TRAY, USB, FIXED_CD})

# What a block profile creates, by pool kind (strategies.pools).
_CD_NAMES: Mapping[str, str] = MappingProxyType(
    {"device-id": "cd0", "node-name": "null0", "qom-path": "/machine/peripheral/cd0"}
)
_NULL0 = ("-blockdev", "driver=null-co,node-name=null0,read-zeroes=on")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    args: tuple[str, ...]
    description: str
    # The objects the profile creates, by the kind of name they have (the pool kinds
    # of strategies.pools): what documented examples' names are mapped onto.
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    features: frozenset[str] = frozenset()
    # The -device value of one more CD-ROM on the board's CD bus, with {id} and {drive}
    # to fill in: rules that need a second CD ask the profile how to attach it.
    cd_template: str = ""
    # RAM (in MiB) small enough to migrate quickly that the board still starts with:
    # pseries wants a multiple of 256 MiB.
    small_memory: int = 64
    # Whether two stopped (-S) QEMUs of this profile migrate (seen on QEMU 7.2): the
    # migration tests skip a board that does not.
    migrates: bool = False

    @property
    def machine(self) -> str | None:
        """The `-machine` type the profile starts (None: it picks no machine)."""
        args = self.args
        for flag, value in itertools.pairwise(args):
            if flag in ("-machine", "-M"):
                return value.split(",", 1)[0]
        return None

    @property
    def device_ids(self) -> frozenset[str]:
        """The ids of the devices the profile's argv adds (under /machine/peripheral)."""
        ids = set()
        for flag, value in itertools.pairwise(self.args):
            if flag == "-device":
                ids |= {o[3:] for o in value.split(",") if o.startswith("id=")}
        return frozenset(ids)

    @property
    def tray(self) -> bool:
        """Whether the profile has the CD-ROM cd0, with a tray, holding null0."""
        return TRAY in self.features

    def cd_args(self, device_id: str, drive: str) -> tuple[str, ...]:
        """The argv adding one more CD-ROM `device_id` holding `drive`; KeyError when
        the profile has no CD bus."""
        if not self.cd_template:
            raise KeyError(f"profile {self.name} has no CD-ROM bus")
        return ("-device", self.cd_template.format(id=device_id, drive=drive))


def _x86(machine: str) -> Profile:
    return Profile(
        machine,
        ("-machine", machine, *_NULL0, "-device", "ide-cd,id=cd0,drive=null0,bus=ide.0"),
        f"{machine} with an ide-cd (id cd0) holding a null-co node (null0)",
        _CD_NAMES,
        frozenset({TRAY, USB, FIXED_CD}),
        "ide-cd,id={id},drive={drive},bus=ide.1",
        migrates=True,
    )


def _scsi(
    name: str,
    machine: str,
    controller: str,
    *,
    usb: bool = True,
    small_memory: int = 64,
    migrates: bool = True,
) -> Profile:
    return Profile(
        name,
        (
            "-machine",
            machine,
            *_NULL0,
            "-device",
            f"{controller},id=scsi0",
            "-device",
            "scsi-cd,id=cd0,drive=null0,bus=scsi0.0",
        ),
        f"{machine} with a {controller} and a scsi-cd (id cd0) holding a null-co node (null0)",
        _CD_NAMES,
        frozenset({TRAY, USB} if usb else {TRAY}),
        "scsi-cd,id={id},drive={drive},bus=scsi0.0",
        small_memory,
        migrates,
    )


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("none", ("-machine", "none"), "no board at all: the smallest QMP surface"),
        _x86("q35"),
        _x86("pc"),
        # One argv for arm, aarch64 and riscv64 (each has a `virt` board with PCI).
        _scsi("virt", "virt", "virtio-scsi-pci"),
        _scsi("pseries", "pseries", "virtio-scsi-pci", small_memory=256),
        # s390x has no USB at all (no qemu-xhci device model).
        _scsi("s390-ccw-virtio", "s390-ccw-virtio", "virtio-scsi-ccw", usb=False),
        # qemu-storage-daemon: no machine and no devices, so block work has a node only
        # (its own option syntax; conformance.machine.instance adds no BASE_ARGS to it).
        Profile(
            "daemon",
            ("--blockdev", "driver=null-co,node-name=null0,read-zeroes=on"),
            "qemu-storage-daemon with a null-co node (null0)",
            MappingProxyType({"node-name": "null0"}),
        ),
    )
}

# The default profiles by target (BinaryInfo.target), in order; any other target runs
# only `none`. The storage daemon's "daemon" profile is defined by the daemon support.
_DEFAULTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "x86_64": ("none", "q35", "pc"),
        "i386": ("none", "q35", "pc"),
        "aarch64": ("none", "virt"),
        "arm": ("none", "virt"),
        "riscv64": ("none", "virt"),
        "ppc64": ("none", "pseries"),
        "s390x": ("none", "s390-ccw-virtio"),
        "qemu-storage-daemon": ("daemon",),
    }
)
FALLBACK: tuple[str, ...] = ("none",)


def default_profiles(target: str, machines: Collection[str] | None = None) -> tuple[str, ...]:
    """The profiles a run on `target` uses when none is chosen.

    With `machines` (the names `query-machines` lists), profiles whose board the binary
    lacks are left out; when nothing is left, ("none",).
    """
    chosen = _DEFAULTS.get(target, FALLBACK)
    if machines is not None:
        chosen = tuple(n for n in chosen if _has_board(n, machines))
    return chosen or FALLBACK


def _has_board(name: str, machines: Collection[str]) -> bool:
    known = PROFILES.get(name)
    if known is None:
        return False
    machine = known.machine
    return machine is None or machine in machines


def block_profile(names: Iterable[str]) -> str | None:
    """The first of `names` that has the CD-ROM with a tray (None: none has)."""
    return next((n for n in names if n in PROFILES and PROFILES[n].tray), None)


#: Boards whose PCI Express root bus refuses hotplug ("Bus 'pcie.0' does not support
#: hotplugging"): a PCI device_add reaches a device's realize code only on a root port.
PCIE_ROOT_BOARDS = frozenset({"q35", "virt"})
#: Root ports `hotplug_ports` gives such a board: one PCI device each.
HOTPLUG_PORTS = 8


def hotplug_ports(p: Profile) -> tuple[str, ...]:
    """The argv that gives `p`'s board `HOTPLUG_PORTS` empty ``pcie-root-port``s
    (ids ``hp0``, ``hp1``, ...: their buses have the same names), so that a generated
    ``device_add`` has buses that take a PCI device; none for other boards, whose PCI
    bus takes hotplug itself or which have none."""
    if p.machine not in PCIE_ROOT_BOARDS:
        return ()
    return tuple(
        arg
        for n in range(HOTPLUG_PORTS)
        for arg in ("-device", f"pcie-root-port,id=hp{n},chassis={n + 1}")
    )


#: The profile name of a bare machine type (`machine_profile`): "machine:pc-q35-7.2".
MACHINE_PREFIX = "machine:"


def machine_profile(machine: str) -> Profile:
    """Machine type `machine` (a name or alias `query-machines` lists) started bare, as
    QEMU's qom-test starts every machine type: no devices beyond the board's own, on
    TCG (KVM may be absent, and a board that needs it then fails to start, which the
    machine-type sweep lists)."""
    return Profile(
        MACHINE_PREFIX + machine,
        ("-machine", machine, "-accel", "tcg"),
        f"machine type {machine} with no devices (-nodefaults), on TCG",
    )


def profile(name: str) -> Profile:
    """The named profile (`machine_profile` for a "machine:" name); unknown names raise
    KeyError listing the known ones."""
    if name.startswith(MACHINE_PREFIX) and len(name) > len(MACHINE_PREFIX):
        return machine_profile(name[len(MACHINE_PREFIX) :])
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"unknown machine profile {name!r} (known: {', '.join(sorted(PROFILES))})"
        ) from None
