"""Harvested-string pools and the strategy that draws from them."""

from __future__ import annotations

import threading

import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from strategies.pools import KINDS, MEMBER_POOLS, Pools, pool_strings

FIRST = settings(max_examples=2000, phases=[Phase.generate], database=None)
# Asserting what examples shrink to: no example database may replay old finds.
SHRUNK = settings(max_examples=2000, phases=[Phase.generate, Phase.shrink], database=None)


def found(strategy: st.SearchStrategy[str], wanted: str) -> bool:
    try:
        find(strategy, lambda s: s == wanted, settings=FIRST)
    except NoSuchExample:
        return False
    return True


def simplest(strategy: st.SearchStrategy[str]) -> str:
    return find(strategy, lambda _: True, settings=SHRUNK)


def test_pools_keep_strings_once_in_harvest_order() -> None:
    pools = Pools()
    pools.extend("node-name", ["b", "a", "b"])
    pools.add("node-name", "c")
    pools.add("node-name", "a")
    assert list(pools.values("node-name")) == ["b", "a", "c"]
    assert pools.values("job-id") == ()
    assert len(pools) == 3


def test_a_full_kind_keeps_its_oldest_strings() -> None:
    pools = Pools(cap=3)
    pools.extend("seen", ["1", "2", "3", "4"])
    pools.add("seen", "5")
    assert list(pools.values("seen")) == ["1", "2", "3"]
    pools.add("qom-path", "/machine")  # the cap is per kind
    assert len(pools) == 4


def test_snapshots_are_unaffected_by_later_harvests() -> None:
    pools = Pools()
    pools.add("machine", "pc")
    before = pools.values("machine")
    pools.add("machine", "q35")
    assert list(before) == ["pc"]
    assert list(pools.values("machine")) == ["pc", "q35"]


def test_bad_kinds_and_values_are_refused() -> None:
    pools = Pools()
    with pytest.raises(ValueError, match="unknown pool kind"):
        pools.add("node", "x")
    with pytest.raises(ValueError, match="unknown pool kind"):
        pools.values("nodes")
    with pytest.raises(TypeError):
        pools.extend("seen", ["ok", 3])  # type: ignore[list-item]
    assert len(pools) == 0  # nothing of a refused batch is kept
    with pytest.raises(ValueError, match="positive"):
        Pools(cap=0)


def test_concurrent_harvests_lose_nothing() -> None:
    pools = Pools(cap=10_000)

    def harvest(prefix: str) -> None:
        for i in range(500):
            pools.add("seen", f"{prefix}{i}")

    threads = [threading.Thread(target=harvest, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pools.values("seen")) == 2000


def test_member_pools_name_only_known_kinds() -> None:
    assert all(kinds and set(kinds) <= set(KINDS) for kinds in MEMBER_POOLS.values())
    assert "node-name" in MEMBER_POOLS["node-name"]
    assert set(MEMBER_POOLS["id"]) >= {"device-id", "object-id", "chardev-id", "job-id"}
    assert MEMBER_POOLS["model.name"] == ("cpu-model",)


def test_pool_strings_shrink_to_the_oldest_matching_string() -> None:
    pools = Pools()
    pools.extend("node-name", ["first", "second"])
    pools.add("device-id", "dev0")
    assert simplest(pool_strings(pools, "node-name")) == "first"


def test_pool_strings_reach_other_pools_and_generic_strings() -> None:
    pools = Pools()
    pools.add("node-name", "disk0")
    pools.add("chardev-id", "serial0")
    strategy = pool_strings(pools, "node-name", fallback=st.just("generic"))
    assert found(strategy, "serial0")
    assert found(strategy, "generic")


def test_pool_strings_fall_back_when_the_pools_are_empty() -> None:
    pools = Pools()
    assert simplest(pool_strings(pools, "node-name")) == ""
    strategy = pool_strings(pools, "no-such-member", fallback=st.just("generic"))
    assert simplest(strategy) == "generic"


def test_pool_strings_read_the_pools_when_drawing() -> None:
    pools = Pools()
    strategy = pool_strings(pools, "job-id")
    pools.add("job-id", "job0")
    assert found(strategy, "job0")


def test_unpooled_members_still_draw_harvested_strings() -> None:
    pools = Pools()
    pools.add("seen", "from-a-reply")
    assert found(pool_strings(pools, "filename"), "from-a-reply")
    assert found(pool_strings(pools, None), "from-a-reply")


def test_a_bus_member_draws_the_machines_bus_names() -> None:
    # device_add's bus: the names of buses, not the QOM paths of a big tree, in which a
    # dozen bus names would hardly ever be drawn.
    pools = Pools()
    pools.extend("qom-path", [f"/machine/unattached/device[{n}]" for n in range(500)])
    pools.extend("bus-id", ["pcie.0", "hp0"])
    assert simplest(pool_strings(pools, "bus")) == "pcie.0"
    assert found(pool_strings(pools, "bus"), "hp0")
