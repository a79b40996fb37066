"""Hypothesis strategies built from the spec model.

The public API is small; each strategy's docstring says what it generates and how its
examples shrink:

- `values(schema, type)`: valid JSON values of a schema type;
- `arguments(schema, command)`: valid arguments for a command;
- `malformed_arguments(schema, command)`: `Malformed` cases, each tagged with the one
  rule it breaks;
- `envelopes()`: malformed message envelopes (`Envelope`), tagged;
- `wire_bytes()`: broken JSON bytes (`WireCase`), tagged;
- `Pools` / `pool_strings()`: strings harvested from the running QEMU;
- `GenerationPolicy`: what generation may produce; `strategies.safety` builds the
  host-safety one and confines generated arguments to the instance's workdir.
"""

from strategies.malformed import MALFORMED_RULES, Malformed, malformed_arguments, malformed_rules
from strategies.policy import PERMISSIVE, GenerationPolicy
from strategies.pools import Pools, pool_strings
from strategies.values import arguments, values
from strategies.wire import Envelope, WireCase, envelopes, wire_bytes

__all__ = [
    "MALFORMED_RULES",
    "PERMISSIVE",
    "Envelope",
    "GenerationPolicy",
    "Malformed",
    "Pools",
    "WireCase",
    "arguments",
    "envelopes",
    "malformed_arguments",
    "malformed_rules",
    "pool_strings",
    "values",
    "wire_bytes",
]
