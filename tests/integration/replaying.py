"""What the replay tests share: the capabilities message, the colo-compare abort's
arguments, and `Replay`, the
CLI run with a private TMPDIR that must leave nothing behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conformance.findings.reproducer import Reproducer
from tests.integration.clirun import cli
from tests.integration.processes import processes_in

CAPS = b'{"execute":"qmp_capabilities"}'
COLO_ARGS = {
    "qom-type": "colo-compare",
    "id": "c0",
    "primary_in": "",
    "secondary_in": "",
    "outdev": "",
    "iothread": "nosuch",
}


class Replay:
    """Runs the CLI with TMPDIR inside the test's tmp_path, and checks it left nothing."""

    def __init__(self, tmp_path: Path, qemu: str) -> None:
        self.dir = tmp_path
        self.qemu = qemu
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()

    def write(self, rep: Reproducer, name: str = "r.jsonl") -> Path:
        path = self.dir / name
        path.write_text(rep.to_jsonl(), encoding="utf-8")
        return path

    def __call__(
        self, path: Path, *args: str, qemu: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = cli(
            "replay", str(path), "--qemu", qemu or self.qemu, *args, env={"TMPDIR": str(self.tmp)}
        )
        assert "Traceback" not in done.stderr
        assert not list(self.tmp.iterdir()), "replay left files behind"
        assert not processes_in(self.dir), "replay left a process behind"
        return done
