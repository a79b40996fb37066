"""allure labels and evidence for conformance results.

Passing results carry labels only; the transcript, QEMU's stderr and the command line
are attached when a result fails, so that reports stay small and the evidence of every
failure is one click away.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import allure

from conformance.findings.record import EVIDENCE_ATTR, Evidence
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.oracle.failure import Failure
from conformance.qmp.transcript import readable
from conformance.spec import Command


def label(
    *,
    epic: str,
    feature: str,
    story: str,
    tags: tuple[str, ...] = (),
    citation: str = "",
    commands: tuple[str, ...] = (),
) -> None:
    """Label the current result; `commands` names every command a result speaks for
    beyond its feature (a state machine drives many), for the matrix."""
    allure.dynamic.epic(epic)
    allure.dynamic.feature(feature)
    allure.dynamic.story(story)
    for tag in tags:
        allure.dynamic.tag(tag)
    for command in commands:
        allure.dynamic.label("command", command)
    if citation:
        allure.dynamic.description(f"Cites: {citation}")
        # Linked by the report plugin, which knows the binary's version (the tag the
        # links point at); this module runs before the binary is asked.
        _CITED.append(citation)


_CITED: list[str] = []


def take_citations() -> list[str]:
    """The citations labelled since the last call (the current result's), cleared."""
    taken = list(_CITED)
    _CITED.clear()
    return taken


def command_tags(command: Command) -> tuple[str, ...]:
    tags = [f for f in command.features if f in ("deprecated", "unstable")]
    if command.allow_oob:
        tags.append("allow-oob")
    return tuple(tags)


@contextmanager
def evidence(inst: QemuInstance) -> Iterator[None]:
    """Attach the instance's transcript, stderr and argv if the body fails.

    The whole transcript since this QEMU started, not just the failing exchange: a
    crash can depend on what earlier examples did to the same instance, and the
    transcript is what a reproducer is replayed from.

    The same evidence goes on the exception (`EVIDENCE_ATTR`), on every example: the
    plugin builds the finding's reproducer from it after the QEMU is gone, and an
    exception of a FlakyFailure group may come from an example that wasn't final. The
    innermost block wins: it knows the QEMU the failure happened on.
    """
    try:
        yield
    except (Failure, QemuGone) as exc:
        if not hasattr(exc, EVIDENCE_ATTR):
            setattr(exc, EVIDENCE_ATTR, Evidence.of(inst))
        if _final_example():
            attach_evidence(exc)
        raise


def attach_evidence(exc: BaseException) -> None:
    """Attach the evidence `exc` carries (`EVIDENCE_ATTR`) to the allure result: the
    transcript, QEMU's stderr and argv; once per exception, however many `evidence()`
    blocks it leaves."""
    found = getattr(exc, EVIDENCE_ATTR, None)
    if not isinstance(found, Evidence) or getattr(exc, _ATTACHED, False):
        return
    setattr(exc, _ATTACHED, True)
    allure.attach(found.transcript.to_jsonl(), "transcript.jsonl", allure.attachment_type.JSON)
    allure.attach(readable(found.transcript), "transcript.txt", allure.attachment_type.TEXT)
    allure.attach(found.stderr, "qemu-stderr.txt", allure.attachment_type.TEXT)
    allure.attach(json.dumps(list(found.argv)), "qemu-argv.json", allure.attachment_type.JSON)


_ATTACHED = "qmpc_evidence_attached"


def _final_example() -> bool:
    """False while Hypothesis is still searching or shrinking; True otherwise.

    Attaching evidence for every failing example tried during shrinking would bury the
    one that matters; Hypothesis replays the minimal example last, marked final.
    """
    try:
        from hypothesis.control import current_build_context

        return bool(current_build_context().is_final)
    except Exception:  # not inside a Hypothesis test
        return True
