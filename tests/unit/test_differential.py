"""Comparing two outcomes of one case: reply kind, error class, return shape, events."""

from __future__ import annotations

from conformance.differential import Observed, compare, shape, shape_differences


def test_shape_merges_array_elements_and_records_types() -> None:
    value = {"a": [{"x": 1}, {"y": "s"}], "b": None}
    assert shape(value) == {
        "$": {"object"},
        "$.a": {"array"},
        "$.a[*]": {"object"},
        "$.a[*].x": {"int"},
        "$.a[*].y": {"string"},
        "$.b": {"null"},
    }


def test_values_lengths_and_order_are_not_differences() -> None:
    a = [{"device": "cd0", "locked": False}, {"device": "fd0", "locked": True}]
    b = [{"locked": True, "device": "x"}]
    assert shape_differences(a, b) == []


def test_an_empty_list_against_a_full_one_is_reported_once() -> None:
    # q35's query-block lists cd0, the none machine's lists nothing: one line, not one
    # per member of the missing elements.
    assert shape_differences([], [{"device": "cd0", "inserted": {"ro": True}}]) == [
        "$[*]: on B only"
    ]


def test_members_on_one_side_and_type_changes() -> None:
    found = shape_differences({"a": 1, "old": 2}, {"a": "1", "new": {"deep": 3}})
    assert found == ["$.a: int vs string", "$.new: on B only", "$.old: on A only"]


def test_long_lists_of_shape_differences_are_cut() -> None:
    found = shape_differences({f"m{i}": i for i in range(6)}, {})
    assert found[-1] == "3 more"
    assert len(found) == 4


def test_odd_member_names_keep_unambiguous_paths() -> None:
    assert shape_differences({"a.b": 1}, {}) == ['$["a.b"]: on A only']


def test_compare_reply_kinds_and_classes() -> None:
    ret = Observed("return", value={})
    assert compare(ret, Observed("error", error_class="CommandNotFound")) == ("reply kind",)
    assert compare(
        Observed("error", error_class="DeviceNotFound"),
        Observed("error", error_class="GenericError"),
    ) == ("error class",)
    assert compare(ret, Observed("return", value={})) == ()


def test_compare_crashes_by_exit_kind_and_detail() -> None:
    abort = Observed("crash", exit_kind="abort", detail="x.c:N: f: Assertion `a' failed.")
    segv = Observed("crash", exit_kind="crash", detail="SIGSEGV")
    assert compare(abort, segv) == ("reply kind",)
    other = Observed("crash", exit_kind="abort", detail="y.c:N: g: Assertion `b' failed.")
    assert compare(abort, other) == (
        "crash detail: x.c:N: f: Assertion `a' failed. vs y.c:N: g: Assertion `b' failed.",
    )
    assert compare(abort, abort) == ()


def test_compare_event_order() -> None:
    a = Observed("return", value={}, events=("DEVICE_TRAY_MOVED", "BLOCK_JOB_COMPLETED"))
    b = Observed("return", value={}, events=("BLOCK_JOB_COMPLETED", "DEVICE_TRAY_MOVED"))
    assert compare(a, b) == (
        "events ['DEVICE_TRAY_MOVED', 'BLOCK_JOB_COMPLETED'] vs "
        "['BLOCK_JOB_COMPLETED', 'DEVICE_TRAY_MOVED']",
    )


def test_labels() -> None:
    assert Observed("error", error_class="GenericError").label() == "error:GenericError"
    assert Observed("crash", exit_kind="abort").label() == "crash:abort"
    assert Observed("hang", exit_kind="hang").label() == "hang"
