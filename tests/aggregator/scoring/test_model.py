"""The model file (round trip, version check, refusals) and how scores and points are made."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adapters.sandbox.population import load_population
from aggregator.errors import ConfigError
from aggregator.scoring.features import COMPONENT_NAMES, FEATURES
from aggregator.scoring.model import FORMAT_VERSION, load_model, model_from_json, packaged_model


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    return load_population().features


def test_packaged_model_loads_and_scores_within_0_100(features):
    model = load_model()
    scores = model.score(features)
    assert scores.shape == (len(features),)
    assert scores.min() >= 0 and scores.max() <= 100
    # the demo population holds the accounts the reference was drawn from: it spreads over the scale
    assert np.percentile(scores, 10) < 25 and np.percentile(scores, 90) > 75


def test_round_trip_keeps_every_score_and_the_digest(tmp_path, features):
    model = packaged_model()
    path = model.save(tmp_path / "model.json")
    again = load_model(path)
    assert np.array_equal(again.score(features), model.score(features))
    assert again.digest == model.digest
    assert again.to_json() == model.to_json()
    assert len(model.digest) == 12 and int(model.digest, 16) >= 0


def test_the_digest_follows_the_file_text(tmp_path):
    model = packaged_model()
    data = json.loads(model.to_json())
    data["fit"]["note"] = "refitted"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    assert load_model(path).digest != model.digest


def test_a_model_file_of_another_format_version_is_refused(tmp_path):
    data = json.loads(packaged_model().to_json())
    data["format_version"] = FORMAT_VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"model format version {FORMAT_VERSION + 1} cannot be read" in message
    assert "aggregator scorer fit" in message


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(format="something else"), "not an in-house scorer model"),
    (lambda d: d["terms"][0]["points"].__setitem__(3, -1.0), r"terms\[0\] \(followers\).points: points must start"),
    (lambda d: d["terms"][2].update(formula="log(posts)"), "expected component 'amplification' and formula"),
    (lambda d: d["terms"].pop(), "this version scores with the terms"),
    (lambda d: d["reference"].update(strength=[1, 2]), "reference.strength: expected a list of 101 finite"),
])
def test_damaged_model_files_are_refused_with_the_place(tmp_path, change, expected):
    data = json.loads(packaged_model().to_json())
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=expected):
        load_model(path)


def test_not_json_names_line_and_column():
    with pytest.raises(ConfigError, match="line 1, column 2: not valid JSON"):
        model_from_json("{oops", source="m.json")


def test_points_add_up_to_the_score_and_are_never_negative(features):
    model = packaged_model()
    scores, points = model.points(features)
    assert points.shape == (len(features), len(COMPONENT_NAMES))
    assert points.min() >= 0
    np.testing.assert_allclose(points.sum(axis=1), scores, rtol=0, atol=1e-9)


def test_one_subject_path_gives_the_vectorized_result(features):
    model = packaged_model()
    scores, points = model.points(features[:200])
    for i in range(200):
        score, parts = model.score_one(dict(zip(FEATURES, features[i].tolist(), strict=True)))
        assert score == pytest.approx(scores[i], abs=1e-9)
        assert [parts[c] for c in COMPONENT_NAMES] == pytest.approx(points[i].tolist(), abs=1e-9)


def test_a_score_does_not_depend_on_the_cohort(features):
    model = packaged_model()
    alone = model.score(features[:1])[0]
    with_others = model.score(features)[0]
    with_giants = model.score(np.vstack([features[:1], features[:50] * 1000]))[0]
    assert alone == with_others == with_giants


def test_missing_network_features_count_as_typical(features):
    model = packaged_model()
    row = features[:1].copy()
    row[0, [FEATURES.index(f) for f in ("network_feature_1", "network_feature_2", "network_feature_3")]] = np.nan
    network = model.components(row)[0, COMPONENT_NAMES.index("network")]
    assert network == pytest.approx(sum(c.typical for c in model.curves if c.term.component == "network"))


def test_a_given_network_strength_replaces_the_network_features(features):
    model = packaged_model()
    top = model.network_from_percentile(np.array([100.0, 100.0]))
    low = model.network_from_percentile(np.array([0.0, 0.0]))
    rows = features[:2]
    assert np.all(model.score(rows, top) >= model.score(rows, low))
    assert model.components(rows, top)[:, COMPONENT_NAMES.index("network")].tolist() == top.tolist()
    assert model.network_from_percentile(np.array([50.0]))[0] == pytest.approx(np.interp(50, range(101),
                                                                                      model.network_reference))
