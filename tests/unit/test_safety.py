"""The host-safety policy confines hostile values (no QEMU)."""

from __future__ import annotations

import posixpath

import pytest

from strategies import safety
from strategies.safety import Unconfinable, admit, confine, confine_path

WD = "/tmp/qmpc-run-x/qemu-x86_64-y"


def inside(path: str) -> bool:
    norm = posixpath.normpath(path)
    return norm.startswith(WD + "/") and ".." not in path.split("/")


@pytest.mark.parametrize(
    "hostile",
    [
        "/etc/passwd",
        "../../etc/shadow",
        "/dev/sda",
        "..",
        ".",
        "a/../../b",
        "/root/.ssh/id_rsa",
        "~/x/y",
        "/tmp/x",
        WD + "/../escape",
    ],
)
def test_paths_are_confined(hostile: str) -> None:
    assert inside(confine_path(hostile, WD))


@pytest.mark.parametrize(
    "kept", ["/machine/peripheral/cd0", "/objects/obj0", "node0", "cd0", "", WD + "/ok"]
)
def test_qom_paths_names_and_workdir_files_are_kept(kept: str) -> None:
    assert confine_path(kept, WD) == kept


def test_nested_values_are_walked() -> None:
    args = {
        "driver": "qcow2",
        "file": {"driver": "file", "filename": "/etc/passwd"},
        "backing": ["/x", 1],
    }
    out = confine("blockdev-add", args, WD)
    assert isinstance(out, dict)
    assert inside(out["file"]["filename"])
    assert inside(out["backing"][0])
    assert out["backing"][1] == 1


@pytest.mark.parametrize(
    "uri", ["exec:rm -rf /", "tcp:10.0.0.1:4444", "unix:/run/x.sock", "rdma:1.2.3.4:5"]
)
@pytest.mark.parametrize("command", ["migrate", "migrate-incoming", "migrate-recover"])
def test_migration_uris_become_a_workdir_socket(command: str, uri: str) -> None:
    out = confine(command, {"uri": uri}, WD)
    assert out == {"uri": f"unix:{WD}/migrate.sock"}


@pytest.mark.parametrize(
    ("value", "path_key"),
    [
        ({"type": "unix", "path": "/run/libvirt/sock", "abstract": True}, None),
        ({"type": "unix", "data": {"path": "relative.sock"}}, "data"),
    ],
)
def test_unix_sockets_move_into_the_workdir(value: dict[str, object], path_key: str | None) -> None:
    out = confine("nbd-server-start", {"addr": value}, WD)
    assert isinstance(out, dict)
    addr = out["addr"]
    target = addr[path_key] if path_key else addr
    assert inside(target["path"])
    assert target.get("abstract") in (None, False)


def test_hmp_is_mapped_onto_the_allowlist_deterministically() -> None:
    for line in ["quit", "system_reset", "migrate exec:sh", "info status", ""]:
        out = confine("human-monitor-command", {"command-line": line}, WD)
        assert out["command-line"] in safety.HMP_ALLOWLIST  # type: ignore[index]
        assert out == confine("human-monitor-command", {"command-line": line}, WD)


def test_null_node_sizes_are_capped_and_other_drivers_left_alone() -> None:
    null = {"driver": "null-co", "node-name": "n", "size": 2**62}
    assert confine("blockdev-add", null, WD)["size"] == safety.MAX_WRITTEN  # type: ignore[index]
    small = {"driver": "null-aio", "node-name": "n", "size": 4096}
    assert confine("blockdev-add", small, WD) == small
    qcow2 = {"driver": "qcow2", "node-name": "q", "file": "f0", "size": 2**62}
    assert confine("blockdev-add", qcow2, WD)["size"] == 2**62  # type: ignore[index]


def test_resource_clamps() -> None:
    for size in (2**63, -1, -(2**63)):
        assert (
            confine("pmemsave", {"val": 0, "size": size, "filename": "f"}, WD)["size"]
            == safety.MAX_WRITTEN
        )  # type: ignore[index]
    assert confine("memsave", {"val": 0, "size": 16, "filename": "f"}, WD)["size"] == 16  # type: ignore[index]
    dump = confine("dump-guest-memory", {"paging": False, "protocol": "file:/etc/x"}, WD)
    assert dump == {"paging": False, "protocol": f"file:{WD}/dump", "begin": 0, "length": 4096}
    create = confine(
        "blockdev-create",
        {
            "job-id": "j",
            "options": {"driver": "file", "filename": "f", "size": 1, "preallocation": "full"},
        },
        WD,
    )
    assert create["options"]["preallocation"] == "off"  # type: ignore[index]
    mem = confine(
        "object-add",
        {"qom-type": "memory-backend-ram", "id": "m", "size": 2**40, "prealloc": True},
        WD,
    )
    assert mem["prealloc"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("netdev_add", {"type": "socket", "id": "n", "connect": "10.0.0.1:80"}),
        ("device_add", {"driver": "vfio-pci", "host": "00:01.0"}),
        ("device_add", {"driver": "usb-host"}),
    ],
)
def test_unconfinable_examples_are_rejected(command: str, args: dict[str, object]) -> None:
    with pytest.raises(Unconfinable):
        confine(command, args, WD)


def test_user_netdev_loses_its_spawning_members() -> None:
    out = confine(
        "netdev_add",
        {"type": "user", "id": "u", "guestfwd": [{"str": "cmd:sh"}], "hostfwd": [], "smb": "/"},
        WD,
    )
    assert out == {"type": "user", "id": "u"}


def test_policy_excludes_the_unconfinable_variants() -> None:
    policy = safety.generation_policy()
    assert {"iscsi", "nbd"} & policy.excluded("driver") == {"iscsi"}
    assert {"tap", "inet", "pty", "fuse"} <= policy.excluded("type")
    assert "unix" not in policy.excluded("type")
    assert "socket" not in policy.excluded("type")  # chardev socket is confinable


def test_every_reach_names_an_action_and_reason() -> None:
    for reach in safety.REACHES:
        assert reach.action in {"exclude", "confine", "reject", "skip"}
        assert reach.reason


def test_admit_rejects_excluded_values_that_no_strategy_would_generate() -> None:
    with pytest.raises(Unconfinable, match="type=pty"):
        admit("chardev-change", {"id": "c", "backend": {"type": "pty", "data": {}}}, "/w")
    # What passes is confined like generated arguments are.
    assert admit("screendump", {"filename": "/tmp/image"}, "/w") == confine(
        "screendump", {"filename": "/tmp/image"}, "/w"
    )


def test_migration_channels_exclude_exec_and_rdma_and_confine_the_rest() -> None:
    assert {"exec", "rdma"} <= safety.generation_policy().excluded("transport")
    exec_channel = {"channel-type": "main", "addr": {"transport": "exec", "args": ["touch", "x"]}}
    with pytest.raises(Unconfinable, match="transport=exec"):
        admit("migrate", {"channels": [exec_channel]}, WD)
    channels = [
        {"channel-type": "main", "addr": {"transport": "socket", "type": "unix", "path": "/s"}},
        {"channel-type": "main", "addr": {"transport": "file", "filename": "/tmp/m"}},
    ]
    out = confine("migrate-incoming", {"channels": channels}, WD)
    assert isinstance(out, dict)
    addrs = [channel["addr"] for channel in out["channels"]]
    assert inside(addrs[0]["path"])
    assert inside(addrs[1]["filename"])


def test_new_object_types_that_reach_the_host_are_excluded() -> None:
    assert {"iommufd", "memory-backend-shm"} <= safety.generation_policy().excluded("qom-type")


def test_a_command_nobody_reviewed_is_skipped() -> None:
    # Fail-closed: a newer QEMU's command may reach the host in ways the table can't see.
    assert "reviewed" in (safety.skip_reason("x-some-future-command") or "")
    assert safety.skip_reason("query-version") is None
    assert safety.skip_reason("cxl-inject-poison") is None


def test_nbd_open_timeout_is_bounded_below_the_reply_deadline() -> None:
    # BlockdevOptionsNbd: "the nbd driver will repeat connection attempts until successful
    # or until @open-timeout seconds have elapsed"; 10.0.2 held the monitor 619 s for 619.
    args = {
        "driver": "qcow2",
        "node-name": "n",
        "file": {"driver": "nbd", "server": {"type": "unix", "path": "x"}, "open-timeout": 619},
    }
    out = confine("blockdev-add", args, "/w")
    assert isinstance(out, dict)
    assert out["file"]["open-timeout"] == safety.MAX_OPEN_TIMEOUT
    kept = {**args, "file": {**args["file"], "open-timeout": 0}}  # type: ignore[dict-item]
    assert confine("blockdev-add", kept, "/w")["file"]["open-timeout"] == 0  # type: ignore[index]


def test_a_socket_chardev_server_does_not_wait_for_its_first_client() -> None:
    # ChardevSocket: "@wait: wait for incoming connection on server sockets"; 7.2 prints
    # "QEMU waiting for connection on: …" and its monitor answers nothing until a client
    # comes, which none does.
    data = {"addr": {"type": "unix", "data": {"path": "x"}}, "wait": True}
    args = {"id": "c", "backend": {"type": "socket", "data": data}}
    out = confine("chardev-add", args, "/w")
    assert isinstance(out, dict)
    assert out["backend"]["data"]["wait"] is False
    unwaited = {**args, "backend": {"type": "socket", "data": {**data, "wait": False}}}
    assert confine("chardev-add", unwaited, "/w")["backend"]["data"]["wait"] is False  # type: ignore[index]
    # a "wait" beside no socket address is left alone
    assert confine("x-other", {"wait": True}, "/w") == {"wait": True}
