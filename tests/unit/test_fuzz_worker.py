"""A fuzz worker's chunk bookkeeping, without QEMU: what a chunk reports, and when."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.fuzz import worker
from conformance.oracle.failure import Failure, FindingKind, spec


class Box:
    def __init__(self) -> None:
        self.notes: list[worker.Note] = []

    def put(self, note: worker.Note) -> None:
        self.notes.append(note)


@pytest.fixture
def stop() -> threading.Event:
    return threading.Event()


@pytest.fixture
def box() -> Box:
    return Box()


@pytest.fixture
def fuzz_worker(stop: threading.Event, box: Box) -> worker.Worker:
    config = worker.WorkerConfig(0, 1, "qemu-system-x86_64", 0, ("query-status",), "unused")
    return worker.Worker(config, stop, box)  # type: ignore[arg-type]


def failure(n: int) -> Failure:
    return Failure(f"check-{n}", spec("Commands Responses"), "broke", kind=FindingKind.PROTOCOL)


def failing_test(attempt: worker._Attempt, runs: list[int]) -> Callable[[], None]:
    """A chunk test whose every example fails with a check failure of its own."""

    @worker._settings(50)
    @given(st.integers())
    def test(x: int) -> None:
        attempt.check()
        runs.append(x)
        exc = failure(len(runs))
        attempt.failed(exc)
        raise exc

    return test


def found(box: Box) -> list[str]:
    return [str(n.finding["signature"]) for n in box.notes if isinstance(n, worker.Found)]


def test_a_shrunk_failure_is_reported_once(
    fuzz_worker: worker.Worker, stop: threading.Event, box: Box
) -> None:
    attempt = worker._Attempt(stop)  # type: ignore[arg-type]
    runs: list[int] = []
    fuzz_worker._run(failing_test(attempt, runs), "fuzz::t", 7, attempt)
    assert len(runs) > 1, "Hypothesis shrinks"
    (signature,) = found(box)
    assert signature.startswith("protocol-violation | - | check-")


def test_past_the_shrink_budget_the_first_failure_is_reported(
    fuzz_worker: worker.Worker, stop: threading.Event, box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "SHRINK_BUDGET", 0.0)
    attempt = worker._Attempt(stop)  # type: ignore[arg-type]
    runs: list[int] = []
    fuzz_worker._run(failing_test(attempt, runs), "fuzz::t", 7, attempt)
    assert len(runs) == 1, "the budget ends the chunk at the next example"
    assert found(box) == ["protocol-violation | - | check-1 $"]
    assert isinstance(attempt.interrupted, worker._Cut)


def test_a_stop_reports_the_first_failure_then_goes_on_up(
    fuzz_worker: worker.Worker, stop: threading.Event, box: Box
) -> None:
    attempt = worker._Attempt(stop)  # type: ignore[arg-type]
    runs: list[int] = []

    @worker._settings(50)
    @given(st.integers())
    def test(x: int) -> None:
        attempt.check()
        runs.append(x)
        stop.set()  # the parent asks to stop while the chunk shrinks its failure
        exc = failure(len(runs))
        attempt.failed(exc)
        raise exc

    with pytest.raises(worker._Stop):
        fuzz_worker._run(test, "fuzz::t", 7, attempt)
    assert found(box) == ["protocol-violation | - | check-1 $"]


def test_anything_else_is_a_harness_error(
    fuzz_worker: worker.Worker, stop: threading.Event, box: Box
) -> None:
    attempt = worker._Attempt(stop)  # type: ignore[arg-type]

    def test() -> None:
        raise KeyError("our own bug")

    fuzz_worker._run(test, "fuzz::t", 7, attempt)
    (note,) = box.notes
    assert isinstance(note, worker.HarnessError)
    assert note.where == "fuzz::t"
    assert note.summary == "KeyError: 'our own bug'"
    assert "Traceback" in note.text


def test_a_signature_reported_or_known_is_known(
    fuzz_worker: worker.Worker, stop: threading.Event, box: Box
) -> None:
    assert not fuzz_worker._known(failure(1), "fuzz::t")
    fuzz_worker._report(failure(1), "fuzz::t", 7, [])
    assert fuzz_worker._known(failure(1), "fuzz::t")
    assert not fuzz_worker._known(failure(2), "fuzz::t")
    config = worker.WorkerConfig(
        0, 1, "qemu", 0, ("query-status",), "unused", known=frozenset(found(box))
    )
    fresh = worker.Worker(config, stop, Box())  # type: ignore[arg-type]
    assert fresh._known(failure(1), "fuzz::t")


def test_the_engines_are_selectable_and_compiled_is_the_default() -> None:
    config = worker.WorkerConfig(0, 1, "qemu", 0, ("query-status",), "unused")
    assert config.engine == "compiled"
    assert set(worker.ENGINES) == {"compiled", "hypothesis"}
