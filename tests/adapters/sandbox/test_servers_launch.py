"""launch(): which vendors, where, with what keys and population; the config it writes."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from adapters.sandbox.launch import launch, limit_text
from adapters.sandbox.population import sample_population
from adapters.sandbox.servers import Faults
from aggregator.app.config import config_from_dict
from aggregator.ratelimit import RateLimit


async def test_all_vendors_by_default_each_on_its_own_loopback_port_with_seeded_keys():
    async with launch(seed=9) as first:
        urls = {name: vendor.base_url for name, vendor in first.vendors.items()}
        keys = {name: vendor.api_key for name, vendor in first.vendors.items()}
    assert list(urls) == ["klout", "peerindex", "kred", "empireavenue"]
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    assert len(set(urls.values())) == 4
    async with launch(["kred"], seed=9) as again, launch(["kred"], seed=10) as other:
        assert again["kred"].api_key == keys["kred"] != other["kred"].api_key
        assert again["kred"].credentials.app_id and len(again["kred"].credentials.app_id) == 8


async def test_port_option_gives_consecutive_ports():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with launch(["klout", "kred"], port=port) as sandbox:
        assert [vendor.base_url for vendor in sandbox.vendors.values()] == [
            f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]


async def test_bad_arguments_are_refused_before_anything_starts():
    with pytest.raises(ValueError, match="unknown sandbox vendor"):
        async with launch(["klout", "myspace"]):
            pass
    with pytest.raises(ValueError, match="not started"):
        async with launch(["klout"], limits={"kred": "1/s"}):
            pass
    with pytest.raises(ValueError, match="no algorithm version at or below 0"):
        async with launch(["klout"], version=0):
            pass


async def test_one_faults_value_for_all_vendors_leaves_out_what_a_vendor_cannot_show():
    async with launch(["klout", "kred"], faults=Faults.every(0.1, "kred", latency=0.01)) as sandbox:
        assert "not_complete" not in sandbox["klout"].server.faults.shares
        assert sandbox["kred"].server.faults.shares["not_complete"] == 0.1
        assert sandbox["klout"].server.faults.latency == 0.01
        sandbox.set_faults("klout.5xx=0.5")
        assert sandbox["klout"].server.faults.shares == {"server_error": 0.5}


async def test_a_larger_sampled_population_is_served_synthetic_people_included(tmp_path):
    population = sample_population(1600, seed=1)
    async with launch(["kred"], population=population, limits={"kred": ()}) as sandbox:
        assert sandbox.handles == population.handles
        synthetic = [h for h in sandbox.handles if h.startswith("synth_")]
        assert len(synthetic) == 31
        kred = sandbox["kred"]
        params = {"term": ",".join(synthetic), "app_id": kred.credentials.app_id or "", "app_key": kred.api_key}
        async with aiohttp.ClientSession() as session, session.get(f"{kred.base_url}/kredscore",
                                                                   params=params) as response:
            names = {item["name"] for item in (await response.json())["data"]}
        assert names and names <= set(synthetic)
        lines = sandbox.write_roster(tmp_path / "roster.csv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == "id,name,twitter,synthetic" and len(lines) == 1601


async def test_config_is_accepted_by_the_config_loader_and_its_adapters(tmp_path):
    async with launch(limits={"empireavenue": ("5/0.5s",)}) as sandbox:
        roster = sandbox.write_roster(tmp_path / "roster.csv")
        config = sandbox.config(roster=roster.name)
        text = sandbox.config_toml(roster=roster.name)
    assert text.startswith("# ") and "[indices.kred.options]" in text
    loaded = config_from_dict(config, base_dir=tmp_path)
    assert set(loaded.enabled_indices) == {"klout", "peerindex", "kred", "empireavenue"}
    assert str(loaded.indices["empireavenue"].rate_limit) == str(RateLimit.parse("5/0.5s"))
    assert loaded.indices["peerindex"].rate_limit == RateLimit.parse("1/s")
    options = loaded.adapter_configs["kred"]
    assert options.api_key.get_secret_value() == config["indices"]["kred"]["options"]["api_key"]


def test_limit_text_round_trips():
    for text in ("10/s", "150/hour", "5/0.5s", "10000/day", "30/min", "7/90s"):
        assert RateLimit.parse(limit_text(RateLimit.parse(text))) == RateLimit.parse(text)
