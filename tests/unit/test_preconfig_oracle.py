"""The preconfig checks on replies as QEMU 7.2 and 10.0.2 send them (recorded by hand
with `--preconfig` and the one-liner), and on the replies they must reject."""

from __future__ import annotations

import json

import pytest

from conformance.oracle import preconfig as oracle
from conformance.oracle.failure import Failure
from conformance.qmp.message import Message, parse_message


def _msg(value: object) -> Message:
    return parse_message(json.dumps(value).encode() + b"\r\n")


def _refusal(command: str, cls: str = "GenericError") -> Message:
    desc = f"The command '{command}' is permitted only after machine initialization has completed"
    return _msg({"error": {"class": cls, "desc": desc}})


OK = _msg({"return": {}})


def test_a_phase_refusal_names_its_command() -> None:
    assert oracle.phase_refusal(_refusal("query-cpus-fast"), "query-cpus-fast")
    assert not oracle.phase_refusal(_refusal("query-cpus-fast"), "query-version")
    old = "The command 'query-cpus' isn't permitted in 'preconfig' state"
    assert oracle.phase_refusal(
        _msg({"error": {"class": "GenericError", "desc": old}}), "query-cpus"
    )
    assert not oracle.phase_refusal(OK, "query-version")


def test_the_refusal_is_a_generic_error() -> None:
    oracle.check_phase_reply("query-cpus-fast", _refusal("query-cpus-fast"))
    with pytest.raises(Failure, match="CommandNotFound"):
        oracle.check_phase_reply("query-cpus-fast", _refusal("query-cpus-fast", "CommandNotFound"))


def test_pinned_commands() -> None:
    oracle.check_phase_reply("query-commands", _msg({"return": []}))
    with pytest.raises(Failure) as allowed:
        oracle.check_phase_reply("query-commands", _refusal("query-commands"))
    assert allowed.value.check == "preconfig.allowed"
    with pytest.raises(Failure) as forbidden:
        oracle.check_phase_reply("query-cpus-fast", _msg({"return": []}))
    assert forbidden.value.check == "preconfig.forbidden"
    # Any other command may be either: only its refusal's form is judged.
    oracle.check_phase_reply("query-version", _refusal("query-version"))
    oracle.check_phase_reply("query-version", OK)


def test_status_and_leaving_the_phase() -> None:
    assert oracle.preconfig_status((7, 2, 22)) == "prelaunch"
    assert oracle.preconfig_status((5, 2, 0)) == "preconfig"
    held = _msg({"return": {"status": "prelaunch", "singlestep": False, "running": False}})
    oracle.check_status(held, "prelaunch", oracle.STATUS)
    with pytest.raises(Failure):
        oracle.check_status(
            _msg({"return": {"status": "running", "running": True}}), "prelaunch", oracle.STATUS
        )
    oracle.check_answered_after("query-cpus-fast", _msg({"return": []}))
    with pytest.raises(Failure):
        oracle.check_answered_after("query-cpus-fast", _refusal("query-cpus-fast"))
    twice = "The command is permitted only before machine initialization"
    oracle.check_exit_refused(_msg({"error": {"class": "GenericError", "desc": twice}}))
    with pytest.raises(Failure):
        oracle.check_exit_refused(OK)
