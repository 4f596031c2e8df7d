"""http_json: the two worked examples in docs/http_json.md run as written, plus the guard rails."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from adapters.http_json import HttpJsonAdapter, HttpJsonConfig, pointer
from adapters.peerindex import PeerIndexAdapter, PeerIndexConfig
from adapters.sandbox.launch import launch
from aggregator.app.config import config_from_dict
from aggregator.app.pipeline import build_adapters
from aggregator.errors import ConfigError
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits
from aggregator.ratelimit import RateLimit

DOC = (Path(__file__).resolve().parents[2] / "docs" / "http_json.md").read_text(encoding="utf-8")
TOKEN = "tok-SENTINEL-9c9c"


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def from_doc(example: int, real_root: str, local_root: str, environ: dict[str, str], tmp_path: Path, rate=None):
    """The example's [indices.*] table, pointed at a local server, through the real config loader."""
    text = doc_blocks("toml")[example].replace(real_root, local_root)
    if rate is not None:
        text = re.sub(r'rate_limit = "[^"]*"', f'rate_limit = "{rate}"', text)
    (tmp_path / "roster.csv").write_text("id,name\nx,X\n", encoding="utf-8")
    data = {"roster": {"path": "roster.csv"}, **tomllib.loads(text)}
    config = config_from_dict(data, base_dir=tmp_path, environ=environ)
    [adapter] = build_adapters(config)
    return adapter


async def results(adapter, subjects):
    found = [r async for r in adapter.fetch(subjects)]
    assert sorted(r.subject_id for r in found) == sorted(s.id for s in subjects)
    return {r.subject_id: r for r in found}


async def test_example_1_reads_the_sandbox_peerindex_exactly_as_the_built_in_adapter(tmp_path):
    async with launch(["peerindex"], limits={"peerindex": "1000/s"}) as sandbox:
        vendor = sandbox["peerindex"]
        environ = {"PEERINDEX_KEY": vendor.api_key}
        as_written = from_doc(0, "https://api.peerindex.com", vendor.base_url, environ, tmp_path)
        assert str(as_written.limits.rate) == "1/1s"  # 40 people at 1/s would take 40 s here:
        declared = from_doc(0, "https://api.peerindex.com", vendor.base_url, environ, tmp_path, rate="1000/s")
        fast = Limits(rate=RateLimit.parse("1000/s"))
        built_in = PeerIndexAdapter("peerindex", PeerIndexConfig(**vendor.options()), fast)
        subjects = [Subject(id=f"s{i}", name="S", handles={"twitter": h}) for i, h in enumerate(sandbox.handles[:40])]
        ours, theirs = await results(declared, subjects), await results(built_in, subjects)
    assert sum(isinstance(r, Reading) for r in ours.values()) >= 10
    assert any(isinstance(r, Failure) and r.kind is FailureKind.NOT_FOUND for r in ours.values())
    for sid, mine in ours.items():
        other = theirs[sid]
        if isinstance(mine, Reading):
            assert isinstance(other, Reading)
            assert (mine.value, mine.components, mine.scale) == (other.value, other.components, other.scale)
        else:
            assert isinstance(other, Failure) and mine.kind is other.kind


async def test_example_2_as_documented(replay, tmp_path):
    reply = doc_blocks("json")[1]
    replay.answer("/v2/profiles/ann.archer", reply)
    replay.answer("/v2/profiles/nobody", '{"data": null}')
    adapter = from_doc(1, "https://api.example-analytics.com", replay.url, {"ANALYTICS_TOKEN": TOKEN}, tmp_path)
    subjects = [Subject(id="ann", name="Ann", handles={"instagram": "ann.archer"}),
                Subject(id="nob", name="Nobody", handles={"instagram": "nobody"})]
    found = await results(adapter, subjects)
    ann = found["ann"]
    assert isinstance(ann, Reading)
    assert (ann.index, ann.value, ann.raw, ann.scale.describe()) == ("analytics", 72.5, "72.5", "0-100")
    assert ann.components == {"reach": 184000.0, "audience_quality": 0.81, "engagement_rate": 0.034}
    assert ann.topics == ("Travel", "Food & Drink")
    assert isinstance(found["nob"], Failure) and found["nob"].kind is FailureKind.NOT_FOUND
    assert {(s.query["platform"], s.headers["Authorization"]) for s in replay.seen} == {("instagram",
                                                                                         f"Bearer {TOKEN}")}
    assert TOKEN not in found["nob"].model_dump_json()


def make(replay, **options):
    config = HttpJsonConfig(**{"url": f"{replay.url}/score/{{handle}}", "value": "/score",
                               "api_key": SecretStr(TOKEN), "key_param": "key", **options})
    return HttpJsonAdapter("vendor", config, Limits())


async def test_a_handle_cannot_change_the_path_query_or_host(replay):
    replay.answer("/score/../admin?x=1#", '{"score": 5}')  # the decoded path of one segment
    evil = Subject(id="e", name="E", handles={"twitter": "../admin?x=1#"})
    dots = Subject(id="d", name="D", handles={"twitter": ".."})
    found = await results(make(replay, scale=(0, 10)), [evil, dots])
    assert isinstance(found["e"], Reading)
    assert [s.raw_path for s in replay.seen] == ["/score/..%2Fadmin%3Fx=1%23?key=" + TOKEN]
    assert replay.seen[0].query == {"key": TOKEN}
    assert (found["d"].kind, found["d"].attempts) == (FailureKind.NOT_FOUND, 0)


@pytest.mark.parametrize(("body", "expected"), [
    ('{"score": "61.5", "extra": 1}', 61.5),
    ('{"score": 101}', FailureKind.OUT_OF_RANGE),
    ('{"score": null}', FailureKind.BAD_PAYLOAD),
    ('{"points": 3}', FailureKind.BAD_PAYLOAD),
    ('{"score": [1]}', FailureKind.BAD_PAYLOAD),
    ("<html>hello</html>", FailureKind.BAD_PAYLOAD),
])
async def test_values_are_read_defensively(replay, body, expected):
    replay.answer("/score/ann", body, content_type="text/html" if "<" in body else "application/json")
    [result] = (await results(make(replay, scale=(0, 100)), [Subject(id="a", name="A", handles={"twitter": "ann"})]
                              )).values()
    if isinstance(expected, FailureKind):
        assert isinstance(result, Failure) and result.kind is expected
        assert TOKEN not in result.message
    else:
        assert isinstance(result, Reading) and result.value == expected


@pytest.mark.parametrize(("options", "message"), [
    ({"url": "https://{handle}.example.com/score"}, "path only"),
    ({"url": "https://api.example.com/score?user={handle}"}, "path only"),
    ({"url": "https://api.example.com/{user}"}, "path only"),
    ({"url": "ftp://api.example.com/{handle}"}, "absolute http"),
    ({"value": "score"}, "not a JSON pointer"),
    ({"components": {"reach": "data/reach"}}, "not a JSON pointer"),
    ({"key_param": None}, "exactly one of key_header or key_param"),
    ({"key_header": "Authorization"}, "exactly one of key_header or key_param"),
    ({"api_key": None}, "needs api_key"),
    ({"base_url": "https://api.example.com"}, "takes `url`"),
    ({"scale": (10, 1)}, "with lo below hi, got [10, 1]"),
])
def test_bad_declarations_are_refused_with_a_reason(options, message):
    base = {"url": "https://api.example.com/score/{handle}", "value": "/score", "api_key": SecretStr(TOKEN),
            "key_param": "key"}
    with pytest.raises(ValidationError, match=re.escape(message)):
        HttpJsonConfig(**{**base, **options})


def test_config_errors_name_the_key_path(tmp_path):
    (tmp_path / "roster.csv").write_text("id,name\nx,X\n", encoding="utf-8")
    data = {"roster": {"path": "roster.csv"}, "indices": {"v": {"adapter": "http_json", "options": {
        "url": "https://api.example.com/x/{handle}", "value": "/a", "api_key": "${V_KEY}", "key_param": "k",
        "scale": [1, 2, 3]}}}}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data, base_dir=tmp_path, environ={"V_KEY": TOKEN})
    assert "indices.v.options.scale" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_json_pointer_follows_rfc_6901():
    doc = {"a/b": {"m~n": [10, {"x": 0}]}, "": 1}
    assert pointer(doc, "") is doc
    assert pointer(doc, "/a~1b/m~0n/0") == 10
    assert pointer(doc, "/a~1b/m~0n/1/x") == 0
    assert pointer(doc, "/") == 1
    for missing in ("/a~1b/m~0n/2", "/a~1b/m~0n/-", "/nope/x", "/a~1b/m~0n/0/deeper"):
        assert pointer(doc, missing) is None
