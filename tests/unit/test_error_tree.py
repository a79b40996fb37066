"""One exception root with three branches: whose problem it is decides the exit code."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import conformance
import strategies
from conformance.docs.model import DocError
from conformance.drive.doc_replay import NotReplayable
from conformance.drive.exchange import Dropped
from conformance.errors import (
    EXIT_FINDINGS,
    EXIT_HARNESS,
    EXIT_USAGE,
    CannotStart,
    HarnessError,
    QemuMisbehaviour,
    QmpcError,
    SetupError,
)
from conformance.findings.reproducer import ReproducerError
from conformance.machine.instance import EventMissing, QemuGone
from conformance.machine.process import NoSetpriv, Unreapable
from conformance.oracle.failure import Failure
from conformance.qmp.deadline import DeadlineExceeded
from conformance.qmp.session import NoGreeting
from conformance.qmp.transcript import TranscriptError
from conformance.qmp.transport import Disconnected
from conformance.qmp.wirejson import StrictJSONError
from conformance.spec.errors import SchemaError
from strategies.safety import Unconfinable

BRANCHES: dict[type[QmpcError], tuple[type[BaseException], ...]] = {
    SetupError: (CannotStart, NoSetpriv, DocError, SchemaError, TranscriptError, ReproducerError),
    HarnessError: (Unreapable,),
    QemuMisbehaviour: (
        QemuGone,
        EventMissing,
        DeadlineExceeded,
        Disconnected,
        NoGreeting,
        StrictJSONError,
        Failure,
    ),
}
#: "Can't be tested here": caught where raised and turned into a skip (or, for a
#: sweep's value, an exclusion).
SIGNALS = (NotReplayable, Unconfinable, Dropped)


@pytest.mark.parametrize("branch", list(BRANCHES), ids=lambda b: b.__name__)
def test_each_class_is_in_its_branch_only(branch: type[QmpcError]) -> None:
    for cls in BRANCHES[branch]:
        assert issubclass(cls, branch), cls
        others = [b for b in BRANCHES if b is not branch and issubclass(cls, b)]
        assert others == [], cls


def test_branches_carry_their_exit_codes() -> None:
    assert SetupError.exit_code == EXIT_USAGE
    assert HarnessError.exit_code == EXIT_HARNESS
    assert QemuMisbehaviour.exit_code == EXIT_FINDINGS


def test_signals_sit_under_the_root_in_no_branch() -> None:
    for cls in SIGNALS:
        assert issubclass(cls, QmpcError)
        assert not any(issubclass(cls, b) for b in BRANCHES), cls


def test_every_public_exception_has_the_root() -> None:
    """Every exception class the packages define (the test modules aside), by import."""
    found = set()
    for package in (conformance, strategies):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.startswith("conformance.suite"):
                continue
            module = importlib.import_module(info.name)
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(cls, Exception)
                    and cls.__module__ == module.__name__
                    and not name.startswith("_")
                ):
                    found.add(cls)
    assert found, "no exception classes found: the walk is broken"
    assert sorted(c.__qualname__ for c in found if not issubclass(c, QmpcError)) == []
