"""Backtrace frames (conformance.findings.backtrace) and where symbols are
(conformance.machine.symbols).

gdb output samples in tests/unit/backtraces/: the two QEMU ones without symbols and the
two of crash.c (gcc -g, libc6-dbg installed) were captured on this project's machine;
qemu-symbolised.txt and qemu-module-symbolised.txt are built from gdb's documented
``bt`` format (frames with source, inlined frames without an address, clones'
suffixes, ``from LIB`` for a frame without debug info) since QEMU's debug symbols
could not be installed there.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conformance.findings.backtrace import gdb_argv, parse_frames
from conformance.findings.signature import Signature, covers
from conformance.machine.exits import classify_exit
from conformance.machine.symbols import debug_symbols, executable, read_elf
from conformance.packages.launchers import launcher_text

SAMPLES = Path(__file__).parent / "backtraces"
KNOWN = "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-enable]"


def _sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("sample", "frames"),
    [
        (
            "qemu-7.2-transaction-no-symbols.txt",
            ["bdrv_disable_dirty_bitmap", "qmp_transaction", "qmp_marshal_transaction"],
        ),
        (
            "qemu-10.0-transaction-no-symbols.txt",
            ["bdrv_disable_dirty_bitmap", "tran_abort", "qmp_transaction"],
        ),
        (
            "qemu-symbolised.txt",
            ["bdrv_disable_dirty_bitmap", "block_dirty_bitmap_enable_abort", "tran_abort"],
        ),
        # A module's frames are QEMU's; GLib's and unnamed ones are skipped.
        (
            "qemu-module-symbolised.txt",
            ["curl_setup_preadv", "bdrv_driver_preadv", "bdrv_co_preadv_part"],
        ),
        ("gcc-g-segv.txt", ["bitmap_disable", "do_transaction", "main"]),
        # libc's raise/abort/assert frames, named by libc6-dbg, are not the crash.
        ("gcc-g-assert-libc6-dbg.txt", ["do_transaction", "main"]),
    ],
)
def test_frames_are_the_top_names_in_qemus_own_code(sample: str, frames: list[str]) -> None:
    assert parse_frames(_sample(sample)) == frames


def test_frames_carry_no_address_line_or_argument() -> None:
    for sample in SAMPLES.glob("*.txt"):
        for frame in parse_frames(sample.read_text(encoding="utf-8"), top=20):
            assert frame.isidentifier(), (sample.name, frame)


def test_no_signal_no_frames() -> None:
    exited = "[Inferior 1 (process 4242) exited normally]\nNo stack.\n"
    assert parse_frames(exited) == []
    # A '#' line before the signal (QEMU's own output) is not a frame.
    assert parse_frames("#0  0x1 in f () at x.c:1\n[Inferior 1 exited with code 01]\n") == []


def test_top_limits_the_frames() -> None:
    assert parse_frames(_sample("qemu-symbolised.txt"), top=1) == ["bdrv_disable_dirty_bitmap"]


# -- signatures ---------------------------------------------------------------------------


def _segv(
    command: str = "transaction", actions: tuple[str, ...] = ("block-dirty-bitmap-enable",)
) -> Signature:
    arguments = {"actions": [{"type": a, "data": {}} for a in actions]}
    return Signature.of_exit(classify_exit(-signal.SIGSEGV, ""), command, arguments)


def test_frames_go_between_the_signal_and_the_shape() -> None:
    plain = _segv()
    assert plain.key == KNOWN
    assert plain.signal_only == "SIGSEGV"
    framed = plain.with_frames(["f", "g", "h"])
    assert framed.key == (
        "crash | transaction | SIGSEGV at f<-g<-h args=actions[block-dirty-bitmap-enable]"
    )
    assert framed.signal_only is None  # signed once
    assert plain.with_frames([]) == plain


def test_only_a_signal_only_crash_takes_frames() -> None:
    aborted = Signature.of_exit(
        classify_exit(-signal.SIGABRT, "qemu: block.c:12: f: Assertion `x' failed.\n"), "x"
    )
    assert aborted.signal_only is None
    assert aborted.with_frames(["f"]) == aborted
    stderr_line = Signature.of_exit(classify_exit(-signal.SIGSEGV, "some stable line\n"), "x", {})
    assert stderr_line.signal_only is None


def test_frames_are_compared_only_when_both_keys_have_them() -> None:
    plain = _segv().key
    framed = _segv().with_frames(["f", "g", "h"]).key
    other = _segv().with_frames(["f", "g", "k"]).key
    # A baseline written without symbols knows a run with them, and the other way round.
    assert covers(plain, framed)
    assert covers(framed, plain)
    assert covers(plain, plain)
    # Two crashes of one variant with other frames are two findings.
    assert not covers(framed, other)
    # The shape still tells variants and commands apart, with frames or without.
    assert not covers(framed, _segv(actions=("drive-backup",)).with_frames(["f", "g", "h"]).key)
    assert not covers(plain, _segv("x-other").with_frames(["f", "g", "h"]).key)
    wider = _segv(actions=("abort", "block-dirty-bitmap-enable")).with_frames(["f", "g", "h"])
    assert covers(plain, wider.key)
    assert covers(framed, wider.key)


# -- gdb's command line ---------------------------------------------------------------------


def test_gdb_runs_an_elf_itself_and_a_launcher_under_sh(tmp_path: Path) -> None:
    elf = debug_symbols("/bin/true")
    argv = gdb_argv(elf, elf.program.as_posix(), ["-S", "a b"], tmp_path / "in put", "SIGSEGV")
    assert argv[:3] == ["gdb", "-batch", "-nx"]
    assert argv[-1] == elf.program.as_posix()
    assert f"run -S 'a b' < '{tmp_path}/in put'" in argv
    assert "handle SIGSEGV stop print nopass" in argv
    launcher = tmp_path / "bin" / "qemu-system-x86_64"
    launcher.parent.mkdir()
    launcher.write_text(_launcher(tmp_path / "root"))
    symbols = debug_symbols(launcher)
    argv = gdb_argv(symbols, str(launcher), ["-S"], tmp_path / "in", "SIGBUS")
    assert argv[-1] == "/bin/sh"
    assert f"run {launcher} -S < {tmp_path}/in" in argv


# -- symbols ---------------------------------------------------------------------------------


def _launcher(root: Path) -> str:
    return launcher_text(
        "qemu-system-x86_64", root, "usr/lib/x86_64-linux-gnu/qemu", ["usr/share/qemu"], "test"
    )


def test_a_fetch_launcher_runs_the_unpacked_elf(tmp_path: Path) -> None:
    root = tmp_path / "odd 'root'"
    launcher = tmp_path / "qemu-system-x86_64"
    launcher.write_text(_launcher(root))
    assert executable(launcher) == root / "usr" / "bin" / "qemu-system-x86_64"
    assert executable("/bin/true") == Path("/bin/true").resolve()


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None or shutil.which("objcopy") is None:
        pytest.skip("cannot be tested here: gcc and binutils are not installed")
    out = tmp_path_factory.mktemp("elf") / "usr" / "bin" / "crash"
    out.parent.mkdir(parents=True)
    subprocess.run(
        ["gcc", "-g", "-Wl,--build-id=sha1", "-o", str(out), str(SAMPLES / "crash.c")],
        check=True,
        timeout=60,
    )
    return out


def _strip(program: Path, *extra: str) -> Path:
    stripped = program.with_name(program.name + "-stripped")
    subprocess.run(["objcopy", "--strip-all", *extra, str(program), str(stripped)], check=True)
    return stripped


def test_an_unstripped_program_has_its_symbols(program: Path, tmp_path: Path) -> None:
    facts = read_elf(program)
    assert facts is not None
    assert facts.symtab
    assert facts.build_id is not None
    assert len(facts.build_id) == 40
    assert debug_symbols(program, tmp_path).where == "symtab"


def test_a_stripped_program_has_none(program: Path, tmp_path: Path) -> None:
    stripped = _strip(program)
    facts = read_elf(stripped)
    assert facts is not None
    assert not facts.symtab
    found = debug_symbols(stripped, tmp_path / "debug")
    assert not found.available
    assert read_elf(SAMPLES / "crash.c") is None


def test_the_build_id_file_under_a_debug_directory(program: Path, tmp_path: Path) -> None:
    stripped = _strip(program)
    facts = read_elf(stripped)
    assert facts is not None
    assert facts.build_id is not None
    debug = tmp_path / "debug"
    target = debug / ".build-id" / facts.build_id[:2] / f"{facts.build_id[2:]}.debug"
    target.parent.mkdir(parents=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(program), str(target)], check=True)
    assert debug_symbols(stripped, debug).where == str(target)


def test_the_debug_link_beside_the_program_or_in_the_tree(program: Path, tmp_path: Path) -> None:
    debug_file = program.with_name("crash.debug")
    subprocess.run(["objcopy", "--only-keep-debug", str(program), str(debug_file)], check=True)
    linked = _strip(program, f"--add-gnu-debuglink={debug_file}")
    facts = read_elf(linked)
    assert facts is not None
    assert facts.debuglink == "crash.debug"
    assert debug_symbols(linked, tmp_path / "none").where == str(debug_file)
    # A -dbgsym package unpacked into the binary's tree: ROOT/usr/lib/debug/<its dir>/.
    root = program.parent.parent.parent
    in_tree = root / "usr" / "lib" / "debug" / program.parent.relative_to("/") / "crash.debug"
    in_tree.parent.mkdir(parents=True)
    debug_file.rename(in_tree)
    found = debug_symbols(linked, tmp_path / "none")
    assert found.where == str(in_tree)
    assert root / "usr" / "lib" / "debug" in found.debug_dirs
