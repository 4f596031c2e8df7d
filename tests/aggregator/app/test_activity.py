"""Activity features reach the fingerprint; report options reach the comparison; runs compare with the last."""

from __future__ import annotations

import numpy as np
import pytest

import aggregator
from aggregator.app.activity import features_for
from aggregator.app.config import load_config
from aggregator.errors import ConfigError
from aggregator.models import Subject, Subjects

FEATURES = """
    screen_name,follower_count,following_count,listed_count,mentions_received,retweets_received,posts,mentions_sent
    ann_a,900,100,40,30.5,12,200,5
    @BobB,120,300,2,1.5,0.5,900,40
    cychan,300,150,10,8,4,100,2
    deedee,50,10,1,0.2,0.1,20,oops
    deedee,51,10,1,0.2,0.1,20,1
"""


def test_features_align_with_subjects_by_handle(write):
    path = write("features.csv", FEATURES)
    people = [Subject(id="ann", name="Ann", handles={"twitter": "Ann_A"}),
              Subject(id="bob", name="Bob", handles={"twitter": "bobb"}),
              Subject(id="dee", name="Dee", handles={"twitter": "deedee"}),  # two rows: ambiguous
              Subject(id="zed", name="Zed")]  # no handle
    found = features_for(people, path, match="handle:twitter", key_column="screen_name")
    assert found["follower_count"].tolist()[:2] == [900.0, 120.0]
    assert np.isnan(found["follower_count"][2]) and np.isnan(found["posts"][3])
    assert "retweets_sent" not in found  # a column the file does not have
    # a roster read from its file is held as columns: the same features, read from them
    from_columns = features_for(Subjects.of(people), path, match="handle:twitter", key_column="screen_name")
    assert from_columns.keys() == found.keys()
    assert all(np.array_equal(from_columns[k], found[k], equal_nan=True) for k in found)


async def test_a_run_with_an_inhouse_index_fingerprints_every_index(project, write):
    write("features.csv", FEATURES)
    config = project.read_text() + """
[indices.inhouse]
adapter = "inhouse"
[indices.inhouse.options]
features = "features.csv"
match = "handle:twitter"
key_column = "screen_name"
"""
    project.write_text(config.replace('title = "Test report"', 'title = "Test report"\nconsensus = "trimmed_mean"'))
    first = (await aggregator.Aggregator(project).run()).outcome
    comparison = first.comparison
    assert comparison.consensus_method == "trimmed_mean"
    fingerprint = comparison.fingerprint
    assert fingerprint is not None
    assert fingerprint.indices == ("klout", "kred", "peerindex", "inhouse")
    assert "posts" in fingerprint.features and "follower_count" in fingerprint.features
    assert comparison.shifts is None  # nothing to compare the first run with
    second = (await aggregator.Aggregator(project).run()).outcome
    shifts = second.comparison.shifts
    assert shifts is not None and shifts.previous_run == first.run.id
    assert np.nanmax(np.abs(shifts.raw_change)) == 0.0 and shifts.movers.size == 0
    assert not shifts.events


@pytest.mark.parametrize(("key", "value", "message"), [
    ("consensus", '"mode"', "unknown consensus method 'mode'; known: borda, median, trimmed_mean"),
    ("normalizer", '"zscore"', "unknown normalizer 'zscore'"),
])
def test_report_options_are_checked(project, key, value, message):
    project.write_text(project.read_text().replace('title = "Test report"', f'title = "Test report"\n{key} = {value}'))
    with pytest.raises(ConfigError, match=message):
        load_config(project)


def test_quantile_map_with_a_named_reference_is_accepted(project):
    project.write_text(project.read_text().replace('title = "Test report"',
                                                   'title = "Test report"\nnormalizer = "quantile_map:kred"'))
    assert load_config(project).report.normalizer == "quantile_map:kred"
