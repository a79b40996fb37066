"""The resource state machine's model: its predictions, without a QEMU.

The machine (conformance/drive/resources.py) compares these predictions with
a real QEMU; here they are checked against what the doc sentences they cite say.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import conformance.drive.resources as machine
from conformance.behaviour.rules.backup import SAME
from conformance.behaviour.rules.block import DEL
from conformance.spec import load_schema_file
from strategies.pools import KINDS

V72 = (7, 2, 0)


def model_with_job(status: str, *, unsure: bool = False) -> machine.Model:
    """A model with nodes n1 and n2 (not the medium) and job j1 copying n1 to n2."""
    model = machine.Model(nodes={machine.NULL0: {}, "n1": {}, "n2": {}})
    model.known_nodes |= {"n1", "n2"}
    model.jobs["j1"] = machine.Job(status, ("n1", "n2"))
    model.known_jobs.add("j1")
    if unsure:
        model.unsure.add("j1")
    return model


# -- blockdev-del ------------------------------------------------------------------------


def test_a_free_node_can_be_deleted() -> None:
    model = model_with_job("running")
    model.nodes["n3"] = {}
    expect = model.delete_node("n3")
    assert (expect.ok, expect.either, expect.citation) == (True, False, DEL)


@pytest.mark.parametrize("status", ["running", "pending"])
@pytest.mark.parametrize("node", ["n1", "n2"])
def test_a_node_a_job_uses_is_refused_until_the_job_concludes(status: str, node: str) -> None:
    expect = model_with_job(status).delete_node(node)
    assert (expect.ok, expect.either) == (False, False)
    assert "job 'j1'" in expect.why


def test_a_concluded_jobs_nodes_are_left_open() -> None:
    # "The job has finished all work", but whether it holds its nodes until dismissed
    # the doc doesn't say (QEMU 7.2 lets them go at once).
    expect = model_with_job("concluded").delete_node("n1")
    assert (expect.ok, expect.either) == (True, True)


def test_the_medium_is_refused_and_a_missing_node_too() -> None:
    model = machine.Model()
    assert not model.delete_node(machine.NULL0).ok
    assert not model.delete_node("n9").ok
    assert not model.delete_node("n9").either


def test_a_job_a_generated_command_used_makes_its_nodes_unsure() -> None:
    expect = model_with_job("running", unsure=True).delete_node("n1")
    assert expect.either
    assert "generated command" in expect.why


# -- blockdev-backup -----------------------------------------------------------------------


def test_a_backup_between_free_nodes_succeeds() -> None:
    model = model_with_job("running")
    model.nodes |= {"n3": {}, "n4": {}}
    expect = model.backup("j2", "n3", "n4")
    assert (expect.ok, expect.either) == (True, False)


def test_a_job_id_in_use_is_refused_while_the_job_exists() -> None:
    model = model_with_job("concluded")
    model.nodes |= {"n3": {}, "n4": {}}
    expect = model.backup("j1", "n3", "n4")
    assert (expect.ok, expect.either, expect.citation) == (False, False, machine.JOB_ID)


def test_a_backup_onto_itself_or_from_a_missing_node_is_refused() -> None:
    model = model_with_job("concluded")
    assert model.backup("j2", "n1", "n1").citation == SAME
    assert not model.backup("j2", "n1", "n1").ok
    missing = model.backup("j2", "n9", "n1")
    assert (missing.ok, missing.either) == (False, False)


def test_a_backup_touching_a_node_in_use_is_left_open() -> None:
    model = model_with_job("running")
    model.nodes["n3"] = {}
    assert model.backup("j2", "n1", "n3").either
    assert model.backup("j2", "n3", "n2").either


# -- job verbs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verb", "accepted"),
    [
        ("running", "cancel", True),
        ("running", "dismiss", False),
        ("running", "finalize", False),
        ("pending", "cancel", True),
        ("pending", "finalize", True),
        ("pending", "dismiss", False),
        ("concluded", "dismiss", True),
        ("concluded", "cancel", False),
        ("concluded", "finalize", False),
    ],
)
def test_a_verb_follows_the_job_verb_table(status: str, verb: str, accepted: bool) -> None:
    expect = model_with_job(status).job_verb("j1", verb, V72)
    assert (expect.ok, expect.either) == (accepted, False)
    assert expect.citation == machine.VERB_DOES[verb]


def test_a_verb_on_a_missing_job_is_refused_and_on_an_unsure_one_left_open() -> None:
    assert not machine.Model().job_verb("j9", "dismiss", V72).ok
    assert model_with_job("running", unsure=True).job_verb("j1", "dismiss", V72).either


# -- blockdev-insert-medium ----------------------------------------------------------------


def test_inserting_needs_an_open_empty_tray_and_a_node() -> None:
    model = model_with_job("concluded")
    assert not model.insert_medium("n1").ok  # the tray is closed
    model.tray_open = True
    assert not model.insert_medium("n1").ok  # null0 is in it
    model.inserted = None
    assert not model.insert_medium("n9").ok
    assert model.insert_medium(machine.NULL0).ok
    assert not model.insert_medium(machine.NULL0).either


def test_inserting_a_node_a_job_uses_is_left_open() -> None:
    model = model_with_job("running")
    model.tray_open, model.inserted = True, None
    assert model.insert_medium("n1").either


# -- generated commands --------------------------------------------------------------------


def test_mentioned_finds_names_and_qom_path_components() -> None:
    arguments = {
        "id": "/machine/peripheral/dev3",
        "actions": [{"type": "x", "data": {"node": "n1", "name": "b0"}}],
        "other": ["chr2", 5, None],
    }
    names = {"dev3", "n1", "chr2", "n2", "machine"}
    assert machine.mentioned(arguments, names) == {"dev3", "n1", "chr2", "machine"}


def test_pools_hold_the_runs_names_sorted() -> None:
    model = model_with_job("running")
    model.known_devices.add("dev5")
    contents = dict(machine.pool_contents(model))
    assert set(contents) <= set(KINDS)
    assert contents["node-name"] == ("n1", "n2", "null0")  # never "nosuch"
    assert contents["job-id"] == ("j1",)
    assert contents["device-id"] == ("cd0", "dev5", "xhci")
    assert "/machine/peripheral/dev5" in contents["qom-path"]
    assert all(list(v) == sorted(v) for v in contents.values())


def test_generated_commands_name_resources_and_leave_lifecycle_out(schema_72_x86: Path) -> None:
    schema = load_schema_file(schema_72_x86)
    chosen = machine.referencing_commands(schema)
    assert list(chosen) == sorted(chosen)
    for command in ("blockdev-del", "device_del", "object-del", "job-dismiss", "chardev-remove"):
        assert command in chosen
    # Nested: transaction actions name nodes inside their data.
    assert "transaction" in chosen
    for command in ("quit", "stop", "cont", "system_reset", "query-status", "query-version"):
        assert command not in chosen


# -- hedging -------------------------------------------------------------------------------


def test_hedged_keeps_the_prediction_and_adds_the_reason() -> None:
    expect = machine.Expect(False, "no node 'n9'", DEL)
    assert machine.hedged(expect, None) is expect
    open_ = machine.hedged(expect, "a generated command used 'n9'")
    assert (open_.ok, open_.either) == (False, True)
    assert open_.why == "no node 'n9'; but a generated command used 'n9'"


# -- transactions -----------------------------------------------------------------------


def _draw(
    kind_index: int = 0,
    ref: tuple[str, str] = ("n1", "b0"),
    source: str = "n1",
    target: str = "n2",
    other: str = "b1",
    mode: str = "concluded",
    flag: bool = False,
) -> machine.ActionDraw:
    return (kind_index, ref, source, target, other, mode, flag)


def _plan(
    model: machine.Model, actions: list[tuple[str, machine.ActionDraw]], *, grouped: bool = False
) -> tuple[machine.TransactionPlan, list[dict[str, object]]]:
    plan = machine.TransactionPlan(model, grouped)
    sent = [
        machine.plan_action(plan, number, kind, draw, f"t{number}")
        for number, (kind, draw) in enumerate(actions, start=1)
    ]
    return plan, sent


def test_every_action_kind_of_the_binaries_is_planned(schema_72_x86: Path) -> None:
    from conformance.behaviour.rules.transaction import transaction_kinds

    kinds = transaction_kinds(load_schema_file(schema_72_x86))
    assert kinds == machine.PLANNED_ACTIONS


def test_bitmap_actions_take_effect_in_order_on_the_copy() -> None:
    model = machine.Model(nodes={"n1": {}})
    plan, sent = _plan(
        model,
        [
            ("block-dirty-bitmap-add", _draw(flag=True)),
            ("block-dirty-bitmap-enable", _draw()),
            ("block-dirty-bitmap-add", _draw(ref=("n1", "b1"))),
            ("block-dirty-bitmap-merge", _draw(ref=("n1", "b0"), other="b1")),
        ],
    )
    expect = plan.expect()
    assert (expect.ok, expect.either, expect.citation) == (True, False, machine.ATOMIC)
    assert plan.model.nodes == {"n1": {"b0": True, "b1": True}}
    assert model.nodes == {"n1": {"b0": True, "b1": True}}  # the plan's own copy is the caller's
    assert sent[0] == {
        "type": "block-dirty-bitmap-add",
        "data": {"node": "n1", "name": "b0", "disabled": True},
    }
    assert sent[3]["data"] == {"node": "n1", "target": "b0", "bitmaps": ["b1"]}


def test_one_failing_action_fails_the_group() -> None:
    plan, _ = _plan(
        machine.Model(nodes={"n1": {}}),
        [
            ("block-dirty-bitmap-add", _draw()),
            ("block-dirty-bitmap-merge", _draw(other="b2")),
        ],
    )
    expect = plan.expect()
    assert (expect.ok, expect.either, expect.citation) == (False, False, machine.ATOMIC)
    assert "action 2 would fail" in expect.why
    plan, _ = _plan(machine.Model(nodes={"n1": {}}), [("abort", _draw())])
    assert plan.expect().citation is machine.ABORT


def test_re_adding_a_removed_bitmap_is_left_open() -> None:
    plan, _ = _plan(
        machine.Model(nodes={"n1": {"b0": True}}),
        [("block-dirty-bitmap-remove", _draw()), ("block-dirty-bitmap-add", _draw())],
    )
    expect = plan.expect()
    assert (expect.ok, expect.either) == (True, True)


def test_backups_start_jobs_that_rest_by_mode_or_by_group() -> None:
    model = machine.Model(nodes={"n1": {}, "n2": {}, "n3": {}, "n4": {}})
    actions = [
        ("blockdev-backup", _draw(mode="pending")),
        ("drive-backup", _draw(source="n3", mode="concluded")),
    ]
    plan, sent = _plan(model, actions)
    assert plan.expect().ok
    assert [(j, s) for j, s, _ in plan.rests()] == [("t1", "pending"), ("t2", "concluded")]
    assert sent[1]["data"] == {
        "job-id": "t2",
        "device": "n3",
        "sync": "full",
        "auto-dismiss": False,
        "target": "t2.qcow2",
        "format": "qcow2",
    }
    model = machine.Model(nodes={"n1": {}, "n2": {}, "n3": {}, "n4": {}})
    plan, _ = _plan(model, actions, grouped=True)
    expect = plan.expect()
    assert (expect.ok, expect.either, expect.citation) == (True, False, machine.GROUPED)
    # One waits for finalization: the group waits with it.
    assert [(j, s) for j, s, _ in plan.rests()] == [("t1", "pending"), ("t2", "pending")]
    model = machine.Model(nodes={"n1": {}, "n2": {}, "n3": {}, "n4": {}})
    plan, _ = _plan(model, [("blockdev-backup", _draw(mode="none")), actions[1]], grouped=True)
    assert [(j, s) for j, s, _ in plan.rests()] == [("t1", "running"), ("t2", "waiting")]


def test_a_job_id_reused_in_the_group_fails_it() -> None:
    model = machine.Model(nodes={"n1": {}, "n2": {}, "n3": {}})
    plan, _ = _plan(
        model,
        [("drive-backup", _draw(source="n3")), ("blockdev-backup", _draw(flag=True))],
    )
    expect = plan.expect()
    assert not expect.ok
    assert "job 't1' exists" in expect.why


def test_a_node_two_jobs_of_the_group_use_is_left_open() -> None:
    model = machine.Model(nodes={"n1": {}, "n2": {}})
    plan, _ = _plan(model, [("blockdev-backup", _draw()), ("drive-backup", _draw())])
    expect = plan.expect()
    assert (expect.ok, expect.either) == (True, True)


def test_grouped_completion_may_be_rejected_by_actions_without_jobs() -> None:
    plan, _ = _plan(
        machine.Model(nodes={"n1": {}}), [("block-dirty-bitmap-add", _draw())], grouped=True
    )
    expect = plan.expect()
    assert (expect.ok, expect.either) == (True, True)
    assert "may reject grouped completion" in expect.why


def test_an_external_snapshot_replaces_the_medium_and_loses_track_of_both_nodes() -> None:
    model = machine.Model()
    plan, sent = _plan(model, [("blockdev-snapshot-sync", _draw(ref=(machine.NULL0, "b0")))])
    assert plan.expect().ok
    assert plan.model.inserted == "t1"
    assert {machine.NULL0, "t1"} <= plan.model.unsure
    assert plan.known_nodes == {"t1"}
    assert sent[0]["data"] == {
        "node-name": machine.NULL0,
        "snapshot-file": "t1.qcow2",
        "snapshot-node-name": "t1",
        "format": "qcow2",
    }
    missing, _ = _plan(machine.Model(), [("blockdev-snapshot-sync", _draw(ref=("nosuch", "b0")))])
    assert missing.expect().citation is machine.ATOMIC
    assert not missing.expect().ok


def test_an_internal_snapshot_of_a_null_co_node_fails() -> None:
    plan, _ = _plan(machine.Model(nodes={"n1": {}}), [("blockdev-snapshot-internal-sync", _draw())])
    expect = plan.expect()
    assert (expect.ok, expect.either) == (False, False)
    assert "null-co" in expect.why
    unsure = machine.Model(nodes={"n1": {}}, unsure={"n1"})
    plan, _ = _plan(unsure, [("blockdev-snapshot-internal-sync", _draw())])
    assert plan.expect().either


def test_cancelling_one_job_of_a_group_reaches_its_peers() -> None:
    model = machine.Model(nodes={"n1": {}, "n2": {}, "n3": {}})
    model.jobs = {
        "a": machine.Job("running", ("n1",), "g"),
        "b": machine.Job("waiting", ("n2",), "g"),
        "c": machine.Job("concluded", ("n3",), "g"),
        "d": machine.Job("running", ("n3",)),
    }
    assert model.group_peers("a") == ["b"]
    assert model.group_peers("d") == []
