"""Benchmark the spine end to end on the demo data, and the price of committing every reading.

    python bench/pipeline.py [--subjects 10000]

Measures, in one run:
- the whole pipeline (files adapters -> SQLite store -> compare) and rendering the HTML report;
- writing every reading with its own commit (what the collector does, so a run that dies loses
  nothing: invariant 5) against the floor of writing them all in one transaction; the ratio is
  what durability costs;
- ``import aggregator`` in a fresh interpreter (median of 7).

The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aggregator.analytics.compare import compare_table
from aggregator.app import demo
from aggregator.app.api import Aggregator, render
from aggregator.app.config import load_config
from aggregator.collection.store import Store
from aggregator.models import Reading, Run


def _time(func):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func()
    return value, time.perf_counter() - start


def store_writes(readings: list[Reading], subjects, specs, folder: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    run = Run(id="bench", started_at=datetime.now(UTC), config_digest="bench")
    with Store(folder / "each.sqlite") as store:
        store.start_run(run, subjects, specs)
        _, each = _time(lambda: [store.add("bench", r) for r in readings])
    with Store(folder / "once.sqlite") as store:
        store.start_run(run, subjects, specs)
        db = store._db  # the floor: the same INSERTs in one transaction
        rows = [(r.index, r.subject_id, r.value, r.raw, r.scale.lo, r.scale.hi, r.algorithm_version,
                 json.dumps(r.components), json.dumps(list(r.topics)), r.fetched_at.isoformat()) for r in readings]

        def once() -> None:
            db.execute("BEGIN")
            db.executemany("INSERT INTO readings VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")

        _, floor = _time(once)
    return each, floor


def import_ms() -> float:
    runs = []
    for _ in range(7):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import aggregator"],
                             capture_output=True, text=True, check=True).stderr
        line = [row for row in out.splitlines() if row.rstrip().endswith("| aggregator")][-1]
        runs.append(int(line.split("|")[1]) / 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config_path, prepare_s = _time(lambda: demo.prepare(folder / "demo", subjects=args.subjects))
        config = load_config(config_path)
        result, pipeline_s = _time(lambda: asyncio.run(Aggregator(config).run()))
        outcome = result.outcome
        _, compare_s = _time(lambda: compare_table(outcome.comparison.table, failures=outcome.failures))
        html, render_s = _time(lambda: render(outcome, "html"))
        with Store(config.store.path) as store:
            readings = [r for _, r in store.readings(result.run_id)]
        each_s, floor_s = store_writes(readings, outcome.subjects, outcome.comparison.table.specs, folder)
    figures = {
        "subjects": args.subjects,
        "readings": len(readings),
        "prepare_s": round(prepare_s, 3),
        "pipeline_s": round(pipeline_s, 3),
        "compare_s": round(compare_s, 4),
        "render_html_s": round(render_s, 3),
        "html_bytes": len(html.encode()),
        "store_commit_each_s": round(each_s, 3),
        "store_one_transaction_s": round(floor_s, 3),
        "durability_cost_ratio": round(each_s / floor_s, 1),
        "import_aggregator_ms": round(import_ms(), 1),
    }
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
