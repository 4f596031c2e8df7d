"""Benchmark collection on a bad day: transient faults, a healthy resume, a quota at concurrency 32.

    python bench/faults.py [--subjects 2000] [--mixes 0.1,0.3] [--quota 200] [--concurrency 32]

The four sandbox vendors run on 127.0.0.1 in this process, knowing ``--subjects`` people (the
packaged real accounts, resampled beyond them). For each fault mix (a share of
replies, split evenly over the faults that pass: 5xx, a reply that never comes, a reset
connection, a body cut short, a body half missing, a maintenance page, and Kred's "still
computing"), ``--subjects`` subjects are collected from the four vendors into a fresh SQLite
store with the product's defaults (4 attempts, breaker after 10 failed requests), then the run
is resumed against the same vendors healthy. The true answers come from one healthy run.

Measured:
- ``pairs``: (subject, vendor) pairs per mix;
- ``final_failures_from_transient_faults``: pairs the faulty run left with a final failure
  (not asked again on resume) that the healthy vendor does not give (goal 0);
- ``left_failed_after_resume``: pairs still failed after the resume, beyond the healthy
  vendor's own coverage gaps (goal 0);
- ``breaker_trips_without_outage``: indices marked down during the faulty runs (goal 0);
- ``refusals_at_concurrency_32``: requests the vendors refused when each allows ``--quota``
  requests a second and the adapters are set to exactly that, at ``--concurrency`` (goal 0);
- the baseline, in the same run: the healthy collection's seconds, and each faulty run's
  seconds as a ratio to it.

The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.sandbox.launch import launch
from adapters.sandbox.population import sample_population
from adapters.sandbox.servers import Faults
from adapters.sandbox.servers._faults import applies
from aggregator.app.config import Config, config_from_dict
from aggregator.app.pipeline import run
from aggregator.collection.store import Store
from aggregator.models import Failure, Reading

VENDORS = ("klout", "peerindex", "kred", "empireavenue")
#: faults a healthy vendor would not repeat (out_of_range is left out: a healthy vendor repeats it)
TRANSIENT = ("server_error", "timeout", "reset", "malformed", "truncated", "html", "not_complete")
ONE_REQUEST_EACH: dict[str, dict[str, Any]] = {
    "klout": {"api_version": 1, "batch_size": 1}, "kred": {"batch_size": 1}, "empireavenue": {"batch_size": 1},
}


def transient(share: float, vendor: str) -> Faults:
    kinds = [kind for kind in TRANSIENT if applies(kind, vendor)]
    return Faults(latency=0.002, shares={kind: share / len(kinds) for kind in kinds})


def configure(sandbox: Any, folder: Path, subjects: int, **index: Any) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    roster = folder / "roster.csv"  # screen names hold no commas or quotes
    roster.write_text("id,name,twitter\n" + "".join(
        f"p{i},Person {i},{h}\n" for i, h in enumerate(sandbox.handles[:subjects])), encoding="utf-8")
    data = sandbox.config(roster=roster, store=folder / "history.sqlite", report=folder / "r.html")
    options = index.pop("options", {})
    for name, table in data["indices"].items():
        table.update({"rate_limit": "5000/s", "concurrency": 16, **index})
        # a reply that never comes is given up after 1 s (the product's default is 10 s)
        table["options"].update(timeout_seconds=1.0, **options.get(name, {}))
    return config_from_dict(data, base_dir=folder)


def answers(store: Store, run_id: str) -> tuple[dict[tuple[str, str], Reading], dict[tuple[str, str], Failure]]:
    readings = {(r.index, r.subject_id): r for _, r in store.readings(run_id)}
    failures = {(f.index, f.subject_id or ""): f for f in store.failures(run_id)}
    return readings, failures


async def collect_once(config: Config, resume: str | None = None) -> tuple[str, float, dict[Any, Any], dict[Any, Any]]:
    started = time.perf_counter()
    with Store(config.store.path) as store:
        outcome = await run(config, store, resume=resume)
        readings, failures = answers(store, outcome.run.id)
    return outcome.run.id, time.perf_counter() - started, readings, failures


async def fault_mixes(subjects: int, mixes: list[float], folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with launch(VENDORS, limits=dict.fromkeys(VENDORS, "5000/s"), seed=7,
                      population=sample_population(subjects)) as sandbox:
        _, healthy_s, truth, gaps = await collect_once(configure(sandbox, folder / "healthy", subjects))
        results["healthy_s"] = round(healthy_s, 2)
        results["pairs"] = len(truth) + len(gaps)
        # the healthy run's failures are taken as coverage gaps; any other kind means the machine
        # was too busy for the 1 s timeout, and the figures below are the worse for it
        results["healthy_failures_not_coverage"] = sum(not f.kind.is_coverage_gap for f in gaps.values())
        for share in mixes:
            sandbox.set_faults({name: transient(share, name) for name in VENDORS})
            config = configure(sandbox, folder / f"mix{share:g}", subjects)
            run_id, seconds, _, failures = await collect_once(config)
            final = [pair for pair, f in failures.items() if f.kind.is_final and not gaps.get(pair)]
            tripped = {f.index for f in failures.values() if "marked down" in f.message}
            sandbox.set_faults(Faults())
            _, resume_s, resumed, left = await collect_once(config, resume=run_id)
            # a pair the healthy run failed (a timeout on a starved machine) has no truth to compare
            wrong = [pair for pair, r in resumed.items() if pair in truth
                     and (r.value, r.components) != (truth[pair].value, truth[pair].components)]
            label = f"{round(share * 100)}%"
            results[label] = {
                "seconds": round(seconds, 2), "ratio_to_healthy": round(seconds / healthy_s, 2),
                "failed_before_resume": len(failures) - len(gaps),
                "final_failures_from_transient_faults": len(final),
                "breaker_trips_without_outage": len(tripped),
                "resume_s": round(resume_s, 2),
                "left_failed_after_resume": len(set(left) - set(gaps)),
                "readings_unlike_the_healthy_vendor": len(wrong),
            }
    return results


async def refusals(subjects: int, quota: int, concurrency: int, folder: Path) -> dict[str, Any]:
    async with launch(VENDORS, limits=dict.fromkeys(VENDORS, f"{quota}/s"), faults=Faults(latency=0.005),
                      population=sample_population(subjects)) as sandbox:
        config = configure(sandbox, folder / "quota", subjects, rate_limit=f"{quota}/s", concurrency=concurrency,
                           options=ONE_REQUEST_EACH)
        _, seconds, readings, failures = await collect_once(config)
        stats = {name: sandbox[name].server.stats for name in VENDORS}
    asked = sum(s["requests"] for s in stats.values())
    return {"refusals": sum(s["rate_limited"] for s in stats.values()), "requests": asked,
            "seconds": round(seconds, 2), "req_per_s": round(asked / seconds, 1),
            "ceiling_req_per_s": quota * len(VENDORS), "answered": len(readings) + len(failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--mixes", default="0.1,0.3", help="fault shares, comma-separated")
    parser.add_argument("--quota", type=int, default=200, help="requests a second each vendor allows")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.subjects, args.mixes = 40, "0.3"
    mixes = [float(x) for x in args.mixes.split(",") if x.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        mixed = asyncio.run(fault_mixes(args.subjects, mixes, Path(tmp)))
        quota = asyncio.run(refusals(args.subjects, args.quota, args.concurrency, Path(tmp)))
    for key, value in {**mixed, "quota": quota}.items():
        print(f"{key:>8}: {value}")
    per_mix = [value for value in mixed.values() if isinstance(value, dict)]
    print(json.dumps({
        "pairs": mixed["pairs"],
        "mixes": [f"{round(m * 100)}%" for m in mixes],
        "final_failures_from_transient_faults": sum(m["final_failures_from_transient_faults"] for m in per_mix),
        "left_failed_after_resume": sum(m["left_failed_after_resume"] for m in per_mix),
        "refusals_at_concurrency_32": quota["refusals"],
        "breaker_trips_without_outage": sum(m["breaker_trips_without_outage"] for m in per_mix),
        "failed_before_resume": [m["failed_before_resume"] for m in per_mix],
        "healthy_s": mixed["healthy_s"], "healthy_failures_not_coverage": mixed["healthy_failures_not_coverage"],
        "ratio_to_healthy": [m["ratio_to_healthy"] for m in per_mix],
        "quota_req_per_s": quota["req_per_s"],
    }))


if __name__ == "__main__":
    main()
