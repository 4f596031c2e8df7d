from __future__ import annotations

import pytest

from aggregator.collection.roster import OptOut, load_roster
from aggregator.errors import ConfigError
from aggregator.models import Subject


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
