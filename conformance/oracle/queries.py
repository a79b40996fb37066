"""Queries without required arguments succeed on the profile's machine, except where an
error is documented, pinned by QEMU's own qmp-cmd-test, or deliberate in its source.

qmp-cmd-test runs every command without mandatory arguments whose return type is not an
empty object on `-machine none` and requires a return, but for a table of expected error
classes (`query_error_class`) and a list it doesn't run (`query_is_ignored`).
`EXPECTED_ERRORS` mirrors both and adds the errors the commands' QAPI documentation
names and the ones QEMU's source raises on purpose for a board without the hardware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from conformance.oracle.failure import Citation, Failure, FindingKind, qapi, qemu, qemu_tests
from conformance.qmp.message import Kind, Message
from conformance.spec import ObjectType, Schema

Version = tuple[int, int, int]

QUERY_SUCCEEDS = qemu_tests(
    "tests/qtest/qmp-cmd-test.c: test_query",
    'if (expected_error_class < 0) { g_assert(qdict_haskey(resp, "return")); }',
)
_CMD_TEST_TABLE = qemu_tests(
    "tests/qtest/qmp-cmd-test.c: query_error_class",
    "/* Likewise, and require special QEMU command-line arguments: */",
)
_CMD_TEST_BUILD = qemu_tests(
    "tests/qtest/qmp-cmd-test.c: query_error_class",
    "/* Success depends on build configuration: */",
)
_CMD_TEST_IGNORED = qemu_tests(
    "tests/qtest/qmp-cmd-test.c: query_is_ignored",
    "/* Success depends on Host or Hypervisor SEV support */",
)


@dataclass(frozen=True, slots=True)
class Expected:
    """An error a query may answer with on a machine the suite starts: of class
    `error_class` (None: any class, a query qmp-cmd-test doesn't judge), in QEMU versions
    [since, until), and where that is written down."""

    error_class: str | None
    why: Citation
    since: Version = (0, 0, 0)
    until: Version | None = None
    # Where a bound that isn't open comes from: the QEMU commit (or QAPI "Since:") that
    # began or ended the behaviour, and so the release (tests/unit/test_queries.py).
    history: str = ""

    def applies_to(self, version: Version) -> bool:
        return self.since <= version and (self.until is None or version < self.until)


def _ignored(why: str) -> Expected:
    return Expected(None, qemu_tests("tests/qtest/qmp-cmd-test.c: query_is_ignored", why))


def _source(where: str, quote: str) -> Citation:
    return qemu(where, quote)


#: By command: the errors that don't break the rule. Build-configuration entries matter
#: only for builds without the feature (the command is then absent or refuses).
EXPECTED_ERRORS: Mapping[str, tuple[Expected, ...]] = MappingProxyType(
    {
        # qmp-cmd-test's query_error_class
        "query-spice": (Expected("CommandNotFound", _CMD_TEST_BUILD),),
        "query-replay": (Expected("CommandNotFound", _CMD_TEST_BUILD),),
        "query-vnc": (Expected("GenericError", _CMD_TEST_BUILD),),
        "query-vnc-servers": (Expected("GenericError", _CMD_TEST_BUILD),),
        "query-xen-replication-status": (Expected("CommandNotFound", _CMD_TEST_BUILD),),
        "query-acpi-ospm-status": (Expected("GenericError", _CMD_TEST_TABLE),),
        "query-balloon": (
            Expected(
                "DeviceNotActive",
                qapi("query-balloon", "If no balloon device is present, DeviceNotActive"),
            ),
        ),
        "query-hotpluggable-cpus": (Expected("GenericError", _CMD_TEST_TABLE),),
        "query-vm-generation-id": (Expected("GenericError", _CMD_TEST_TABLE),),
        # qmp-cmd-test's query_is_ignored
        "add-fd": (_ignored("/* Not actually queries: */"),),
        "query-cpu-definitions": (_ignored("/* Success depends on target arch: */"),),
        "query-gic-capabilities": (_ignored("/* Success depends on target arch: */"),),
        "query-pci": (_ignored("/* Success depends on target-specific build configuration: */"),),
        "query-sev-launch-measure": (_ignored("/* Success depends on launching SEV guest */"),),
        "query-sev": (Expected(None, _CMD_TEST_IGNORED),),
        "query-sev-capabilities": (Expected(None, _CMD_TEST_IGNORED),),
        "query-sgx": (Expected(None, _CMD_TEST_IGNORED),),
        "query-sgx-capabilities": (Expected(None, _CMD_TEST_IGNORED),),
        # The QAPI documentation names the error.
        "query-hv-balloon-status-report": (
            Expected(
                "GenericError",
                qapi(
                    "query-hv-balloon-status-report",
                    "If no hv-balloon device is present, guest memory status reporting is "
                    "not enabled or no guest memory status report received yet, GenericError",
                ),
                since=(8, 2, 0),
                history="8.2: 'qapi: Add HV_BALLOON_STATUS_REPORT event and its QMP query "
                "command' (pull 'Hyper-V Dynamic Memory Protocol driver (hv-balloon)', "
                "2023-11) added the command with this doc; QAPI 'Since: 8.2'",
            ),
        ),
        # Deliberate in the source for a board without the hardware or build feature
        # (undocumented in the QAPI doc: reported as doc gaps, not findings).
        "x-query-usb": (
            Expected(
                "GenericError",
                _source(
                    "hw/usb/bus.c: qmp_x_query_usb", 'error_setg(errp, "USB support not enabled");'
                ),
            ),
        ),
        "x-query-virtio": (
            Expected(
                "GenericError",
                _source(
                    "hw/virtio: qmp_x_query_virtio",
                    'error_setg(errp, "No virtio devices found");',
                ),
                since=(8, 2, 0),
                history="8.2: 'qmp: remove virtio_list, search QOM tree instead' (mst's pull "
                "'virtio,pci: features, cleanups', 2023-10) added the error; before it, the "
                "command returned an empty list (QEMU 7.2 answers [])",
            ),
        ),
        "x-query-profile": (
            Expected(
                "GenericError",
                _source(
                    "qmp_x_query_profile, its stub without CONFIG_PROFILER",
                    'error_setg(errp, "Internal profiler not compiled");',
                ),
                since=(6, 2, 0),
                until=(8, 1, 0),
                history="6.2: 37087fd 'qapi: introduce x-query-profile QMP command' (QAPI "
                "'Since: 6.2'); 8.1: 1b65b4f54c7f 'accel/tcg: remove CONFIG_PROFILER' removed "
                "the command (pull-tcg-20230626, released with 8.1.0)",
            ),
        ),
        "xen-event-list": (
            Expected(
                "GenericError",
                _source(
                    "hw/i386/kvm/xen_evtchn.c: qmp_xen_event_list",
                    'error_setg(errp, "Xen event channel emulation not enabled");',
                ),
                since=(8, 0, 0),
                history="8.0: 'i386/xen: add monitor commands to test event injection' (the "
                "Xen emulation series, 2023-01) added the command with this error; QAPI "
                "'Since: 8.0'",
            ),
        ),
    }
)


def is_query(schema: Schema, command: str) -> bool:
    """Whether qmp-cmd-test would smoke-test `command`: no required argument, and a
    return type other than an empty object."""
    if schema.arg_members_required(command):
        return False
    returned = schema.type(schema.command(command).ret_type)
    return not (isinstance(returned, ObjectType) and not returned.members)


def check_query_returns(schema: Schema, command: str, reply: Message, version: Version) -> None:
    """A query without arguments returns, or fails with an error `EXPECTED_ERRORS`
    admits for this QEMU version."""
    if reply.kind is not Kind.ERROR or not is_query(schema, command):
        return
    admitted = [e for e in EXPECTED_ERRORS.get(command, ()) if e.applies_to(version)]
    if any(e.error_class in (None, reply.error_class) for e in admitted):
        return
    raise Failure(
        "query.refused",
        QUERY_SUCCEEDS,
        f"a query without arguments failed: {reply.raw[:200]!r}"
        + (f" (admitted: {[e.error_class for e in admitted]})" if admitted else ""),
        kind=FindingKind.BEHAVIOUR,
        path="$.error.class",
        command=command,
    )
