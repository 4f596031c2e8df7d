"""Shared fixtures: small real inputs written to a temp folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """Write a dedented text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def project(write) -> Path:
    """A complete small project: roster, opt-out, two CSV exports and one JSONL; returns the config path."""
    write("roster.csv", """
        id,name,twitter
        ann,Ann Archer,ann_a
        bob,"Bob ""The Builder"" Brown",bobb
        cy,Cy Chan,cychan
        dee,Dee Dunn,deedee
        eve,Eve Evans,eve
    """)
    write("optout.txt", "# asked not to be scored\n@Eve\n")
    write("exports/klout.csv", """
        screen_name,score,true_reach
        ann_a,81.5,900
        BobB,40,120
        cychan,62.25,300
        eve,55,10
    """)
    write("exports/kred.csv", """
        screen_name,influence
        ann_a,420
        bobb,910
        cychan,600
        deedee,300
    """)
    write("exports/peerindex.jsonl", """
        {"screen_name": "ann_a", "pi": {"score": 70}}
        {"screen_name": "bobb", "pi": {"score": 35}}
        {"screen_name": "deedee", "pi": {"score": 50}}
    """)
    return write("config.toml", """
        [store]
        path = "history.sqlite"

        [roster]
        path = "roster.csv"
        opt_out = "optout.txt"

        [report]
        out = "report.html"
        title = "Test report"

        [indices.klout]
        adapter = "files"
        [indices.klout.options]
        path = "exports/klout.csv"
        match = "handle:twitter"
        key_column = "screen_name"
        value_column = "score"
        components = { true_reach = "true_reach" }
        scale = [1, 100]

        [indices.kred]
        adapter = "files"
        [indices.kred.options]
        path = "exports/kred.csv"
        match = "handle:twitter"
        key_column = "screen_name"
        value_column = "influence"
        scale = [1, 1000]

        [indices.peerindex]
        adapter = "files"
        [indices.peerindex.options]
        path = "exports/peerindex.jsonl"
        match = "handle:twitter"
        key_column = "screen_name"
        value_column = "pi.score"
        scale = [0, 100]
    """)
