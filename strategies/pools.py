"""Strings harvested from a running QEMU, and which argument members should use them.

The schema types almost every name in QMP as plain ``str``: a node name, a QOM path,
a device id and a CPU model are all just strings to introspection. Random strings
exercise QEMU's lookup-failure paths and nothing else, because ``device_del`` with a
random id stops at "Device 'x' not found". The interesting bugs live behind *real*
names: deleting a node that is in use, setting a property on a real QOM path,
expanding a real CPU model. So the harness harvests real names from replies
(``query-named-block-nodes``, ``qom-list``, ``qom-list-types``, ``query-machines``,
``query-cpu-definitions``, ...) into a :class:`Pools`, and string members whose *name*
says what they refer to draw from the matching pools.

How member names map to pools (:data:`MEMBER_POOLS`), and why:

- Block-graph references (``node-name``, ``node``, ``base-node``, ``top-node``,
  ``target``, ``overlay``, ``file``, ``backing``, ``replaces``, ...): the block layer
  resolves these as node names (most also accept a BlockBackend name, but node names
  are what ``blockdev-add`` creates and what block jobs operate on).
- ``device`` and ``qdev``: block commands take a BlockBackend or node name there,
  device commands a qdev id or a QOM path, so all three pools are plausible.
- ``id``: the namespace depends on the command (``device_del``, ``object-del``,
  ``chardev-remove``, ``job-*``), and the schema doesn't say which, so every id pool.
- QOM type names (``typename``, ``driver``, ``qom-type``, ``implements``): device and
  object types are where per-type property code, and its bugs, is reached. ``parent``
  is a type name in QOM introspection and a node name in ``x-blockdev-change``.
- QOM paths (``path``, ``qom-path``); chardev ids (``chardev``); machine types
  (``machine``); CPU models (``model``, ``cpu-model``).
- ``bus`` (``device_add``): the names of the buses the machine has (a child of a
  device whose type implements ``bus``: ``pcie.0``, ``ide.1``, a root port's own).
  ``device_add`` without one takes the board's first bus of the right type, which on
  q35 (``pcie.0``) refuses hotplug, so real bus names are what reaches a device's
  realize code.
- Secrets, TLS credentials, iothreads, memory backends and the like (``key-secret``,
  ``tls-creds``, ``iothread``, ``memdev``, ...): all of them name ``-object`` instances.
- ``property`` (``qom-get``/``qom-set``): property names come back from ``qom-list``
  as plain strings, so from the ``seen`` pool.
- A key ``"parent.member"`` applies to ``member`` only inside the value of a member
  called ``parent``: ``name`` is far too common to pool in general, but inside a
  CpuModelInfo (``model``, ``modela``, ``modelb`` of the ``query-cpu-model-*``
  commands) it is a CPU model.

A pool never holds a name of the harness's own resources (its monitor chardevs ``qmp``,
``qmp1``, ..., their QOM paths and sockets; `conformance.machine.harness`), however it
was harvested: ``query-chardev`` lists them, and a generated ``yank`` or
``chardev-remove`` of one cuts the suite's own channel. `strategies.safety.confine`
refuses such a value wherever else it comes from.

Pools are read at *draw* time, so a name harvested while a test runs is drawable in
the very next example. The price is that a run is only reproducible with the same
pool contents; Hypothesis may report a flaky test if a pool changes while it shrinks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from conformance.machine.harness import names_harness_resource

__all__ = ["DEFAULT_CAP", "KINDS", "MEMBER_POOLS", "Pools", "pool_strings"]

#: The kinds of harvested strings a :class:`Pools` keeps.
KINDS: tuple[str, ...] = (
    "type-name",
    "qom-path",
    "device-id",
    "node-name",
    "job-id",
    "chardev-id",
    "object-id",
    "bus-id",
    "machine",
    "cpu-model",
    "enum-value",
    "seen",
)

#: How many strings each kind keeps by default. Harvesting a big guest's QOM tree
#: yields thousands of paths; past a few thousand, more of them add nothing but memory.
DEFAULT_CAP = 2000

_NODE = ("node-name",)
_OBJECT = ("object-id",)
_TYPE = ("type-name",)

MEMBER_POOLS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Block graph.
        "node-name": _NODE,
        "node": _NODE,
        "base-node": _NODE,
        "top-node": _NODE,
        "target": _NODE,
        "overlay": _NODE,
        "file": _NODE,
        "backing": _NODE,
        "base": _NODE,
        "top": _NODE,
        "bottom": _NODE,
        "replaces": _NODE,
        "image-node-name": _NODE,
        "snapshot-node-name": _NODE,
        "filter-node-name": _NODE,
        "child": _NODE,
        "devices": _NODE,
        "device": ("device-id", "node-name", "qom-path"),
        "qdev": ("device-id", "node-name", "qom-path"),
        "id": ("device-id", "object-id", "chardev-id", "job-id"),
        "job-id": ("job-id",),
        "job": ("job-id",),
        # QOM types and paths.
        "typename": _TYPE,
        "driver": _TYPE,
        "qom-type": _TYPE,
        "implements": _TYPE,
        "parent": ("type-name", "node-name"),
        "path": ("qom-path",),
        "qom-path": ("qom-path",),
        "bus": ("bus-id",),
        "property": ("seen",),
        # Other namespaces.
        "chardev": ("chardev-id",),
        "machine": ("machine",),
        "model": ("cpu-model",),
        "cpu-model": ("cpu-model",),
        "model.name": ("cpu-model",),
        "modela.name": ("cpu-model",),
        "modelb.name": ("cpu-model",),
        # Members that name -object instances.
        "iothread": _OBJECT,
        "memdev": _OBJECT,
        "key-secret": _OBJECT,
        "password-secret": _OBJECT,
        "cookie-secret": _OBJECT,
        "proxy-password-secret": _OBJECT,
        "secret": _OBJECT,
        "tls-creds": _OBJECT,
        "tls-authz": _OBJECT,
        "pr-manager": _OBJECT,
        "prealloc-context": _OBJECT,
        "throttle-group": _OBJECT,
    }
)


class Pools:
    """Harvested strings by kind (one of :data:`KINDS`), each kind capped at ``cap``.

    Each kind keeps its strings once, in the order they were first added; when a
    kind is full, new strings are dropped, so the oldest harvest (the names the
    machine was started with) always stays. A lock makes each call atomic, which is
    all a harvester thread and a drawing test thread need from each other.
    """

    __slots__ = ("_cap", "_lock", "_snapshots", "_strings")

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError(f"pool cap must be positive, not {cap}")
        self._cap = cap
        self._lock = threading.Lock()
        # dicts as insertion-ordered sets.
        self._strings: dict[str, dict[str, None]] = {kind: {} for kind in KINDS}
        # Draws read far more often than harvests write, so reads share one tuple
        # per kind until the next write.
        self._snapshots: dict[str, tuple[str, ...]] = {}

    def add(self, kind: str, value: str) -> None:
        """Keep ``value`` as a string of ``kind`` (no-op if known, the kind is full or
        it names the harness's own resources)."""
        self.extend(kind, (value,))

    def extend(self, kind: str, values: Iterable[str]) -> None:
        """Keep each of ``values`` as a string of ``kind``, in order, up to the cap,
        except those that name the harness's own resources."""
        strings = self._kind(kind)
        items = list(values)
        for value in items:
            # Harvests come from JSON replies; a non-string there is a harvester bug.
            if not isinstance(value, str):
                raise TypeError(f"pool {kind!r} takes strings, not {type(value).__name__}")
        items = [value for value in items if not names_harness_resource(value)]
        with self._lock:
            before = len(strings)
            for value in items:
                if len(strings) >= self._cap:
                    break
                strings.setdefault(value, None)
            if len(strings) != before:
                self._snapshots.pop(kind, None)

    def values(self, kind: str) -> Sequence[str]:
        """The strings of ``kind`` now, oldest first (a snapshot, safe to keep)."""
        strings = self._kind(kind)
        with self._lock:
            snapshot = self._snapshots.get(kind)
            if snapshot is None:
                snapshot = self._snapshots[kind] = tuple(strings)
            return snapshot

    def __len__(self) -> int:
        with self._lock:
            return sum(len(strings) for strings in self._strings.values())

    def __repr__(self) -> str:
        with self._lock:
            shown = ", ".join(f"{k}={len(v)}" for k, v in self._strings.items() if v)
        return f"<Pools {shown or 'empty'}>"

    def _kind(self, kind: str) -> dict[str, None]:
        try:
            return self._strings[kind]
        except KeyError:
            raise ValueError(f"unknown pool kind {kind!r}; kinds are {', '.join(KINDS)}") from None


# Out of 20 draws: 16 from the member's own pools, 2 from any pool (a node name where a
# device id was expected finds type-confusion bugs), 2 generic (names that don't exist).
_ROLLS = 20
_OWN = 16
_ANY = 18


def pool_strings(
    pools: Pools, member_name: str | None, *, fallback: SearchStrategy[str] | None = None
) -> SearchStrategy[str]:
    """Strings for a member called ``member_name``, mostly from the pools it maps to.

    Generates, per example: about 80% a string from the member's pools in
    :data:`MEMBER_POOLS` (all its pools' strings equally likely), 10% a string from
    any non-empty pool, 10% a string from ``fallback`` (default ``st.text()``). Members
    with no pools, and empty pools, fall through to any pool and then to ``fallback``.
    The pools are read when each example is drawn, so strings added after this
    strategy was built are drawable.

    Shrinks toward the first string of the member's first non-empty pool (the oldest
    harvest), then of any pool, and when no pool has anything, toward ``fallback``'s
    simplest string (the empty string for ``st.text()``).
    """
    own = MEMBER_POOLS.get(member_name, ()) if member_name is not None else ()
    return _pooled(pools, own, st.text() if fallback is None else fallback)


@st.composite
def _pooled(
    draw: st.DrawFn, pools: Pools, own: tuple[str, ...], fallback: SearchStrategy[str]
) -> str:
    roll = draw(st.integers(0, _ROLLS - 1))
    if roll < _OWN:
        picked = _pick(draw, pools, own)
        if picked is not None:
            return picked
    if roll < _ANY:
        picked = _pick(draw, pools, KINDS)
        if picked is not None:
            return picked
    return draw(fallback)


def _pick(draw: st.DrawFn, pools: Pools, kinds: Iterable[str]) -> str | None:
    """A string of one of ``kinds`` (None if all are empty), by one index into them
    all: one choice, so that a pooled string is simpler to Hypothesis's shrinker
    than any fallback string, whatever the number of pools."""
    snapshots = [pools.values(kind) for kind in kinds]
    total = sum(map(len, snapshots))
    if not total:
        return None
    index = draw(st.integers(min_value=0, max_value=total - 1))
    for strings in snapshots:
        if index < len(strings):
            return strings[index]
        index -= len(strings)
    raise AssertionError("unreachable: index < total")
