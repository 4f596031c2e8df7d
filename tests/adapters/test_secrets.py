"""Secrets stay secret: a key never follows a redirect to another origin, a key a vendor echoes
back (as written, URL-encoded, in topics or component names) reaches neither the store's bytes
nor the reports, and config errors show ``${VAR}`` instead of what the environment held."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web
from loopback import serve

from adapters.http_json import HttpJsonAdapter, HttpJsonConfig
from aggregator.app.api import Aggregator
from aggregator.app.config import config_from_dict
from aggregator.errors import ConfigError
from aggregator.models import Failure, Reading, Subject
from aggregator.plugins import Limits

KEY = "k3y+SENT/INEL=="  # '+', '/' and '=' all change when URL-encoded


def forms(secret: str) -> list[str]:
    """Every spelling of the key a server might echo, upper- and lower-case percent escapes."""
    spelled = {secret, quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret)}
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
    return _no_key_in(tmp_path, result, echoes)


def _no_key_in(tmp_path: Path, result, echoes: list[str]) -> None:
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
    assert b"token ***" in outputs["store"]  # the topics were kept, the key blanked in them
    raw_controls = [b"\x1b[2J", "\u202e".encode()]  # vendor text never reaches a terminal or a page raw
    assert [(where, c) for where, blob in outputs.items() for c in raw_controls if c in blob] == []


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
