"""`qmp-conformance`: run the suite, inspect the spec model.

Exit codes: 0 nothing new found, 1 findings, 2 usage or configuration error, 3 harness
error (see README, "Exit codes").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance.docs.model import DocError
from conformance.errors import EXIT_HARNESS, EXIT_USAGE, SetupError
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.profiles import PROFILES
from conformance.spec import Schema, SchemaError, load_schema_file, schema_from_reply
from conformance.spec.render import schema_json, schema_summary

DEFAULT_QEMU = "qemu-system-x86_64"

# pytest's own exit codes, mapped to ours.
_PYTEST_EXIT = {0: 0, 1: 1, 2: EXIT_USAGE, 3: EXIT_HARNESS, 4: EXIT_USAGE, 5: EXIT_USAGE}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, passthrough = args[:cut], args[cut + 1 :]
    parser = _parser()
    ns = parser.parse_args(args)
    try:
        return int(ns.func(ns, passthrough))
    except SetupError as exc:
        print(f"qmp-conformance: {exc}", file=sys.stderr)
        return exc.exit_code
    except (SchemaError, DocError) as exc:
        print(f"qmp-conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qmp-conformance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (| head) left; that is not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qmp-conformance",
        description="Conformance and fuzz testing of QEMU's QMP against its own schema and docs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the conformance suite (pytest) against a binary")
    run.add_argument(
        "--qemu", default=DEFAULT_QEMU, help=f"binary under test (default {DEFAULT_QEMU})"
    )
    run.add_argument(
        "--machine",
        action="append",
        choices=sorted(PROFILES),
        help="machine profile (repeatable; default none and q35)",
    )
    run.add_argument("--reports", default="reports", help="report directory (default ./reports)")
    run.add_argument("--keep-workdir", action="store_true", help="keep QEMU workdirs")
    run.add_argument(
        "--hypothesis-profile",
        default="ci",
        choices=("dev", "ci", "nightly"),
        help="Hypothesis profile (default ci: derandomised, 20 examples per test)",
    )
    run.set_defaults(func=cmd_run)

    spec = sub.add_parser(
        "spec", help="summarise or dump the spec model of a binary or schema file"
    )
    src = spec.add_mutually_exclusive_group()
    src.add_argument(
        "--qemu", help=f"read query-qmp-schema from this binary (default {DEFAULT_QEMU})"
    )
    src.add_argument("--schema", help="read a saved query-qmp-schema reply (JSON file)")
    spec.add_argument("--json", action="store_true", help="dump the whole model as JSON")
    spec.set_defaults(func=cmd_spec)

    docs = sub.add_parser("docs", help="report drift between the documentation and a binary")
    docs_src = docs.add_mutually_exclusive_group()
    docs_src.add_argument("--qemu", help=f"binary to compare with (default {DEFAULT_QEMU})")
    docs_src.add_argument("--schema", help="a saved query-qmp-schema reply instead of a binary")
    docs.add_argument(
        "--docs",
        help="a QAPI directory or .json file, a qmp-commands.hx, or a man page "
        "(default: the installed qemu-qmp-ref.7)",
    )
    docs.add_argument("--json", action="store_true", help="print the report as JSON")
    docs.set_defaults(func=cmd_docs)
    return parser


def cmd_run(ns: argparse.Namespace, passthrough: list[str]) -> int:
    import pytest

    preflight(ns.qemu)
    reports = Path(ns.reports)
    reports.mkdir(parents=True, exist_ok=True)
    pytest_args = [
        "--pyargs",
        "conformance.suite",
        "--qemu",
        ns.qemu,
        f"--alluredir={reports / 'allure-results'}",
        "--clean-alluredir",
        f"--junitxml={reports / 'junit.xml'}",
        "-p",
        "no:cacheprovider",
        # The CLI imported the plugin before pytest could rewrite its asserts; it has none.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "-rs",
    ]
    for m in ns.machine or ():
        pytest_args += ["--machine", m]
    if ns.keep_workdir:
        pytest_args.append("--keep-workdir")
    if not any(a.startswith("--hypothesis-profile") for a in passthrough):
        pytest_args.append(f"--hypothesis-profile={ns.hypothesis_profile}")
    rc = int(pytest.main([*pytest_args, *passthrough]))
    if rc == 5:
        print("qmp-conformance: the selection collected no conformance tests", file=sys.stderr)
    return _PYTEST_EXIT.get(rc, EXIT_HARNESS)


def preflight(binary: str) -> None:
    """Start the binary once, so that a bad one fails here with one line, not in pytest."""
    try:
        with QemuInstance(LaunchConfig(binary=binary)) as inst:
            inst.execute("query-version")
    except QemuGone as exc:
        raise SetupError(f"{binary}: QEMU {exc.exit_info.describe()} right after start") from exc


def load_model(qemu: str | None, schema_file: str | None) -> Schema:
    if schema_file is not None:
        return load_schema_file(schema_file)
    try:
        with QemuInstance(LaunchConfig(binary=qemu or DEFAULT_QEMU)) as inst:
            return schema_from_reply(inst.execute("query-qmp-schema").value)
    except QemuGone as exc:
        raise SetupError(f"query-qmp-schema: QEMU {exc.exit_info.describe()}") from exc


def cmd_spec(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    schema = load_model(ns.qemu, ns.schema)
    if ns.json:
        json.dump(schema_json(schema), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(schema_summary(schema))
    return 0


def cmd_docs(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    from conformance.docs.drift import drift, summary
    from conformance.docs.load import load_docs

    docset = load_docs(ns.docs)
    schema = load_model(ns.qemu, ns.schema)
    items = drift(docset, schema)
    counts = summary(items)
    messages = [m for _, x in docset.examples() for m in x.messages]
    statuses = {
        s: sum(1 for m in messages if m.status == s) for s in ("parsed", "repaired", "unparsable")
    }
    if ns.json:
        report = {
            "docs": docset.source,
            "format": docset.format,
            "entries": len(docset.entries),
            "examples": len(docset.examples()),
            "messages": statuses,
            "summary": counts,
            "drift": [i.to_json() for i in items],
            "problems": docset.problems,
        }
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    out.write(f"docs {docset.source} ({docset.format}): {len(docset.entries)} entries, ")
    out.write(f"{len(docset.examples())} examples, messages {statuses}\n")
    for item in items:
        out.write(
            f"{item.kind:<26} {item.name:<34} {item.path:<40} {item.detail}  [{item.source}]\n"
        )
    out.write("summary: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
