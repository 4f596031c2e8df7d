"""The roster a sandbox population writes: what the demo and `aggregator sandbox` hand to the pipeline."""

from __future__ import annotations

import csv

import numpy as np

from adapters.sandbox.population import FEATURE_NAMES, Population, sample_population, write_roster
from aggregator.collection.roster import load_roster


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
