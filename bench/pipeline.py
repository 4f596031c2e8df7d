"""Benchmark the product's own path end to end: files adapter -> store -> table -> compare -> reports.

    python bench/pipeline.py [--subjects 10000] [--view-max 100000] [--baseline-max 100000]
    python bench/pipeline.py --smoke          # smallest size, for CI: checks it runs, times nothing

Data: the analytics benchmark's five skewed, tied columns (``bench/analytics.py``), a previous
run with index 0 scored 25% higher, each index missing ``--missing`` of the subjects in each run,
and index 1 giving two components. They are written as one CSV export per index and run, read
by the ``files`` adapter of a config as a user would write it.

Stages, each with its seconds (wall and CPU) and its own peak resident memory (the kernel's
high-water mark, reset before each stage through ``/proc/self/clear_refs``):

- ``store_one_transaction`` (with the files adapter): the baseline of the store stage, in the
  same run: the rows ``collect`` stores, inserted in one transaction into a fresh file (no
  columnar copy written); it runs first, so that the exports' data (which only it needs) is
  dropped before anything is collected;
- ``collect_previous``, ``collect``: ``collect_run`` (roster, files adapter, readings committed
  to SQLite in groups, the finished run's columnar copy written) for the previous run and this
  one; ``--collect direct`` writes the same rows in one transaction instead. The previous run
  is collected in a process of its own (its peak is that process's), as last week's run was:
  from ``collect`` on, this process holds what ``aggregator run`` would, and each stage's
  peak is the product's own plus the interpreter and what earlier stages of the run keep;
- ``read_rows``: both runs read from their rows (``Store._columns_from_rows``): the path of runs
  without a columnar copy, and what finishing a run reads to write one;
- ``read``: store -> table, as ``outcome_from_store`` reads them: this run's table, components,
  failures and roster, and the previous run's table, all from the runs' columnar copies;
- ``compare``: ``compare_table`` on them (with the previous run), the yardstick of the goals;
- ``history``: the consensus history from the tables already read and the figures the comparison holds;
- ``outcome``: ``compare_stored``, the product's call that does read + compare + history;
- ``view``, ``web``, ``text``, ``json``: the report's view-model and each renderer; above
  ``--view-max`` subjects they are skipped (null in the JSON);
- ``csv``: past the shortened page's size, the full standing written beside it, as the product does.

Baseline in the same run (up to ``--baseline-max`` subjects): the previous read path, one
pydantic ``Reading`` per stored row fed to ``ScoreTable.from_readings``, for both runs.
The last line is JSON with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's reports/, not bench/reports.py

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import ConsensusHistory
from aggregator.app.config import Config, config_from_dict
from aggregator.app.history import _stored, consensus_history, known_consensus
from aggregator.app.memory import set_up
from aggregator.app.pipeline import Collected, build_adapters, collect_run, compare_stored, new_run_id
from aggregator.atomic import atomic_open
from aggregator.collection.roster import load_roster
from aggregator.collection.store import Store
from aggregator.models import Failures, Run, Subject, subject_ids, utc_now
from bench.analytics import make_tables  # the analytics benchmark's data
from reports.model import build_view
from reports.render import render
from reports.sections.standing import SHORTLIST_PAST
from reports.standing_csv import write_standing_csv

COMPONENTS = ("reach", "talk")
T = TypeVar("T")


def _peak_reset() -> None:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); elsewhere peaks accumulate."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Seconds and peak memory of each stage, in order."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        _peak_reset()
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.figures[name] = {
            "s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3),
            "peak_mb": round(_peak_mb(), 1),
        }
        print(f"{name:>18}: {self.figures[name]}", flush=True)

    def run(self, name: str, func: Callable[[], Any]) -> Any:
        with self.stage(name):
            return func()

    def in_child(self, name: str, func: Callable[..., tuple[T, dict[str, float]]], *args: Any) -> T:
        """``func(*args)`` in a fresh process (it times itself as stage ``name``): what it makes
        and leaves behind is gone when it returns, as last week's run is gone from this week's."""
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result, self.figures[name] = pool.submit(func, *args).result()
        return result


Export = tuple[np.ndarray, list[float], list[list[float]] | None]  # rows kept, values, components


def write_csv(outcome: Any, path: Path) -> None:
    """The full standing as ``RunResult.write`` writes it beside a shortened page (whole or not at all)."""
    with atomic_open(path, "wb") as handle:
        write_standing_csv(outcome, handle)


def write_inputs(folder: Path, n: int, missing: float, seed: int = 0) -> tuple[list[Config], list[list[Export]]]:
    """Roster, one CSV export per index and run, the two configs that read them, and what they hold."""
    table, previous = make_tables(n, seed)
    rng = np.random.default_rng(seed + 1)
    ids = np.array(table.subject_ids)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "roster.csv").write_text(
        "id,name,synthetic\n" + "".join(f"{sid},Person {sid[1:]},true\n" for sid in table.subject_ids)
    )
    configs, exports = [], []
    for run, source in (("previous", previous), ("current", table)):
        full = np.where(np.isnan(source.raw), np.nanmedian(source.raw, axis=0), source.raw)  # refill: own gaps
        indices: dict[str, Any] = {}
        exports.append([])
        for j, spec in enumerate(table.specs):
            kept = np.flatnonzero(rng.random(n) >= missing)
            values = full[kept, j].tolist()
            path = folder / f"{run}-{spec.name}.csv"
            if j == 1:  # this index also gives its components
                parts: list[list[float]] | None = rng.random((len(kept), len(COMPONENTS))).round(6).tolist()
                rows = (f"{sid},{v!r},{a!r},{b!r}\n" for sid, v, (a, b) in zip(ids[kept], values, parts, strict=True))
                path.write_text("id,score," + ",".join(COMPONENTS) + "\n" + "".join(rows))
            else:
                parts = None
                path.write_text("id,score\n" + "".join(f"{sid},{v!r}\n" for sid, v in zip(ids[kept], values,
                                                                                         strict=True)))
            options: dict[str, Any] = {"path": path.name, "algorithm_version": "2" if run == "current" and j == 0
                                       else "1"}
            if j == 1:
                options["components"] = {c: c for c in COMPONENTS}
            if spec.scale.bounded:
                options["scale"] = [spec.scale.lo, spec.scale.hi]
            indices[spec.name] = {"adapter": "files", "options": options}
            exports[-1].append((kept, values, parts))
        data = {"roster": {"path": "roster.csv"}, "store": {"path": "history.sqlite"}, "indices": indices,
                "report": {"title": "Pipeline benchmark", "out": "report.html"}}
        configs.append(config_from_dict(data, base_dir=folder, source=str(folder / f"{run}.toml")))
    return configs, exports


def collect_alone(config: Config) -> tuple[str, dict[str, float]]:
    """``collect_run`` timed as stage ``collect_previous`` (in a process of its own): the run's id
    and the stage's figures."""
    set_up()  # a process of the `aggregator` command, as last week's run was
    stages = Stages()
    with Store(config.store.path) as store:
        collected: Collected = stages.run("collect_previous", lambda: asyncio.run(collect_run(config, store)))
    return collected.run_id, stages.figures["collect_previous"]


def staged_stages(stages: Stages, store: Store, run_id: str, earlier: str) -> tuple[np.ndarray, ConsensusHistory]:
    """``outcome_from_store``'s work stage by stage: the consensus and the history, for checking."""

    def read() -> tuple[dict[str, Any], Any, Any]:
        tables = {run_id: _stored(store, run_id, components=True), earlier: _stored(store, earlier, components=False)}
        return tables, Failures(*tables[run_id].columns.failures), store.subject_columns(run_id)

    tables, failures, _ = stages.run("read", read)
    comparison = stages.run("compare", lambda: compare_table(
        tables[run_id].table, failures=failures, previous=tables[earlier].table, previous_run=earlier))
    history = stages.run("history", lambda: consensus_history(
        store, run_id, tables=tables, known=known_consensus(comparison, run_id)))
    return comparison.consensus, history


def store_directly(config: Config, store: Store, exports: list[Export]) -> Collected:
    """What ``collect_run`` stores from these exports, written in one transaction, then the run
    finished (which writes its columnar copy)."""
    run, subjects = insert_at_once(config, store, exports)
    store.finish_run(run.id, utc_now())
    return Collected(run.id, subjects, 0, 0)


def insert_at_once(config: Config, store: Store, exports: list[Export]) -> tuple[Run, Sequence[Subject]]:
    """The rows ``collect_run`` stores from these exports, inserted in one transaction (the write floor).

    The rows are those the files adapter stores: a reading per row, ``not_found`` for the rest.
    """
    subjects = load_roster(config.roster.path)
    specs = [adapter.spec for adapter in build_adapters(config)]
    run = Run(id=new_run_id(), started_at=utc_now(), config_digest=config.digest)
    store.start_run(run, subjects, specs)
    ids = np.array(subject_ids(subjects), dtype=object)
    at = utc_now().isoformat()
    db = store._db  # the floor: the same rows in one transaction
    db.execute("BEGIN")
    for spec, (kept, values, parts), name in zip(specs, exports, config.enabled_indices, strict=True):
        file = Path(str(getattr(config.adapter_configs[name], "path", ""))).name
        comps = [json.dumps(dict(zip(COMPONENTS, p, strict=True)), sort_keys=True) for p in parts] if parts else None
        db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)", (
            (run.id, spec.name, sid, v, repr(v), spec.scale.lo, spec.scale.hi, spec.algorithm_version,
             comps[k] if comps else "{}", at)
            for k, (sid, v) in enumerate(zip(ids[kept].tolist(), values, strict=True))))
        missed = np.ones(len(ids), dtype=bool)
        missed[kept] = False
        db.executemany("INSERT INTO failures VALUES (?, ?, ?, 'not_found', 1, ?, ?)", (
            (run.id, spec.name, sid, f"{spec.name}: {file} has no row for {sid!r}", at)
            for sid in ids[missed].tolist()))
    db.execute("COMMIT")
    return run, subjects


def warm_up() -> None:
    """Load what the first comparison imports (scipy), so that stages time work, not imports."""
    table, previous = make_tables(200, seed=9)
    compare_table(table, previous=previous)


def old_read(store: Store, run_id: str) -> ScoreTable:
    """The read path this benchmark replaced: one pydantic Reading per stored row."""
    ids = [s.id for s in store.subjects(run_id)]
    return ScoreTable.from_readings(ids, store.specs(run_id), (r for _, r in store.readings(run_id)))


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
    parser.add_argument("--missing", type=float, default=0.08, help="share of subjects each index misses")
    parser.add_argument("--view-max", type=int, default=100_000, help="largest size to build the report at")
    parser.add_argument("--baseline-max", type=int, default=100_000, help="largest size to run the old read at")
    parser.add_argument("--collect", choices=("files", "direct"), default="files",
                        help="files: collect_run through the files adapter; direct: the same rows in one "
                             "transaction (for sizes where committing each reading takes too long)")
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.subjects = 300
    n = args.subjects
    set_up()  # the process as the `aggregator` command sets it up (aggregator/app/memory.py)
    stages = Stages()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (before_cfg, config), exports = stages.run("prepare", lambda: write_inputs(folder, n, args.missing))
        warm_up()
        # from here on this process holds what `aggregator run` would: each export's data is
        # dropped once its last stage has used it, and the previous run is collected in a
        # process of its own (a week ago), so none of its objects is left in this one
        if args.collect == "files":
            with Store(folder / "one-transaction.sqlite") as floor:  # the store stage's baseline: same rows
                stages.run("store_one_transaction", lambda: insert_at_once(config, floor, exports[1]))
            exports.clear()
            earlier_id: str = stages.in_child("collect_previous", collect_alone, before_cfg)
        with Store(config.store.path) as store:
            if args.collect == "direct":
                earlier_id = stages.run("collect_previous",
                                        lambda: store_directly(before_cfg, store, exports.pop(0))).run_id
                now: Collected = stages.run("collect", lambda: store_directly(config, store, exports.pop(0)))
            else:
                now = stages.run("collect", lambda: asyncio.run(collect_run(config, store)))
            run_id = now.run_id
            # the path of runs with no columnar copy (unfinished, or finished before schema 6),
            # which is also what finishing a run reads to write its copy
            stages.run("read_rows", lambda: [store._columns_from_rows(r) for r in (run_id, earlier_id)])

            staged, history = staged_stages(stages, store, run_id, earlier_id)
            outcome = stages.run("outcome", lambda: compare_stored(config, store, now))
            # the product's own call gives what the stages gave
            same = (bool(np.array_equal(staged, outcome.comparison.consensus, equal_nan=True))
                    and np.array_equal(history.rows, outcome.history.rows)
                    and np.array_equal(history.consensus, outcome.history.consensus, equal_nan=True))
            del staged, history
            baseline = None
            if n <= args.baseline_max:
                old = stages.run("baseline_read", lambda: (old_read(store, run_id), old_read(store, earlier_id)))
                new = outcome.comparison.table
                same = same and bool(np.array_equal(old[0].raw, new.raw, equal_nan=True))
                baseline = stages.figures["baseline_read"]
                del old
        sizes: dict[str, int | None] = dict.fromkeys(("web", "text", "json", "csv"))
        if n <= args.view_max:
            view = stages.run("view", lambda: build_view(outcome))
            for kind, renderer in (("web", "html"), ("text", "text"), ("json", "json")):
                document = stages.run(kind, lambda r=renderer: render(view, r))  # type: ignore[misc]
                sizes[kind] = len(document.encode() if isinstance(document, str) else document)
            if n > SHORTLIST_PAST:  # the product writes the full standing beside a shortened page
                csv_path = folder / "report.standing.csv"
                stages.run("csv", lambda: write_csv(outcome, csv_path))
                sizes["csv"] = csv_path.stat().st_size
    fig = stages.figures
    compare_s = fig["compare"]["cpu_s"]

    def ratio(stage: str, baseline: str, figure: str) -> float | None:
        return round(fig[stage][figure] / fig[baseline][figure], 2) if baseline in fig else None

    after_collection = ("outcome", "view", "web", "text", "json", "csv")
    figures = {
        "subjects": n,
        "collect": args.collect,
        "indices": len(outcome.comparison.table.specs),
        "readings": int(np.count_nonzero(~np.isnan(outcome.comparison.table.raw))),
        "failures": len(outcome.failures),
        "stages": fig,
        "read_vs_compare_cpu": round(fig["read"]["cpu_s"] / compare_s, 2),
        "read_rows_vs_compare_cpu": round(fig["read_rows"]["cpu_s"] / compare_s, 2),
        "store_vs_one_transaction": ratio("collect", "store_one_transaction", "s"),
        "store_vs_one_transaction_cpu": ratio("collect", "store_one_transaction", "cpu_s"),
        "after_collection_cpu_s": round(sum(fig[s]["cpu_s"] for s in after_collection if s in fig), 3),
        "after_collection_vs_compare_cpu": round(sum(fig[s]["cpu_s"] for s in after_collection if s in fig)
                                                 / compare_s, 2),
        "report_built": n <= args.view_max,
        "bytes": sizes,
        "baseline_read_cpu_s": baseline["cpu_s"] if baseline else None,
        "read_speedup_vs_baseline": round(baseline["cpu_s"] / fig["read"]["cpu_s"], 1) if baseline else None,
        "same_results": same,
        "peak_mb": round(max(f["peak_mb"] for f in fig.values()), 1),
        "peak_mb_after_collection": round(max(fig[s]["peak_mb"] for s in fig
                                              if s not in {"prepare", "collect_previous", "collect"}), 1),
        "import_aggregator_ms": round(import_ms(), 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
