"""Deviations end as deviations on the real binary, and findings stay findings.

An id holding U+FFFF (QEMU refuses noncharacters on purpose: util/unicode.c,
check-qjson.c) and a hidden command with C0 80 in a string (QEMU's modified UTF-8) are
listed in the findings index and the matrix as deviations, never as findings; an id of
``10**400``, which QEMU echoes as a bare ``inf``, is still a finding; a command run
from input nested past the limit is a parser differential.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.drive.exchange import ArgumentRun
from conformance.machine.instance import LaunchConfig
from conformance.machine.pool import InstancePool
from conformance.oracle import deviation
from conformance.spec import schema_from_reply, validate_arguments
from strategies import Malformed
from strategies.pools import Pools
from strategies.safety import generation_policy
from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu


def test_deviations_are_reported_and_are_no_findings(qemu_binary: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_suite(
        qemu_binary,
        reports,
        "none",
        "-n",
        "0",
        "-k",
        "test_id_comes_back_equal or overlong-nul-in-string or nested-two-past-limit",
    )
    assert "harness errors: 0" in done.stdout, done.stdout[-3000:] + done.stderr
    index = json.loads((reports / "findings" / "index.json").read_text(encoding="utf-8"))
    deviations = {(d["name"], d["check"]) for d in index["deviations"]}
    assert deviations == {
        ("noncharacter-refused", "ids.echo"),
        ("modified-utf8-nul", "malformed.executed"),
    }, index["deviations"]
    for listed in index["deviations"]:
        assert any("util/unicode.c" in b for b in listed["because"]), listed
        assert any("check-qjson.c" in b for b in listed["because"]), listed
    signatures = {f["signature"] for f in index["findings"]}
    # 1e400 echoed as inf: a finding, whatever the baseline says of it.
    assert (
        "protocol-violation | query-version | output.strict-json $ output=non-json-number"
        in signatures
    ), signatures
    nesting = "parser-differential | query-version | malformed.nesting-resumed $.id case="
    assert any(s.startswith(nesting) for s in signatures), signatures
    # Neither deviation is a finding under any check id.
    assert not any("ids.echo" in s or "malformed.executed" in s for s in signatures)
    assert "deviations: 2" in done.stdout, done.stdout[-3000:]
    assert "## Deviations" in (reports / "findings" / "index.md").read_text(encoding="utf-8")
    matrix = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    assert {d["name"] for d in matrix["deviations"]} == {
        "noncharacter-refused",
        "modified-utf8-nul",
    }
    # Without a baseline the two findings are new: the run fails on them, not on the
    # deviations.
    assert done.returncode == 1, done.stdout[-3000:]


def test_device_add_refusing_ill_typed_arguments_by_hand_is_a_deviation(
    qemu_binary: str, tmp_path: Path
) -> None:
    # device_add is 'gen': false: QEMU walks the bus path before it reads the id, so an
    # id of the wrong type beside a path through a device that isn't there is refused
    # with DeviceNotFound ("Device 'no-such-device' not found"), on 7.2 and 10.0 alike.
    pool = InstancePool(
        lambda p: LaunchConfig(binary=qemu_binary, profile=p, workdir_base=str(tmp_path))
    )
    try:
        schema = schema_from_reply(pool.get("none").execute("query-qmp-schema").value)
        run = ArgumentRun("device_add", schema, Pools(), generation_policy(), pool, "none")
        arguments = {"driver": "usb-kbd", "bus": "/no-such-device/bus", "id": 0.0}
        (violation,) = validate_arguments(schema, "device_add", arguments)
        case = Malformed(violation.rule, violation.path, arguments)
        deviation.take()
        run.send(run.admitted(arguments, case), 1, malformed=case)  # no Failure raised
        assert run.kinds == {"error": 1}
        (seen,) = deviation.take()
        assert (seen.name, seen.check) == ("device-add-bypasses-qapi", "malformed.wrong-type.class")
        assert "DeviceNotFound" in seen.message
        assert any("qapi/qdev.json" in b for b in seen.because)
    finally:
        pool.close()
