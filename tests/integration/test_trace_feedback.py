"""Trace-event feedback on the real binary: its events, crediting a command with what
it reached, and `fuzz` showing coverage and keeping its corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conformance.feedback import corpus
from conformance.feedback.credit import Coverage
from conformance.machine.cache import BinaryCache
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.machine.trace import collect
from conformance.machine.trace_events import NOOP_COMMANDS, trace_events
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu


def test_the_binary_lists_its_events_and_the_noop_ones_are_left_out(
    qemu_binary: str, tmp_path: Path
) -> None:
    found = trace_events(qemu_binary, workdir_base=str(tmp_path))
    assert not found.blind, found.blind
    assert len(found.events) > 1000  # about 4,200 on 7.2, 5,200 on 10.0.2
    for command in NOOP_COMMANDS:
        name = command.replace("-", "_")
        assert {f"qmp_enter_{name}", f"qmp_exit_{name}"} <= found.excluded
    assert "monitor_qmp_cmd_in_band" in found.excluded  # fires for every command
    assert "qmp_enter_query_name" in found.recorded
    assert found.excluded < found.events
    # Cached by the binary's digest: the second call starts no QEMU.
    cache = BinaryCache(tmp_path / "cache")
    assert trace_events(qemu_binary, cache=cache, workdir_base=str(tmp_path)) == found
    assert trace_events(qemu_binary, cache=cache, workdir_base="/nonexistent") == found


def test_a_binary_named_bare_is_found_on_path(
    qemu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `run` without --qemu names `qemu-system-x86_64`: the cache key is its file's.
    monkeypatch.setenv("PATH", str(Path(qemu_binary).parent), prepend=":")
    cache = BinaryCache(tmp_path / "cache")
    found = trace_events(Path(qemu_binary).name, cache=cache, workdir_base=str(tmp_path))
    assert found == trace_events(qemu_binary, cache=cache, workdir_base="/nonexistent")


def test_a_command_is_credited_with_the_events_it_reached(qemu_binary: str, tmp_path: Path) -> None:
    found = trace_events(qemu_binary, workdir_base=str(tmp_path))
    config = LaunchConfig(qemu_binary, "none", workdir_base=str(tmp_path), trace=found.setup)
    coverage = Coverage(found.recorded)
    collect()  # whatever came before: the probe's QEMU
    with QemuInstance(config) as inst:
        assert inst.trace_log is not None
        start = coverage.credit_logged("(nothing)")
        assert start.events, "start-up logs events"
        assert not [p for p in start.pairs if p[0] == "(nothing)"], "start-up is no command's"
        inst.execute("query-name")
        inst.execute("query-status")  # left out: nothing of it is credited
        novelty = coverage.credit_logged("query-name")
        assert ("query-name", "qmp_enter_query_name") in novelty.pairs
        assert ("query-name", "qmp_exit_query_name") in novelty.pairs
        assert not {e for _, e in novelty.pairs} & found.excluded
        inst.execute("query-name")
        assert not coverage.credit_logged("query-name").pairs, "nothing new the second time"
        inst.execute("qom-list", {"path": "/machine"})
        workdir = inst.workdir
    assert workdir is not None
    assert not workdir.exists()
    # Read at close, before the workdir went.
    assert ("qom-list", "qmp_enter_qom_list") in coverage.credit_logged("qom-list").pairs


def test_an_observer_credits_each_answered_command_and_the_quit_apart(
    qemu_binary: str, tmp_path: Path
) -> None:
    # What the fuzzer does for a state machine's QEMUs: credit each command as its
    # reply comes in, and what closing QEMU logged to no command.
    found = trace_events(qemu_binary, workdir_base=str(tmp_path))
    config = LaunchConfig(qemu_binary, "none", workdir_base=str(tmp_path), trace=found.setup)
    coverage = Coverage(found.recorded)
    collect()
    answered: list[str | None] = []

    def credit(command: str | None) -> None:
        answered.append(command)
        coverage.credit_logged(command or "(quit)")

    with QemuInstance(config) as inst:
        coverage.credit_logged("(start)")
        inst.answered = credit
        inst.execute("query-name")
        inst.execute("qom-list", {"path": "/machine"})
    assert answered == ["query-name", "qom-list", None]
    by_command: dict[str, set[str]] = {}
    for command, event in coverage.pairs:
        by_command.setdefault(command, set()).add(event)
    assert {"qmp_enter_query_name", "qmp_exit_query_name"} <= by_command["query-name"]
    assert {"qmp_enter_qom_list", "qmp_exit_qom_list"} <= by_command["qom-list"]
    assert not {e for e in by_command["query-name"] if "qom_list" in e}
    assert not {e for e in by_command["qom-list"] if "query_name" in e}
    assert "qmp_enter_quit" in by_command["(quit)"]
    assert not {e for c, e in coverage.pairs if c != "(quit)" and e.endswith("_quit")}


def test_storage_daemon_runs_blind_and_says_why(tmp_path: Path) -> None:
    daemon = shutil.which("qemu-storage-daemon")
    if daemon is None:
        pytest.skip("qemu-storage-daemon is not installed (apt-get install qemu-utils)")
    found = trace_events(daemon, workdir_base=str(tmp_path))
    assert found.setup is None
    assert "blind" in found.describe()
    assert "-D" in found.blind


def test_fuzz_shows_coverage_keeps_a_corpus_and_replays_it(
    qemu_binary: str, tmp_path: Path
) -> None:
    (tmp_path / "tmp").mkdir()
    env = {"TMPDIR": str(tmp_path / "tmp")}
    reports = tmp_path / "reports"
    args = ("fuzz", "--qemu", qemu_binary, "--workers", "1", "--reports", str(reports))
    done = cli(*args, "--time", "15s", "--seed", "3", env=env, timeout=150)
    out = done.stdout
    assert done.returncode in (0, 1), out + done.stderr
    assert "trace events recorded" in out, out
    assert "; guided" in out, out
    progress = [line for line in out.splitlines() if line.startswith("0:")]
    assert progress
    assert "trace events " in progress[-1]
    assert "reached per subsystem prefix:" in out
    assert " qmp " in out.split("reached per subsystem prefix:")[1].replace("\n", " ")
    entries, note = corpus.load(corpus.corpus_path(reports))
    assert not note
    assert entries, out
    coverage = json.loads((reports / "fuzz-coverage.json").read_text())
    assert coverage["command_pairs"] > 0
    assert {e.command for e in entries} <= {c for c, _ in coverage["pairs"]}
    again = cli(*args, "--time", "5s", "--seed", "4", env=env, timeout=150)
    assert again.returncode in (0, 1), again.stdout + again.stderr
    assert f"replaying {len(entries)} corpus inputs first" in again.stdout
    after, _ = corpus.load(corpus.corpus_path(reports))
    assert after[: len(entries)] == entries  # kept, new ones after them
    blind = cli(*args, "--time", "5s", "--no-guide", env=env, timeout=150)
    assert "recorded, not steering (--no-guide)" in blind.stdout, blind.stdout
    assert "replaying" not in blind.stdout
