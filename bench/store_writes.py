"""Benchmark the store's write path: readings committed in groups, against one transaction.

    python bench/store_writes.py [--subjects 1000000] [--indices 5] [--each 20000]

Readings for ``--subjects`` subjects x ``--indices`` indices are written to a fresh SQLite file
(WAL) three ways, in one run:
- ``grouped``: through ``Store.writer`` as ``aggregator run`` does (a commit every 1,000
  readings or 50 ms, each row guarded against subjects forgotten mid-run);
- ``one_transaction``: the same rows through ``Store.write`` in a single transaction (the floor);
- ``each``: ``Store.add`` committing every reading on its own, on the first ``--each`` readings
  only (it is slow), extrapolated per reading.

Building the Reading objects is timed apart and left out. The last line is JSON: seconds per
way, microseconds per reading, and the ratios grouped / one transaction and each / grouped.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aggregator.collection.store import Store
from aggregator.models import IndexSpec, Reading, Run, Scale, Subject


def fresh(folder: Path, name: str, subjects: list[Subject], specs: list[IndexSpec]) -> Store:
    store = Store(folder / f"{name}.sqlite")
    store.start_run(Run(id="bench", started_at=datetime.now(UTC), config_digest=""), subjects, specs)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--indices", type=int, default=5)
    parser.add_argument("--each", type=int, default=20_000, help="readings committed one by one")
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.subjects, args.each = 2_000, 500

    started = time.perf_counter()
    subjects = [Subject(id=f"s{i}", name=f"S {i}") for i in range(args.subjects)]
    specs = [IndexSpec(name=f"i{j}", scale=Scale(lo=0, hi=100)) for j in range(args.indices)]
    scale = Scale(lo=0, hi=100)
    readings = [Reading.model_construct(index=spec.name, subject_id=s.id, value=(i * 7 + j) % 100, raw=None,
                                        scale=scale, algorithm_version="1", components={}, topics=(),
                                        fetched_at=datetime.now(UTC))
                for i, s in enumerate(subjects) for j, spec in enumerate(specs)]
    build_s = time.perf_counter() - started

    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with fresh(folder, "grouped", subjects, specs) as store:
            started = time.perf_counter()
            with store.writer("bench") as sink:
                for reading in readings:
                    sink(reading)
            seconds["grouped"] = time.perf_counter() - started
            assert store.run("bench").counts.readings == len(readings)
        with fresh(folder, "once", subjects, specs) as store:
            started = time.perf_counter()
            store.write("bench", readings)
            seconds["one_transaction"] = time.perf_counter() - started
        with fresh(folder, "each", subjects[: args.each], specs) as store:
            few = readings[: args.each]
            started = time.perf_counter()
            for reading in few:
                store.add("bench", reading)
            each_per = (time.perf_counter() - started) / len(few)
    seconds["each_extrapolated"] = each_per * len(readings)
    per = {k: round(v / len(readings) * 1e6, 2) for k, v in seconds.items()}
    for key, value in seconds.items():
        print(f"{key:>18}: {value:8.2f} s  ({per[key]} us/reading)")
    print(json.dumps({
        "readings": len(readings), "build_s": round(build_s, 2),
        **{f"{k}_s": round(v, 2) for k, v in seconds.items()},
        "us_per_reading": per,
        "grouped_vs_one_transaction": round(seconds["grouped"] / seconds["one_transaction"], 2),
        "each_vs_grouped": round(seconds["each_extrapolated"] / seconds["grouped"], 1),
    }))


if __name__ == "__main__":
    main()
