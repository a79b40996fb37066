"""The query rule (conformance/oracle/queries.py): a query without arguments returns, but
for the errors qmp-cmd-test, the QAPI docs or QEMU's source admit."""

from __future__ import annotations

import re

import pytest

from conformance.oracle.failure import Failure, FindingKind
from conformance.oracle.queries import EXPECTED_ERRORS, check_query_returns, is_query
from conformance.qmp.message import parse_message
from conformance.qmp.wirejson import dumps
from conformance.spec.introspect import schema_from_reply

SCHEMA = schema_from_reply(
    [
        {"name": name, "meta-type": "command", "arg-type": "0", "ret-type": ret}
        for name, ret in (
            ("query-balloon", "1"),
            ("query-status", "1"),
            ("stop", "0"),
            ("x-query-profile", "1"),
        )
    ]
    + [
        {"name": "0", "meta-type": "object", "members": []},
        {"name": "1", "meta-type": "object", "members": [{"name": "a", "type": "int"}]},
        {"name": "int", "meta-type": "builtin", "json-type": "int"},
    ]
)


def _error(cls: str) -> bytes:
    return dumps({"error": {"class": cls, "desc": "x"}, "id": 1}) + b"\r\n"


def test_queries_are_what_qmp_cmd_test_picks() -> None:
    assert is_query(SCHEMA, "query-status")
    assert not is_query(SCHEMA, "stop")  # returns an empty object


def test_a_failed_query_is_a_finding() -> None:
    with pytest.raises(Failure) as caught:
        check_query_returns(
            SCHEMA, "query-status", parse_message(_error("GenericError")), (10, 0, 2)
        )
    assert caught.value.kind is FindingKind.BEHAVIOUR
    check_query_returns(SCHEMA, "stop", parse_message(_error("GenericError")), (10, 0, 2))


def test_admitted_classes_and_versions() -> None:
    check_query_returns(
        SCHEMA, "query-balloon", parse_message(_error("DeviceNotActive")), (7, 2, 0)
    )
    with pytest.raises(Failure):
        check_query_returns(
            SCHEMA, "query-balloon", parse_message(_error("GenericError")), (7, 2, 0)
        )
    # 8.0 still had the command and its stub's error; 8.1 has neither.
    for version in ((7, 2, 0), (8, 0, 5)):
        error = parse_message(_error("GenericError"))
        check_query_returns(SCHEMA, "x-query-profile", error, version)
    with pytest.raises(Failure):
        check_query_returns(
            SCHEMA, "x-query-profile", parse_message(_error("GenericError")), (8, 1, 0)
        )


def test_every_entry_cites_its_source() -> None:
    for expected in (e for entries in EXPECTED_ERRORS.values() for e in entries):
        assert expected.why.quote


# A commit id, or the QAPI doc's "Since:", names where a bound came from.
_PROVENANCE = re.compile(r"\b[0-9a-f]{10,40}\b|'[^']+'|Since: \d+\.\d+")


@pytest.mark.parametrize("command", sorted(EXPECTED_ERRORS))
def test_every_version_bound_carries_its_history(command: str) -> None:
    """A bound that isn't open says which release began or ended the behaviour, and the
    commit (or QAPI "Since:") that did: ranges are checked against QEMU's history."""
    for expected in EXPECTED_ERRORS[command]:
        bounds = [v for v in (expected.since, expected.until) if v not in ((0, 0, 0), None)]
        for major, minor, _ in bounds:
            assert f"{major}.{minor}:" in expected.history, (command, expected.history)
        if bounds:
            assert _PROVENANCE.search(expected.history), (command, expected.history)
        else:
            assert not expected.history, (command, "history without a bound")
