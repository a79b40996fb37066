"""Set-ups (conformance.feedback.setups): which successes are kept, what they are
seen to create, and which one a command's chunk starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.drive.harvest import with_created
from conformance.feedback.setups import (
    LONGEST,
    PER_COMMAND,
    SHARE,
    Setups,
    Step,
    creates,
    refers_to,
)
from conformance.jsonfile import read_json
from conformance.spec import Schema, schema_from_reply
from strategies.pools import Pools

NODE: Step = ("blockdev-add", {"driver": "null-co", "node-name": "n1"})
CHARDEV: Step = ("chardev-add", {"id": "c1", "backend": {"type": "null", "data": {}}})
NMI: Step = ("inject-nmi", {})


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return schema_from_reply(read_json(schema_72_x86))


def test_a_step_creates_the_kinds_its_string_members_name() -> None:
    assert creates(NODE) == {"node-name", "type-name"}  # node-name, and driver a type
    assert "chardev-id" in creates(CHARDEV)
    assert creates(NMI) == frozenset()


def test_commands_refer_to_the_kinds_their_members_name(schema: Schema) -> None:
    assert "node-name" in refers_to(schema, "block_resize")
    assert "job-id" in refers_to(schema, "job-pause")
    assert "chardev-id" in refers_to(schema, "chardev-remove")
    assert refers_to(schema, "query-status") == frozenset()


def test_successes_that_name_nothing_or_are_too_long_are_not_kept() -> None:
    setups = Setups(seed=1)
    setups.add((), NMI)
    assert len(setups) == 0
    setups.add((NODE,) * LONGEST, CHARDEV)
    assert len(setups) == 0
    setups.add((), NODE)
    setups.add((), NODE)  # the same sequence once
    setups.add((NODE,), CHARDEV)
    assert len(setups) == 2
    for n in range(PER_COMMAND + 3):
        setups.add((), ("blockdev-add", {"driver": "null-co", "node-name": f"m{n}"}))
    assert len(setups.sequences["blockdev-add"]) == PER_COMMAND


def test_a_replayed_set_up_that_created_nothing_is_dropped() -> None:
    setups = Setups(seed=1)
    setups.add((), NODE)
    setups.add((), CHARDEV)
    setups.created((NODE,), frozenset())
    setups.created((CHARDEV,), frozenset({"chardev-id"}))
    assert list(setups.sequences["blockdev-add"]) == []
    (kept,) = setups.sequences["chardev-add"].values()
    assert kept.kinds == frozenset({"chardev-id"})


def test_picks_favour_set_ups_creating_what_the_command_names() -> None:
    setups = Setups(seed=3)
    assert setups.pick(frozenset({"node-name"})) == ()  # nothing kept yet
    setups.add((), NODE)
    setups.add((), CHARDEV)
    setups.created((NODE,), frozenset({"node-name"}))
    setups.created((CHARDEV,), frozenset({"chardev-id"}))
    picks = [setups.pick(frozenset({"node-name"})) for _ in range(400)]
    started = [p for p in picks if p]
    # About SHARE of the chunks start from a set-up, most of them the relevant one.
    assert 0.5 * 400 * SHARE < len(started) < 1.5 * 400 * SHARE
    assert started.count((NODE,)) > 3 * started.count((CHARDEV,)) > 0


def test_a_chunk_draws_the_created_names_beside_the_others() -> None:
    base, now = Pools(), Pools()
    base.extend("node-name", ["null0"])
    base.extend("qom-path", ["/machine", "/machine/peripheral/cd0"])
    now.extend("node-name", ["null0", "n1"])
    now.extend("qom-path", ["/machine/peripheral/cd0"])
    pools, grew = with_created(base, now)
    assert grew == {"node-name"}
    assert pools.values("node-name") == ("null0", "n1")
    assert pools.values("qom-path") == ("/machine", "/machine/peripheral/cd0")
    assert base.values("node-name") == ("null0",)  # a copy: the base is as it was
