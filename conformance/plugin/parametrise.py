"""Test parameters from the binary: its commands, its documentation, its profiles."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.behaviour.rules import RULES
from conformance.docs.conditions import conditions
from conformance.docs.drift import Drift, drift
from conformance.docs.load import docs_for_binary
from conformance.docs.model import DocError, DocSet
from conformance.drive.sweep import sweeps
from conformance.runcontext import (
    NO_MACHINE,
    binary_info,
    live_schema,
    run_context,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = metafunc.fixturenames
    if "command_name" in names:
        schema = live_schema(metafunc.config)
        commands = sorted(schema.commands)
        metafunc.parametrize("command_name", commands, ids=commands)
    if "no_arg_command" in names:
        schema = live_schema(metafunc.config)
        no_args = sorted(c for c in schema.commands if not schema.arg_members_required(c))
        metafunc.parametrize("no_arg_command", no_args, ids=no_args)
    if "sweep_command" in names:
        swept = [s.command for s in sweeps(live_schema(metafunc.config))]
        metafunc.parametrize("sweep_command", swept, ids=swept)
    if "doc_example" in names:
        _parametrize_from_docs(metafunc, "doc_example", _example_params)
    if "drift_items" in names:
        _parametrize_from_docs(metafunc, "drift_items", _drift_params)
    if "doc_error" in names:
        _parametrize_from_docs(metafunc, "doc_error", _error_params)
    if "behaviour_rule" in names:
        metafunc.parametrize("behaviour_rule", RULES, ids=[r.id for r in RULES])
    if "machine_type" in names:
        machines = run_context(metafunc.config).machine_types
        if machines:
            metafunc.parametrize("machine_type", machines, ids=machines)
        else:  # qemu-storage-daemon
            skip = pytest.mark.skip(reason=NO_MACHINE)
            metafunc.parametrize("machine_type", [pytest.param(None, marks=skip)])
    if "profile_name" in names:
        profiles = run_context(metafunc.config).profiles
        metafunc.parametrize("profile_name", profiles, ids=profiles, scope="module")


def _parametrize_from_docs(
    metafunc: pytest.Metafunc,
    argname: str,
    build: Callable[[DocSet, pytest.Config], list[tuple[str, object]]],
) -> None:
    """Parametrize `argname` from the doc set, or skip it with why there is none."""
    docs, why = doc_set_of(metafunc.config)
    if docs is None:
        metafunc.parametrize(argname, [pytest.param(None, marks=pytest.mark.skip(reason=why))])
        return
    params = build(docs, metafunc.config)
    metafunc.parametrize(argname, [v for _, v in params], ids=[i for i, _ in params])


def _example_params(docs: DocSet, _config: pytest.Config) -> list[tuple[str, object]]:
    return [
        (f"{e.name}-{i + 1}", (e, i, x))
        for e in docs.entries.values()
        for i, x in enumerate(e.examples)
    ]


def _error_params(docs: DocSet, config: pytest.Config) -> list[tuple[str, object]]:
    schema = live_schema(config)
    return [
        (f"{e.name}-{i + 1}", (e, i, c))
        for e in docs.entries.values()
        for i, c in enumerate(conditions(e, schema))
    ]


def _drift_params(docs: DocSet, config: pytest.Config) -> list[tuple[str, object]]:
    grouped: dict[str, list[Drift]] = {}
    for item in drift(docs, live_schema(config), binary_info(config).target):
        grouped.setdefault(item.name, []).append(item)
    return [(n, (n, tuple(items))) for n, items in sorted(grouped.items())]


DOCS = pytest.StashKey[tuple[DocSet | None, str]]()


def doc_set_of(config: pytest.Config) -> tuple[DocSet | None, str]:
    """The documentation under test, parsed once per process (or why there is none)."""
    if DOCS not in config.stash:
        try:
            info = binary_info(config)
            docs = docs_for_binary(
                config.getoption("--docs"),
                run_context(config).qemu,
                info.version,
                daemon=info.storage_daemon,
            )
            config.stash[DOCS] = (docs, "")
        except DocError as exc:
            config.stash[DOCS] = (None, str(exc))
    return config.stash[DOCS]
