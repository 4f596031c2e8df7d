"""Seeded fault injection, latency, gzip and clean shutdown of the sandbox vendor servers."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import aiohttp
import pytest

from adapters.sandbox.launch import Sandbox, launch
from adapters.sandbox.servers import FAULT_KINDS, Faults, parse_faults

NO_LIMITS = {"klout": (), "peerindex": (), "kred": (), "empireavenue": ()}


def known_handle(sandbox: Sandbox, vendor: str, skip: int = 0) -> str:
    known = sandbox.people.scores(vendor, 1).known
    return [h for row, h in enumerate(sandbox.handles) if known[row]][skip]


def score_call(sandbox: Sandbox, vendor: str, handle: str) -> tuple[str, dict[str, str]]:
    """One request that asks ``vendor`` for ``handle``'s headline score."""
    running = sandbox[vendor]
    if vendor == "klout":
        return f"{running.base_url}/1/klout.json", {"users": handle, "key": running.api_key}
    if vendor == "peerindex":
        return f"{running.base_url}/1/actor/basic", {"twitter_screen_name": handle, "api_key": running.api_key}
    if vendor == "kred":
        return f"{running.base_url}/kredscore", {"term": handle, "app_id": running.credentials.app_id or "",
                                                 "app_key": running.api_key}
    return f"{running.base_url}/profile/info", {"ticker": handle, "apikey": running.api_key}


def headline(vendor: str, body: dict) -> float:
    if vendor == "klout":
        return float(body["users"][0]["kscore"])
    if vendor == "peerindex":
        return float(body["peerindex"])
    if vendor == "kred":
        return float(body["data"][0]["influence"])
    return float(body["data"][0]["last_trade"])


async def outcome(session: aiohttp.ClientSession, url: str, params: dict[str, str], wait: float = 10.0) -> str:
    """What a client sees within ``wait`` seconds: a status with the body's kind, or the exception's class."""
    try:
        async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=wait)) as response:
            body = await response.read()
            try:
                json.loads(body)
                kind = "json"
            except ValueError:
                kind = "html" if body.lstrip().startswith(b"<") else "garbage"
            return f"{response.status} {kind}"
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientPayloadError:
        return "truncated"
    except aiohttp.ClientConnectionError:
        return "reset"


@pytest.mark.parametrize("vendor", ["klout", "peerindex", "kred", "empireavenue"])
async def test_every_fault_kind_happens_when_its_share_is_one(vendor):
    expected = {"server_error": {"500 ", "502 ", "503 ", "504 "}, "timeout": {"timeout"}, "reset": {"reset"},
                "malformed": {"200 garbage"}, "truncated": {"truncated"}, "html": {"200 html"},
                "out_of_range": {"200 json"}, "not_complete": {"200 json"}}
    async with launch([vendor], limits={vendor: ()}, seed=5) as sandbox:
        server = sandbox[vendor].server
        handle = known_handle(sandbox, vendor)
        url, params = score_call(sandbox, vendor, handle)
        timeout = aiohttp.ClientTimeout(total=0.15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            healthy = json.loads(await (await session.get(url, params=params)).read())
            for kind in FAULT_KINDS:
                if kind == "not_complete" and vendor != "kred":
                    with pytest.raises(ValueError, match="cannot show"):
                        server.set_faults(Faults(shares={kind: 1.0}))
                    continue
                server.set_faults(Faults(shares={kind: 1.0}))
                # a reply that never comes is given up after 0.15 s; the others may take longer on a busy machine
                seen = await outcome(session, url, params, 0.15 if kind == "timeout" else 10.0)
                assert any(seen.startswith(prefix) for prefix in expected[kind]), (kind, seen)
                if kind == "server_error":
                    html = vendor in {"klout", "peerindex"}  # the Mashery gateway answers in HTML
                    assert seen.endswith("html" if html else "json")
                if kind in {"out_of_range", "not_complete"}:
                    async with session.get(url, params=params) as response:
                        body = await response.json()
                    if kind == "not_complete":
                        assert body["status"] != "complete" and body["data"] == []
                    else:
                        value = headline(vendor, body)
                        assert value != headline(vendor, healthy)
                        assert {"klout": value > 100, "peerindex": value > 100, "kred": value > 1000,
                                "empireavenue": value < 0}[vendor], value
                assert server.stats[f"fault/{kind}"] >= 1
            server.set_faults(Faults())
            assert await outcome(session, url, params) == "200 json"


async def run_mix(seed: int, requests: list[int]) -> list[str]:
    faults = "5xx=0.2,malformed=0.15,html=0.15,out_of_range=0.1"
    async with launch(["kred"], faults=faults, limits={"kred": ()}, seed=seed) as sandbox, \
            aiohttp.ClientSession() as session:
        seen = []
        for k in requests:
            url, params = score_call(sandbox, "kred", sandbox.handles[k])
            seen.append(await outcome(session, url, params))
        return seen


async def test_faults_are_deterministic_under_a_seed_and_retries_draw_again():
    requests = [k % 40 for k in range(120)]  # each request asked three times
    first, again, other = await run_mix(11, requests), await run_mix(11, requests), await run_mix(12, requests)
    assert first == again
    assert first != other
    faulty = sum(not seen.startswith("200 json") for seen in first) / len(first)
    assert 0.35 < faulty < 0.75  # 0.5 of replies are faulty (out_of_range ones look healthy here)
    # the same request asked again does not repeat its fault forever
    firsts, retries = first[:40], first[40:80]
    assert any(a != "200 json" and b == "200 json" for a, b in zip(firsts, retries, strict=True))


async def test_faults_do_not_depend_on_how_requests_interleave():
    async def outcomes(seed: int, *, together: bool) -> list[str]:
        async with launch(["klout"], faults="5xx=0.3,html=0.2", limits={"klout": ()}, seed=seed) as sandbox:
            calls = [score_call(sandbox, "klout", handle) for handle in sandbox.handles[:30]]
            async with aiohttp.ClientSession() as session:
                if together:
                    return list(await asyncio.gather(*(outcome(session, url, params) for url, params in calls)))
                return [await outcome(session, url, params) for url, params in calls]

    sequential = await outcomes(4, together=False)
    assert await outcomes(4, together=True) == sequential
    # healthy, 5xx and HTML replies, in the same places
    assert {seen.split()[0][0] + seen.split()[1] for seen in sequential} == {"2json", "2html", "5html"}


async def test_latency_is_fixed_plus_seeded_jitter():
    async with launch(["peerindex"], faults="latency=80ms,jitter=40ms", limits={"peerindex": ()}) as sandbox:
        url, params = score_call(sandbox, "peerindex", known_handle(sandbox, "peerindex"))
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            await asyncio.gather(*(outcome(session, url, params) for _ in range(5)))
            elapsed = time.monotonic() - started
    assert elapsed >= 0.08


async def test_gzip_when_asked_and_plain_otherwise():
    async with launch(["empireavenue"]) as sandbox:
        url, params = score_call(sandbox, "empireavenue", known_handle(sandbox, "empireavenue"))
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            async with session.get(url, params=params, headers={"Accept-Encoding": "gzip"}) as response:
                assert response.headers["Content-Encoding"] == "gzip"
                body = json.loads(gzip.decompress(await response.read()))
            async with session.get(url, params=params, headers={"Accept-Encoding": "identity"}) as response:
                assert "Content-Encoding" not in response.headers
                plain = json.loads(await response.read())
    assert plain["data"] == body["data"]
    assert (body["meta"]["requests"], plain["meta"]["requests"]) == (1, 2)


async def test_shutdown_is_clean_with_a_request_left_hanging():
    async with launch(["kred"], faults="timeout=1", limits={"kred": ()}) as sandbox:
        url, params = score_call(sandbox, "kred", known_handle(sandbox, "kred"))
        session = aiohttp.ClientSession()
        hanging = asyncio.create_task(session.get(url, params=params))
        await asyncio.sleep(0.1)
        assert sandbox["kred"].server.stats["fault/timeout"] == 1
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # the hanging reply is dropped, not waited out
    with pytest.raises(aiohttp.ClientConnectionError):
        await hanging
    with pytest.raises(aiohttp.ClientConnectionError):  # nobody listens any more
        await session.get(url, params=params)
    await session.close()


def test_parse_faults_reads_shares_durations_and_vendor_overrides():
    faults = parse_faults("kred.not_complete=50%,all=0.05,latency=20ms,jitter=0.01s,klout.5xx=0.2",
                          ["klout", "kred"])
    assert faults["klout"].latency == pytest.approx(0.02) and faults["kred"].jitter == pytest.approx(0.01)
    assert faults["klout"].shares["server_error"] == 0.2 and faults["kred"].shares["server_error"] == 0.05
    assert faults["kred"].shares["not_complete"] == 0.5 and "not_complete" not in faults["klout"].shares
    assert parse_faults("", ["klout"]) == {"klout": Faults()}


@pytest.mark.parametrize(("text", "message"), [
    ("5xx", "NAME=VALUE"),
    ("bogus=0.1", "unknown name 'bogus'"),
    ("5xx=2", "between 0 and 1"),
    ("5xx=lots", "number like 0.1"),
    ("latency=20", "needs a duration with a unit"),
    ("kred.5xx=0.1", "'kred' is not running"),
    ("klout.not_complete=0.1", "klout cannot show not_complete"),
    ("5xx=0.6,html=0.6", "add up to 1.2"),
])
def test_parse_faults_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_faults(text, ["klout"])
