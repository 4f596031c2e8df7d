"""What the sections share: ordinals and index labels."""

from __future__ import annotations

from reports.sections._common import index_label, ordinal


def test_ordinals_and_labels():
    assert [ordinal(n) for n in (1, 2, 3, 11, 12, 13, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "11th", "12th", "13th", "22nd", "101st", "111th",
    ]
    assert index_label("empire_avenue") == "Empire Avenue"
    assert index_label("http-json") == "Http Json"
