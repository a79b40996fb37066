"""The pytest plugin: options, fixtures, parametrisation from the live schema, labels.

It is loaded only for a run of the conformance suite: `qmp-conformance run` names it
(``-p conformance.plugin``), and the `pytest11` entry point (`conformance.pytest_entry`)
loads it when pytest is pointed at `conformance.suite`; every other pytest session in
the environment never imports it, so never gets its options, its temporary workdir or
its Hypothesis profiles. In an xdist worker of `qmp-conformance run` it makes the
worker die with its controller (`conformance.lifeline`).

Test ids are command names taken from the binary's own `query-qmp-schema`, so the
number of tests follows the binary, never a list written here.

Findings: each failed conformance test's exception becomes findings on the process that
ran it (`conformance.findings.record`), carried to the controller as JSON in the
report's user properties; a finding whose signature is in the ``--baseline`` is reported
as known (xfail-like), not failed. The controller deduplicates them, writes
``--findings-dir``, updates the baseline on request, and decides the exit status:
3 on a harness error, 1 on a new finding, else 0.

The plugin is this package, one module per job: `options` (command-line options, the
run context at configure time), `parametrise` (test ids from the live binary),
`fixtures`, `jobs` (the job check after each test), `outcome` (findings, harness
errors, the findings store, the exit status), `summary` (the terminal summary, read
from the structured results in `records`) and `worker_log` (an xdist worker's live
log lines on the terminal). The run context itself is
`conformance.runcontext`, which the reporters read too.
"""

from __future__ import annotations

from conformance import hypothesis_profiles

# The plugin's modules; then labels, categories, environment and the matrix: what a
# finished run is read as; and --shard, which splits the run for CI jobs in parallel.
pytest_plugins = [
    "conformance.plugin.options",
    "conformance.plugin.parametrise",
    "conformance.plugin.fixtures",
    "conformance.plugin.jobs",
    "conformance.plugin.outcome",
    "conformance.plugin.summary",
    "conformance.plugin.worker_log",
    "conformance.reporting.plugin",
    "conformance.sharding",
]

# Hypothesis profiles, chosen with --hypothesis-profile (docs/hypothesis-profiles.md).
hypothesis_profiles.register()
