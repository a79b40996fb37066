"""Exit classification from wait status and stderr."""

from __future__ import annotations

import signal

import pytest

from conformance.machine.exits import ExitKind, classify_exit, find_assertion, first_line

GLIBC_ASSERT = (
    "qemu-system-x86_64: ../../block/io.c:1983: bdrv_co_write_req_prepare: "
    "Assertion `child->perm & BLK_PERM_WRITE' failed.\n"
)
GLIB_ASSERT = "**\nERROR:../qom/object.c:1006:object_class_get_list: assertion failed: (ret)\nBail out! ERROR:../qom/object.c:1006: assertion failed\n"


@pytest.mark.parametrize(
    ("returncode", "stderr", "flags", "kind"),
    [
        (0, "", {"quit_sent": True}, ExitKind.CLEAN),
        (0, "", {}, ExitKind.EXIT),
        (1, "qemu: -device foo: not found\n", {}, ExitKind.EXIT),
        (-signal.SIGSEGV, "", {}, ExitKind.CRASH),
        (-signal.SIGABRT, GLIBC_ASSERT, {}, ExitKind.ABORT),
        (-signal.SIGSYS, "", {}, ExitKind.SANDBOX),
        (-signal.SIGKILL, "", {"hung": True}, ExitKind.HANG),
        (-signal.SIGKILL, "", {"killed_by_harness": True}, ExitKind.KILLED),
        (-signal.SIGKILL, "", {}, ExitKind.CRASH),
        (0, "", {"hung": True, "quit_sent": True}, ExitKind.HANG),
    ],
)
def test_classify(returncode: int, stderr: str, flags: dict[str, bool], kind: ExitKind) -> None:
    info = classify_exit(returncode, stderr, **flags)
    assert info.kind is kind
    assert info.is_finding == (
        kind in {ExitKind.CRASH, ExitKind.ABORT, ExitKind.SANDBOX, ExitKind.HANG}
    )
    assert "\n" not in info.describe()


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (GLIBC_ASSERT, "Assertion `child->perm & BLK_PERM_WRITE' failed."),
        (GLIB_ASSERT, "Bail out! ERROR:../qom/object.c:1006: assertion failed"),
        (
            "Unexpected error in object_property_find_err() at ../qom/object.c:1304:\n",
            "Unexpected error in",
        ),
        ("qemu-system-x86_64: terminating on signal 15\n", None),
    ],
)
def test_find_assertion(stderr: str, expected: str | None) -> None:
    found = find_assertion(stderr)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert expected in found


def test_abort_keeps_assertion_text() -> None:
    info = classify_exit(-signal.SIGABRT, "noise\n" + GLIBC_ASSERT)
    assert info.assertion is not None
    assert "Assertion" in info.assertion
    assert "Assertion" in info.describe()


def test_first_line_skips_warnings() -> None:
    stderr = (
        "qemu-system-aarch64: warning: missing SecureDigital device\n"
        "qemu-system-aarch64: Kernel or Flash image must be specified\n"
    )
    assert first_line(stderr) == "qemu-system-aarch64: Kernel or Flash image must be specified"
    cheetah = (
        "qemu-system-aarch64: warning: missing SecureDigital device\n"
        "qemu: module audio-audio-pa not found, do you want to install qemu-system-gui "
        "package?\n"
        "Kernel or ROM image must be specified\n"
    )
    assert first_line(cheetah) == "Kernel or ROM image must be specified"
    hint = "qemu-system-x86_64: unsupported machine type\nUse -machine help to list\n"
    assert first_line(hint) == "qemu-system-x86_64: unsupported machine type"
    assert first_line("qemu: warning: only this\n") == "qemu: warning: only this"
    assert first_line("") == ""
