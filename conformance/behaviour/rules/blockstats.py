"""query-blockstats wr_highest_offset after a write through HMP's qemu-io.

The write goes to the profile's null-co node (no host file behind it); `qemu-io` is
not on the generated-HMP allowlist, but this rule's command line is fixed and writes
nothing outside QEMU's memory."""

from __future__ import annotations

from conformance.behaviour.rule import Rule, State, Step
from conformance.oracle.failure import qapi

HIGHEST = qapi(
    "qapi/block-core.json: BlockDeviceStats",
    "wr_highest_offset: The offset after the greatest byte written to the device.",
)
HX = qapi(
    "qmp-commands.hx: query-blockstats (QEMU 2.5)",
    '"wr_highest_offset": The offset after the greatest byte written to the '
    "BlockDriverState since it has been opened (json-int)",
)


def _write(offset: int, length: int) -> Step:
    return Step(
        "human-monitor-command", {"command-line": f'qemu-io -d cd0 "write {offset} {length}"'}
    )


def _highest(value: int) -> State:
    return State("query-blockstats", {"qdev": "cd0"}, "stats.wr_highest_offset", value)


RULES: tuple[Rule, ...] = (
    Rule(
        "query-blockstats.wr-highest-offset",
        "after writes ending at 69632 and 8192, wr_highest_offset is 69632",
        "query-blockstats",
        HIGHEST,
        (
            Step("query-blockstats", state=(_highest(0),)),
            Step(
                _write(65536, 4096).command, _write(65536, 4096).arguments, state=(_highest(69632),)
            ),
            Step(
                _write(4096, 4096).command, _write(4096, 4096).arguments, state=(_highest(69632),)
            ),
        ),
        since=(2, 5, 0),
    ),
    Rule(
        "query-blockstats.wr-highest-offset-2.5",
        "the 2.5 wording: the offset after the greatest byte written",
        "query-blockstats",
        HX,
        (_write(0, 512), Step("query-blockstats", state=(_highest(512),))),
        since=(2, 5, 0),
    ),
)
