"""(5) Time of the documentation parsers: the installed man page and the QAPI corpus.

Every process that collects the suite parses the documentation once (each xdist
worker does), so this time is paid once per worker at the start of every run. Best of
3; the ratio is the share of the CI profile's 90 s budget.

    python bench/doc_parsers.py [--qapi DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import PROJECT, Result, print_results

from conformance.docs.load import load_docs
from conformance.docs.manpage import find_man_page

BUDGET = 90.0
CORPUS = PROJECT.parent / "shared" / "corpus" / "qapi-latest"


def _best(source: str | Path | None) -> tuple[float, int, int]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        docs = load_docs(source)
        times.append(time.perf_counter() - start)
    return min(times), len(docs.entries), len(docs.examples())


def run(qapi: Path = CORPUS) -> list[Result]:
    results = []
    sources: list[tuple[str, str | Path | None, Path | None]] = [
        ("man page qemu-qmp-ref.7", None, find_man_page()),
        (f"QAPI {qapi.name}/", qapi, qapi if qapi.is_dir() else None),
    ]
    for name, source, path in sources:
        if path is None:
            results.append(Result("doc parsers", name, 0.0, "s", note="not found: skipped"))
            continue
        seconds, entries, examples = _best(source)
        results.append(
            Result("doc parsers", name, seconds, "s", ratio=seconds / BUDGET,
                   note=f"ratio: share of 90 s; {entries} entries, {examples} examples")
        )  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qapi", type=Path, default=CORPUS, help="a QAPI schema directory")
    ns = parser.parse_args()
    print_results(run(ns.qapi))


if __name__ == "__main__":
    main()
