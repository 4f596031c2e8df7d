"""Benchmark the sandbox vendor servers: how fast they answer, and how exactly they limit.

    python bench/sandbox_servers.py [--requests 2000] [--concurrency 16] [--rate 200]

Measures, in one run:
- per vendor, requests per second answered by the sandbox server (credentials, sliding
  window, fault draw, the vendor formula's reply, gzip) against a bare aiohttp server on the
  same loop returning that vendor's reply as a canned body, gzipped too (the baseline); the
  ratio is what the sandbox machinery costs (better of two rounds each, after a warm-up).
  Client and servers share one process and one core, as in the tests and bench/collect.py,
  so the figures are the whole loop's, client included;
- at a limit of ``--rate``/s: a client paced by ``aggregator.ratelimit.SlidingWindowLimiter``
  for 3 s (refusals should be 0, achieved rate near the limit), and a client that bursts
  its whole allowance at once and then keeps the rate, as a full token bucket does
  (refused by the strict window).

The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from adapters.sandbox.launch import Sandbox, launch
from aggregator.ratelimit import RateLimit, SlidingWindowLimiter


def call(sandbox: Sandbox, vendor: str, handle: str) -> tuple[str, dict[str, str]]:
    running = sandbox[vendor]
    if vendor == "klout":
        return f"{running.base_url}/v2/identity.json/twitter", {"screenName": handle, "key": running.api_key}
    if vendor == "peerindex":
        return f"{running.base_url}/1/actor/extended", {"twitter_screen_name": handle, "api_key": running.api_key}
    if vendor == "kred":
        return f"{running.base_url}/kredscore", {"term": handle, "app_id": running.credentials.app_id or "",
                                                 "app_key": running.api_key}
    return f"{running.base_url}/profile/info", {"ticker": handle, "apikey": running.api_key}


async def hammer(calls: list[tuple[str, dict[str, str]]], concurrency: int) -> tuple[float, int]:
    """Requests per second for ``calls`` at ``concurrency``; and how many were not 2xx/404."""
    queue = iter(calls)
    odd = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal odd
            for url, params in queue:
                async with session.get(url, params=params) as response:
                    await response.read()
                    odd += response.status not in {200, 404}

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(calls) / (time.perf_counter() - started), odd


async def bare_server(body: bytes, content_type: str) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=body, content_type=content_type)
        if "gzip" in request.headers.get("Accept-Encoding", ""):  # as the sandbox does
            response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def throughput(requests: int, concurrency: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    unlimited: dict[str, tuple[str, ...]] = dict.fromkeys(("klout", "peerindex", "kred", "empireavenue"), ())
    async with launch(limits=unlimited) as sandbox:
        for vendor in sandbox.vendors:
            known = sandbox.people.scores(vendor, 1).known
            handles = [h for row, h in enumerate(sandbox.handles) if known[row]]
            calls = [call(sandbox, vendor, handles[k % len(handles)]) for k in range(requests)]
            async with aiohttp.ClientSession() as session, session.get(calls[0][0], params=calls[0][1]) as reply:
                body, content_type = await reply.read(), reply.content_type
            runner, bare_url = await bare_server(body, content_type)
            bare_calls = [(bare_url + "/x", params) for _, params in calls]
            try:  # warm both up, then the better of two alternating rounds each (the machine is shared)
                await hammer(bare_calls[:200], concurrency)
                await hammer(calls[:200], concurrency)
                rounds = [(await hammer(bare_calls, concurrency), await hammer(calls, concurrency)) for _ in range(2)]
            finally:
                await runner.cleanup()
            bare = max(b for (b, _), _ in rounds)
            served = max(s for _, (s, _) in rounds)
            odd = sum(o for _, (_, o) in rounds)
            figures[vendor] = {"sandbox_rps": round(served), "bare_rps": round(bare),
                               "ratio": round(served / bare, 3), "unexpected_status": odd}
            print(f"{vendor:>13}: sandbox {served:7.0f} req/s   bare aiohttp {bare:7.0f} req/s   "
                  f"ratio {served / bare:.2f}", flush=True)
    return figures


async def limits(rate: int, concurrency: int) -> dict[str, Any]:
    limit = RateLimit(count=rate, period=1.0)
    seconds = 3.0
    async with launch(["kred"], limits={"kred": f"{rate}/s"}) as sandbox:
        server = sandbox["kred"].server
        url, params = call(sandbox, "kred", sandbox.handles[0])

        async def paced() -> tuple[int, float]:
            limiter = SlidingWindowLimiter(limit)
            done = 0
            started = time.perf_counter()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

                async def worker() -> None:
                    nonlocal done
                    while time.perf_counter() - started < seconds:
                        ticket = await limiter.acquire()
                        try:
                            async with session.get(url, params=params) as response:
                                await response.read()
                        finally:  # the place is held until the answer, as the HTTP helper does
                            limiter.release(ticket)
                        done += 1

                await asyncio.gather(*(worker() for _ in range(concurrency)))
            return done, time.perf_counter() - started

        done, elapsed = await paced()
        paced_refused = server.stats["rate_limited"]
        await asyncio.sleep(1.1)  # let the window empty

        # a full token bucket: the whole allowance at once, then the rate
        before = server.stats["rate_limited"]
        async with aiohttp.ClientSession() as session:

            async def one() -> None:
                async with session.get(url, params=params) as response:
                    await response.read()

            burst = [asyncio.create_task(one()) for _ in range(rate)]
            for _ in range(rate):
                await asyncio.sleep(1.0 / rate)
                burst.append(asyncio.create_task(one()))
            await asyncio.gather(*burst)
        burst_refused = server.stats["rate_limited"] - before
    efficiency = done / elapsed / rate
    print(f"paced client at {rate}/s: {done} requests in {elapsed:.2f}s = {efficiency:.3f} of the limit, "
          f"{paced_refused} refused; bursting client: {burst_refused} of {2 * rate} refused", flush=True)
    return {"rate": rate, "paced_efficiency": round(efficiency, 3), "paced_refused": paced_refused,
            "burst_refused": burst_refused, "burst_requests": 2 * rate}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.requests = 100
    vendors = await throughput(args.requests, args.concurrency)
    window = await limits(args.rate, args.concurrency)
    print(json.dumps({"requests": args.requests, "concurrency": args.concurrency, **{
        f"{vendor}_{key}": value for vendor, figures in vendors.items() for key, value in figures.items()
        if key != "unexpected_status"}, "min_ratio_vs_bare": min(f["ratio"] for f in vendors.values()),
        "unexpected_status": sum(f["unexpected_status"] for f in vendors.values()), **window}))


if __name__ == "__main__":
    asyncio.run(main())
