"""Reading deb822 stanzas: apt's `.sources` files and the package records `apt-cache
show` prints (deb822(5))."""

from __future__ import annotations


def stanzas(text: str) -> list[dict[str, str]]:
    """Each paragraph as a dict with lower-cased field names; continuation lines are
    joined with newlines, `#` comment lines dropped."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = None
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                found.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key is not None:
            current[key] = f"{current[key]}\n{line.strip()}".strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            current[key] = value.strip()
    return found
