from __future__ import annotations

import numpy as np
import pytest

from aggregator.analytics.topics import LoneTopic, topic_overlap


def test_overlap_is_the_mean_pairwise_jaccard_and_lone_claims_stand_out():
    topics = {
        (0, 0): ("bacon", "Politics"),
        (0, 1): ("politics", " tech "),
        (0, 2): ("politics", "tech", "bacon"),
        (1, 0): ("music",),
        (2, 1): (),
    }
    result = topic_overlap(3, topics)
    # sets: {bacon, politics}, {politics, tech}, {politics, tech, bacon}: 1/3, 2/3, 2/3
    assert result.jaccard[0] == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert result.n_indices.tolist() == [3, 1, 0]
    assert np.isnan(result.jaccard[1]) and np.isnan(result.jaccard[2])
    assert result.lone == ()  # every topic of subject 0 is claimed by two indices


def test_a_topic_only_one_index_claims_is_listed_with_its_spelling():
    result = topic_overlap(1, {(0, 0): ("Bacon", "travel"), (0, 1): ("TRAVEL",)})
    assert result.lone == (LoneTopic(row=0, index=0, topic="Bacon"),)
    assert result.jaccard[0] == pytest.approx(0.5)
