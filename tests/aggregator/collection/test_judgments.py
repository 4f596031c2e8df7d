from __future__ import annotations

import pytest

from aggregator.collection.judgments import load_judgments
from aggregator.errors import ConfigError
from aggregator.models import Subject

ROSTER = [
    Subject(id="ann", name="Ann", handles={"twitter": "Ann_A"}),
    Subject(id="bob", name="Bob", handles={"twitter": "bobb", "klout": "shared"}),
    Subject(id="cy", name="Cy", handles={"twitter": "cychan", "klout": "shared"}),
]


def test_ids_and_handles_name_subjects_and_pairs_come_out_winner_first(write):
    path = write("judgments.csv", """
        a,b,winner,judge
        ann,bob,bob,r1
        @ann_a,CYCHAN,ann,r2
        bobb,cy,cychan,r1
        ann,bob,ann,
    """)
    found = load_judgments(path, ROSTER)
    assert found.pairs == (("bob", "ann"), ("ann", "cy"), ("cy", "bob"), ("ann", "bob"))
    assert found.problems == () and found.judges == 2 and found.rows == 4


def test_every_bad_row_is_a_line_numbered_problem_and_the_rest_are_used(write):
    path = write("judgments.csv", """
        a,b,winner
        ann,bob,ann
        ann,nobody,ann
        ann,ann_a,ann
        ann,bob,cy
        ann,,ann
        shared,ann,ann
        bob,cy,cy,extra
        cy,ann,cy
    """)
    found = load_judgments(path, ROSTER)
    assert found.pairs == (("ann", "bob"), ("cy", "ann"))
    text = [str(p) for p in found.problems]
    assert text == [
        "line 3, column b: unknown subject 'nobody': not an id or handle on the roster",
        "line 4: subject 'ann' is judged against itself",
        "line 5, column winner: the winner 'cy' is neither a ('ann') nor b ('bob')",
        "line 6, column b: empty: expected a subject id or handle",
        "line 7, column a: 'shared' names 2 roster subjects ('bob', 'cy'); use the subject id",
        "line 8: more cells than the 3 header columns",
    ]
    assert found.rows == 8


def test_a_file_without_a_usable_row_or_the_right_header_is_an_error(write):
    with pytest.raises(ConfigError, match="missing winner"):
        load_judgments(write("j.csv", "a,b,judge\nann,bob,x\n"), ROSTER)
    with pytest.raises(ConfigError) as info:
        load_judgments(write("k.csv", "a,b,winner\nann,zed,ann\n"), ROSTER)
    assert "k.csv" in str(info.value) and "line 2, column b: unknown subject 'zed'" in str(info.value)
    assert "no usable judgment" in str(info.value)
    with pytest.raises(ConfigError, match="has no rows"):
        load_judgments(write("e.csv", "a,b,winner\n"), ROSTER)
    with pytest.raises(ConfigError, match="cannot read the judgments file"):
        load_judgments(write("e.csv", "").with_name("missing.csv"), ROSTER)


def test_a_problem_never_names_a_subject_who_opted_out(write):
    path = write("judgments.csv", """
        a,b,winner
        ann,bob,cy
        bob,bobb,bob
        ann,bob,ann
    """)
    found = load_judgments(path, ROSTER, opted_out={"bob"})
    text = " ".join(str(p) for p in found.problems)
    assert "'bob'" not in text and "bobb" not in text
    assert "line 2, column winner: the winner 'cy' is neither a ('ann') nor b (a subject who opted out)" in text
    assert "line 3: a subject who opted out is judged against itself" in text
    assert found.pairs == (("ann", "bob"),)  # used, and left out of the run by the pipeline
