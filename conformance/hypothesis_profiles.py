"""The suite's Hypothesis profiles, chosen with ``--hypothesis-profile``
(docs/hypothesis-profiles.md).

They are named ``qmpc-*``: Hypothesis loads a profile named ``ci`` by itself when $CI is
set, so a profile of that name registered by us would replace Hypothesis's own in every
session that loads the suite's plugin. They are registered (`register`) only by the
plugin, which only a run of the conformance suite loads (`conformance.pytest_entry`);
the names alone import nothing, for the CLI's choices.
"""

from __future__ import annotations

DEV = "qmpc-dev"
#: `run --profile full`'s: derandomised, 20 examples per test.
FULL = "qmpc-full"
#: `run --profile ci`'s: qmpc-full's with `CI_EXAMPLES` examples and no shrinking.
CI = "qmpc-ci"
NIGHTLY = "qmpc-nightly"
NAMES = (DEV, FULL, CI, NIGHTLY)
#: Examples per test in the CI profile (`--suite-profile ci`; README, "The CI profile").
CI_EXAMPLES = 5


def default_for(suite_profile: str) -> str:
    """The Hypothesis profile a suite profile (``full``, ``ci``) runs with by default."""
    return CI if suite_profile == "ci" else FULL


def register() -> None:
    from hypothesis import HealthCheck, Phase, settings

    quiet = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
    settings.register_profile(DEV, max_examples=10, deadline=None, suppress_health_check=quiet)
    settings.register_profile(
        FULL,
        derandomize=True,
        max_examples=20,
        deadline=None,
        print_blob=True,
        database=None,
        suppress_health_check=quiet,
    )
    settings.register_profile(
        NIGHTLY, max_examples=2000, deadline=None, print_blob=True, suppress_health_check=quiet
    )
    # A crash or a hang costs a QEMU start or a whole reply deadline per shrink step; the
    # finding's reproducer is minimised from its transcript instead (findings/minimise.py).
    settings.register_profile(
        CI,
        derandomize=True,
        max_examples=CI_EXAMPLES,
        deadline=None,
        print_blob=True,
        database=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=quiet,
    )
