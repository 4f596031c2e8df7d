"""Benchmark the Spark engine against the numpy engine on the same exported run, size by size.

    python bench/spark.py [--sizes 1000000 3000000 10000000] [--beyond 32000000 [--beyond-limit S]] [--dir DIR]
                          [--driver-memory 4g] [--driver-java-options '-XX:+UseParallelGC'] [--smoke]

Data: the analytics benchmark's five skewed, tied columns (``bench/analytics.py``'s
``make_tables``: a lognormal, a Pareto mix, integer counts with heavy ties, a 0-100 score with
one decimal, an exponential mix; 20% of each index's cells missing), made 1M subjects at a time
and written straight to Parquet in the export layout of ``docs/spark.md`` (one readings part per
chunk and index, as an export of one shard per chunk would). Each size's run is written once into
``DIR/run-N`` and reused by later invocations.

For each size, each engine runs as the product runs it, in a fresh process: ``aggregator compare
--engine numpy|spark --run DIR/run-N --out ...`` (Spark with ``--master local[2]``, a driver memory
of ``--driver-memory``, 4g by default, and the JVM options ``--driver-java-options``: by default the
throughput collector that docs/spark.md advises for local runs). Seconds are wall time of that
process (Spark's includes starting its JVM); ``cpu_s`` the CPU seconds (user + system) of its whole
process tree, which a machine shared with other work inflates far less than wall time; memory is the
peak of the tree's resident set. Both are sampled every 0.2 s from /proc: the Python driver, Spark's
JVM (driver and executor in local mode) and its Python workers. Then both engines' outputs are
compared: every per-subject column within 1e-9 (integers and flags identical) and the summary's
figures within 1e-9: ``same_numbers``.

``slope`` (``cpu_slope``): the least-squares slope of log(seconds) (log(CPU seconds)) against
log(size) per engine (1 = linear; n log n from 1M to 10M is about 1.07).
``--beyond N``: one more size on Spark alone (numpy would not fit this machine), given 30 minutes
(``--beyond-limit``: another allowance in seconds, 0 for none, to learn how long it does take).

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's aggregator
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/analytics.py's data

from analytics import make_tables

from aggregator.app.export import LAYOUT_VERSION, _failures_table, _indices_table

CHUNK = 1_000_000
TOLERANCE = 1e-9
BEYOND_LIMIT_S = 30 * 60
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the run, as Parquet in the export layout ---------------------------------------------------------------


def write_run(directory: Path, n: int, chunk: int = CHUNK) -> None:
    """The export layout of ``n`` subjects x 5 indices, a chunk of subjects at a time (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (directory / "run.json").exists():
        meta = json.loads((directory / "run.json").read_text())
        if meta.get("subjects") == n:
            return  # written by an earlier invocation
    shutil.rmtree(directory, ignore_errors=True)
    for folder in ("subjects", "indices", "readings", "failures"):
        (directory / folder).mkdir(parents=True)
    specs: Sequence[Any] = ()
    fetched = pa.scalar(0, pa.timestamp("us", tz="UTC"))
    for part, start in enumerate(range(0, n, chunk)):
        m = min(chunk, n - start)
        table, _ = make_tables(m, seed=part)
        specs = table.specs
        ids = pa.array([f"s{i:09d}" for i in range(start, start + m)], pa.string())
        pq.write_table(pa.table({
            "position": pa.array(np.arange(start, start + m), pa.int64()), "subject_id": ids, "name": ids,
            "handles": pa.repeat(pa.scalar("{}"), m), "synthetic": pa.repeat(pa.scalar(True), m),
        }), directory / "subjects" / f"part-{part:05d}.parquet")
        for j, spec in enumerate(specs):
            scored = ~np.isnan(table.raw[:, j])
            k = int(scored.sum())
            pq.write_table(pa.table({
                "index": pa.repeat(pa.scalar(spec.name), k), "subject_id": ids.filter(pa.array(scored)),
                "value": pa.array(table.raw[scored, j], pa.float64()), "raw": pa.nulls(k, pa.string()),
                "scale_lo": pa.repeat(pa.scalar(spec.scale.lo, pa.float64()), k),
                "scale_hi": pa.repeat(pa.scalar(spec.scale.hi, pa.float64()), k),
                "algorithm_version": pa.repeat(pa.scalar(spec.algorithm_version), k),
                "components": pa.repeat(pa.scalar("{}"), k),
                "topics": pa.repeat(pa.scalar([], pa.list_(pa.string())), k),
                "fetched_at": pa.repeat(fetched, k),
            }), directory / "readings" / f"part-{part * len(specs) + j:05d}.parquet")
    pq.write_table(_indices_table(specs), directory / "indices" / "part-00000.parquet")
    pq.write_table(_failures_table([]), directory / "failures" / "part-00000.parquet")
    (directory / "run.json").write_text(json.dumps({
        "layout": LAYOUT_VERSION, "id": f"bench-{n}", "started_at": "2026-12-02T00:00:00+00:00",
        "finished_at": "2026-12-02T00:00:00+00:00", "config_digest": "bench", "shards": [], "subjects": n,
    }))


# -- one engine, in its own process tree ---------------------------------------------------------------------


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """Resident bytes and CPU seconds (user + system) of ``root`` and each of its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    seen: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            pages = int(Path(f"/proc/{entry}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        # fields from the state on: utime and stime are the 12th and 13th
        seen[int(entry)] = (pages * PAGE_SIZE, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    tree: dict[int, tuple[int, float]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            tree[pid] = seen[pid]
        todo.extend(children.get(pid, []))
    return tree


def run_engine(engine: str, run: Path, out: Path, *, driver_memory: str, java_options: str = "",
               timeout: float | None) -> dict[str, Any]:
    """Seconds and peak tree RSS of ``aggregator compare --engine ENGINE`` in a fresh process."""
    command = [sys.executable, "-m", "aggregator", "compare", "--engine", engine, "--run", str(run), "--out", str(out)]
    env = dict(os.environ)
    if engine == "spark":
        command += ["--master", "local[2]"]
        java = f"--driver-java-options '{java_options}' " if java_options else ""
        env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {driver_memory} {java}pyspark-shell"
    peak = 0
    cpu: dict[int, float] = {}  # the last CPU seconds seen of each process of the tree
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            tree = _tree(process.pid)
            peak = max(peak, sum(rss for rss, _ in tree.values()))
            cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        done.set()
        return {"seconds": None, "cpu_s": round(sum(cpu.values()), 1), "peak_gb": round(peak / 1e9, 2),
                "completed": False}
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{engine} failed on {run} (exit {process.returncode}):\n{stderr[-4000:]}")
    return {"seconds": round(seconds, 2), "cpu_s": round(sum(cpu.values()), 1), "peak_gb": round(peak / 1e9, 2),
            "completed": True}


# -- the two engines' outputs are the same numbers --------------------------------------------------------


def _close(got: np.ndarray, expected: np.ndarray) -> bool:
    if got.shape != expected.shape or not np.array_equal(np.isnan(got), np.isnan(expected)):
        return False
    both = ~np.isnan(expected)
    return not np.any(both) or float(np.max(np.abs(got[both] - expected[both]))) <= TOLERANCE


def _floats(column: Any) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_list(column.type):
        column = column.combine_chunks().flatten() if isinstance(column, pa.ChunkedArray) else column.flatten()
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _same_inversions(got: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    """The same counts and pairs in the same order; the threshold and the gaps within 1e-9."""
    if got is None or got["counts"] != expected["counts"] or len(got["top"]) != len(expected["top"]):
        return False
    keys, gaps = ("above", "below", "by", "against"), ("gap_by", "gap_against")
    if [[e[k] for k in keys] for e in got["top"]] != [[e[k] for k in keys] for e in expected["top"]]:
        return False
    return _close(np.array([got["min_gap"], *[e[g] for e in got["top"] for g in gaps]], dtype=float),
                  np.array([expected["min_gap"], *[e[g] for e in expected["top"] for g in gaps]], dtype=float))


def same_numbers(spark_out: Path, numpy_out: Path) -> bool:
    """Every output column of the two engines equal (floats within 1e-9), a column at a time."""
    import pyarrow.parquet as pq

    summaries = [json.loads((out / "summary.json").read_text()) for out in (spark_out, numpy_out)]
    # the numpy engine writes "inversions" once its side lands (branch report-from): compared when it does
    inversions = [summary.pop("inversions", None) for summary in summaries]
    if inversions[1] is not None and not _same_inversions(inversions[0], inversions[1]):
        return False
    if {k: v for k, v in summaries[0].items() if k != "agreement"} != \
            {k: v for k, v in summaries[1].items() if k != "agreement"}:
        return False
    for name, value in summaries[1]["agreement"].items():
        if not _close(np.array(summaries[0]["agreement"][name], dtype=float), np.array(value, dtype=float)):
            return False
    for name in ("subject_id", "n_indices", "dissenter", "flagged", "normalized", "standing", "consensus",
                 "consensus_iqr", "spread", "dissent_gap"):
        mine, reference = (pq.read_table(out / "subjects", columns=["position", name]).sort_by("position").column(name)
                           for out in (spark_out, numpy_out))
        if name in ("subject_id", "n_indices", "dissenter", "flagged"):
            if not mine.equals(reference):
                return False
        elif not _close(_floats(mine), _floats(reference)):
            return False
    return True


# -- sizes ------------------------------------------------------------------------------------------------


def slope(sizes: Sequence[int], seconds: Sequence[float | None]) -> float | None:
    """Least-squares slope of log(seconds) on log(size) (None with fewer than two sizes timed)."""
    points = [(n, s) for n, s in zip(sizes, seconds, strict=True) if s]
    if len(points) < 2:
        return None
    return round(float(np.polyfit(np.log([n for n, _ in points]), np.log([s for _, s in points]), 1)[0]), 3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--beyond", type=int, default=0, help="one size on Spark alone (numpy cannot hold it)")
    parser.add_argument("--beyond-limit", type=float, default=BEYOND_LIMIT_S,
                        help="seconds the --beyond size is given before it is stopped (0: no limit)")
    parser.add_argument("--dir", type=Path, help="where the runs are written (kept); default: a temporary folder")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--driver-java-options", default="-XX:+UseParallelGC",
                        help="the Spark JVM's options (default: the throughput collector docs/spark.md advises "
                             "for local runs; '' for the JVM's own default)")
    parser.add_argument("--smoke", action="store_true", help="one tiny size, both engines")
    args = parser.parse_args(argv)
    sizes = [3000] if args.smoke else sorted(args.sizes)
    beyond = 0 if args.smoke else args.beyond
    temporary = args.dir is None
    base = Path(tempfile.mkdtemp(prefix="bench-spark-")) if temporary else args.dir
    chunk = 1000 if args.smoke else CHUNK
    results: list[dict[str, Any]] = []
    try:
        for n in sizes:
            run = base / f"run-{n}"
            write_run(run, n, chunk)
            figures: dict[str, Any] = {"subjects": n}
            for engine in ("numpy", "spark"):
                out = base / f"out-{n}-{engine}"
                shutil.rmtree(out, ignore_errors=True)
                figures[engine] = run_engine(engine, run, out, driver_memory=args.driver_memory,
                                             java_options=args.driver_java_options, timeout=None)
                done = figures[engine]
                print(f"{n:>11,} {engine:>5}: {done['seconds']:8.1f} s, {done['cpu_s']:8.1f} CPU s, "
                      f"peak {done['peak_gb']:5.2f} GB", flush=True)
            figures["ratio"] = round(figures["spark"]["seconds"] / figures["numpy"]["seconds"], 2)
            figures["cpu_ratio"] = round(figures["spark"]["cpu_s"] / max(figures["numpy"]["cpu_s"], 0.01), 2)
            figures["same_numbers"] = same_numbers(base / f"out-{n}-spark", base / f"out-{n}-numpy")
            print(f"{n:>11,} spark/numpy {figures['ratio']}x, same numbers: {figures['same_numbers']}", flush=True)
            results.append(figures)
        beyond_figures: dict[str, Any] | None = None
        if beyond:
            run = base / f"run-{beyond}"
            write_run(run, beyond)
            beyond_figures = {"subjects": beyond, "spark": run_engine(
                "spark", run, base / f"out-{beyond}-spark", driver_memory=args.driver_memory,
                java_options=args.driver_java_options, timeout=args.beyond_limit or None)}
            print(f"{beyond:>11,} spark: {beyond_figures['spark']}", flush=True)
    finally:
        if temporary:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({
        "bench": "spark", "master": "local[2]", "driver_memory": args.driver_memory,
        "driver_java_options": args.driver_java_options, "sizes": results,
        "slope": {e: slope([r["subjects"] for r in results], [r[e]["seconds"] for r in results])
                  for e in ("numpy", "spark")},
        "cpu_slope": {e: slope([r["subjects"] for r in results], [r[e]["cpu_s"] for r in results])
                      for e in ("numpy", "spark")},
        "same_numbers": all(r["same_numbers"] for r in results), "beyond_numpy": beyond_figures,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
