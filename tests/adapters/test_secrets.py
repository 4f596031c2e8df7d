"""Secrets stay secret: a key never follows a redirect to another origin, a key a vendor echoes
back (as written, URL-encoded, in topics or component names) reaches neither the store's bytes
nor the reports, and config errors show ``${VAR}`` instead of what the environment held."""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web
from loopback import serve

from adapters.http_json import HttpJsonAdapter, HttpJsonConfig
from aggregator.app.api import Aggregator
from aggregator.app.config import config_from_dict
from aggregator.collection.store import Store
from aggregator.errors import ConfigError
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits

KEY = "k3y+SENT/INEL=="  # '+', '/' and '=' all change when URL-encoded


def forms(secret: str) -> list[str]:
    """Every spelling of the key a server might echo, upper- and lower-case percent escapes."""
    spelled = {secret, quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret), html.escape(secret),
               json.dumps(secret)[1:-1]}
    return sorted(spelled | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), s) for s in spelled})


ANN = Subject(id="ann", name="Ann", handles={"twitter": "ann_a"})


def _adapter(url: str, **options) -> HttpJsonAdapter:
    config = HttpJsonConfig(url=url, value="/score", api_key=KEY, key_header="X-Api-Key", **options)
    return HttpJsonAdapter("vendor", config, Limits())


async def _one(adapter: HttpJsonAdapter) -> Reading | Failure:
    [result] = [r async for r in adapter.fetch([ANN])]
    return result


async def test_a_redirect_to_another_origin_is_a_failure_naming_both_hosts_and_gets_no_key():
    elsewhere: list[dict[str, str]] = []

    async def other(request: web.Request) -> web.Response:
        elsewhere.append(dict(request.headers))
        return web.json_response({"score": 99})

    other_app = web.Application()
    other_app.router.add_get("/{tail:.*}", other)
    async with serve(other_app) as other_url:
        async def moved(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{other_url}/stolen")

        app = web.Application()
        app.router.add_get("/v1/{handle}", moved)
        async with serve(app) as url:
            result = await _one(_adapter(f"{url}/v1/{{handle}}"))
    assert isinstance(result, Failure)
    assert elsewhere == []  # the other origin never saw a request, let alone the key
    assert url in result.message and other_url in result.message and "not followed" in result.message
    assert KEY not in result.message


async def test_a_redirect_within_the_origin_is_followed():
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"/v2/{request.match_info['handle']}")

    async def score(request: web.Request) -> web.Response:
        assert request.headers["X-Api-Key"] == KEY
        return web.json_response({"score": 42})

    app = web.Application()
    app.router.add_get("/v1/{handle}", moved)
    app.router.add_get("/v2/{handle}", score)
    async with serve(app) as url:
        result = await _one(_adapter(f"{url}/v1/{{handle}}"))
    assert isinstance(result, Reading) and result.value == 42



async def test_a_redirect_loop_within_the_origin_ends_as_a_failure_after_ten():
    hops: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        hops.append(request.path)
        raise web.HTTPSeeOther(f"/v1/{len(hops)}")

    app = web.Application()
    app.router.add_get("/v1/{handle}", moved)
    async with serve(app) as url:
        result = await _one(_adapter(f"{url}/v1/{{handle}}"))
    assert isinstance(result, Failure) and result.kind is FailureKind.SERVER_ERROR
    assert "more than 10 redirects" in result.message and len(hops) == 11

async def test_an_echoed_key_in_any_spelling_reaches_neither_the_store_nor_the_reports(tmp_path: Path):
    echoes = forms(KEY)

    async def echo(request: web.Request) -> web.Response:
        key = request.headers["X-Api-Key"]
        return web.json_response({
            "score": 42,
            "debug": f"key={quote(key, safe='')}",
            "topics": [f"token {form}" for form in forms(key)] + [{"name": key}, "\x1b[2Jred\u202etxet"],
            "reach": 7,
        })

    app = web.Application()
    app.router.add_get("/v1/{handle}", echo)
    (tmp_path / "roster.csv").write_text("id,name,twitter\nann,Ann,ann_a\nbob,Bob,bobb\n", encoding="utf-8")
    async with serve(app) as url:
        data = {
            "store": {"path": "history.sqlite"},
            "roster": {"path": "roster.csv"},
            "indices": {"vendor": {"adapter": "http_json", "options": {
                "url": f"{url}/v1/{{handle}}", "value": "/score", "api_key": "${VENDOR_KEY}",
                "key_header": "X-Api-Key", "topics": "/topics", "components": {"reach": "/reach"},
            }}},
        }
        config = config_from_dict(data, base_dir=tmp_path, environ={"VENDOR_KEY": KEY})
        result = await Aggregator(config).run()
    stored = _no_key_in(tmp_path, result, echoes)
    assert b"token ***" in stored  # the topics were kept, the key blanked in them


def _no_key_in(tmp_path: Path, result, echoes: list[str]) -> bytes:
    """Searches the store's files and every report for ``echoes``; returns the store's bytes."""
    outputs = {
        "store": b"".join(p.read_bytes() for p in tmp_path.glob("history.sqlite*")),
        "html": result.render("html").encode(),
        "text": result.render("text").encode(),
        "json": result.render("json").encode(),
        "email": result.render("email"),
    }
    leaks = {(where, form) for where, blob in outputs.items() for form in echoes
             if form.encode() in (blob if isinstance(blob, bytes) else blob.encode())}
    assert leaks == set()
    raw_controls = [b"\x1b[2J", "\u202e".encode()]  # vendor text never reaches a terminal or a page raw
    assert [(where, c) for where, blob in outputs.items() for c in raw_controls if c in blob] == []
    return outputs["store"]


#: a key a user put inside the url's path and its query through ${VAR} (not an api_key option)
PATH_KEY = "p4th+K3Y/&x="
QUERY_KEY = "qu3ry+K3Y&y="


async def test_a_key_put_into_the_url_by_a_variable_stays_out_of_failures_store_reports_and_logs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    # a vendor that fails and says where it was asked: with a 500 (the message quotes the URL's
    # path), with a "score" that is the URL (a bad payload quoting it), and in a reading's topics
    async def echo(request: web.Request) -> web.Response:
        handle = request.match_info["handle"]
        if handle == "ann_a":
            return web.Response(status=500, text=f"failed at {request.url}")
        if handle == "bobb":
            return web.json_response({"score": request.raw_path})
        return web.json_response({"score": 5, "topics": [str(request.url), request.raw_path, request.path_qs]})

    app = web.Application()
    app.router.add_get("/v1/{path_key:.*}/score/{handle}", echo)
    roster = "id,name,twitter\nann,Ann,ann_a\nbob,Bob,bobb\ncy,Cy,cy_c\n"
    (tmp_path / "roster.csv").write_text(roster, encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    async with serve(app) as url:
        data = {
            "store": {"path": "history.sqlite"},
            "roster": {"path": "roster.csv"},
            "indices": {"vendor": {"adapter": "http_json", "options": {
                "url": f"{url}/v1/${{PATH_KEY}}/score/{{handle}}", "params": {"token": "${QUERY_KEY}"},
                "value": "/score", "topics": "/topics", "timeout_seconds": "${TIMEOUT}", "max_attempts": 2,
                "backoff_seconds": 0.01,
            }}},
        }
        environ = {"PATH_KEY": PATH_KEY, "QUERY_KEY": QUERY_KEY, "TIMEOUT": "5"}
        config = config_from_dict(data, base_dir=tmp_path, environ=environ)
        result = await Aggregator(config).run()
    echoes = forms(PATH_KEY) + forms(QUERY_KEY)
    stored = _no_key_in(tmp_path, result, echoes)
    assert b"/v1/***/score/cy_c?token=***" in stored  # the topics were kept, both keys blanked in them
    assert [(form, line) for line in caplog.text.splitlines() for form in echoes if form in line] == []
    assert "attempt 2 of 2" in caplog.text  # the retry was logged, its URL blanked
    with Store(config.store.path) as store:
        failures = {f.subject_id: f.message for f in store.failures(result.run_id)}
        readings = [(r.subject_id, r.raw) for _, r in store.readings(result.run_id)]
    assert failures["ann"].startswith("vendor: HTTP 500 from http://127.0.0.1:") and "/v1/***/score/" in failures["ann"]
    assert "not a number" in failures["bob"] and "***" in failures["bob"]
    # a number from the environment (the timeout) is not blanked: the reading's "5" stands
    assert readings == [("cy", "5")]


def test_config_errors_show_the_placeholder_not_the_environments_value(tmp_path: Path):
    secret = "s3cr3t-in-a-url-9f9f"
    data = {
        "roster": {"path": "roster.csv"},
        "indices": {"vendor": {
            "adapter": "http_json", "rate_limit": "${RATE}",
            "options": {"url": "ftp://api.example.com/${VENDOR_KEY}/{handle}", "value": "/score",
                        "timeout_seconds": "${TIMEOUT}"},
        }},
    }
    environ = {"VENDOR_KEY": secret, "RATE": "many/s-" + secret, "TIMEOUT": "soon-" + secret}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data, base_dir=tmp_path, environ=environ)
    text = str(caught.value)
    assert secret not in text
    assert "ftp://api.example.com/${VENDOR_KEY}/{handle}" in text
    assert "indices.vendor.rate_limit" in text and "${RATE}" in text
    assert "indices.vendor.options.timeout_seconds" in text and "${TIMEOUT}" in text
