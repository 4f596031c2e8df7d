from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy import stats

from aggregator.analytics.agreement import agreement, krippendorff_interval
from aggregator.analytics.compare import ScoreTable, compare, compare_table
from aggregator.analytics.normalize import normalize, oriented_ranks
from aggregator.models import IndexSpec

NAN = np.nan


@pytest.mark.parametrize("seed", range(6))
def test_alpha_equals_the_krippendorff_package_on_random_data(seed):
    rng = np.random.default_rng(seed)
    units, coders = rng.integers(5, 60), rng.integers(2, 6)
    values = rng.integers(0, 11, size=(units, coders)).astype(float) * rng.choice([1.0, 7.5])
    values[rng.random(values.shape) < 0.25] = NAN
    if np.sum(np.sum(~np.isnan(values), axis=1) >= 2) < 2 or np.unique(values[~np.isnan(values)]).size < 2:
        pytest.skip("degenerate draw: the package refuses it")
    expected = krippendorff.alpha(reliability_data=values.T, level_of_measurement="interval")
    assert krippendorff_interval(values) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_alpha_without_each_index_is_alpha_of_the_other_columns(seed):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(300, 4)) + rng.normal(size=(300, 1))
    raw[rng.random(raw.shape) < 0.3] = NAN
    specs = [IndexSpec(name=f"i{j}") for j in range(4)]
    ranks = oriented_ranks(raw, specs)
    standing = normalize(raw, specs, "percentile", ranks=ranks)
    result = agreement([s.name for s in specs], ranks, standing)
    for j in range(4):
        rest = np.delete(standing, j, axis=1)
        assert result.alpha_without[j] == pytest.approx(krippendorff_interval(rest), abs=1e-12)


def test_alpha_by_hand_and_degenerate_cases():
    assert krippendorff_interval(np.array([[1.0, 1.0], [3.0, 3.0]])) == 1.0
    # two units, values (0, 2) and (2, 0): D_o = (1/4)(2*4 + 2*4) = 4; D_e = 2(4*8 - 16)/(4*3) = 8/3
    assert krippendorff_interval(np.array([[0.0, 2.0], [2.0, 0.0]])) == pytest.approx(1 - 4 / (8 / 3))
    assert np.isnan(krippendorff_interval(np.array([[1.0, NAN], [NAN, 2.0]])))  # nobody scored twice
    assert np.isnan(krippendorff_interval(np.array([[4.0, 4.0], [4.0, 4.0]])))  # no variation at all


def _table(raw, names=None):
    names = names or [f"i{j}" for j in range(raw.shape[1])]
    return ScoreTable(tuple(f"s{i}" for i in range(raw.shape[0])), tuple(IndexSpec(name=n) for n in names), raw)


def test_agreement_matrix_matches_scipy_and_names_the_outlier():
    rng = np.random.default_rng(11)
    latent = rng.normal(size=300)
    raw = np.stack([latent + rng.normal(scale=0.3, size=300), latent + rng.normal(scale=0.3, size=300),
                    latent + rng.normal(scale=0.3, size=300), rng.normal(size=300)], axis=1)
    raw[rng.random(raw.shape) < 0.1] = NAN
    table = _table(raw)
    result = compare_table(table).agreement
    assert result is not None
    for i in range(4):
        for j in range(4):
            both = ~np.isnan(raw[:, i]) & ~np.isnan(raw[:, j])
            assert result.n[i, j] == both.sum()
            if i != j:
                assert result.kendall[i, j] == pytest.approx(stats.kendalltau(raw[both, i], raw[both, j]).statistic)
                assert result.spearman[i, j] == pytest.approx(stats.spearmanr(raw[both, i], raw[both, j]).statistic)
                lo, hi = result.kendall_ci[i, j]
                assert lo < result.kendall[i, j] < hi
                lo, hi = result.spearman_ci[i, j]
                assert lo < result.spearman[i, j] < hi
    assert np.all(np.diag(result.kendall) == 1.0)
    assert result.outlier == 3  # the column that follows nothing
    assert result.alpha_without[3] == pytest.approx(result.alpha_without.max())
    assert result.alpha == pytest.approx(krippendorff_interval(compare_table(table).standing))


def test_spearman_interval_is_fishers_with_bonett_wright_error():
    rng = np.random.default_rng(2)
    x = rng.normal(size=50)
    raw = np.stack([x, x + rng.normal(size=50)], axis=1)
    specs = [IndexSpec(name="a"), IndexSpec(name="b")]
    result = agreement(["a", "b"], oriented_ranks(raw, specs), normalize(raw, specs))
    rho = result.spearman[0, 1]
    se = np.sqrt((1 + rho**2 / 2) / 47)
    assert result.spearman_ci[0, 1].tolist() == pytest.approx(
        [np.tanh(np.arctanh(rho) - 1.959964 * se), np.tanh(np.arctanh(rho) + 1.959964 * se)])
    se = np.sqrt(0.437 / 46)
    tau = result.kendall[0, 1]
    assert result.kendall_ci[0, 1, 1] == pytest.approx(np.tanh(np.arctanh(tau) + 1.959964 * se))
    assert result.outlier == -1  # two indices: neither is the odd one


def test_fingerprint_finds_the_activity_meter():
    rng = np.random.default_rng(4)
    n = 400
    posts = rng.lognormal(size=n)
    received = rng.lognormal(size=n)
    features = {"posts": posts, "mentions_received": received, "follower_count": rng.lognormal(size=n)}
    scores = {
        "meter": dict(enumerate(np.log(posts) + 0.3 * rng.normal(size=n))),
        "fair": dict(enumerate(np.log(received) + 0.3 * rng.normal(size=n))),
    }
    result = compare(
        {name: {f"s{i}": float(v) for i, v in per.items()} for name, per in scores.items()},
        features={name: {f"s{i}": float(v) for i, v in enumerate(col)} for name, col in features.items()},
    )
    fp = result.fingerprint
    assert fp is not None
    assert fp.features == ("posts", "mentions_received", "follower_count")
    assert fp.activity_meter.tolist() == [True, False]
    assert fp.activity_feature == ("posts", "posts") and fp.response_feature == ("mentions_received",) * 2
    both = np.arange(n)
    assert fp.rho[0, 0] == pytest.approx(stats.spearmanr(posts[both], list(scores["meter"].values())).statistic)
    assert fp.n[0, 0] == n


def test_fingerprint_rejects_misaligned_features():
    table = _table(np.array([[1.0], [2.0]]))
    with pytest.raises(ValueError, match="feature 'posts' has shape"):
        compare_table(table, features={"posts": np.array([1.0, 2.0, 3.0])})


def test_robustness_names_the_index_that_drives_the_consensus():
    rng = np.random.default_rng(9)
    latent = rng.normal(size=500)
    # two indices agree; the third is noise, and with three indices the median leans on it
    raw = np.stack([latent + rng.normal(scale=0.2, size=500), latent + rng.normal(scale=0.2, size=500),
                    rng.normal(size=500)], axis=1)
    result = compare_table(_table(raw)).robustness
    assert result is not None
    assert result.n.tolist() == [500, 500, 500]
    # dropping a good index leaves the median of one good and one noise column: a big change
    assert result.rho_without[2] > result.rho_without[0] and result.rho_without[2] > result.rho_without[1]
    assert result.most_influential in (0, 1)
    assert np.all(result.median_shift >= 0)
