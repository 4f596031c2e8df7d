import re
import time

import numpy as np
import pytest

from adapters.sandbox.population import (
    FEATURE_NAMES,
    INTEGER_FEATURES,
    RATE_FEATURES,
    RATE_FLOOR,
    Population,
    load_population,
    sample_population,
)

HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
REAL_SIZE = 1569


def test_population_has_the_distinct_real_accounts():
    population = load_population()
    assert len(population) == REAL_SIZE
    assert population.features.shape == (REAL_SIZE, len(FEATURE_NAMES))
    assert population.feature_names == FEATURE_NAMES
    assert np.unique(population.features, axis=0).shape[0] == REAL_SIZE
    assert not population.synthetic.any()


def test_ids_handles_and_names_are_unique_and_valid():
    population = load_population()
    assert population.ids[:2] == ("p0001", "p0002")
    assert len(set(population.ids)) == REAL_SIZE
    # Twitter screen names are case-insensitive, so uniqueness must be too
    assert len({handle.casefold() for handle in population.handles}) == REAL_SIZE
    assert all(HANDLE.match(handle) for handle in population.handles)
    assert all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", name) for name in population.names)


def test_features_keep_the_source_data_rules():
    population = load_population()
    assert np.isfinite(population.features).all()
    assert (population.features >= 0).all()
    for name in INTEGER_FEATURES:
        column = population.column(name)
        assert np.array_equal(column, np.round(column)), name
    for name in RATE_FEATURES:
        assert population.column(name).min() == pytest.approx(RATE_FLOOR), name


def test_population_arrays_are_read_only():
    population = load_population()
    with pytest.raises(ValueError, match="read-only"):
        population.features[0, 0] = 1.0


def test_sample_is_deterministic_for_a_seed():
    first, again = sample_population(200, seed=7), sample_population(200, seed=7)
    assert first.ids == again.ids
    assert np.array_equal(first.features, again.features)
    assert sample_population(200, seed=8).ids != first.ids


def test_small_sample_is_real_people_only():
    population = load_population()
    sample = sample_population(100, seed=3)
    assert len(sample) == 100
    assert len(set(sample.ids)) == 100
    assert not sample.synthetic.any()
    rows = {subject_id: i for i, subject_id in enumerate(population.ids)}
    for i, subject_id in enumerate(sample.ids):
        assert sample.handles[i] == population.handles[rows[subject_id]]
        assert np.array_equal(sample.features[i], population.features[rows[subject_id]])


def test_empty_and_negative_samples():
    assert len(sample_population(0)) == 0
    with pytest.raises(ValueError, match="0 or more"):
        sample_population(-1)


def test_large_sample_adds_marked_synthetic_subjects():
    sample = sample_population(2500, seed=1)
    real = sample.synthetic == 0
    assert set(np.array(sample.ids)[real]) == set(load_population().ids)
    synthetic = np.flatnonzero(sample.synthetic)
    assert synthetic.size == 2500 - REAL_SIZE
    assert sample.ids[synthetic[0]] == "s00001"
    assert len(set(sample.ids)) == len(set(sample.handles)) == 2500
    for i in synthetic:
        assert sample.ids[i].startswith("s")
        assert sample.handles[i].startswith("synth_")
        assert HANDLE.match(sample.handles[i])
        assert sample.names[i].endswith(" (synthetic)")


def test_synthetic_features_stay_plausible():
    sample = sample_population(6000, seed=2)
    rows = sample.synthetic
    features = sample.features[rows]
    assert np.isfinite(features).all()
    assert (features >= 0).all()
    for j, name in enumerate(FEATURE_NAMES):
        if name in INTEGER_FEATURES:
            assert np.array_equal(features[:, j], np.round(features[:, j])), name
        if name in RATE_FEATURES:
            assert features[:, j].min() >= RATE_FLOOR, name
    assert sample.column("posts")[rows].min() > 0
    assert sample.column("follower_count")[rows].min() >= 1
    # same distributions as the real accounts, give or take the jitter
    real_median = np.median(np.log1p(load_population().features), axis=0)
    synthetic_median = np.median(np.log1p(features), axis=0)
    assert np.allclose(synthetic_median, real_median, atol=0.35)


def test_smaller_sample_is_a_prefix_of_a_larger_one():
    small, large = sample_population(2000, seed=4), sample_population(3000, seed=4)
    assert large.ids[:2000] == small.ids
    assert np.array_equal(large.features[:2000], small.features)


def test_ten_thousand_subjects_in_well_under_a_second():
    load_population()  # the packaged file is read once per process
    start = time.perf_counter()
    sample = sample_population(10_000, seed=0)
    assert time.perf_counter() - start < 1.0
    assert len(sample) == 10_000


def test_population_checks_its_shape():
    with pytest.raises(ValueError, match="one entry per person"):
        Population(
            ids=("a",), handles=(), names=("A",), features=np.zeros((1, 1)),
            feature_names=("x",), synthetic=np.zeros(1, dtype=bool),
        )
