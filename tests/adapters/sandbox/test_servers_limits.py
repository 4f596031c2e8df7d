"""Per-key strict sliding windows, refused the way each vendor refused, with Retry-After."""

from __future__ import annotations

import asyncio
import json
import random

import aiohttp
import pytest

from adapters.sandbox.launch import launch
from adapters.sandbox.servers._limits import KeyLimiter, SlidingWindow
from aggregator.ratelimit import RateLimit


def test_window_never_admits_more_than_count_in_any_window():
    limit = RateLimit(count=5, period=1.0)
    rng = random.Random(3)
    for slack in (0.0, 0.01):
        window = SlidingWindow(limit, slack)
        now, admitted, refused = 0.0, [], 0
        for _ in range(2000):
            now += rng.expovariate(12.0)  # faster than allowed, with bursts
            if window.wait(now) == 0.0:
                window.add(now)
                admitted.append(now)
            else:
                refused += 1
        assert refused > 0
        # any count+1 admitted requests span at least the window (less the forgiven slack)
        spans = [admitted[i + limit.count] - admitted[i] for i in range(len(admitted) - limit.count)]
        assert min(spans) >= limit.period - slack
        # and the window was used: a strict limiter is not a slow one
        assert len(admitted) >= 0.9 * now * limit.per_second


def test_wait_says_exactly_when_a_slot_frees():
    window = SlidingWindow(RateLimit(count=2, period=1.0), slack=0.0)
    for t in (0.0, 0.25):
        window.add(t)
    assert window.wait(0.5) == pytest.approx(0.5)
    assert window.used(0.9) == 2 and window.reset_in(0.9) == pytest.approx(0.1)
    assert window.wait(1.0) == 0.0 and window.used(1.0) == 1


def test_keys_are_counted_apart_and_every_limit_must_have_room():
    limiter = KeyLimiter([RateLimit(2, 1.0), RateLimit(3, 10.0)], slack=0.0)
    assert limiter.admit("a", 0.0) is None and limiter.admit("a", 0.1) is None
    assert limiter.admit("a", 0.2) == (0, pytest.approx(0.8))
    assert limiter.admit("b", 0.2) is None  # another key has its own windows
    assert limiter.admit("a", 1.5) is None
    which, wait = limiter.admit("a", 2.5)  # the per-second window has room, the 10 s one not
    assert which == 1 and wait == pytest.approx(7.5)


async def _burst(url: str, params: list[dict[str, str]]) -> list[tuple[int, dict[str, str], bytes]]:
    async with aiohttp.ClientSession() as session:

        async def one(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            async with session.get(url, params=query) as response:
                return response.status, dict(response.headers), await response.read()

        return await asyncio.gather(*(one(query) for query in params))


async def test_each_vendor_refuses_a_burst_its_own_way():
    limits = {"klout": ("4/s", "6/day"), "peerindex": "4/s", "kred": "4/s", "empireavenue": "4/s"}
    async with launch(limits=limits, seed=1) as sandbox:
        handle = sandbox.handles[0]
        kred_app = sandbox["kred"].credentials.app_id or ""
        calls = {
            "klout": ("/v2/identity.json/twitter", {"screenName": handle, "key": sandbox["klout"].api_key}),
            "peerindex": ("/1/actor/basic", {"twitter_screen_name": handle, "api_key": sandbox["peerindex"].api_key}),
            "kred": ("/kredscore", {"term": handle, "app_id": kred_app, "app_key": sandbox["kred"].api_key}),
            "empireavenue": ("/profile/info", {"ticker": handle, "apikey": sandbox["empireavenue"].api_key}),
        }
        for name, (path, params) in calls.items():
            replies = await _burst(sandbox[name].base_url + path, [params] * 7)
            refused = [(status, headers, body) for status, headers, body in replies if status in {403, 429}]
            assert len(refused) == 3, name  # 4 admitted in the window, whatever their order
            assert sandbox[name].server.stats["rate_limited"] == 3
            for status, headers, body in refused:
                assert int(headers["Retry-After"]) >= 1, name
                if name in {"klout", "peerindex"}:  # the Mashery gateway: 403, not JSON
                    assert status == 403
                    assert headers["X-Mashery-Error-Code"] == "ERR_403_DEVELOPER_OVER_QPS"
                    assert body == b"<h1>Developer Over Qps</h1>"
                elif name == "kred":
                    assert status == 429
                    assert json.loads(body)["status"] == "error"
                else:  # Empire Avenue: 403 with meta saying the window is full
                    meta = json.loads(body)["meta"]
                    assert status == 403 and meta["requests"] == 4 and meta["limit"] == "4"
                    assert 0 <= meta["reset"] <= 1
        # Klout's daily quota: 2 more fit the day, then Mashery says "Over Rate"
        await asyncio.sleep(1.0)
        path, params = calls["klout"]
        replies = await _burst(sandbox["klout"].base_url + path, [params] * 3)
        statuses = sorted(status for status, _, _ in replies)
        assert statuses == [200, 200, 403]
        (over,) = [headers for status, headers, _ in replies if status == 403]
        assert over["X-Mashery-Error-Code"] == "ERR_403_DEVELOPER_OVER_RATE"
        assert int(over["Retry-After"]) > 80_000


async def test_empireavenue_meta_counts_requests_and_reset():
    async with launch(["empireavenue"], seed=2, limits={"empireavenue": "150/hour"}) as sandbox:
        ea = sandbox["empireavenue"]
        joined = sandbox.people.scores("empireavenue", 1).known
        handle = next(h for row, h in enumerate(sandbox.handles) if joined[row])
        metas = []
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(f"{ea.base_url}/profile/info",
                                       params={"ticker": handle, "apikey": ea.api_key}) as response:
                    metas.append((await response.json())["meta"])
        assert [m["requests"] for m in metas] == [1, 2, 3]
        assert all(m["limit"] == "150" and m["limit_type"] == "user" and 3590 <= m["reset"] <= 3600 for m in metas)


async def test_a_client_honouring_retry_after_gets_through_and_keys_do_not_share_windows():
    async with launch(["kred"], limits={"kred": "2/0.5s"}) as sandbox:
        kred = sandbox["kred"]
        params = {"term": sandbox.handles[0], "app_id": kred.credentials.app_id or "", "app_key": kred.api_key}
        url = f"{kred.base_url}/kredscore"
        assert sorted(s for s, _, _ in await _burst(url, [params] * 3)) == [200, 200, 429]
        await asyncio.sleep(0.5)
        assert sorted(s for s, _, _ in await _burst(url, [params] * 2)) == [200, 200]
        # an unknown key is refused as auth, never counted against anyone's window
        wrong = {**params, "app_key": "0" * 32}
        assert [s for s, _, _ in await _burst(url, [wrong] * 3)] == [401] * 3
        assert kred.server.stats["rate_limited"] == 1
