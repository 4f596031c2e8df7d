import doctest
import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr

from adapters.sandbox import _kernels, formulas
from adapters.sandbox.formulas import VendorScores, outreach_level
from adapters.sandbox.population import Population, load_population, sample_population
from adapters.sandbox.vendors import VENDORS, score

NAMES = tuple(VENDORS)


@pytest.fixture(scope="module")
def population() -> Population:
    return load_population()


@pytest.fixture(scope="module")
def scores(population: Population) -> dict[str, VendorScores]:
    return {name: score(name, population) for name in NAMES}


def known_values(result: VendorScores) -> np.ndarray:
    return result.values[result.known]


@pytest.mark.parametrize("name", NAMES)
def test_values_are_within_the_vendor_scale(name, scores):
    result = scores[name]
    values = known_values(result)
    assert values.size > 0
    assert np.isfinite(values).all()
    spec = VENDORS[name].spec()
    assert all(spec.scale.contains(float(value)) for value in values)
    assert np.isnan(result.values[~result.known]).all()
    for component in result.components.values():
        assert np.isnan(component[~result.known]).all()
        assert np.isfinite(component[result.known]).all()


def test_value_types_follow_each_vendor(scores):
    for name in ("peerindex", "kred"):
        values = known_values(scores[name])
        assert np.array_equal(values, np.round(values)), name
    price = known_values(scores["empireavenue"])
    assert price.min() >= 1.0
    assert np.array_equal(price, np.round(price, 2))
    assert price.max() > 100  # unbounded: the top of the market trades high
    klout = known_values(scores["klout"])
    assert not np.array_equal(klout, np.round(klout))  # Klout gave unrounded floats


def test_klout_spread_has_a_steep_top(scores):
    klout = known_values(scores["klout"])
    assert np.percentile(klout, 10) >= 10
    assert np.percentile(klout, 90) <= 60
    assert np.mean((klout >= 10) & (klout <= 50)) > 0.6
    assert klout.max() >= 80


def test_components_are_what_each_vendor_reported(scores):
    assert set(scores["klout"].components) == {"true_reach", "amplification", "network"}
    assert set(scores["peerindex"].components) == {"authority", "audience", "activity"}
    assert set(scores["kred"].components) == {"outreach"}
    assert set(scores["empireavenue"].components) == {"eav_score"}
    for name in ("authority", "audience", "activity"):
        part = known_values_of(scores["peerindex"], name)
        assert part.min() >= 0 and part.max() <= 100
    eav = known_values_of(scores["empireavenue"], "eav_score")
    assert eav.min() >= 0 and eav.max() <= 100


def known_values_of(result: VendorScores, component: str) -> np.ndarray:
    return result.components[component][result.known]


def test_coverage_gaps(scores):
    assert scores["klout"].known.all()
    assert 0.1 < 1 - scores["peerindex"].known.mean() < 0.4
    assert 0.01 < 1 - scores["kred"].known.mean() < 0.1
    assert 0.25 < scores["empireavenue"].known.mean() < 0.55


def test_peerindex_leaves_only_low_activity_people_unscored(population, scores):
    cols = _kernels.Columns(population.features, population.feature_names)
    activity_points = formulas._peerindex_parts(cols, cols)["activity"]
    activity = _kernels.standing(activity_points, activity_points)
    unscored = ~scores["peerindex"].known
    assert activity[unscored].max() < formulas.PEERINDEX_LOW_ACTIVITY


def test_kred_top_account_is_1000(population):
    points = formulas._kred_points(_kernels.Columns(population.features, population.feature_names))
    top = int(np.argmax(points))
    result = formulas.kred(population.features, population.feature_names, population.ids)
    assert result.known[top]
    assert result.values[top] == 1000
    assert np.nanmax(result.values) == 1000


def test_kred_outreach_levels():
    assert outreach_level(np.array([0.0, 99.0, 100.0, 269.0, 270.0, 559.0])).tolist() == [0, 0, 1, 1, 2, 3]


def test_kred_outreach_is_about_what_you_send(scores, population):
    outreach = known_values_of(scores["kred"], "outreach")
    assert np.array_equal(outreach, np.round(outreach))
    assert outreach.min() >= 0 and outreach.max() <= 12  # highest level reached by 2012 was 12
    sent = population.column("mentions_sent") + population.column("retweets_sent")
    known = scores["kred"].known
    assert spearmanr(outreach, sent[known]).statistic > 0.95


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_deterministic(name, population, scores):
    again = score(name, population)
    assert np.array_equal(again.values, scores[name].values, equal_nan=True)
    assert np.array_equal(again.known, scores[name].known)


@pytest.mark.parametrize("name", NAMES)
def test_same_person_same_score_in_any_sample(name):
    one, other = sample_population(300, seed=1), sample_population(2400, seed=2)
    first, second = score(name, one), score(name, other)
    row_in_other = {subject_id: i for i, subject_id in enumerate(other.ids)}
    common = [(i, row_in_other[s]) for i, s in enumerate(one.ids) if s in row_in_other]
    assert len(common) == 300
    left, right = np.array([i for i, _ in common]), np.array([j for _, j in common])
    assert np.array_equal(first.known[left], second.known[right])
    assert np.array_equal(first.values[left], second.values[right], equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_column_order_does_not_matter(name, population):
    order = np.random.default_rng(0).permutation(len(population.feature_names))
    shuffled_names = [population.feature_names[j] for j in order]
    formula = VENDORS[name].formula
    plain = formula(population.features, population.feature_names, population.ids)
    shuffled = formula(population.features[:, order], shuffled_names, population.ids)
    assert np.array_equal(plain.values, shuffled.values, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_synthetic_subjects_stay_within_scale(name):
    result = score(name, sample_population(4000, seed=9))
    spec = VENDORS[name].spec()
    assert all(spec.scale.contains(float(value)) for value in known_values(result))


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(NAMES, 2)))
def test_vendors_disagree_but_are_related(a, b, scores):
    both = scores[a].known & scores[b].known
    rho = spearmanr(scores[a].values[both], scores[b].values[both]).statistic
    assert 0.3 < rho < 0.95, (a, b, rho)


def test_klout_behaves_like_an_activity_meter(population, scores):
    posts = population.column("posts")

    def rho_with_posts(name: str) -> float:
        known = scores[name].known
        return float(spearmanr(scores[name].values[known], posts[known]).statistic)

    assert rho_with_posts("klout") > rho_with_posts("peerindex") + 0.1


def test_klout_v2_recalibration_drops_scores_but_keeps_order(population):
    v1 = score("klout", population, version=1).values
    v2 = score("klout", population, version=2).values
    drop = v1 - v2
    assert np.mean((drop >= 10) & (drop <= 20)) > 2 / 3
    assert 10 <= np.median(drop) <= 20
    assert spearmanr(v1, v2).statistic >= 0.95
    assert v2.min() >= 1 and v2.max() <= 100


def test_versions():
    assert VENDORS["klout"].spec().algorithm_version == "2"
    assert VENDORS["klout"].spec(1).algorithm_version == "1"
    assert VENDORS["kred"].spec(2).algorithm_version == "1"  # no newer Kred: its latest applies
    assert VENDORS["empireavenue"].spec().scale.bounded is False
    assert all(VENDORS[name].spec().measures for name in NAMES)
    population = sample_population(5)
    with pytest.raises(ValueError, match="no algorithm version 3"):
        formulas.klout(population.features, population.feature_names, population.ids, version=3)
    with pytest.raises(ValueError, match="no algorithm version at or below 0"):
        score("kred", population, version=0)
    with pytest.raises(ValueError, match="unknown vendor"):
        score("myspace", population)


def test_bad_inputs_say_what_was_expected():
    population = sample_population(5)
    with pytest.raises(ValueError, match="5 rows"):
        formulas.kred(population.features, population.feature_names, population.ids[:3])
    with pytest.raises(ValueError, match="lack the columns"):
        formulas.kred(population.features[:, :3], population.feature_names[:3], population.ids)


def test_empty_population_scores_to_empty_arrays():
    empty = sample_population(0)
    for name in NAMES:
        assert score(name, empty).values.shape == (0,)


@pytest.mark.parametrize("module", [_kernels, formulas])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0
