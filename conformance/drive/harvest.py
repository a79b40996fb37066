"""Harvest interesting strings from the running QEMU into generation pools.

Schema types say `str`, but the bugs live behind real type names, QOM paths, device
ids and node names: a random string fails the first lookup and never reaches deeper
code. So at the start of a session the harvester reads the live binary, and during the
run every string seen in a reply is added too (bounded by the pools' caps).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from conformance.machine.harness import names_harness_resource
from conformance.machine.instance import QemuInstance
from conformance.spec import EnumType, Schema
from strategies.pools import KINDS, Pools

MAX_QOM_PATHS = 3000
MAX_SEEN_STRING = 256

#: A query of one QEMU (`_asker`): command and arguments in, the reply's value out.
Ask = Callable[..., object]


def harvest(inst: QemuInstance, schema: Schema, pools: Pools) -> None:
    """Fill `pools` from the schema and from what `inst` reports about itself."""
    for t in schema.types.values():
        if isinstance(t, EnumType):
            pools.extend("enum-value", t.values)

    ask = _asker(inst, schema)
    pools.extend("type-name", _field(ask("qom-list-types", {"abstract": True}), "name"))
    machines = ask("query-machines")
    pools.extend("machine", _field(machines, "name"))
    pools.extend("machine", _field(machines, "alias"))
    pools.extend("cpu-model", _field(ask("query-cpu-definitions"), "name"))
    _names(ask, pools)
    buses = _bus_types(ask)
    for path, child_type in _qom_paths(ask):
        pools.add("qom-path", path)
        parent, _, name = path.rpartition("/")
        if parent in ("/machine/peripheral", "/machine/peripheral-anon"):
            pools.add("device-id", name)
        if child_type in buses:
            pools.add("bus-id", name)


def harvest_names(inst: QemuInstance, schema: Schema, pools: Pools) -> None:
    """Add to `pools` the names of what `inst` has now (nodes, block devices, jobs,
    chardevs, objects, devices), without the type lists and the QOM walk: what a
    set-up created (`conformance.feedback.setups`), in a few queries."""

    ask = _asker(inst, schema)
    _names(ask, pools)
    buses = _bus_types(ask)
    for parent in ("/machine/peripheral", "/machine/peripheral-anon"):
        for name, _ in _children(ask, parent):
            pools.add("device-id", name)
            device = child_path(parent, name)
            pools.add("qom-path", device)
            # A controller a set-up plugged brings its buses (xhci's "x.0").
            pools.extend("bus-id", [bus for bus, kind in _children(ask, device) if kind in buses])


def with_created(base: Pools, now: Pools) -> tuple[Pools, frozenset[str]]:
    """Pools of `base`'s names and then those of `now` (harvested after a set-up) that
    `base` lacks; and the kinds that got some. A copy, so that the names a chunk's
    set-up created are drawn by that chunk only."""
    pools = Pools()
    grew = set()
    for kind in KINDS:
        known = base.values(kind)
        pools.extend(kind, known)
        created = set(now.values(kind)) - set(known)
        if created:
            grew.add(kind)
            pools.extend(kind, [name for name in now.values(kind) if name in created])
    return pools, frozenset(grew)


def _names(ask: Ask, pools: Pools) -> None:
    nodes = ask("query-named-block-nodes")
    pools.extend("node-name", _field(nodes, "node-name"))
    block = ask("query-block")
    pools.extend("device-id", _field(block, "qdev"))
    pools.extend("device-id", [d for d in _field(block, "device") if d])
    pools.extend("job-id", _field(ask("query-jobs"), "id"))
    pools.extend("chardev-id", _field(ask("query-chardev"), "label"))
    pools.extend("object-id", _field(ask("qom-list", {"path": "/objects"}), "name"))


def qom_tree(inst: QemuInstance) -> list[str]:
    """Every path of the QOM composition tree (capped at `MAX_QOM_PATHS`), walked with
    qom-list as device-introspect-test's qom_tree_walk does."""

    return [path for path, _ in _qom_paths(_asker(inst))]


def _asker(inst: QemuInstance, schema: Schema | None = None) -> Ask:
    """A query of `inst`: the reply's value, None for an error or (with `schema`) a
    command the schema doesn't have."""

    def ask(command: str, arguments: dict[str, object] | None = None) -> object:
        if schema is not None and command not in schema.commands:
            return None
        reply = inst.execute(command, arguments)
        return reply.value if reply.ok else None

    return ask


def child_path(parent: str, name: str) -> str:
    """The QOM path of `parent`'s child property `name`."""
    return f"{parent.rstrip('/')}/{name}"


def absorb(value: object, pools: Pools) -> None:
    """Add every string found in a reply value to the `seen` pool."""
    for s in _strings(value):
        if 0 < len(s) <= MAX_SEEN_STRING:
            pools.add("seen", s)


def _qom_paths(ask: Ask) -> Iterator[tuple[str, str]]:
    """Each path of the QOM composition tree, with its type (capped)."""
    # Breadth-first so that a capped walk still covers the top of every subtree.
    queue: deque[str] = deque(["/"])
    count = 0
    while queue and count < MAX_QOM_PATHS:
        path = queue.popleft()
        for name, child_type in _children(ask, path):
            child = child_path(path, name)
            if names_harness_resource(child):
                # The harness's own monitor: never a target, nor in a reproducer.
                continue
            count += 1
            yield child, child_type
            queue.append(child)


def _children(ask: Ask, path: str) -> Iterator[tuple[str, str]]:
    """The child<> properties of the QOM object at `path`: (name, type)."""
    for prop in _as_list(ask("qom-list", {"path": path})):
        if not isinstance(prop, dict):
            continue
        name, kind = prop.get("name"), prop.get("type")
        if isinstance(name, str) and isinstance(kind, str) and kind.startswith("child<"):
            yield name, kind.removeprefix("child<").removesuffix(">")


def _bus_types(ask: Ask) -> frozenset[str]:
    """The QOM types of buses (``PCIE``, ``IDE``, ``usb-bus``, ...)."""
    listed = ask("qom-list-types", {"implements": "bus", "abstract": True})
    return frozenset(_field(listed, "name"))


def _field(value: object, key: str) -> list[str]:
    return [
        v
        for item in _as_list(value)
        if isinstance(item, dict) and isinstance(v := item.get(key), str)
    ]


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> Iterator[str]:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
