import csv
import json
import re
from typing import Any

import numpy as np
import pytest

from adapters.sandbox.exports import ExportInfo, _tickers, write_exports, write_roster
from adapters.sandbox.population import FEATURE_NAMES, Population, sample_population
from adapters.sandbox.vendors import VENDORS, score
from aggregator.roster import load_roster


@pytest.fixture(scope="module")
def population() -> Population:
    return sample_population(400, seed=5)


@pytest.fixture(scope="module")
def exports(population, tmp_path_factory) -> dict[str, ExportInfo]:
    return write_exports(population, tmp_path_factory.mktemp("exports"))


def read_records(info: ExportInfo) -> list[dict[str, Any]]:
    if info.path.suffix == ".csv":
        with info.path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in info.path.read_text(encoding="utf-8").splitlines()]


def expected(name: str, population: Population, version: int = 1) -> dict[str, tuple[float, dict[str, float]]]:
    result = score(name, population, version=version)
    return {
        population.handles[i]: (
            float(result.values[i]),
            {component: float(values[i]) for component, values in result.components.items()},
        )
        for i in np.flatnonzero(result.known)
    }


def test_one_file_per_vendor_with_its_format(exports):
    assert set(exports) == set(VENDORS)
    assert exports["klout"].path.name == "klout.csv"
    assert exports["kred"].path.name == "kred.csv"
    assert exports["peerindex"].path.name == "peerindex.jsonl"
    assert exports["empireavenue"].path.name == "empireavenue.jsonl"
    for name, info in exports.items():
        spec = VENDORS[name].spec(1)
        assert info.key_column == "screen_name"
        assert info.algorithm_version == "1"
        assert info.measures == spec.measures
        assert info.scale == ((spec.scale.lo, spec.scale.hi) if spec.scale.bounded else None)
        records = read_records(info)
        assert records
        for record in records:
            assert {info.key_column, info.value_column, *info.components.values()} <= set(record)


@pytest.mark.parametrize("name", ["klout", "peerindex", "kred", "empireavenue"])
def test_exports_round_trip_only_known_people(name, exports, population):
    info = exports[name]
    records = read_records(info)
    wanted = expected(name, population)
    assert [r[info.key_column] for r in records] == list(wanted)  # roster order, known only
    for record in records:
        value, components = wanted[record[info.key_column]]
        assert float(record[info.value_column]) == pytest.approx(value, abs=0.005)
        for component, column in info.components.items():
            assert float(record[column]) == pytest.approx(components[component], abs=0.005)


def test_values_are_formatted_as_each_vendor_wrote_them(exports):
    klout = read_records(exports["klout"])
    assert all(re.fullmatch(r"\d+\.\d\d", record["score"]) for record in klout)
    kred = read_records(exports["kred"])
    assert all(re.fullmatch(r"\d+", record["influence"]) for record in kred)
    assert all(re.fullmatch(r"\d+", record["outreach"]) for record in kred)
    peerindex = read_records(exports["peerindex"])
    assert all(type(record["peerindex"]) is int for record in peerindex)
    ea = read_records(exports["empireavenue"])
    assert all(re.fullmatch(r"\d+\.\d\d", record["share_price"]) for record in ea)
    assert all(re.fullmatch(r"\d+\.\d\d\d", record["eav_score"]) for record in ea)


def test_peerindex_topics(exports):
    assert exports["peerindex"].topics_column == "topics"
    for record in read_records(exports["peerindex"]):
        assert 1 <= len(record["topics"]) <= 3
        assert len(set(record["topics"])) == len(record["topics"])


def test_empire_avenue_tickers(exports):
    records = read_records(exports["empireavenue"])
    tickers = [record["ticker"] for record in records]
    assert len(set(tickers)) == len(tickers)
    for record in records:
        assert re.fullmatch(r"[A-Z0-9]{1,8}\d*", record["ticker"])
        letters = re.sub(r"[^A-Za-z0-9]", "", record["screen_name"]).upper()
        assert letters.startswith(record["ticker"][:4])


def test_tickers_are_unique_first_come_first_served():
    assert _tickers(["AmberFalconA", "AmberFalconB", "synth_00012", "Amb"]) == [
        "AMBERFAL", "AMBERFAL2", "SYN00012", "AMB",
    ]


def test_version_two_exports_the_klout_recalibration(population, tmp_path):
    infos = write_exports(population, tmp_path, version=2)
    assert infos["klout"].algorithm_version == "2"
    assert {infos[name].algorithm_version for name in ("peerindex", "kred", "empireavenue")} == {"1"}
    wanted = expected("klout", population, version=2)
    for record in read_records(infos["klout"]):
        assert float(record["score"]) == pytest.approx(wanted[record["screen_name"]][0], abs=0.005)


def test_roster_round_trips_awkward_names(tmp_path):
    population = Population(
        ids=("a1", "a2"),
        handles=("AmberFalcon", "CalmOtter"),
        names=('Falcon, Amber "Ace"', "Calm Otter"),
        features=np.ones((2, len(FEATURE_NAMES))),
        feature_names=FEATURE_NAMES,
        synthetic=np.zeros(2, dtype=bool),
    )
    path = tmp_path / "roster.csv"
    write_roster(population, path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["id", "name", "twitter"],
        ["a1", 'Falcon, Amber "Ace"', "AmberFalcon"],
        ["a2", "Calm Otter", "CalmOtter"],
    ]
    subjects = load_roster(path)
    assert subjects[0].name == 'Falcon, Amber "Ace"'
    assert subjects[0].handle("twitter") == "AmberFalcon"


def test_roster_marks_synthetic_subjects(tmp_path):
    population = sample_population(1600, seed=0)
    path = tmp_path / "roster.csv"
    write_roster(population, path)
    subjects = load_roster(path)
    assert [s.id for s in subjects] == list(population.ids)
    assert [s.synthetic for s in subjects] == population.synthetic.tolist()
    assert [s.handle("twitter") for s in subjects] == list(population.handles)
