"""The in-house adapter: scores from a features file, components that add up, failures per subject."""

from __future__ import annotations

import gzip
import json

import pytest
from pydantic import ValidationError

from adapters.inhouse import InhouseAdapter, InhouseConfig
from aggregator.app.config import load_config
from aggregator.errors import ConfigError
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.scoring.features import COMPONENT_NAMES
from aggregator.scoring.model import packaged_model

SUBJECTS = [
    Subject(id="ann", name="Ann", handles={"twitter": "ann_a"}),
    Subject(id="bob", name="Bob", handles={"twitter": "bobb"}),
    Subject(id="cy", name="Cy", handles={"twitter": "cychan"}),
    Subject(id="dee", name="Dee", handles={"twitter": "deedee"}),
    Subject(id="eve", name="Eve"),
]
HEADER = ("screen_name,follower_count,following_count,listed_count,mentions_received,retweets_received,posts,"
          "network_feature_1,network_feature_2,network_feature_3")
FEATURES = f"""
    {HEADER}
    @Ann_A,250000,900,4100,120.5,80.2,12.1,900,35.5,800
    bobb,1200,1100,8,0.9,0.3,4.0,3,0,0
    cychan,56000,300,700,,2.2,1.5,40,1.5,
    deedee,5000,-10,20,1,1,1,1,1,1
"""


async def _fetch(adapter: InhouseAdapter) -> dict[str | None, Reading | Failure]:
    return {item.subject_id: item async for item in adapter.fetch(SUBJECTS)}


def _adapter(**options) -> InhouseAdapter:
    return InhouseAdapter("inhouse", InhouseConfig(match="handle:twitter", key_column="screen_name", **options))


async def test_scores_with_components_that_add_up_and_fails_only_the_bad_row(write):
    got = await _fetch(_adapter(features=write("features.csv", FEATURES)))
    ann, bob = got["ann"], got["bob"]
    assert isinstance(ann, Reading) and isinstance(bob, Reading)
    assert ann.value > bob.value
    assert 0 <= bob.value <= 100 and ann.scale.lo == 0 and ann.scale.hi == 100
    assert set(ann.components) == set(COMPONENT_NAMES)
    assert sum(ann.components.values()) == pytest.approx(ann.value, abs=1e-9)
    assert ann.raw == f"{ann.value:.2f}"
    assert ann.algorithm_version == packaged_model().digest
    assert isinstance(got["cy"], Failure) and got["cy"].kind is FailureKind.BAD_PAYLOAD
    assert "features.csv:4: column 'mentions_received': expected a non-negative number, got an empty cell" in (
        got["cy"].message)
    assert "features.csv:5: column 'following_count': expected a non-negative number, got '-10'" in (
        got["dee"].message)
    assert got["eve"].kind is FailureKind.NOT_FOUND and "no handle:twitter" in got["eve"].message


async def test_the_same_features_score_the_same_as_the_model_alone(write):
    got = await _fetch(_adapter(features=write("features.csv", FEATURES)))
    score, points = packaged_model().score_one({
        "follower_count": 1200, "following_count": 1100, "listed_count": 8, "mentions_received": 0.9,
        "retweets_received": 0.3, "posts": 4.0, "network_feature_1": 3, "network_feature_2": 0,
        "network_feature_3": 0})
    assert got["bob"].value == pytest.approx(score)
    assert got["bob"].components == pytest.approx(points)


async def test_absent_subjects_duplicates_and_unreadable_files(write, tmp_path):
    text = FEATURES + "    BOBB,1,1,1,1,1,1,1,1,1\n    ,1,1,1,1,1,1,1,1,1\n"
    got = await _fetch(_adapter(features=write("features.csv", text)))
    assert got["bob"].kind is FailureKind.BAD_PAYLOAD and "2 rows for 'bobb' (lines 3, 6)" in got["bob"].message
    assert isinstance(got[None], Failure) and "features.csv:7: column 'screen_name' is empty" in got[None].message
    missing = await _fetch(_adapter(features=tmp_path / "nowhere.csv"))
    assert {item.kind for item in missing.values()} == {FailureKind.BAD_PAYLOAD}
    assert "cannot read the file" in missing["ann"].message
    assert len(missing) == len(SUBJECTS)


async def test_a_graph_gives_the_network_component(write):
    features = write("features.csv", FEATURES)
    # everyone amplifies bobb; ann_a is amplified by nobody (absent from the graph)
    edges = "cychan bobb 3\ndeedee bobb 2\nx1 bobb 1\nx2 bobb 1\nx3 x2 1\nbobb x1 1\n"
    path = write("edges.txt", "")
    path.write_bytes(gzip.compress(edges.encode()))
    without = await _fetch(_adapter(features=features))
    with_graph = await _fetch(_adapter(features=features, edges=path))
    model = packaged_model()
    assert with_graph["bob"].components["network"] > without["bob"].components["network"]
    assert with_graph["bob"].value > without["bob"].value
    assert with_graph["ann"].components["network"] < without["ann"].components["network"]
    for reading in (with_graph["ann"], with_graph["bob"]):
        assert sum(reading.components.values()) == pytest.approx(reading.value, abs=1e-9)
    assert model.network_reference[-1] >= model.network_reference[0]


def test_a_model_file_of_another_version_is_a_config_error_at_validation(write, tmp_path):
    data = json.loads(packaged_model().to_json())
    data["format_version"] = 99
    model = write("model.json", json.dumps(data))
    features = write("features.csv", FEATURES)
    with pytest.raises(ValidationError, match="model format version 99 cannot be read"):
        InhouseConfig(features=features, model=model)
    write("roster.csv", "id,name,twitter\nann,Ann,ann_a\n")
    config = write("config.toml", """
        [roster]
        path = "roster.csv"
        [indices.ours]
        adapter = "inhouse"
        [indices.ours.options]
        features = "features.csv"
        model = "model.json"
    """)
    with pytest.raises(ConfigError, match=r"indices\.ours\.options\.model: .*model format version 99"):
        load_config(config)


async def test_a_model_fitted_elsewhere_sets_the_algorithm_version(write):
    data = json.loads(packaged_model().to_json())
    data["fit"]["note"] = "another fit"
    model = write("model.json", json.dumps(data))
    adapter = _adapter(features=write("features.csv", FEATURES), model=model)
    assert adapter.spec.algorithm_version != packaged_model().digest
    assert (await _fetch(adapter))["ann"].algorithm_version == adapter.spec.algorithm_version
