"""Explanations: points per component that add up to the score, and one-line reasons."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.sandbox.population import load_population
from aggregator.scoring.explain import Explanation, explain, why
from aggregator.scoring.features import COMPONENT_NAMES
from aggregator.scoring.model import packaged_model


def test_each_explanation_adds_up_to_its_score():
    population = load_population()
    explained = explain(packaged_model(), population.ids[:50], population.features[:50])
    assert [e.subject_id for e in explained] == list(population.ids[:50])
    for e in explained:
        assert set(e.points) == set(COMPONENT_NAMES)
        assert sum(e.points.values()) == pytest.approx(e.score, abs=1e-9)


def test_summary_lists_the_largest_part_first():
    e = Explanation("ann", 60.0, {"reach": 10.0, "recognition": 30.0, "network": 20.0})
    assert e.summary() == "60.0 = recognition 30.0 + network 20.0 + reach 10.0"


def test_why_names_what_puts_the_higher_one_above_whichever_comes_first():
    a = Explanation("ann", 40.0, {"reach": 10.0, "recognition": 25.0, "amplification": 5.0})
    b = Explanation("bob", 55.0, {"reach": 30.0, "recognition": 5.0, "amplification": 20.0})
    expected = ("bob ranks above ann (55.0 vs 40.0): more reach (+20.0) and amplification (+15.0), "
                "partly offset by recognition (-20.0)")
    assert why(a, b) == why(b, a) == expected


def test_why_when_nothing_differs():
    same = Explanation("ann", 50.0, {"reach": 50.0})
    expected = "ann and bob score the same (50.0): no component differs"
    assert why(same, Explanation("bob", 50.0, {"reach": 50.0})) == expected


def test_why_on_real_accounts_names_components_whose_gaps_add_up():
    population = load_population()
    model = packaged_model()
    scores, points = model.points(population.features[:2])
    a, b = explain(model, population.ids[:2], population.features[:2])
    gap = points[0] - points[1]
    assert gap.sum() == pytest.approx(scores[0] - scores[1], abs=1e-9)
    line = why(a, b)
    high = a if a.score >= b.score else b
    assert line.startswith(f"{high.subject_id} ranks above")
    leader = COMPONENT_NAMES[int(np.argmax(gap if high is a else -gap))]
    assert leader.replace("_", " ") in line
