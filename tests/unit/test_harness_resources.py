"""The harness's own resources are never the target of a generated command (issue 18).

A 10-minute fuzz on 7.2 reported a "hang" of ``yank`` that was the suite yanking its own
QMP chardev ``qmp``: the harvest offered it (``query-chardev`` lists it). These tests
pin the two fences, the pools (nothing harvested names the harness) and the host-safety
policy (nothing sent names it, whatever drew it), by the names the launcher uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.findings.reproducer import Outcome, Reproducer, ReproducerError
from conformance.machine.harness import (
    harness_names,
    monitor_args,
    monitor_chardev,
    monitor_socket,
    names_harness_resource,
)
from conformance.oracle.failure import FindingKind
from conformance.spec import Schema
from conformance.spec.introspect import load_schema_file
from strategies import arguments
from strategies.pools import KINDS, Pools
from strategies.safety import Unconfinable, admit, confine, generation_policy

WD = "/tmp/qmpc-run-x/qemu-x86_64-y"
#: Every name the launcher gives a monitor of an instance with three of them.
OWN = [
    *(monitor_chardev(n) for n in range(3)),
    *(f"/chardevs/{monitor_chardev(n)}" for n in range(3)),
    *(monitor_socket(n) for n in range(3)),
    f"{WD}/{monitor_socket(0)}",
]
#: The commands that remove, yank, replace or reuse a chardev, or remove a device or
#: netdev, by an id a generated value gives.
TARGETING = (
    "yank",
    "chardev-remove",
    "chardev-change",
    "chardev-send-break",
    "device_del",
    "netdev_del",
    "object-del",
    "qom-set",
)


def test_the_launcher_and_the_fence_agree_on_the_names() -> None:
    # The ids in the argv the launcher builds are the ones the fence refuses.
    for number in range(3):
        argv = monitor_args(number, "socket", "fd=5")
        assert f"id={monitor_chardev(number)}" in argv[1]
        assert names_harness_resource(monitor_chardev(number))
        assert names_harness_resource(monitor_socket(number))


@pytest.mark.parametrize(
    "other",
    [
        "qmp0",
        "qmp01",
        "qmpx",
        "xqmp",
        "/chardevs/qmpx",
        "/chardevs/serial0",
        "qmp.socket",
        "chr0",
        "/machine/peripheral/qmp-dev",
        "compat_monitor0",
    ],
)
def test_other_names_are_not_the_harness(other: str) -> None:
    assert not names_harness_resource(other)


@pytest.mark.parametrize("own", OWN)
def test_pools_never_hold_a_harness_name(own: str) -> None:
    pools = Pools()
    for kind in KINDS:
        pools.extend(kind, ["chr0", own])
        pools.add(kind, own)
        assert list(pools.values(kind)) == ["chr0"]


@pytest.mark.parametrize(
    ("command", "arguments_"),
    [
        ("yank", {"instances": [{"type": "chardev", "id": "qmp"}]}),
        ("chardev-remove", {"id": "qmp"}),
        ("chardev-change", {"id": "qmp1", "backend": {"type": "null", "data": {}}}),
        ("chardev-send-break", {"id": "qmp"}),
        ("device_del", {"id": "qmp"}),
        ("netdev_del", {"id": "qmp"}),
        ("qom-set", {"path": "/chardevs/qmp", "property": "x", "value": 1}),
        (
            "chardev-add",
            {
                "id": "c0",
                "backend": {
                    "type": "socket",
                    "data": {
                        "addr": {"type": "unix", "data": {"path": f"{WD}/qmp.sock"}},
                        "server": True,
                    },
                },
            },
        ),
        ("device_add", {"driver": "virtio-serial-port", "id": "d0", "chardev": "qmp"}),
    ],
)
def test_confinement_refuses_what_names_the_harness(command: str, arguments_: object) -> None:
    with pytest.raises(Unconfinable, match="harness"):
        confine(command, arguments_, WD)
    with pytest.raises(Unconfinable):
        admit(command, arguments_, WD)


class _Leaky(Pools):
    """Pools that hold nothing but the harness's names, as if a harvest had let them
    through: the policy must still refuse every draw of them."""

    def values(self, kind: str) -> Sequence[str]:
        return tuple(OWN)


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


@pytest.mark.parametrize("command", TARGETING)
def test_generation_never_sends_a_harness_name(command: str, schema: Schema) -> None:
    drawn_own: list[object] = []

    @settings(
        max_examples=60, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        drawn = data.draw(arguments(schema, command, pools=_Leaky(), policy=generation_policy()))
        if harness_names(drawn):
            drawn_own.append(drawn)
        try:
            sent = confine(command, drawn, WD)
        except Unconfinable:
            return
        assert not harness_names(sent), sent

    check()
    # The leaky pools did put the harness's names into the draws: the test meant something.
    assert drawn_own


def test_a_reproducer_aimed_at_the_harness_is_not_one() -> None:
    # Issue 18's reproducer: replay (chardev qmp, a socket) and its one-liner (a stdio
    # monitor, which registers no yank instance) can't agree on it, so it doesn't load.
    yank = b'{"execute":"yank","arguments":{"instances":[{"type":"chardev","id":"qmp"}]}}'
    rep = Reproducer(
        signature="hang | yank | no reply before the deadline",
        kind=FindingKind.HANG,
        command="yank",
        title="hang",
        citation="",
        profile="none",
        messages=(b'{"execute":"qmp_capabilities"}', yank),
        expected=Outcome("hang", 1),
    )
    with pytest.raises(ReproducerError, match=r"line 3: names the harness's own monitor \(qmp\)"):
        Reproducer.from_jsonl(rep.to_jsonl())
    ok = rep.with_messages([rep.messages[0], yank.replace(b'"qmp"', b'"chr0"')], 1)
    assert Reproducer.from_jsonl(ok.to_jsonl()) == ok
