"""Reading pairs and features files: every bad cell is named by file, line and column."""

from __future__ import annotations

import numpy as np
import pytest

from aggregator.errors import ConfigError
from aggregator.scoring.features import FEATURES, read_features, read_pairs, term_matrix, write_features

ONE = [10.0, 5, 2, 1.5, 0.5, 0.2, 0.2, 3, 4, 0, 1.25]
TWO = [20.0, 5, 3, 2.5, 1.5, 0.2, 0.2, 3, 7, 2.5, 0]


def test_pairs_are_read_in_column_order(write_pairs):
    pairs = read_pairs(write_pairs([(1, ONE, TWO), (0, TWO, ONE)]))
    assert pairs.a.tolist() == [ONE, TWO]
    assert pairs.b.tolist() == [TWO, ONE]
    assert pairs.a_wins.tolist() == [1.0, 0.0]


def test_pairs_name_the_line_and_column_of_every_bad_cell(write_pairs):
    bad_negative = [*ONE[:7], -3.0, *ONE[8:]]
    path = write_pairs([(1, ONE, TWO), (1, bad_negative, TWO), (2, ONE, TWO), (0, ONE, TWO)])
    text = path.read_text().replace("\n0,10,", "\n0,ten,")
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_pairs(path)
    message = str(caught.value)
    assert str(path) in message
    assert "line 3, column A_posts: expected a non-negative number, got '-3'" in message
    assert "line 4, column Choice: expected 0 or 1, got '2'" in message
    assert "line 5, column A_follower_count: expected a non-negative number, got 'ten'" in message


def test_pairs_with_a_missing_column_are_refused_with_its_name(write_pairs):
    path = write_pairs([(1, ONE, TWO)])
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    with pytest.raises(ConfigError, match=r"line 1: missing column\(s\) B_network_feature_3"):
        read_pairs(path)


def test_empty_or_missing_pairs_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        read_pairs(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        read_pairs(tmp_path / "empty.csv")


def test_features_keep_bad_rows_apart_and_optional_columns_as_nan(write):
    path = write("features.csv", """
        handle,follower_count,following_count,listed_count,mentions_received,retweets_received,posts,network_feature_1
        ann,100,10,5,2.5,1.5,3,7
        bob,50,10,1,x,1,2,
        ,1,1,1,1,1,1,1
        cy,80,20,4,1,1,1,
    """)
    rows = read_features(path, "handle")
    assert rows.keys == ("ann", "bob", "cy")
    assert rows.lines == (2, 3, 5)
    assert rows.bad_rows == {1: "features.csv:3: column 'mentions_received': expected a non-negative number, got 'x'"}
    assert rows.unkeyed == ("features.csv:4: column 'handle' is empty",)
    ann = dict(zip(FEATURES, rows.values[0].tolist(), strict=True))
    assert ann["follower_count"] == 100 and ann["network_feature_1"] == 7
    assert np.isnan(ann["network_feature_2"]) and np.isnan(ann["mentions_sent"])
    assert np.isnan(rows.values[2, FEATURES.index("network_feature_1")])  # empty optional cell


def test_features_without_a_required_column_are_refused(write):
    path = write("features.csv", "id,follower_count,following_count\nann,1,2\n")
    with pytest.raises(ConfigError, match=r"missing column\(s\) listed_count, mentions_received"):
        read_features(path, "id")


def test_written_features_read_back_the_same(tmp_path):
    values = np.array([ONE, TWO])
    path = write_features(tmp_path / "f.csv", ["p1", "p2"], values)
    rows = read_features(path, "id")
    assert rows.keys == ("p1", "p2") and np.array_equal(rows.values, values)


def test_terms_are_logs_and_rates_per_post():
    terms = term_matrix(np.array([ONE]))[0]
    assert terms[0] == pytest.approx(np.log1p(10))  # followers
    assert terms[2] == pytest.approx(np.log((0.5 + 0.1) / (3 + 0.1)))  # retweets per post
    assert terms[7] == pytest.approx(np.log(11 / 6))  # followers per following
