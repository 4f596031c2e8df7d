"""Benchmark collection: 2,000 subjects x 4 vendors at 20 ms latency, each vendor limited to 200 req/s.

    python bench/collect.py [--subjects 2000] [--naive-subjects 100] [--bare-subjects 1000]
                            [--default-subjects 1000] [--rate 200] [--latency 0.02]
                            [--concurrency 10] [--smoke]

The four sandbox vendors run in a child process (the client gets a core of its own, as it
would against real vendors), each answering after ``--latency`` seconds and enforcing a strict
per-key sliding window of ``--rate`` requests a second (over it: 429 or the vendor's 403 with
Retry-After). Every adapter makes one request per subject — Klout through its v1 score call
(``api_version = 1``) and Kred and Empire Avenue with ``batch_size = 1`` — so that the ceiling
is the issue's: four vendors at ``rate`` against one request per ``latency``.

Measured in one run:
- ``collect`` of every subject from the four vendors at once, as ``aggregator run`` does it:
  each index's rate window shared through the SQLite store (``share_windows``), results
  committed in groups (``Store.writer``): seconds, and per vendor the **quota efficiency** —
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
  of the collecting process: adapters, limiter, shared windows, collector and SQLite commits;
  the vendors run in the child process), on the event loop the ``aggregator`` command runs on
  (``aggregator.app.eventloop``: uvloop where installed; ``AGGREGATOR_EVENT_LOOP=asyncio``
  chooses asyncio's), beside the simple client's and a floor's: the same requests on
  ``--bare-subjects`` subjects through bare aiohttp (a default session on asyncio's default
  loop, as a simple script would), parsed by the adapters' own hooks, with no limiter, retries,
  collector or store (``cpu_vs_bare``); and the same bare client on uvloop, so that what is the
  loop's and what is ours can be told apart (``cpu_vs_bare_uvloop``);
- the same collection at the adapters' default batch sizes, as users run it (Klout's v2 API, two
  requests a subject; Kred 10 names a call; Empire Avenue 100 tickers; PeerIndex one subject) on
  ``--default-subjects`` subjects: CPU per pair and per request.

The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import multiprocessing
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
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


def build(options: dict[str, dict[str, Any]], rate: float, concurrency: int, *, batches: bool = False) -> list[Any]:
    """The four adapters, one request per subject each (``batches``: at their default batch sizes)."""
    from aggregator.plugins import Limits, adapters
    from aggregator.ratelimit import RateLimit

    built = []
    for name in VENDORS:
        factory = adapters.load(name)
        forced = {} if batches else ONE_REQUEST_EACH.get(name, {})
        config = factory.Config.model_validate({**options[name], **forced, "timeout_seconds": 30})
        limit = RateLimit(count=round(rate), period=1.0)
        built.append(factory(name, config, Limits(rate=limit, concurrency=concurrency)))
    return built


async def timed_collect(adapters: list[Any], subjects: list[Any], store: Any, run_id: str) -> tuple[float, float]:
    """Seconds and CPU seconds of one collection the way ``aggregator run`` does it: each index's
    rate window shared through the store, results committed in groups."""
    from aggregator.collection.collect import collect

    for adapter in adapters:
        adapter.share_windows(store)
    started, cpu = time.perf_counter(), time.process_time()
    with store.writer(run_id) as sink:
        await collect(adapters, subjects, sink)
    return time.perf_counter() - started, time.process_time() - cpu


async def bare_collect(adapters: list[Any], subjects: list[Any], rate: float, concurrency: int) -> tuple[float, float]:
    """The floor, for CPU: the same requests, each vendor through one plain aiohttp session at
    ``concurrency`` in flight, paced evenly to 90 % of ``rate``, decoded and parsed by the
    adapter's own hooks; no limiter, retries, error mapping, scrubbing, collector or store."""
    import aiohttp

    async def vendor(adapter: Any) -> None:
        pending, due, interval = iter(subjects), time.monotonic(), 1 / (0.9 * rate)

        async def call(request: Any) -> Any:
            async with session.request(request.method, request.url, params=dict(request.params),
                                       headers=dict(request.headers)) as response:
                return json.loads(await response.read())

        async def work() -> None:
            nonlocal due
            for subject in pending:
                due += interval
                await asyncio.sleep(max(0.0, due - interval - time.monotonic()))
                with contextlib.suppress(Exception):  # a refusal or a bad reply: the floor does not care
                    await adapter.gather(call, [subject])

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            await asyncio.gather(*(work() for _ in range(concurrency)))

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(vendor(adapter) for adapter in adapters))
    return time.perf_counter() - started, time.process_time() - cpu


def uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop, if it is installed (for the bare client on uvloop)."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def on_loop(main: Coroutine[Any, Any, T], factory: Callable[[], asyncio.AbstractEventLoop] | None) -> T:
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--naive-subjects", type=int, default=100)
    parser.add_argument("--bare-subjects", type=int, default=1000, help="subjects for the bare-aiohttp CPU floor")
    parser.add_argument("--default-subjects", type=int, default=1000,
                        help="subjects for the run at the adapters' default batch sizes")
    parser.add_argument("--rate", type=float, default=200.0, help="each vendor's limit, requests per second")
    parser.add_argument("--latency", type=float, default=0.02, help="each vendor's reply latency, seconds")
    parser.add_argument("--concurrency", type=int, default=10, help="requests in flight per vendor")
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.subjects, args.naive_subjects, args.bare_subjects, args.default_subjects = 40, 8, 8, 40

    from aggregator.app.eventloop import loop_factory
    from aggregator.collection.store import Store
    from aggregator.models import Run, Subject, utc_now

    ours_loop = loop_factory()  # the loop the `aggregator` command runs on
    uvloop = uvloop_factory()
    here, there = multiprocessing.Pipe()
    sandbox = multiprocessing.get_context("spawn").Process(
        target=serve, args=(there, args.subjects, args.latency, args.rate), daemon=True)
    sandbox.start()
    setup = here.recv()
    subjects = [Subject(id=f"s{i}", name=f"S{i}", handles={"twitter": handle})
                for i, handle in enumerate(setup["handles"][: args.subjects])]

    def ask(command: str) -> dict[str, Any]:
        """Tell the vendors to ``reset`` (or ``stop``): what they saw since the last reset."""
        here.send(command)
        answer: dict[str, Any] = here.recv()
        return answer

    def quiet() -> None:
        time.sleep(1.1)  # let the vendors' windows empty before the next client

    def ours(adapters: list[Any], chosen: list[Any], run_id: str) -> tuple[float, float]:
        return on_loop(timed_collect(adapters, chosen, store, run_id), ours_loop)

    def bare(factory: Callable[[], asyncio.AbstractEventLoop] | None) -> tuple[float, float, dict[str, Any]]:
        spent, spent_cpu = on_loop(bare_collect(build(setup["options"], args.rate, args.concurrency),
                                                bare_subjects, args.rate, args.concurrency), factory)
        seen_here = ask("reset")
        quiet()
        return spent, spent_cpu, seen_here

    few, bare_subjects = subjects[: args.naive_subjects], subjects[: args.bare_subjects]
    defaults = subjects[: args.default_subjects]
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.sqlite") as store:
        for run_id, chosen in (("concurrent", subjects), ("defaults", defaults), ("naive", few), ("simple", few)):
            store.start_run(Run(id=run_id, started_at=utc_now(), config_digest=""), chosen, [])
        ask("reset")
        # the client's CPU: adapters, limiter, shared windows, collector, SQLite
        seconds, cpu = ours(build(setup["options"], args.rate, args.concurrency), subjects, "concurrent")
        seen = ask("reset")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        quiet()
        # as users run it: the adapters' default batch sizes
        default_seconds, default_cpu = ours(build(setup["options"], args.rate, args.concurrency, batches=True),
                                            defaults, "defaults")
        default_seen = ask("reset")
        quiet()
        naive_seconds = naive_cpu = 0.0
        for adapter in build(setup["options"], args.rate, 1):  # one request at a time, one vendor after another
            spent, spent_cpu = ours([adapter], few, "naive")
            naive_seconds, naive_cpu = naive_seconds + spent, naive_cpu + spent_cpu
        ask("reset")
        quiet()
        # a competent simple client: the four vendors at once, one request at a time each
        simple_seconds, simple_cpu = ours(build(setup["options"], args.rate, 1), few, "simple")
        naive_seen = ask("reset")
        quiet()
        # the floor for CPU: the concurrent run's requests through bare aiohttp, on as many subjects,
        # on asyncio's default loop as before, then on uvloop
        bare_seconds, bare_cpu, bare_seen = bare(None)
        bare_uv = bare(uvloop) if uvloop is not None else None
        ask("stop")
        readings = len(store.readings("concurrent"))
    sandbox.join(5)

    efficiency = {name: window_fill(seen[name]["admitted_at"], args.rate) for name in VENDORS}
    refused = sum(seen[name]["stats"].get("rate_limited", 0) + naive_seen[name]["stats"].get("rate_limited", 0)
                  for name in VENDORS)
    requests = {name: seen[name]["stats"].get("requests", 0) for name in VENDORS}
    default_requests = {name: default_seen[name]["stats"].get("requests", 0) for name in VENDORS}
    pairs, naive_pairs = len(subjects) * len(VENDORS), args.naive_subjects * len(VENDORS)
    default_pairs = len(defaults) * len(VENDORS)
    speedup = (naive_seconds / naive_pairs) / (seconds / pairs)
    simple_speedup = (simple_seconds / naive_pairs) / (seconds / pairs)
    loop_name = "uvloop" if ours_loop is not None else "asyncio"
    print(f"{len(subjects):,} subjects x {len(VENDORS)} vendors, {args.latency * 1000:g} ms latency, "
          f"{args.rate:g} req/s per vendor, {args.concurrency} in flight per vendor; ours on {loop_name}")
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
    bare_pairs = len(bare_subjects) * len(VENDORS)
    per_pair = {"ours": cpu / pairs * 1000, "simple": simple_cpu / naive_pairs * 1000,
                "bare": bare_cpu / bare_pairs * 1000, "defaults": default_cpu / default_pairs * 1000,
                "bare_uvloop": bare_uv[1] / bare_pairs * 1000 if bare_uv else math.nan}
    default_sent = sum(default_requests.values())
    bare_admitted = sum(bare_seen[name]["stats"].get("admitted", 0) for name in VENDORS)
    print(f"client CPU per (subject, vendor) pair: ours {per_pair['ours']:.3f} ms ({cpu:.2f} s, {loop_name}); "
          f"simple client {per_pair['simple']:.3f} ms; bare aiohttp floor {per_pair['bare']:.3f} ms on asyncio "
          f"({bare_pairs:,} pairs in {bare_seconds:.1f} s, {bare_admitted:,} admitted), "
          f"{per_pair['bare_uvloop']:.3f} ms on uvloop; ours / floor {per_pair['ours'] / per_pair['bare']:.2f} "
          f"(on asyncio), {per_pair['ours'] / per_pair['bare_uvloop']:.2f} (on uvloop)")
    print(f"default batch sizes: {default_pairs:,} pairs in {default_sent:,} requests "
          f"({', '.join(f'{name} {n:,}' for name, n in default_requests.items())}), {default_seconds:.2f} s; "
          f"client CPU {per_pair['defaults']:.3f} ms per pair, "
          f"{default_cpu / max(1, default_sent) * 1000:.3f} ms per request")
    print(json.dumps({
        "subjects": len(subjects), "vendors": len(VENDORS), "latency_ms": args.latency * 1000,
        "rate_per_vendor": args.rate, "concurrency": args.concurrency, "loop": loop_name, "seconds": round(seconds, 3),
        "requests": requests, "quota_efficiency": {k: _figure(v) for k, v in efficiency.items()},
        "min_quota_efficiency": _figure(min(efficiency.values())), "http_429": refused,
        "peak_rss_mb": round(peak_mb, 1), "naive_subjects": args.naive_subjects,
        "naive_seconds": round(naive_seconds, 3), "speedup_vs_naive": round(speedup, 2),
        "speedup_ceiling": len(VENDORS) * args.rate * args.latency,
        "simple_seconds": round(simple_seconds, 3), "speedup_vs_simple": round(simple_speedup, 2),
        "client_cpu_s": round(cpu, 3), "client_cpu_ms_per_pair": round(per_pair["ours"], 4),
        "simple_cpu_ms_per_pair": round(per_pair["simple"], 4), "bare_subjects": len(bare_subjects),
        "bare_cpu_ms_per_pair": round(per_pair["bare"], 4),
        "cpu_vs_bare": round(per_pair["ours"] / per_pair["bare"], 2),
        "bare_uvloop_cpu_ms_per_pair": _figure(per_pair["bare_uvloop"]),
        "cpu_vs_bare_uvloop": None if bare_uv is None else round(per_pair["ours"] / per_pair["bare_uvloop"], 2),
        "default_batch_subjects": len(defaults), "default_batch_requests": default_requests,
        "default_batch_seconds": round(default_seconds, 3),
        "default_batch_cpu_ms_per_pair": round(per_pair["defaults"], 4),
        "default_batch_cpu_ms_per_request": round(default_cpu / max(1, default_sent) * 1000, 4),
    }))


if __name__ == "__main__":
    main()
