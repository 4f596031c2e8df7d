from __future__ import annotations

import pytest

from aggregator.app.config import config_from_dict, load_config
from aggregator.errors import ConfigError
from aggregator.ratelimit import RateLimit


def _where(exc: ConfigError) -> dict[str, str]:
    return {p.where: p.message for p in exc.problems}


def test_project_config_loads_with_paths_relative_to_the_file(project):
    config = load_config(project)
    assert config.roster.path == project.parent / "roster.csv"
    assert config.store.path == project.parent / "history.sqlite"
    assert list(config.enabled_indices) == ["klout", "kred", "peerindex"]
    assert config.adapter_configs["klout"].path == project.parent / "exports/klout.csv"
    assert len(config.digest) == 64


def test_every_problem_is_reported_with_its_key_path():
    data = {
        "indices": {
            "klout": {"adapter": "files", "rate_limit": "ten per second", "options": {"path": "k.csv", "scael": 1}},
            "other": {"adapter": "no-such-adapter"},
        },
        "roster": {},
        "report": {"disagreement_threshold": 400},
    }
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, environ={})
    where = _where(info.value)
    assert "COUNT/UNIT" in where["indices.klout.rate_limit"]
    assert "unknown key" in where["indices.klout.options.scael"]
    assert "unknown adapter 'no-such-adapter'; installed:" in where["indices.other.adapter"]
    assert "files" in where["indices.other.adapter"]
    assert where["roster.path"] == "required key is missing"
    assert "400" in where["report.disagreement_threshold"]


def test_missing_env_var_names_the_variable_never_an_empty_key():
    data = {"indices": {"k": {"adapter": "files", "options": {"path": "${EXPORT_DIR}/k.csv"}}},
            "roster": {"path": "r.csv"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, environ={"EXPORT_DIR": ""})
    assert _where(info.value) == {"indices.k.options.path": "environment variable EXPORT_DIR is not set"}
    config = config_from_dict(data, environ={"EXPORT_DIR": "/data"})
    assert str(config.adapter_configs["k"].path) == "/data/k.csv"


def test_secret_values_are_never_echoed_in_errors():
    data = {"indices": {"k": {"adapter": "files", "options": {"path": "k.csv", "api_key": "${KEY}"}}},
            "roster": {"path": "r.csv"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, environ={"KEY": "s3cr3t-value"})
    assert "s3cr3t-value" not in str(info.value)
    assert "indices.k.options.api_key" in str(info.value)


def test_rate_limit_is_parsed():
    data = {"indices": {"k": {"adapter": "files", "rate_limit": "150/hour", "options": {"path": "k.csv"}}},
            "roster": {"path": "r.csv"}}
    assert config_from_dict(data).indices["k"].limits.rate == RateLimit(150, 3600.0)


def test_toml_syntax_error_names_the_file_and_line(write):
    path = write("bad.toml", "[roster]\npath = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML.*line 2"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


def test_several_rate_limits_are_held_at_once_shortest_window_first():
    data = {"indices": {"k": {"adapter": "files", "rate_limit": ["10000/day", "10/s"], "options": {"path": "k.csv"}}},
            "roster": {"path": "r.csv"}}
    limits = config_from_dict(data, environ={}).indices["k"].limits
    assert limits.rates == (RateLimit(10, 1.0), RateLimit(10000, 86400.0))
    assert limits.rate == RateLimit(10, 1.0)


@pytest.mark.parametrize(("limits", "says"), [
    (["10/s", "10/ms"], "limit 2 of the list: rate limit '10/ms' is not of the form COUNT/UNIT"),
    (["10/s", 5], "limit 2 of the list ('5') is not a text"),
    (["10/s", "20/1s"], "two limits over the same window of 1s (10 and 20): keep only the lower"),
    ([], "an empty list"),
])
def test_a_bad_list_of_rate_limits_names_the_key_and_the_limit(limits, says):
    data = {"indices": {"k": {"adapter": "files", "rate_limit": limits, "options": {"path": "k.csv"}}},
            "roster": {"path": "r.csv"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, environ={})
    assert says in _where(info.value)["indices.k.rate_limit"]
