"""Live harness log lines from xdist workers.

With ``--log-level`` (`qmp-conformance run` turns on pytest's live logging), pytest
shows live log lines only in the process that owns the terminal. An xdist worker's
live log goes to its own terminal reporter, which nobody reads, so a ``-n 2`` run would
show the harness's decisions (restarts, exit classifications) only for failed tests,
after the fact. A worker therefore writes the records of the `conformance` loggers
itself, to the stderr it inherited from the controller, prefixed with its id.
"""

from __future__ import annotations

import contextlib
import logging
import os

import pytest

from conformance.logs import HARNESS_LOGGER, LOG_FORMAT

__all__ = ["WorkerStderr"]


class WorkerStderr(logging.Handler):
    """Writes each record as one line to `fd`, prefixed with the worker id.

    One `os.write` per line: lines of several workers on one terminal interleave whole,
    and a record logged from a QEMU stderr reader thread needs no lock of pytest's.
    """

    def __init__(self, fd: int, worker: str, level: int) -> None:
        super().__init__(level)
        self.fd = fd
        self.worker = worker
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"[{self.worker}] {self.format(record)}\n"
            os.write(self.fd, line.encode("utf-8", "backslashreplace"))
        except OSError:  # the controller's terminal went away: nothing left to tell
            pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        super().close()


def _stderr_outside_capture(config: pytest.Config) -> int:
    """A duplicate of the worker's real stderr. Under fd capture, fd 2 is pytest's
    capture file; it is the inherited stderr only while capture is suspended."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        return os.dup(2)
    with capman.global_and_fixture_disabled():
        return os.dup(2)


_HANDLER = pytest.StashKey["WorkerStderr"]()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None or not config.getini("log_cli"):
        return
    level = logging.getLevelName(config.getoption("log_cli_level") or "WARNING")
    if not isinstance(level, int):
        return
    handler = WorkerStderr(_stderr_outside_capture(config), worker, level)
    harness = logging.getLogger(HARNESS_LOGGER)
    harness.addHandler(handler)
    harness.setLevel(min(level, harness.getEffectiveLevel()))
    config.stash[_HANDLER] = handler


@pytest.hookimpl
def pytest_unconfigure(config: pytest.Config) -> None:
    handler = config.stash.get(_HANDLER, None)
    if handler is not None:
        logging.getLogger(HARNESS_LOGGER).removeHandler(handler)
        handler.close()
