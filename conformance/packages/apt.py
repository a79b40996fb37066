"""apt-get and apt-cache on a private state: every list, cache and archive inside the
fetch cache, the sources from `sources.py`; the system's apt configuration is read, its
state never written.

The system's hooks (APT::Update::Post-Invoke and the like) are cleared: they act on the
system (appstream, PackageKit, docker's cache cleaning), not on this private state.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conformance.errors import SetupError
from conformance.tool import run_tool

UPDATE_TIMEOUT = 600.0
QUERY_TIMEOUT = 120.0
DOWNLOAD_TIMEOUT = 1200.0

_CLEARED_HOOKS = (
    "APT::Update::Pre-Invoke",
    "APT::Update::Post-Invoke",
    "APT::Update::Post-Invoke-Success",
    "DPkg::Pre-Invoke",
    "DPkg::Post-Invoke",
    "DPkg::Pre-Install-Pkgs",
)


class PrivateApt:
    """apt run with its state under `state` (an apt/ directory of the fetch cache)."""

    def __init__(self, state: Path, source_list: Path, source_parts: Path, suite: str | None):
        if shutil.which("apt-get") is None or shutil.which("apt-cache") is None:
            raise SetupError("apt-get is not installed: fetch needs Debian's apt")
        lists, cache = state / "lists", state / "cache"
        for d in (lists / "partial", cache / "archives" / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        conf = state / "apt.conf"
        conf.write_text("".join(f"#clear {hook};\n" for hook in _CLEARED_HOOKS), encoding="utf-8")
        self.options = [
            "-c",
            str(conf),
            "-o",
            f"Dir::Etc::SourceList={source_list}",
            "-o",
            f"Dir::Etc::SourceParts={source_parts}",
            "-o",
            f"Dir::State::Lists={lists}",
            "-o",
            f"Dir::Cache={cache}",
            "-o",
            f"Dir::Cache::Archives={cache / 'archives'}",
        ]
        if os.geteuid() == 0:
            # apt's _apt user can't write into root's cache; downloading as root is what
            # apt would fall back to anyway, without the warning.
            self.options += ["-o", "APT::Sandbox::User=root"]
        if suite is not None:
            # Versions from the suite win, as with `apt-get -t SUITE`.
            self.options += ["-o", f"APT::Default-Release={suite}"]
        # apt-get and apt-key make scratch files (apt.conf.*, apt-key-gpghome.*) in TMPDIR:
        # keep them in the cache too, so a fetch touches nothing outside it.
        scratch = state / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "LC_ALL": "C",
            "DEBIAN_FRONTEND": "noninteractive",
            "TMPDIR": str(scratch),
        }

    def _run(
        self, tool: str, args: list[str], timeout: float, cwd: Path | None = None
    ) -> tuple[int, str]:
        return run_tool([tool, *self.options, *args], timeout=timeout, cwd=cwd, env=self.env)

    def update(self) -> str:
        """Fetch the indexes; SetupError naming the first source that failed (apt only warns
        about unreachable sources, and a fetch can't work from a partial view)."""
        rc, out = self._run("apt-get", ["-q", "update"], UPDATE_TIMEOUT)
        failed = [
            line.split(":", 1)[1].strip()
            for line in out.splitlines()
            if line.startswith(("E:", "W: Failed to fetch", "W: Some index files"))
        ]
        if rc != 0 or failed:
            reason = failed[0] if failed else _last_line(out)
            raise SetupError(f"apt-get update: {reason}")
        return out

    def show(self, names: list[str]) -> str:
        """`apt-cache show` of every version of these packages (unknown names are left
        out, not an error)."""
        if not names:
            return ""
        _, out = self._run("apt-cache", ["show", *names], QUERY_TIMEOUT)
        return out

    def policy(self, names: list[str]) -> str:
        if not names:
            return ""
        rc, out = self._run("apt-cache", ["policy", *names], QUERY_TIMEOUT)
        if rc != 0:
            raise SetupError(f"apt-cache policy: {_last_line(out)}")
        return out

    def pkgnames(self, prefix: str) -> list[str]:
        _, out = self._run("apt-cache", ["pkgnames", prefix], QUERY_TIMEOUT)
        return sorted(line for line in out.split() if line.startswith(prefix))

    def download(self, specs: list[str], into: Path) -> list[Path]:
        """`apt-get download NAME=VERSION...` into `into`; the .deb files it wrote."""
        rc, out = self._run("apt-get", ["-q", "download", *specs], DOWNLOAD_TIMEOUT, cwd=into)
        if rc != 0:
            raise SetupError(f"apt-get download: {_last_line(out)}")
        return sorted(into.glob("*.deb"))


def _last_line(out: str) -> str:
    """apt's own reason: its last E: line, else its last line."""
    lines = [line for line in out.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines or ["no output"])[-1].removeprefix("E:").strip()
