"""Machine profiles: the argv that sets up the guest machine the suite talks to.

Every profile starts from `-nodefaults -display none -S` so that no guest code runs and
no default device (with host-side backends) is created; the profile then adds the
devices that checks need. The block profile gives the tray and medium checks an IDE
CD-ROM (it has a tray) holding a null-co node (no host file behind it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

BASE_ARGS: tuple[str, ...] = ("-nodefaults", "-no-user-config", "-display", "none", "-S")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    args: tuple[str, ...]
    description: str
    # The objects the profile creates, by the kind of name they have (the pool kinds
    # of strategies.pools): what documented examples' names are mapped onto.
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("none", ("-machine", "none"), "no board at all: the smallest QMP surface"),
        Profile(
            "q35",
            (
                "-machine",
                "q35",
                "-blockdev",
                "driver=null-co,node-name=null0,read-zeroes=on",
                "-device",
                "ide-cd,id=cd0,drive=null0,bus=ide.0",
            ),
            "q35 with an ide-cd (id cd0) holding a null-co node (null0)",
            MappingProxyType(
                {
                    "device-id": "cd0",
                    "node-name": "null0",
                    "qom-path": "/machine/peripheral/cd0",
                }
            ),
        ),
    )
}


def profile(name: str) -> Profile:
    """The named profile; unknown names raise KeyError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"unknown machine profile {name!r} (known: {', '.join(sorted(PROFILES))})"
        ) from None
