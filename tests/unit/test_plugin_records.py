"""The structured results the summary reads survive the trip through user properties."""

from __future__ import annotations

from conformance.plugin.records import POLICY_SKIP, PolicySkip


def test_policy_skip_round_trips_through_a_user_property() -> None:
    skip = PolicySkip("quit", "ends the QEMU: not run with generated arguments: yes")
    name, value = skip.to_property()
    assert name == POLICY_SKIP
    assert PolicySkip.from_property(value) == skip
