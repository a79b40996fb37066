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
