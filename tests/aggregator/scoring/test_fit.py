"""Fitting: deterministic, monotone, recovers a judge's order; the packaged model is reproducible."""

from __future__ import annotations

import numpy as np
from shared_data import shared_path

from adapters.sandbox.population import load_population
from aggregator.scoring.features import COMPONENT_NAMES, FEATURES, Pairs, read_pairs
from aggregator.scoring.fit import FitSettings, cross_validate, fit, fit_model, inhouse_method
from aggregator.scoring.metrics import auc
from aggregator.scoring.model import model_from_json, packaged_model


def judged_pairs(n: int, seed: int, noise: float = 0.3) -> Pairs:
    """Pairs of real accounts judged by a made-up rater who weighs followers and lists (plus noise)."""
    population = load_population().features
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(population), size=(2, n))
    a, b = population[i], population[j]

    def strength(x: np.ndarray) -> np.ndarray:
        return 0.5 * np.log1p(x[:, 0]) + np.log1p(x[:, 2])

    wins = (strength(a) - strength(b) + rng.normal(0, noise, n) > 0).astype(float)
    return Pairs(a=a, b=b, a_wins=wins)


def test_the_same_pairs_give_the_same_model_bit_for_bit():
    pairs = judged_pairs(500, seed=1)
    first = fit_model(pairs, FitSettings(knots=8)).to_json()
    second = fit_model(pairs, FitSettings(knots=8)).to_json()
    assert first == second


def test_fit_recovers_the_judge_and_puts_the_weight_on_what_the_judge_used():
    model = fit_model(judged_pairs(1500, seed=2), FitSettings(knots=8))
    held_out = judged_pairs(1500, seed=3, noise=0.0)
    decisions = model.strength(held_out.a) - model.strength(held_out.b)
    assert auc(held_out.a_wins, decisions) > 0.95
    population = load_population().features
    spread = np.ptp(model.components(population), axis=0)
    by_component = dict(zip(COMPONENT_NAMES, spread.tolist(), strict=True))
    assert by_component["recognition"] > by_component["amplification"]
    assert by_component["reach"] > by_component["conversation"]


def test_every_fitted_curve_is_monotone_and_the_file_loads_back():
    model = fit_model(judged_pairs(400, seed=4), FitSettings(knots=12))
    for curve in model.curves:
        assert curve.points[0] == 0 and np.all(np.diff(curve.points) >= 0)
    again = model_from_json(model.to_json())
    population = load_population().features
    assert np.array_equal(again.score(population), model.score(population))


def test_fit_reports_cross_validation_in_the_model_info(write_pairs):
    pairs = judged_pairs(300, seed=5)
    rows = [(int(w), a.tolist(), b.tolist()) for a, b, w in zip(pairs.a, pairs.b, pairs.a_wins, strict=True)]
    path = write_pairs(rows)
    result = fit(read_pairs(path), FitSettings(knots=6), source=path)
    again = cross_validate(read_pairs(path), inhouse_method(FitSettings(knots=6)))
    assert result.cv.fold_auc == again.fold_auc
    assert result.model.info["cv_auc"] == round(result.cv.auc, 6)
    assert result.model.info["source"] == "pairs.csv" and len(result.model.info["source_sha256"]) == 64
    assert result.cv.auc > 0.85


def test_the_packaged_model_is_what_fit_makes_of_the_peerindex_pairs():
    pairs = read_pairs(shared_path("peerindex_pairs", "train.csv"))
    shipped = packaged_model()
    refit = fit_model(pairs, FitSettings())
    population = load_population().features
    np.testing.assert_allclose(refit.score(population), shipped.score(population), rtol=0, atol=1e-6)
    assert shipped.info["pairs"] == len(pairs) == 4000
    assert len(FEATURES) == pairs.a.shape[1]
