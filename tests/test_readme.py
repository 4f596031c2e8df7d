"""The README's Python snippets run as they stand, against the README's own config file."""

from __future__ import annotations

import csv
import re
import runpy
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def _write_inputs(folder: Path) -> None:
    """What the README's config names: a roster, an opt-out list and one vendor export."""
    people = [("ann", "Ann Lee", "annlee", 71.0), ("bob", "Bob Stone", "bstone", 45.0),
              ("cy", "Cy Park", "cypark", 60.0), ("dee", "Dee Ray", "deeray", 12.0)]
    with (folder / "roster.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "twitter"])
        writer.writerows((sid, name, handle) for sid, name, handle, _ in people)
    (folder / "opt-out.txt").write_text("# asked not to be scored\ndee\n", encoding="utf-8")
    (folder / "exports").mkdir()
    with (folder / "exports" / "klout.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["screen_name", "score", "true_reach"])
        writer.writerows((handle, score, int(score * 10)) for _, _, handle, score in people)


def test_the_readme_has_a_python_snippet_and_a_config():
    assert _blocks("python")
    assert "[indices.klout]" in _blocks("toml")[0]


@pytest.mark.parametrize("snippet", _blocks("python"))
def test_python_snippet_runs_as_written(snippet, tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text(_blocks("toml")[0], encoding="utf-8")
    _write_inputs(tmp_path)
    (tmp_path / "snippet.py").write_text(snippet, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    names = runpy.run_path(str(tmp_path / "snippet.py"))

    if "result" in names:  # aggregator.compare(...) as the README shows it
        # mid-rank percentiles of 3: klout ranks ann, cy, bob (83.3, 50, 16.7); kred bob, ann, cy (83.3, 50, 16.7)
        assert names["result"].spread.tolist() == pytest.approx([100 / 3, 200 / 3, 100 / 3])
    if "run" in names:  # run_report(...) collected the export and wrote the page
        page = (tmp_path / "report.html").read_text(encoding="utf-8")
        assert "Weekly influence report" in page
        assert "Ann Lee" in page
        assert "Dee Ray" not in page  # opted out
        assert names["run"].run_id
