"""Host safety: what generated commands may do to the machine that runs them.

The suite runs as root in CI and generates arguments for every command, including the
ones that open files, listen on sockets, spawn helpers or drive host devices. This
module is the one declarative table of those reaches and of what the harness does about
each (see ARCHITECTURE.md, "Host safety"):

- **exclude**: values never generated (a network block driver, a tap netdev): built into
  the `GenerationPolicy` every strategy honours;
- **confine**: values rewritten after generation by `confine()`: host paths into the
  instance's private workdir, socket addresses into unix sockets in that workdir,
  migration URIs into a unix socket there, HMP into a read-only allowlist, sizes that
  would make QEMU write or allocate for real clamped;
- **reject**: an example that can't be confined (a netdev `socket` takes host:port
  strings) is dropped with `Unconfinable`;
- **skip**: commands the policy can't confine at all are not run, and the run lists them
  with the reason;
- **harness**: no example may name the harness's own resources (its monitor chardevs,
  their QOM paths and sockets, `conformance.machine.harness`): a ``yank`` or
  ``chardev-remove`` of chardev ``qmp`` cuts the channel the suite judges QEMU by, and
  the silence would look like a hang (issue 18). Rejected by value wherever it appears,
  whatever drew it (a harvested pool, a reply's strings, a random string, a document);
  but for the QOM reads (`QOM_READS`: qom-list, qom-get), which change nothing and reach
  no host resource, so the QOM walk reads the harness's chardevs like any other object.

QEMU's current directory and TMPDIR are the workdir, so a *relative* path without `..`
already lands inside it; what must be rewritten is anything that can leave it.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from conformance.errors import QmpcError
from conformance.machine.harness import harness_names
from strategies.policy import GenerationPolicy
from strategies.reviewed import REVIEWED_COMMANDS

log = logging.getLogger(__name__)


class Unconfinable(QmpcError):
    """This example reaches the host in a way the policy can't confine."""


@dataclass(frozen=True)
class Reach:
    """One way a command reaches the host, and what the policy does about it."""

    commands: tuple[str, ...]  # "*" for every command
    where: str  # the member or value, as a reader would say it
    kind: str  # path, socket, network, spawn, host-device, hmp, resource, fd
    action: str  # exclude, confine, reject, skip
    reason: str


# -- the table -----------------------------------------------------------------------------

EXCLUDED_VALUES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        # Block drivers (blockdev-add, blockdev-create, blockdev-reopen, nested
        # BlockdevRef): each opens a network connection or a host PCI device.
        "driver": frozenset(
            {"iscsi", "rbd", "ssh", "gluster", "http", "https", "ftp", "ftps", "nfs", "nvme"}
        ),
        # Union tags named "type": netdevs that create host interfaces or talk to the
        # network, chardevs that allocate host ptys or reach host services, block
        # exports that mount or create host devices, socket addresses other than unix.
        "type": frozenset(
            {
                "tap",
                "bridge",
                "l2tpv3",
                "vde",
                "netmap",
                "vhost-vdpa",
                "vmnet-host",
                "vmnet-shared",
                "vmnet-bridged",
                "pty",
                "dbus",
                "braille",
                "spicevmc",
                "spiceport",
                "fuse",
                "vduse-blk",
                "inet",
                "vsock",
                "fd",
            }
        ),
        "qom-type": frozenset(
            {
                "can-host-socketcan",
                "dbus-vmstate",
                "input-barrier",
                "x-remote-object",
                "iommufd",
                "memory-backend-shm",
            }
        ),
        # MigrationAddress (`channels` of migrate and migrate-incoming, since 8.2): exec
        # spawns its `args`, rdma reaches host:port.
        "transport": frozenset({"exec", "rdma"}),
    }
)

REACHES: tuple[Reach, ...] = (
    Reach(
        ("blockdev-add", "blockdev-create", "blockdev-reopen"),
        "driver=iscsi|rbd|ssh|gluster|http(s)|ftp(s)|nfs",
        "network",
        "exclude",
        "connects to remote storage",
    ),
    Reach(
        ("blockdev-add", "blockdev-reopen"),
        "driver=nvme",
        "host-device",
        "exclude",
        "claims a host PCI NVMe device through VFIO",
    ),
    Reach(
        ("netdev_add",),
        "type=tap|bridge|l2tpv3|vde|netmap|vhost-vdpa|vmnet-*",
        "host-device",
        "exclude",
        "creates or attaches host network interfaces or devices",
    ),
    Reach(
        ("netdev_add",),
        "type=socket",
        "network",
        "reject",
        "listen/connect/mcast/udp take host:port strings",
    ),
    Reach(
        ("netdev_add",),
        "type=user: hostfwd, guestfwd, smb, smbserver",
        "spawn",
        "confine",
        "forwards host ports, runs guestfwd commands or smbd: dropped",
    ),
    Reach(
        ("chardev-add", "chardev-change"),
        "type=pty|dbus|braille|spicevmc|spiceport",
        "host-device",
        "exclude",
        "allocates a host pty or connects to host services",
    ),
    Reach(
        ("block-export-add",),
        "type=fuse|vduse-blk",
        "host-device",
        "exclude",
        "mounts a FUSE filesystem or creates a VDUSE device",
    ),
    Reach(
        ("*",),
        "SocketAddress type=inet|vsock|fd",
        "network",
        "exclude",
        "only unix sockets in the workdir are allowed",
    ),
    Reach(
        ("*",),
        "SocketAddress type=unix",
        "socket",
        "confine",
        "path rewritten into the workdir; abstract sockets turned off",
    ),
    Reach(
        ("object-add",),
        "qom-type=can-host-socketcan|dbus-vmstate|input-barrier",
        "network",
        "exclude",
        "binds a host CAN interface, the D-Bus bus or a barrier server",
    ),
    Reach(
        ("object-add",),
        "qom-type=x-remote-object",
        "fd",
        "exclude",
        "takes a raw descriptor number of QEMU's own process",
    ),
    Reach(
        ("object-add",),
        "qom-type=iommufd",
        "host-device",
        "exclude",
        "opens the host's /dev/iommu, or takes a descriptor number of QEMU's own process",
    ),
    Reach(
        ("object-add",),
        "qom-type=memory-backend-shm",
        "path",
        "exclude",
        "creates a POSIX shared memory object in the host-global /dev/shm",
    ),
    Reach(
        ("migrate", "migrate-incoming"),
        "channels: MigrationAddress transport=exec|rdma",
        "spawn",
        "exclude",
        "exec spawns its args and rdma reaches host:port; socket and file are confined",
    ),
    Reach(
        ("*",),
        "any string containing '/' that is not a QOM path",
        "path",
        "confine",
        "rewritten to a file in the workdir",
    ),
    Reach(
        ("migrate", "migrate-incoming", "migrate-recover"),
        "uri",
        "spawn",
        "confine",
        "exec: spawns a shell and tcp: reaches the network: always unix:WORKDIR/migrate.sock",
    ),
    Reach(
        ("dump-guest-memory",),
        "protocol",
        "path",
        "confine",
        "file:WORKDIR/dump; begin/length capped",
    ),
    Reach(
        ("pmemsave", "memsave"),
        "size",
        "resource",
        "confine",
        "writes `size` bytes to disk: capped at 1 MiB",
    ),
    Reach(
        ("blockdev-add",),
        "size (null-co, null-aio)",
        "resource",
        "confine",
        "a null node reads as `size` bytes that a job may copy into a workdir file: "
        "capped at 1 MiB",
    ),
    Reach(
        ("*",),
        "preallocation / prealloc",
        "resource",
        "confine",
        "would allocate host disk or RAM for real: forced off",
    ),
    Reach(
        ("human-monitor-command",),
        "command-line",
        "hmp",
        "confine",
        "HMP can do anything: mapped onto a read-only allowlist",
    ),
    Reach(
        ("device_add",),
        "driver=vfio-*|usb-host|u2f-passthru|vhost-*",
        "host-device",
        "reject",
        "passes a host device through",
    ),
    Reach(
        ("*",),
        "a value naming the harness's monitor chardevs (qmp, qmp1, ...), their QOM paths "
        "(/chardevs/qmp...) or sockets (qmp.sock, ...)",
        "harness",
        "reject",
        "yank, chardev-remove, chardev-change and the like would cut the suite's own QMP "
        "channel; what the harness launched is not under test",
    ),
)

HOST_TOUCHING: tuple[str, ...] = (
    "blockdev-add",
    "blockdev-create",
    "blockdev-reopen",
    "blockdev-change-medium",
    "blockdev-snapshot-sync",
    "drive-backup",
    "drive-mirror",
    "transaction",
    "chardev-add",
    "chardev-change",
    "netdev_add",
    "object-add",
    "device_add",
    "nbd-server-start",
    "block-export-add",
    "display-update",
    "migrate",
    "migrate-incoming",
    "migrate-recover",
    "dump-guest-memory",
    "pmemsave",
    "memsave",
    "screendump",
    "dumpdtb",
    "dump-skeys",
    "xen-save-devices-state",
    "xen-load-devices-state",
    "human-monitor-command",
)
"""Commands that can reach host files, sockets, the network, helpers or devices."""

SKIPPED: Mapping[str, str] = MappingProxyType({})
"""Commands the policy can't confine at all (none of the reviewed ones: every reach is
confined). Commands nobody reviewed are skipped too (`skip_reason`)."""

HMP_ALLOWLIST: tuple[str, ...] = (
    "help",
    "info version",
    "info status",
    "info name",
    "info uuid",
    "info block",
    "info blockstats",
    "info block-jobs",
    "info chardev",
    "info cpus",
    "info qtree",
    "info mtree",
    "info network",
    "info pci",
    "info qom-tree",
    "info mice",
    "info kvm",
    "info iothreads",
    "info migrate",
    "info migrate_capabilities",
    "info roms",
    "info balloon",
    "info history",
    "info dump",
    "info hotpluggable-cpus",
    "info memdev",
    "info memory-devices",
    "info numa",
    "info ramblock",
)

QOM_ROOTS = ("/machine", "/objects", "/chardevs", "/backend")
#: Commands that only read the QOM tree: their `path` names a QOM object, never a host
#: file (so the root "/" is kept), and reading the harness's own chardevs through them
#: changes nothing (the QOM walk, `conformance.drive.qom_walk`, reads every path).
QOM_READS = ("qom-list", "qom-get")
DEVICE_DRIVER_PREFIXES = ("vfio-", "vhost-", "usb-host", "u2f-passthru", "pci-assign")
SPAWNING_USER_NETDEV_MEMBERS = ("hostfwd", "guestfwd", "smb", "smbserver")
MAX_WRITTEN = 1 << 20
MAX_OPEN_TIMEOUT = 1  # seconds: well within any reply deadline
MIGRATION_URI_COMMANDS = ("migrate", "migrate-incoming", "migrate-recover")


def generation_policy(
    *, allow_deprecated: bool = True, allow_unstable: bool = True
) -> GenerationPolicy:
    """The policy every strategy honours when its cases will run on a real host."""
    return GenerationPolicy(
        allow_deprecated=allow_deprecated,
        allow_unstable=allow_unstable,
        excluded_values=EXCLUDED_VALUES,
    )


def skip_reason(command: str) -> str | None:
    """Why `command` is not run with generated arguments, or None when it may be.

    Fail-closed: a command the table was never checked against (one a newer QEMU added)
    is skipped, since its host reaches are unknown.
    """
    if command not in REVIEWED_COMMANDS:
        log.info("skipping %s: not reviewed by the host-safety policy", command)
        return "not reviewed by the host-safety policy yet (strategies/reviewed.py)"
    return SKIPPED.get(command)


# -- confinement ---------------------------------------------------------------------------


#: Block drivers that read as zeroes of any `size` without a host file behind them.
NULL_DRIVERS = ("null-co", "null-aio")


def confine(command: str, arguments: object, workdir: str) -> object:
    """Rewrite `arguments` so that running `command` stays inside `workdir`.

    Pure and deterministic (the same input gives the same output, so Hypothesis can
    shrink and replay). Raises `Unconfinable` for an example that must not run,
    including one that names the harness's own resources (after the rewrites, so that
    what would be sent is what is judged).
    """
    if command in QOM_READS:
        # Nothing in a QOM read reaches the host: no rewrite, no harness rule.
        return arguments
    # The generic walk first: the pins below produce workdir URIs it must not touch.
    arguments = _walk(arguments, workdir)
    if command in MIGRATION_URI_COMMANDS and isinstance(arguments, dict) and "uri" in arguments:
        arguments = {**arguments, "uri": f"unix:{posixpath.join(workdir, 'migrate.sock')}"}
    if command == "human-monitor-command" and isinstance(arguments, dict):
        line = arguments.get("command-line")
        if isinstance(line, str):
            arguments = {**arguments, "command-line": _pick(HMP_ALLOWLIST, line)}
    if command == "device_add" and isinstance(arguments, dict):
        driver = arguments.get("driver")
        if isinstance(driver, str) and driver.startswith(DEVICE_DRIVER_PREFIXES):
            raise Unconfinable(f"device_add driver {driver} passes a host device through")
    if command == "dump-guest-memory" and isinstance(arguments, dict):
        arguments = _confine_dump(arguments, workdir)
    if command in ("pmemsave", "memsave") and isinstance(arguments, dict):
        arguments = _clamp(arguments, "size")
    if (
        command == "blockdev-add"
        and isinstance(arguments, dict)
        and arguments.get("driver") in NULL_DRIVERS
    ):
        arguments = _clamp(arguments, "size")
    if command == "netdev_add" and isinstance(arguments, dict):
        if arguments.get("type") == "socket":
            raise Unconfinable("netdev socket takes host:port strings")
        if arguments.get("type") == "user":
            arguments = {
                k: v for k, v in arguments.items() if k not in SPAWNING_USER_NETDEV_MEMBERS
            }
    own = harness_names(arguments)
    if own:
        raise Unconfinable(f"names the harness's own {', '.join(sorted(own))}")
    return arguments


def admit(command: str, arguments: object, workdir: str) -> object:
    """`confine` for arguments the strategies didn't generate (documented examples,
    replayed findings): values the generation policy excludes raise `Unconfinable`
    first, since no strategy would have produced them."""
    if skip_reason(command):
        raise Unconfinable(f"{command}: {skip_reason(command)}")
    for member, value in _members(arguments):
        if isinstance(value, str) and value in EXCLUDED_VALUES.get(member, ()):
            raise Unconfinable(f"{member}={value} is excluded by the host-safety policy")
    return confine(command, arguments, workdir)


def _members(value: object) -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _members(item)
    elif isinstance(value, list):
        for item in value:
            yield from _members(item)


def _walk(value: object, workdir: str) -> object:
    if isinstance(value, str):
        return confine_path(value, workdir)
    if isinstance(value, list):
        return [_walk(v, workdir) for v in value]
    if isinstance(value, dict):
        out = {k: _walk(v, workdir) for k, v in value.items()}
        _force_unix_socket(out, workdir)
        for key in ("preallocation",):
            if isinstance(out.get(key), str):
                out[key] = "off"
        if out.get("prealloc") is True:
            out["prealloc"] = False
        wait = out.get("open-timeout")
        if isinstance(wait, int) and not isinstance(wait, bool) and wait > MAX_OPEN_TIMEOUT:
            # The nbd driver retries its connection for open-timeout seconds, as
            # BlockdevOptionsNbd documents, and the monitor waits with it: past the reply
            # deadline that is a documented wait, not a hang.
            out["open-timeout"] = MAX_OPEN_TIMEOUT
        if "addr" in out and out.get("wait") is True:
            # ChardevSocket: "@wait: wait for incoming connection on server sockets", and
            # a server is the default: chardev-add then accepts its first client before
            # it replies, a documented wait that no client of ours ends, not a hang.
            out["wait"] = False
        return out
    return value


def confine_path(text: str, workdir: str) -> str:
    """A string that could name a host path outside `workdir` becomes a workdir file.

    QOM paths are kept: `/machine/…` as a host path names nothing on a sane host,
    and as a QOM path it is what finds the bugs.
    """
    if "/" not in text and text not in (".", ".."):
        return text
    if text.startswith(QOM_ROOTS) and ".." not in text.split("/"):
        return text
    if text.startswith(workdir + "/") and ".." not in text.split("/"):
        return text
    return posixpath.join(workdir, "p-" + _slug(text))


def _slug(text: str) -> str:
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[-40:].lstrip(".")
    return f"{safe}-{digest}"


def _force_unix_socket(obj: dict[str, object], workdir: str) -> None:
    # SocketAddress is {"type": "unix", "path": …}; SocketAddressLegacy wraps the
    # same in "data". The exclusions keep other types from being generated; this keeps
    # unix ones in the workdir and off the abstract namespace, which is host-global.
    if obj.get("type") != "unix":
        return
    target = obj.get("data") if isinstance(obj.get("data"), dict) else obj
    assert isinstance(target, dict)
    path = target.get("path")
    if isinstance(path, str):
        target["path"] = (
            path if path.startswith(workdir + "/") else posixpath.join(workdir, "s-" + _slug(path))
        )
    if target.get("abstract") is True:
        target["abstract"] = False


def _confine_dump(arguments: dict[str, object], workdir: str) -> dict[str, object]:
    out = dict(arguments)
    protocol = out.get("protocol")
    if isinstance(protocol, str) and not protocol.startswith("fd:"):
        out["protocol"] = f"file:{posixpath.join(workdir, 'dump')}"
    out = _clamp(out, "length")
    if "begin" not in out and "length" not in out:
        # A whole-memory dump writes all guest RAM; a small window exercises the same code.
        out["begin"], out["length"] = 0, 4096
    return out


def _clamp(arguments: dict[str, object], member: str) -> dict[str, object]:
    # QEMU reads these as uint64, so a negative value means close to 2**64 bytes.
    size = arguments.get(member)
    if isinstance(size, int) and not isinstance(size, bool) and not 0 <= size <= MAX_WRITTEN:
        return {**arguments, member: MAX_WRITTEN}
    return arguments


def _pick(options: tuple[str, ...], key: str) -> str:
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]
