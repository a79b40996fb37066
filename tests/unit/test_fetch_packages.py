"""`qmp-conformance fetch` without the network: private sources, package selection from
recorded apt output, cache naming and launchers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.packages import select
from conformance.packages.apt import PrivateApt
from conformance.packages.cache import cached_launcher, package_dir, parse_spec, safe_version
from conformance.packages.launchers import binaries, launcher_text, main_binary, write_launchers
from conformance.packages.sources import (
    SUITE_FILE,
    parse_deb822,
    parse_one_line,
    suite_entry,
    write_private_sources,
)

APT = Path(__file__).parent / "apt"
V10 = "1:10.0.2+ds-2+deb13u1~bpo12+1"
V72_BINNMU = "1:7.2+dfsg-7+deb12u18+b3"
SPEC = f"qemu-system-x86={V10}"


def _records(name: str) -> list[dict[str, str]]:
    return select.records((APT / name).read_text())


def _main(version: str) -> dict[str, str]:
    main = select.find(_records("show-upload.txt"), "qemu-system-x86", version)
    assert main is not None
    return main


# --- sources -------------------------------------------------------------------------


def test_deb822_entries_of_a_debian_system() -> None:
    entries = parse_deb822((APT / "debian.sources").read_text())
    assert [e.suites for e in entries] == [
        ("bookworm", "bookworm-updates"),
        ("bookworm-security",),
    ]
    assert entries[0].uris == ("http://deb.debian.org/debian",)
    assert entries[0].signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_disabled_deb822_entries_are_left_out() -> None:
    text = "Types: deb\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"
    assert parse_deb822(text) == []


def test_one_line_entries_with_options() -> None:
    text = (
        "# comment\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror/debian bookworm main contrib\n"
        "deb-src http://mirror/debian bookworm main\n"
    )
    first, second = parse_one_line(text)
    assert first.types == ("deb",)
    assert first.uris == ("http://mirror/debian",)
    assert first.components == ("main", "contrib")
    assert first.signed_by == "/k.gpg"
    assert second.types == ("deb-src",)
    assert second.signed_by is None


def test_the_suite_goes_on_the_release_entrys_mirror_and_keyring() -> None:
    entries = parse_deb822((APT / "debian.sources").read_text())
    entry = suite_entry(entries, "bookworm-backports", None)
    assert entry.uris == ("http://deb.debian.org/debian",)
    assert entry.suites == ("bookworm-backports",)
    assert entry.components == ("main",)
    assert entry.signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"
    mirrored = suite_entry(entries, "bookworm-backports", "http://127.0.0.1:9/debian")
    assert mirrored.uris == ("http://127.0.0.1:9/debian",)
    assert mirrored.signed_by == entry.signed_by


def test_a_suite_of_an_unconfigured_release_needs_a_mirror() -> None:
    entries = parse_deb822((APT / "debian.sources").read_text())
    with pytest.raises(SetupError, match="no apt source for trixie"):
        suite_entry(entries, "trixie-backports", None)


def _system_apt(tmp_path: Path, with_list: bool) -> Path:
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text((APT / "debian.sources").read_text())
    (etc / "sources.list.d" / "extra.list").write_text("deb http://other/repo stable main\n")
    (etc / "sources.list.d" / "old.list.disabled").write_text("deb http://gone/ x main\n")
    if with_list:
        (etc / "sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    return etc


def test_private_sources_copy_the_systems_and_add_the_suite(tmp_path: Path) -> None:
    etc = _system_apt(tmp_path, with_list=True)
    before = {p: p.read_bytes() for p in etc.rglob("*") if p.is_file()}
    source_list, parts = write_private_sources(
        tmp_path / "private", "bookworm-backports", None, apt_dir=etc
    )
    assert source_list.read_bytes() == (etc / "sources.list").read_bytes()
    assert sorted(p.name for p in parts.iterdir()) == sorted(
        ["debian.sources", "extra.list", SUITE_FILE]
    )
    added = parse_deb822((parts / SUITE_FILE).read_text())
    assert [(e.uris, e.suites) for e in added] == [
        (("http://deb.debian.org/debian",), ("bookworm-backports",))
    ]
    assert {p: p.read_bytes() for p in etc.rglob("*") if p.is_file()} == before


def test_private_sources_without_a_sources_list_or_suite(tmp_path: Path) -> None:
    etc = _system_apt(tmp_path, with_list=False)
    source_list, parts = write_private_sources(tmp_path / "private", None, None, apt_dir=etc)
    assert source_list.read_bytes() == b""
    assert not (parts / SUITE_FILE).exists()


def test_a_suite_the_system_has_already_is_not_added_twice(tmp_path: Path) -> None:
    etc = _system_apt(tmp_path, with_list=False)
    _, parts = write_private_sources(tmp_path / "private", "bookworm-updates", None, apt_dir=etc)
    assert not (parts / SUITE_FILE).exists()


# --- package selection ---------------------------------------------------------------


def test_the_upload_is_the_package_its_companions_and_every_module_package() -> None:
    chosen = select.same_upload(_records("show-upload.txt"), _main(V10))
    assert {p.name for p in chosen} == {
        "qemu-system-x86",
        "qemu-system-common",
        "qemu-system-data",
        "qemu-system-gui",
        "qemu-block-extra",
        "qemu-utils",
        "qemu-system-modules-opengl",
        "qemu-system-modules-spice",
    }
    assert {p.version for p in chosen} == {V10}


def test_a_binnmu_takes_its_architecture_all_siblings_at_the_source_version() -> None:
    chosen = {
        p.name: p.version
        for p in select.same_upload(_records("show-upload.txt"), _main(V72_BINNMU))
    }
    assert chosen["qemu-system-x86"] == V72_BINNMU
    assert chosen["qemu-system-common"] == V72_BINNMU
    assert chosen["qemu-system-data"] == "1:7.2+dfsg-7+deb12u18"
    # 7.2 had no module packages; none of 10.0's may come along.
    assert not [n for n in chosen if n.startswith(select.MODULE_PREFIX)]


def test_an_upload_without_its_common_package_is_refused() -> None:
    recs = [r for r in _records("show-upload.txt") if r["package"] != "qemu-system-common"]
    with pytest.raises(SetupError, match="qemu-system-common"):
        select.same_upload(recs, _main(V10))


def test_firmware_is_what_the_package_depends_on_besides_libraries_and_its_own_source() -> None:
    assert select.firmware_names(_main(V10), _records("show-deps.txt")) == ["seabios", "ipxe-qemu"]


def test_policy_output_is_read_per_package() -> None:
    pols = select.policies((APT / "policy-firmware.txt").read_text())
    assert pols["seabios"].candidate == "1.16.3-2~bpo12+1"
    assert pols["seabios"].in_suite("1.16.3-2~bpo12+1", "bookworm-backports")
    assert not pols["seabios"].in_suite("1.16.2-1", "bookworm-backports")
    assert not pols["ipxe-qemu"].in_suite(pols["ipxe-qemu"].candidate or "", "bookworm-backports")


def test_firmware_with_a_suite_is_what_the_suite_carries() -> None:
    pols = select.policies((APT / "policy-firmware.txt").read_text())
    chosen, notes = select.choose_firmware(["seabios", "ipxe-qemu"], pols, "bookworm-backports")
    assert [p.spec for p in chosen] == ["seabios=1.16.3-2~bpo12+1"]
    assert len(notes) == 1
    assert notes[0].startswith("ipxe-qemu: not in bookworm-backports")
    chosen, notes = select.choose_firmware(["seabios", "ipxe-qemu"], pols, None)
    assert [p.name for p in chosen] == ["seabios", "ipxe-qemu"]
    assert notes == []


def test_unknown_versions_are_not_found() -> None:
    recs = _records("show-upload.txt")
    assert select.find(recs, "qemu-system-x86", "1:9.9") is None
    assert V10 in select.versions_of(recs, "qemu-system-x86")


# --- cache ---------------------------------------------------------------------------


def test_cache_names_escape_the_epoch_as_apt_does() -> None:
    assert safe_version(V10) == "1%3a10.0.2+ds-2+deb13u1~bpo12+1"
    assert package_dir(Path("/c"), "qemu-system-x86", V10) == Path(
        "/c/packages/qemu-system-x86_1%3a10.0.2+ds-2+deb13u1~bpo12+1"
    )


@pytest.mark.parametrize(
    "spec", ["qemu-system-x86", "foo=1.0", "qemu-system-x86=", "qemu-system-x86=a b"]
)
def test_bad_specs_are_one_line_errors(spec: str) -> None:
    with pytest.raises(SetupError, match="PACKAGE=VERSION"):
        parse_spec(spec)


def test_a_cached_version_is_found_without_the_network(tmp_path: Path) -> None:
    assert cached_launcher(SPEC, tmp_path) is None
    bin_dir = package_dir(tmp_path, "qemu-system-x86", V10) / "bin"
    bin_dir.mkdir(parents=True)
    for name in (
        "qemu-img",
        "qemu-system-i386",
        "qemu-system-x86_64",
        "qemu-system-x86_64-microvm",
    ):
        (bin_dir / name).write_text("#!/bin/sh\n")
    assert cached_launcher(SPEC, tmp_path) == bin_dir / "qemu-system-x86_64"
    assert cached_launcher(SPEC, tmp_path, "qemu-img") == bin_dir / "qemu-img"
    with pytest.raises(SetupError, match="no launcher qemu-io"):
        cached_launcher(SPEC, tmp_path, "qemu-io")


# --- launchers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "names", "expected"),
    [
        (
            "qemu-system-x86",
            ["qemu-system-i386", "qemu-system-x86_64", "qemu-system-x86_64-microvm"],
            "qemu-system-x86_64",
        ),
        ("qemu-system-arm", ["qemu-system-aarch64", "qemu-system-arm"], "qemu-system-arm"),
        ("qemu-system-s390x", ["qemu-img", "qemu-system-s390x"], "qemu-system-s390x"),
    ],
)
def test_the_main_binary_is_named_after_the_package(
    package: str, names: list[str], expected: str
) -> None:
    assert main_binary(package, names) == expected


def test_a_package_named_after_no_binary_needs_binary() -> None:
    with pytest.raises(SetupError, match="--binary"):
        main_binary("qemu-system-misc", ["qemu-system-avr", "qemu-system-m68k"])


def test_the_emulator_launcher_sets_modules_and_firmware_and_execs() -> None:
    root = Path("/cache/packages/qemu-system-x86_1%3a10/root")
    text = launcher_text(
        "qemu-system-x86_64",
        root,
        "usr/lib/x86_64-linux-gnu/qemu",
        ["usr/share/qemu", "usr/share/seabios"],
        "qemu-system-x86 1:10",
    )
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "R=/cache/packages/qemu-system-x86_1%3a10/root" in lines
    assert 'QEMU_MODULE_DIR="$R/usr/lib/x86_64-linux-gnu/qemu"' in lines
    assert "export QEMU_MODULE_DIR" in lines
    assert lines[-1] == (
        'exec "$R/usr/bin/qemu-system-x86_64" -L "$R/usr/share/qemu" -L "$R/usr/share/seabios" "$@"'
    )


def test_tool_launchers_get_modules_but_no_firmware() -> None:
    text = launcher_text(
        "qemu-img", Path("/r"), "usr/lib/x86_64-linux-gnu/qemu", ["usr/share/qemu"], "o"
    )
    assert text.splitlines()[-1] == 'exec "$R/usr/bin/qemu-img" "$@"'
    assert "QEMU_MODULE_DIR" in text


def test_a_root_with_quotes_and_spaces_stays_one_word() -> None:
    text = launcher_text("qemu-img", Path("/a b/it's"), None, [], "o")
    assert "R='/a b/it'\"'\"'s'" in text.splitlines()
    assert subprocess.run(["sh", "-n"], input=text, text=True, check=False).returncode == 0


def _tree(root: Path) -> None:
    bindir = root / "usr" / "bin"
    bindir.mkdir(parents=True)
    for name in (
        "qemu-system-x86_64",
        "qemu-system-i386",
        "qemu-storage-daemon",
        "qemu-img",
        "qemu-io",
    ):
        (bindir / name).write_text("")
    (bindir / "qemu-system-amd64").symlink_to("qemu-system-x86_64")
    (bindir / "kvm").symlink_to("qemu-system-x86_64")
    mods = root / "usr" / "lib" / "x86_64-linux-gnu" / "qemu"
    mods.mkdir(parents=True)
    (mods / "hw-display-qxl.so").write_text("")
    (root / "usr" / "share" / "seabios").mkdir(parents=True)


def test_launchers_are_written_for_each_binary_not_for_its_symlinks(tmp_path: Path) -> None:
    staging, final = tmp_path / "staging", tmp_path / "final"
    _tree(staging / "root")
    assert binaries(staging / "root") == [
        "qemu-img",
        "qemu-storage-daemon",
        "qemu-system-i386",
        "qemu-system-x86_64",
    ]
    names = write_launchers(
        staging / "root", final / "root", staging / "bin", "qemu-system-x86 1:10"
    )
    assert sorted(p.name for p in (staging / "bin").iterdir()) == names
    text = (staging / "bin" / "qemu-system-x86_64").read_text()
    assert f"R={final / 'root'}" in text
    # Only the firmware directories the tree has: this one has no usr/share/qemu.
    assert '-L "$R/usr/share/seabios" "$@"' in text
    assert "usr/share/qemu" not in text
    assert (staging / "bin" / "qemu-system-x86_64").stat().st_mode & 0o111


def test_a_tree_without_an_emulator_has_no_launchers(tmp_path: Path) -> None:
    (tmp_path / "root" / "usr" / "bin").mkdir(parents=True)
    with pytest.raises(SetupError, match="no qemu-system-"):
        write_launchers(tmp_path / "root", tmp_path / "final", tmp_path / "bin", "o")


# --- an interrupted fetch ------------------------------------------------------------


class _InterruptedApt:
    """A download stopped halfway (Ctrl-C): a partial .deb is on disk."""

    def download(self, specs: list[str], into: Path) -> list[Path]:
        (into / "qemu-system-x86.deb").write_bytes(b"half")
        raise KeyboardInterrupt


def test_an_interrupted_fetch_leaves_no_half_cache(tmp_path: Path) -> None:
    from conformance.packages.fetch import build

    directory = package_dir(tmp_path, "qemu-system-x86", V10)
    stale = directory.with_name(f".{directory.name}.partial-1")
    stale.mkdir(parents=True)
    with pytest.raises(KeyboardInterrupt):
        build(
            _InterruptedApt(),  # type: ignore[arg-type]
            [select.Package("qemu-system-x86", V10)],
            directory,
            origin="qemu-system-x86",
            say=lambda _: None,
        )
    assert list(directory.parent.iterdir()) == []
    assert cached_launcher(SPEC, tmp_path) is None


def test_apts_scratch_files_go_into_the_cache(tmp_path: Path) -> None:
    """apt-get and apt-key write apt.conf.* and apt-key-gpghome.* into TMPDIR while they
    run: a fetch keeps them inside its cache, not in the host's TMPDIR."""
    if shutil.which("apt-get") is None or shutil.which("apt-cache") is None:
        pytest.skip("apt-get is not installed")
    state = tmp_path / "apt"
    apt = PrivateApt(state, state / "sources.list", state / "sources.list.d", None)
    scratch = Path(apt.env["TMPDIR"])
    assert scratch.is_dir()
    assert scratch.is_relative_to(state)
