"""Properties over the whole feature space: monotone, not an activity meter, points add up.

Held for the packaged model and for a model fitted here on other data, through both the
vectorized and the one-subject path. Scores are compared with a 1e-9 allowance for float
rounding (a score moves in steps of at least ~1e-6 when it moves at all).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sandbox.population import load_population
from aggregator.scoring.features import FEATURES, Pairs
from aggregator.scoring.fit import FitSettings, fit_model
from aggregator.scoring.model import ScorerModel, packaged_model

EPS = 1e-9
RESPONSE = ("follower_count", "listed_count", "mentions_received", "retweets_received",
            "network_feature_1", "network_feature_2", "network_feature_3")
SENT = ("posts", "mentions_sent", "retweets_sent")


def _other_model() -> ScorerModel:
    """Fitted on pairs labelled by a made-up judge who values lists and retweets per post."""
    population = load_population().features
    rng = np.random.default_rng(3)
    i, j = rng.integers(0, len(population), size=(2, 600))
    a, b = population[i], population[j]

    def judge(x: np.ndarray) -> np.ndarray:
        return np.log1p(x[:, 2]) + np.log((x[:, 4] + 0.1) / (x[:, 7] + 0.1))

    wins = (judge(a) + rng.normal(0, 0.5, 600) > judge(b)).astype(float)
    return fit_model(Pairs(a=a, b=b, a_wins=wins), FitSettings(knots=6))


MODELS = {"packaged": packaged_model(), "other": _other_model()}

count = st.integers(min_value=0, max_value=50_000_000).map(float)
rate = st.floats(min_value=0.1, max_value=1e6, allow_nan=False, allow_infinity=False)
network = st.one_of(st.none(), st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False))


@st.composite
def accounts(draw: st.DrawFn) -> dict[str, float]:
    values = {
        "follower_count": draw(count), "following_count": draw(count), "listed_count": draw(count),
        "mentions_received": draw(rate), "retweets_received": draw(rate), "mentions_sent": draw(rate),
        "retweets_sent": draw(rate), "posts": draw(rate),
    }
    for name in ("network_feature_1", "network_feature_2", "network_feature_3"):
        value = draw(network)
        values[name] = math.nan if value is None else value
    return values


factor = st.floats(min_value=1.0, max_value=1000.0, allow_nan=False)


def _scores(model: ScorerModel, *rows: dict[str, float]) -> list[float]:
    vectorized = model.score(np.array([[row[f] for f in FEATURES] for row in rows])).tolist()
    single = [model.score_one(row)[0] for row in rows]
    assert single == pytest.approx(vectorized, abs=1e-9)
    return vectorized


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=300, deadline=None)
@given(account=accounts(), more=factor)
def test_posting_more_for_the_same_response_never_raises_the_score(name, account, more):
    model = MODELS[name]
    doubled = {**account, **{f: account[f] * 2 for f in SENT}}
    busier = {**account, **{f: account[f] * more for f in SENT}}
    before, after_doubling, after_more = _scores(model, account, doubled, busier)
    assert after_doubling <= before + EPS
    assert after_more <= before + EPS


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=300, deadline=None)
@given(account=accounts(), feature=st.sampled_from(RESPONSE), more=factor, plus=st.floats(0, 1e6))
def test_more_reach_recognition_response_or_network_never_lowers_the_score(name, account, feature, more, plus):
    model = MODELS[name]
    value = account[feature]
    if math.isnan(value):  # unknown network: any known value may score lower than "typical"
        return
    grown = {**account, feature: value * more + plus}
    before, after = _scores(model, account, grown)
    assert after >= before - EPS


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=200, deadline=None)
@given(account=accounts(), more=factor)
def test_following_more_accounts_never_raises_the_score(name, account, more):
    model = MODELS[name]
    before, after = _scores(model, account, {**account, "following_count": account["following_count"] * more + 1})
    assert after <= before + EPS


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=200, deadline=None)
@given(account=accounts())
def test_points_are_non_negative_and_add_up_to_a_score_within_0_100(name, account):
    model = MODELS[name]
    score, points = model.score_one(account)
    assert 0 <= score <= 100
    assert min(points.values()) >= 0
    assert sum(points.values()) == pytest.approx(score, abs=1e-9)
