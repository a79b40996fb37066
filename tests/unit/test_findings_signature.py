"""Finding signatures: stable across runs, builds and machines, distinct across defects."""

from __future__ import annotations

import re
import signal

import pytest

from conformance.findings.baseline import Baseline
from conformance.findings.signature import Signature, argument_shape, covers, normalise
from conformance.machine.exits import ExitKind, classify_exit
from conformance.oracle.failure import FindingKind

# The colo-compare abort of QEMU 7.2, as two runs on two machines print it.
COLO_RUN_1 = (
    "qemu-system-x86_64: warning: colo-compare: iothread 'nosuch' not found\n"
    "qemu-system-x86_64: ../util/qemu-thread-posix.c:38: qemu_mutex_destroy: "
    "Assertion `mutex->initialized' failed.\n"
)
# Debian builds in a subdirectory two levels down; another build tree is one level down.
COLO_RUN_2 = (
    "/usr/local/bin/qemu-system-x86_64: ../../util/qemu-thread-posix.c:41: qemu_mutex_destroy: "
    "Assertion `mutex->initialized' failed.\n"
)
OTHER_ASSERT = (
    "qemu-system-x86_64: ../../block/io.c:1983: bdrv_co_write_req_prepare: "
    "Assertion `child->perm & BLK_PERM_WRITE' failed.\n"
)


def _abort(stderr: str) -> Signature:
    return Signature.of_exit(classify_exit(-signal.SIGABRT, stderr), "object-add")


def test_assertions_differing_in_line_numbers_program_path_and_build_depth_give_one_key() -> None:
    first, second = _abort(COLO_RUN_1), _abort(COLO_RUN_2)
    assert first.key == second.key
    assert first.kind is FindingKind.CRASH
    assert "qemu_mutex_destroy" in first.detail
    assert "util/qemu-thread-posix.c" in first.detail  # the file tells assertions apart


def test_different_assertions_give_different_keys() -> None:
    assert _abort(COLO_RUN_1).key != _abort(OTHER_ASSERT).key


def test_the_command_in_flight_is_part_of_the_key() -> None:
    info = classify_exit(-signal.SIGABRT, COLO_RUN_1)
    assert Signature.of_exit(info, "object-add").key != Signature.of_exit(info, "qom-set").key


def test_signal_crash_uses_the_first_stable_stderr_line() -> None:
    one = classify_exit(
        -signal.SIGSEGV,
        "qemu-system-x86_64: warning: host doesn't support requested feature\n"
        "qemu: fatal: bad pointer 0x7ffd1234abcd in /tmp/qmpc-run-abc123/qemu-x/mem.bin\n",
    )
    two = classify_exit(
        -signal.SIGSEGV, "qemu: fatal: bad pointer 0x55550000 in /home/ci/w/qemu-y/mem.bin\n"
    )
    assert one.kind is ExitKind.CRASH
    first, second = Signature.of_exit(one, "pmemsave"), Signature.of_exit(two, "pmemsave")
    assert first.key == second.key
    assert first.detail == "SIGSEGV: fatal: bad pointer ADDR in PATH"


def test_a_crash_with_no_stderr_is_the_signal_and_the_shape_of_the_arguments() -> None:
    sig = Signature.of_exit(classify_exit(-signal.SIGSEGV, ""), "calc-dirty-rate")
    assert sig.key == "crash | calc-dirty-rate | SIGSEGV args={}"
    with_time = Signature.of_exit(
        classify_exit(-signal.SIGSEGV, ""), "calc-dirty-rate", {"calc-time": 3}
    )
    assert with_time.key == "crash | calc-dirty-rate | SIGSEGV args=calc-time"


def _transaction(*actions: str, **extra: object) -> dict[str, object]:
    return {
        "actions": [{"type": a, "data": {"node": f"n{i}"}} for i, a in enumerate(actions)]
    } | extra


def test_a_signal_only_crash_of_transaction_is_told_apart_by_its_action_types() -> None:
    segv = classify_exit(-signal.SIGSEGV, "")

    def key(arguments: object) -> str:
        return Signature.of_exit(segv, "transaction", arguments).key

    one = key(_transaction("drive-backup", "block-dirty-bitmap-add", "drive-backup"))
    assert one == (
        "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-add,drive-backup]"
    )
    # Order, repetition and the actions' data don't matter; the action types do.
    assert one == key(_transaction("block-dirty-bitmap-add", "drive-backup"))
    assert one != key(_transaction("block-dirty-bitmap-add"))
    # An optional member a generator may or may not add is not the crash's identity.
    assert one == key(_transaction("block-dirty-bitmap-add", "drive-backup", properties={"x": 1}))


def test_argument_shape_keeps_names_and_variants_only() -> None:
    assert argument_shape(None) == "{}"
    assert argument_shape({"id": "c0", "backend": {"type": "ringbuf", "data": {"size": 4}}}) == (
        "backend[ringbuf]"
    )
    assert argument_shape({"driver": "qcow2", "node-name": "n", "file": "f"}) == ("driver[qcow2]")
    assert argument_shape({"qom-type": "colo-compare", "id": "x"}) == "qom-type[colo-compare]"
    # Without variants, the member names.
    assert argument_shape({"calc-time": 1, "sample-pages": 2}) == "calc-time,sample-pages"


def test_an_assertion_crash_is_not_widened_by_the_arguments() -> None:
    info = classify_exit(-signal.SIGABRT, COLO_RUN_1)
    assert Signature.of_exit(info, "object-add", {"qom-type": "a"}).key == (
        Signature.of_exit(info, "object-add", {"qom-type": "b"}).key
    )


@pytest.mark.parametrize(
    ("returncode", "flags", "kind"),
    [
        (-signal.SIGSYS, {}, FindingKind.SANDBOX),
        (-signal.SIGKILL, {"hung": True}, FindingKind.HANG),
        (1, {}, FindingKind.DISCONNECT),
    ],
)
def test_exit_kinds_are_kept_apart(
    returncode: int, flags: dict[str, bool], kind: FindingKind
) -> None:
    assert Signature.of_exit(classify_exit(returncode, "", **flags), "x").kind is kind


def test_a_hang_ignores_what_qemu_printed_before() -> None:
    a = classify_exit(-signal.SIGKILL, "qemu: warning: 12 things\n", hung=True)
    b = classify_exit(-signal.SIGKILL, "something else entirely\n", hung=True)
    assert Signature.of_exit(a, "migrate").key == Signature.of_exit(b, "migrate").key
    # The harness's own kill is not the hang either.
    assert "SIGKILL" not in Signature.of_exit(a, "migrate").detail


def test_violation_paths_are_normalised_but_checks_are_not() -> None:
    def key(check: str, path: str) -> str:
        return Signature.of_violation(FindingKind.SCHEMA, check, "query-block", path).key

    third = key("schema.reply", "$.return[3].inserted")
    assert third == key("schema.reply", "$.return[0].inserted")
    assert third != key("schema.event", "$.return[3].inserted")
    assert third != key("schema.reply", "$.return[3].image")


def test_key_round_trips_and_slug_is_a_safe_unique_name() -> None:
    sig = _abort(COLO_RUN_1)
    assert Signature.from_key(sig.key) == sig
    no_command = Signature.of_violation(FindingKind.PROTOCOL, "wire.resync", None, None)
    assert Signature.from_key(no_command.key) == no_command
    assert re.fullmatch(r"[a-z0-9-]+", sig.slug)
    assert sig.slug.startswith("crash-object-add-")
    assert sig.slug != _abort(OTHER_ASSERT).slug


def test_normalise_replaces_run_specific_parts() -> None:
    assert (
        normalise("qemu-system-x86_64:  at 0xdeadBEEF pid 4242 file /var/tmp/x-1/y.img  ")
        == "at ADDR pid N file PATH"
    )
    # Line numbers, negative numbers, sizes and indices still go.
    assert normalise("block.c:4586: bdrv_x: offset -12 of 9223372036854775808 at [3]") == (
        "block.c:N: bdrv_x: offset N of N at [N]"
    )
    assert normalise("failed after 1.5 s, pid 77") == "failed after N s, pid N"


@pytest.mark.parametrize(
    "name",
    ["s390x", "x86_64", "virtio9p", "i386", "X86_MACHINE", "qcow2", "ppc64le", "e1000e", "v2"],
)
def test_normalise_keeps_digits_inside_identifiers(name: str) -> None:
    assert normalise(f"target/{name}/cpu.c:754:{name}_fn: type {name}") == (
        f"target/{name}/cpu.c:N:{name}_fn: type {name}"
    )


def test_targets_differing_only_in_digits_get_different_keys() -> None:
    def key(arch: str) -> str:
        stderr = f"**\nERROR:../../target/{arch}/cpu_models.c:754:s390_set: assertion failed\n"
        return Signature.of_exit(classify_exit(-signal.SIGABRT, stderr), "qom-list-properties").key

    assert key("s390x") != key("s370x")
    assert "target/s390x/cpu_models.c:N:s390_set" in key("s390x")


def test_violation_facets_and_every_path_are_in_the_key() -> None:
    def key(paths: list[str], **facets: str) -> str:
        return Signature.of_violation(
            FindingKind.DOC,
            "doc.drift.example-reply",
            "query-pci",
            None,
            paths=paths,
            facets=facets,
        ).key

    both = key(["$.return[1].b", "$.return[0].a", "$.return[3].a"])
    assert both == "doc-mismatch | query-pci | doc.drift.example-reply $.return[N].a,$.return[N].b"
    assert both != key(["$.return[0].a"])  # not only the first path
    protocol = Signature.of_violation(
        FindingKind.PROTOCOL, "ids.echo", "query-version", "$.id", facets={"id": "string"}
    )
    assert protocol.key == "protocol-violation | query-version | ids.echo $.id id=string"
    other = Signature.of_violation(
        FindingKind.PROTOCOL, "ids.echo", "query-version", "$.id", facets={"id": "int-huge"}
    )
    assert other.key != protocol.key
    assert Signature.from_key(protocol.key) == protocol


def test_a_crash_after_only_warnings_is_the_signal_alone() -> None:
    warned = classify_exit(
        -signal.SIGSEGV,
        "warning: The target block device doesn't provide information about the block "
        "size and it doesn't have a backing file. The default block size of 65536 bytes "
        "is used.\n",
    )
    silent = classify_exit(-signal.SIGSEGV, "")
    arguments = _transaction("drive-backup")
    key = Signature.of_exit(warned, "transaction", arguments).key
    assert key == Signature.of_exit(silent, "transaction", arguments).key
    assert key == "crash | transaction | SIGSEGV args=actions[drive-backup]"


@pytest.mark.parametrize(
    "message",
    [
        # What one chardev-add of a vc 15 or 7 pixels high (no text row) left, run to run.
        "double free or corruption (out)",
        "malloc(): unaligned tcache chunk detected",
        "malloc(): smallbin double linked list corrupted",
        "free(): invalid pointer",
        "corrupted size vs. prev_size",
    ],
)
def test_glibc_heap_checks_sign_as_the_signal_and_the_arguments(message: str) -> None:
    arguments = {"id": "c", "backend": {"type": "vc", "data": {"height": 7}}}
    aborted = Signature.of_exit(
        classify_exit(-signal.SIGABRT, message + "\n"), "chardev-add", arguments
    )
    assert aborted.key == "crash | chardev-add | SIGABRT args=backend[vc]"
    assert aborted.signal_only == "SIGABRT"
    # A message of QEMU's own before it is still the crash's line.
    told = classify_exit(-signal.SIGABRT, "qemu: fatal: lost a row\n" + message + "\n")
    assert Signature.of_exit(told, "chardev-add").detail == "SIGABRT: fatal: lost a row"


def test_a_module_that_failed_to_load_is_not_the_crash() -> None:
    # QEMU 10.0's rtc-reset-reinjection on -machine none, after a qom-list-types.
    crash = "./include/hw/i386/x86.h:111:X86_MACHINE: Object 0x55a0 is not an instance\n"
    loaded = classify_exit(
        -signal.SIGABRT,
        "failed to open module: libvirglrenderer.so.1: cannot open shared object file: "
        "No such file or directory\n" + crash,
    )
    alone = classify_exit(-signal.SIGABRT, crash)
    first = Signature.of_exit(loaded, "rtc-reset-reinjection")
    assert first.key == Signature.of_exit(alone, "rtc-reset-reinjection").key
    assert "_MACHINE: Object ADDR is not an instance" in first.detail


# -- a known signal-only crash covers the unshrunk draws of the same arguments' shape ----

_SEGV = "crash | transaction | SIGSEGV args="


@pytest.mark.parametrize(
    ("known", "seen", "expected"),
    [
        ("actions[block-dirty-bitmap-enable]", "actions[block-dirty-bitmap-enable]", True),
        ("actions[block-dirty-bitmap-enable]", "actions[abort,block-dirty-bitmap-enable]", True),
        ("actions[block-dirty-bitmap-enable]", "actions[abort,drive-backup]", False),
        ("actions[abort,block-dirty-bitmap-enable]", "actions[block-dirty-bitmap-enable]", False),
        ("backend[ringbuf]", "backend[ringbuf],id", True),
        ("{}", "actions[abort]", False),
    ],
)
def test_a_known_shape_covers_the_shapes_that_hold_it(
    known: str, seen: str, expected: bool
) -> None:
    assert covers(_SEGV + known, _SEGV + seen) is expected


def test_only_the_same_command_and_signal_are_covered() -> None:
    known = _SEGV + "actions[block-dirty-bitmap-enable]"
    assert not covers(
        known, "crash | transaction | SIGABRT args=actions[block-dirty-bitmap-enable]"
    )
    assert not covers(
        known, "crash | blockdev-reopen | SIGSEGV args=actions[block-dirty-bitmap-enable]"
    )
    # A key without a shape is covered by itself only.
    assert covers("hang | announce-self | x", "hang | announce-self | x")
    assert not covers("hang | announce-self | x", "hang | announce-self | x args=a")


def test_a_baseline_knows_and_has_seen_a_covered_key() -> None:
    known = _SEGV + "actions[block-dirty-bitmap-enable]"
    seen = _SEGV + "actions[abort,block-dirty-bitmap-enable]"
    base = Baseline(findings={known: {"kind": "crash", "title": "t"}})
    assert seen in base
    assert (_SEGV + "actions[drive-backup]") not in base
    assert base.unseen([seen]) == []
    assert base.unseen([_SEGV + "actions[drive-backup]"]) == [known]
