"""Benchmark collection: 2,000 subjects x 4 vendors at 20 ms latency, each vendor limited to 200 req/s.

    python bench/collect.py [--subjects 2000] [--naive-subjects 100] [--rate 200] [--latency 0.02]

The four sandbox vendors run in a child process (the client gets a core of its own, as it
would against real vendors), each answering after ``--latency`` seconds and enforcing a strict
per-key sliding window of ``--rate`` requests a second (over it: 429 or the vendor's 403 with
Retry-After). Every adapter makes one request per subject — Klout through its v1 score call
(``api_version = 1``) and Kred and Empire Avenue with ``batch_size = 1`` — so that the ceiling
is the issue's: four vendors at ``rate`` against one request per ``latency``.

Measured in one run:
- ``collect`` of every subject from the four vendors at once, storing each result in SQLite as
  it arrives (what ``aggregator run`` does): seconds, and per vendor the **quota efficiency** —
  for every request the vendor admitted, how full the sliding window starting at it was
  (requests in ``[t, t + 1 s)`` / rate), averaged over the windows that end before the vendor's
  last request (1.0 = the limit held exactly, all the time);
- requests refused for going over a limit (``http_429``; the goal is none);
- peak resident memory of the collecting process;
- the baseline: the same collection done the naive way on ``--naive-subjects`` subjects —
  one request at a time, one vendor after another — and the speedup per (subject, vendor)
  pair against it; and against a competent simple client on the same subjects: the four
  vendors at once, one request in flight each (ceiling 20 ms / pair / 4 vendors);
- the client's CPU per (subject, vendor) pair in the concurrent run (``time.process_time``
  of the collecting process: adapters, limiter, collector and SQLite commits; the vendors
  run in the child process).

The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import multiprocessing
import resource
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

VENDORS = ("klout", "peerindex", "kred", "empireavenue")
ONE_REQUEST_EACH: dict[str, dict[str, Any]] = {
    "klout": {"api_version": 1, "batch_size": 1}, "kred": {"batch_size": 1}, "empireavenue": {"batch_size": 1},
}


class ArrivalCounter(Counter[str]):
    """The sandbox's stats, also noting when each request was admitted."""

    def __init__(self) -> None:
        super().__init__()
        self.admitted_at: list[float] = []

    def __setitem__(self, key: str, value: int) -> None:
        if key == "admitted":
            self.admitted_at.append(time.monotonic())
        super().__setitem__(key, value)


def serve(conn: Any, subjects: int, latency: float, rate: float) -> None:
    """The child process: run the sandbox vendors until told to stop; report what they saw."""
    asyncio.run(_serve(conn, subjects, latency, rate))


async def _serve(conn: Any, subjects: int, latency: float, rate: float) -> None:
    from adapters.sandbox.launch import launch
    from adapters.sandbox.population import sample_population
    from adapters.sandbox.servers import Faults

    population = sample_population(subjects, seed=1)
    limits = dict.fromkeys(VENDORS, f"{rate:g}/s")
    async with launch(VENDORS, faults=Faults(latency=latency), limits=limits, population=population) as sandbox:
        for name in VENDORS:
            sandbox[name].server.stats = ArrivalCounter()
        conn.send({"options": {name: sandbox[name].options() for name in VENDORS}, "handles": sandbox.handles})
        command = ""
        while command != "stop":  # "reset" or "stop": report what the vendors saw since the last reset
            command = await asyncio.to_thread(conn.recv)
            servers = {name: sandbox[name].server for name in VENDORS}
            conn.send({name: {"stats": dict(server.stats), "admitted_at": _admitted(server.stats)}
                       for name, server in servers.items()})
            for server in servers.values():
                server.stats = ArrivalCounter()


def _figure(value: float) -> float | None:
    """Rounded for the JSON line; None where a run was too short to fill one window."""
    return None if math.isnan(value) else round(value, 4)


def _admitted(stats: Counter[str]) -> list[float]:
    return stats.admitted_at if isinstance(stats, ArrivalCounter) else []


def window_fill(times: list[float], rate: float, period: float = 1.0) -> float:
    """Mean over admitted requests t (with t + period before the last) of requests in [t, t+period) / limit."""
    times = sorted(times)
    limit = rate * period
    fills = [(bisect.bisect_left(times, t + period) - i) / limit
             for i, t in enumerate(times) if t + period <= times[-1]]
    return sum(fills) / len(fills) if fills else float("nan")


def build(options: dict[str, dict[str, Any]], rate: float, concurrency: int) -> list[Any]:
    from aggregator.plugins import Limits, adapters
    from aggregator.ratelimit import RateLimit

    built = []
    for name in VENDORS:
        factory = adapters.load(name)
        config = factory.Config.model_validate({**options[name], **ONE_REQUEST_EACH.get(name, {}),
                                                "timeout_seconds": 30})
        limit = RateLimit(count=round(rate), period=1.0)
        built.append(factory(name, config, Limits(rate=limit, concurrency=concurrency)))
    return built


async def timed_collect(adapters: list[Any], subjects: list[Any], store: Any, run_id: str) -> float:
    from aggregator.collection.collect import collect

    started = time.perf_counter()
    await collect(adapters, subjects, partial(store.add, run_id))
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--naive-subjects", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0, help="each vendor's limit, requests per second")
    parser.add_argument("--latency", type=float, default=0.02, help="each vendor's reply latency, seconds")
    parser.add_argument("--concurrency", type=int, default=10, help="requests in flight per vendor")
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.subjects, args.naive_subjects = 40, 8

    from aggregator.collection.store import Store
    from aggregator.models import Run, Subject, utc_now

    here, there = multiprocessing.Pipe()
    sandbox = multiprocessing.get_context("spawn").Process(
        target=serve, args=(there, args.subjects, args.latency, args.rate), daemon=True)
    sandbox.start()
    setup = await asyncio.to_thread(here.recv)
    subjects = [Subject(id=f"s{i}", name=f"S{i}", handles={"twitter": handle})
                for i, handle in enumerate(setup["handles"][: args.subjects])]

    async def ask(command: str) -> dict[str, Any]:
        here.send(command)
        answer: dict[str, Any] = await asyncio.to_thread(here.recv)
        return answer

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.sqlite") as store:
        few = subjects[: args.naive_subjects]
        for run_id, chosen in (("concurrent", subjects), ("naive", few), ("simple", few)):
            store.start_run(Run(id=run_id, started_at=utc_now(), config_digest=""), chosen, [])
        await ask("reset")
        adapters = build(setup["options"], args.rate, args.concurrency)
        cpu = time.process_time()
        seconds = await timed_collect(adapters, subjects, store, "concurrent")
        cpu = time.process_time() - cpu  # the client's CPU: adapters, limiter, collector, SQLite
        seen = await ask("reset")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await asyncio.sleep(1.1)  # let the vendors' windows empty before the baseline
        naive_seconds = 0.0
        for adapter in build(setup["options"], args.rate, 1):  # one request at a time, one vendor after another
            naive_seconds += await timed_collect([adapter], subjects[: args.naive_subjects], store, "naive")
        await ask("reset")
        await asyncio.sleep(1.1)
        # a competent simple client: the four vendors at once, one request at a time each
        simple_seconds = await timed_collect(build(setup["options"], args.rate, 1), few, store, "simple")
        naive_seen = await ask("stop")
        readings = len(store.readings("concurrent"))
    sandbox.join(5)

    efficiency = {name: window_fill(seen[name]["admitted_at"], args.rate) for name in VENDORS}
    refused = sum(seen[name]["stats"].get("rate_limited", 0) + naive_seen[name]["stats"].get("rate_limited", 0)
                  for name in VENDORS)
    requests = {name: seen[name]["stats"].get("requests", 0) for name in VENDORS}
    pairs, naive_pairs = len(subjects) * len(VENDORS), args.naive_subjects * len(VENDORS)
    speedup = (naive_seconds / naive_pairs) / (seconds / pairs)
    simple_speedup = (simple_seconds / naive_pairs) / (seconds / pairs)
    print(f"{len(subjects):,} subjects x {len(VENDORS)} vendors, {args.latency * 1000:g} ms latency, "
          f"{args.rate:g} req/s per vendor, {args.concurrency} in flight per vendor")
    print(f"{'vendor':>14} {'requests':>9} {'rate/s':>8} {'quota efficiency':>17}")
    for name in VENDORS:
        times = seen[name]["admitted_at"]
        achieved = (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 else float("nan")
        print(f"{name:>14} {requests[name]:>9,} {achieved:>8.1f} {efficiency[name]:>17.3f}")
    print(f"concurrent: {seconds:.2f} s for {pairs:,} pairs ({readings:,} readings), peak RSS {peak_mb:.0f} MB; "
          f"refused over a limit: {refused}")
    print(f"naive: {naive_seconds:.2f} s for {naive_pairs:,} pairs; speedup {speedup:.1f}x "
          f"(ceiling at these settings: {len(VENDORS) * args.rate * args.latency:g}x)")
    print(f"simple (four vendors at once, one request each in flight): {simple_seconds:.2f} s for "
          f"{naive_pairs:,} pairs; speedup {simple_speedup:.1f}x")
    print(f"client CPU: {cpu:.2f} s, {cpu / pairs * 1000:.3f} ms per (subject, vendor) pair")
    print(json.dumps({
        "subjects": len(subjects), "vendors": len(VENDORS), "latency_ms": args.latency * 1000,
        "rate_per_vendor": args.rate, "concurrency": args.concurrency, "seconds": round(seconds, 3),
        "requests": requests, "quota_efficiency": {k: _figure(v) for k, v in efficiency.items()},
        "min_quota_efficiency": _figure(min(efficiency.values())), "http_429": refused,
        "peak_rss_mb": round(peak_mb, 1), "naive_subjects": args.naive_subjects,
        "naive_seconds": round(naive_seconds, 3), "speedup_vs_naive": round(speedup, 2),
        "speedup_ceiling": len(VENDORS) * args.rate * args.latency,
        "simple_seconds": round(simple_seconds, 3), "speedup_vs_simple": round(simple_speedup, 2),
        "client_cpu_s": round(cpu, 3), "client_cpu_ms_per_pair": round(cpu / pairs * 1000, 4),
    }))


if __name__ == "__main__":
    asyncio.run(main())
