from __future__ import annotations

import pytest

from aggregator.collection.roster import OptOut, load_roster, take_shard
from aggregator.errors import ConfigError
from aggregator.models import Subject, Subjects


def test_roster_reads_handles_and_quoted_names(project):
    subjects = load_roster(project.parent / "roster.csv")
    assert [s.id for s in subjects] == ["ann", "bob", "cy", "dee", "eve"]
    assert subjects[1].name == 'Bob "The Builder" Brown'
    assert subjects[0].handles == {"twitter": "ann_a"}


def test_every_bad_line_is_named(write):
    path = write("roster.csv", """
        id,name,twitter
        ann,Ann,ann
        ,Nobody,x
        ann,Ann again,ann2
        cy,Cy,cy,extra
    """)
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    text = str(info.value)
    assert "roster.csv" in text
    assert "line 3, column id" in text
    assert "line 4: duplicate id 'ann' (first on line 2)" in text
    assert "line 5: more cells" in text


def test_header_must_name_id_and_name(write):
    with pytest.raises(ConfigError, match="missing name"):
        load_roster(write("r.csv", "id,handle\na,b\n"))


def test_opt_out_matches_ids_and_handles_case_insensitively():
    optout = OptOut.from_lines(["# comment", "@Ann_A", "bob  # inline comment", ""])
    ann = Subject(id="ann", name="Ann", handles={"twitter": "ann_a"})
    bob = Subject(id="bob", name="Bob")
    cy = Subject(id="cy", name="Cy", handles={"twitter": "cy"})
    assert optout.split([ann, bob, cy]) == ([cy], [ann, bob])


def test_a_roster_file_is_held_as_columns_equal_to_its_checked_subjects(write):
    path = write("roster.csv", """
        id,name,twitter,klout,synthetic
        ann, Ann ,@ann_a,,true
        bob,Bob,,b1,no
        cy,Cy,cy,c1,
    """)
    roster = load_roster(path)
    assert isinstance(roster, Subjects) and roster.ids == ("ann", "bob", "cy")
    assert list(roster) == [
        Subject(id="ann", name="Ann", handles={"twitter": "ann_a"}, synthetic=True),
        Subject(id="bob", name="Bob", handles={"klout": "b1"}),
        Subject(id="cy", name="Cy", handles={"klout": "c1", "twitter": "cy"}),
    ]
    # the handles as the store keeps them: JSON with sorted keys
    assert roster.handles_texts == ['{"twitter": "ann_a"}', '{"klout": "b1"}', '{"klout": "c1", "twitter": "cy"}']
    assert list(roster.synthetic) == [True, False, False]


def test_opt_out_splits_a_columnar_roster_into_columns_in_roster_order(write):
    roster = load_roster(write("roster.csv", "id,name,twitter\nann,Ann,ann_a\nbob,Bob,\ncy,Cy,cy\ndee,Dee,dd\n"))
    optout = OptOut.from_lines(["@DD", "ann", "zed"])
    kept, gone = optout.split(roster)
    assert isinstance(kept, Subjects) and isinstance(gone, Subjects)
    assert (kept.ids, gone.ids) == (("bob", "cy"), ("ann", "dee"))
    assert (list(kept), list(gone)) == optout.split(list(roster))
    assert optout.unmatched(roster) == [(3, "zed")]
    assert OptOut().split(roster) == (roster, [])  # nobody opted out: the same roster


def test_a_shard_of_a_columnar_roster_is_the_shard_of_its_subjects(write):
    roster = load_roster(write("roster.csv", "id,name\n" + "".join(f"p{i},P{i}\n" for i in range(40))))
    for part in (1, 2, 3):
        assert take_shard(roster, part, 3) == take_shard(list(roster), part, 3)
    assert sorted(i for part in (1, 2, 3) for i in take_shard(roster, part, 3)[1]) == list(range(40))
