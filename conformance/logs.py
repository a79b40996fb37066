"""The harness's log lines: one logger tree, one line format.

Every module logs through ``logging.getLogger(__name__)``, so all of the harness's
decisions are under the `conformance` logger. The CLI's own lines and those an xdist
worker writes for a suite run (`conformance.plugin.worker_log`) look the same.
"""

from __future__ import annotations

__all__ = ["HARNESS_LOGGER", "LOG_FORMAT"]

HARNESS_LOGGER = "conformance"
LOG_FORMAT = "qmp-conformance: %(levelname)s %(name)s: %(message)s"
