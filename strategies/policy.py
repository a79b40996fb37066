"""What generation may produce: feature policy and values excluded for host safety.

The host-safety table (`strategies/safety.py`) builds one of these, so that values the
harness could not confine (a network block driver, a tap netdev) are never generated in
the first place, rather than generated and thrown away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class GenerationPolicy:
    """Constraints every strategy honours.

    - `allow_deprecated` / `allow_unstable`: whether commands, members and enum values
      carrying those features may be generated (QEMU's `-compat` policy decides whether
      the server accepts them; the suite decides whether to send them).
    - `excluded_values`: for a member name (an enum-typed member or a union tag), the
      values never to generate, wherever the member appears.
    """

    allow_deprecated: bool = True
    allow_unstable: bool = True
    excluded_values: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def allows(self, features: Iterable[str]) -> bool:
        """Whether something carrying `features` may be generated."""
        for feature in features:
            if feature == "deprecated" and not self.allow_deprecated:
                return False
            if feature == "unstable" and not self.allow_unstable:
                return False
        return True

    def excluded(self, member: str) -> frozenset[str]:
        """Values of a member named `member` that must never be generated."""
        return self.excluded_values.get(member, frozenset())


PERMISSIVE = GenerationPolicy()
"""No exclusions: for pure (no-QEMU) tests of the strategies."""
