"""Judgments on the command line: ``run --judgments``, ``[validation]`` in the config, ``validate-config``."""

from __future__ import annotations

import json

from tests.aggregator.cli.test_main import cli

# klout: ann 81.5, bob 40, cy 62.25; kred: ann 420, bob 910, cy 600, dee 300; peerindex: ann 70, bob 35, dee 50
JUDGMENTS = """\
a,b,winner
ann,bob,ann
cy,dee,cy
bobb,dee,dee
ann,eve,eve
ann,zed,ann
ann,ann,ann
"""


def _rows(report: dict) -> dict[str, tuple[int, int | None]]:
    return {row["index"]: (row["n"], row["share"]) for row in report["people"]["rows"]}


def test_run_with_judgments_reports_the_usable_rows_and_names_the_bad_lines(project):
    judgments = project.parent / "judgments.csv"
    judgments.write_text(JUDGMENTS)
    out = project.parent / "report.json"
    done = cli("run", "-c", str(project), "--judgments", str(judgments), "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    assert "judgments.csv: line 6, column b: unknown subject 'zed'" in done.stderr
    assert "judgments.csv: line 7: subject 'ann' is judged against itself" in done.stderr
    report = json.loads(out.read_text())
    rows = _rows(report)
    # klout scores ann > bob only (dee unscored); kred gets 1 of 3 right; peerindex 2 of 2
    assert rows["Klout"] == (1, 100) and rows["Kred"] == (3, 33) and rows["Peerindex"] == (2, 100)
    people = report["people"]
    # eve opted out: her pair is not in the run, and she is never named
    assert (people["judged"], people["not_in_run"], people["skipped"]) == (4, 1, 2)
    assert "Eve" not in json.dumps(people) and '"eve"' not in json.dumps(people)
    text = cli("run", "-c", str(project), "--judgments", str(judgments), "--out", str(project.parent / "r.txt"),
               "-q")
    assert text.returncode == 0
    assert "Agreement with people" in (project.parent / "r.txt").read_text()


def test_without_judgments_there_is_no_section(project):
    out = project.parent / "report.json"
    assert cli("run", "-c", str(project), "--out", str(out), "-q").returncode == 0
    assert json.loads(out.read_text())["people"] is None
    assert "Agreement with people" not in cli("run", "-c", str(project), "-q").stdout


def test_validate_config_checks_the_judgments_file_line_by_line(project):
    (project.parent / "judgments.csv").write_text(JUDGMENTS)
    project.write_text(project.read_text() + '\n[validation]\njudgments = "judgments.csv"\nin_sample = ["kred"]\n')
    done = cli("validate-config", str(project))
    assert done.returncode == 2
    assert "judgments.csv: 2 problems" in done.stderr
    assert "line 6, column b: unknown subject 'zed'" in done.stderr and "line 7:" in done.stderr
    (project.parent / "judgments.csv").write_text(JUDGMENTS.replace("ann,zed,ann\nann,ann,ann\n", ""))
    done = cli("validate-config", str(project))
    assert done.returncode == 0, done.stderr
    assert "4 judged pairs" in done.stdout


def test_in_sample_must_name_an_index_of_the_config(project):
    project.write_text(project.read_text() + '\n[validation]\nin_sample = ["klot"]\n')
    done = cli("validate-config", str(project))
    assert done.returncode == 2
    assert "'klot', which is not an index of this config" in done.stderr
