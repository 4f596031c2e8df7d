"""``aggregator report --from OUT``: the product's reports, rebuilt from ``aggregator compare``'s output.

Two runs made by the product (``files`` adapters over 520 subjects, with topics, components, bad rows,
coverage gaps and hostile names; the second after the vendors moved) are exported,
compared by ``aggregator compare --engine numpy --previous``, and rendered by ``report --from``; the
product's own reports of the second run must be the same, except what an export does not carry:
each index's timing, the consensus histories and the opted-out count (``NOT_EXPORTED``).
"""

from __future__ import annotations

import asyncio
import csv
import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")

from aggregator.analytics.outcome import ConsensusHistory, RunOutcome  # noqa: E402
from aggregator.app import demo  # noqa: E402
from aggregator.app.api import Aggregator, RunResult, render  # noqa: E402
from aggregator.app.config import config_from_dict  # noqa: E402
from aggregator.cli.main import main  # noqa: E402
from aggregator.collection.store import Store  # noqa: E402

N = 520  # past the 500 where the page becomes a shortlist and the full standing goes to CSV
HOSTILE = {3: "<script>alert('x')</script>", 7: 'Ann & "Bob" <b>', 11: "=HYPERLINK(\"http://x\")"}
#: the report's JSON keys an export cannot fill (``[]``: in every item of the list)
NOT_EXPORTED = ("meta.opted_out", "indices[].latency_text", "standing[].history", "changes.movers[].trend",
                "history_runs")


def _write_exports(folder: Path, rng: np.random.Generator, shift: float) -> None:
    """Three vendors' files that mostly agree on a subject's influence: klout (components, topics, a bad row;
    every 40th subject turned upside down: inversions), kred (topics; the same scores times ``shift``: a
    rescale), peerindex (new noise each run: some movers)."""
    topics = ["bacon", "Jazz", "tech", "<i>wine</i>", "travel"]
    latent = np.random.default_rng(7).uniform(0, 1, N)
    kred = (latent * 900 + np.random.default_rng(8).uniform(0, 99, N)) * shift
    klout = np.where(np.arange(N) % 40 == 0, 1 - latent, latent) * 90 + rng.uniform(1, 10, N)
    with (folder / "klout.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["screen_name", "score", "reach", "amplification", "topics"])
        for i in range(N):
            if i % 9 == 4:
                continue  # klout does not know everyone
            out.writerow([f"h{i}", round(float(klout[i]), 2), round(float(rng.uniform(0, 1e4)), 1),
                          round(float(rng.uniform(0, 1)), 3), ";".join(rng.choice(topics, 2, replace=False))])
        out.writerow(["h5", "not a number", "1", "1", ""])  # a bad row: a failure naming file, line, column
    with (folder / "kred.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["screen_name", "influence", "topics"])
        for i in range(N):
            if i % 7 != 2:
                out.writerow([f"h{i}", round(float(kred[i]), 1), ";".join(rng.choice(topics, 2, replace=False))])
    peerindex = np.clip(latent * 100 + rng.normal(0, 15, N), 0, 100).round()
    with (folder / "peerindex.jsonl").open("w") as handle:
        for i in range(N):
            if i % 5 != 1:
                handle.write(json.dumps({"screen_name": f"h{i}", "pi": {"score": int(peerindex[i])}}) + "\n")


def _index(path: str, value: str, scale: list[int], **more: Any) -> dict[str, Any]:
    """One ``files`` index of the config, matched by twitter handle."""
    return {"adapter": "files", "options": {"path": f"exports/{path}", "match": "handle:twitter",
                                            "key_column": "screen_name", "value_column": value, "scale": scale, **more}}


CONFIG = {
    "store": {"path": "history.sqlite"},
    "roster": {"path": "roster.csv", "opt_out": "optout.txt"},
    "report": {"out": "report.html", "title": "Files <report>"},
    "indices": {
        "klout": _index("klout.csv", "score", [1, 100], topics_column="topics",
                        components={"reach": "reach", "amplification": "amplification"}),
        "kred": _index("kred.csv", "influence", [1, 1000], topics_column="topics"),
        "peerindex": _index("peerindex.jsonl", "pi.score", [0, 100]),
    },
}


class Compared:
    """Two product runs, their exports and the second one's compare output."""

    def __init__(self, folder: Path) -> None:
        rng = np.random.default_rng(15)
        (folder / "exports").mkdir()
        with (folder / "roster.csv").open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["id", "name", "twitter"])
            out.writerows([f"s{i:03d}", HOSTILE.get(i, f"Person {i}"), f"h{i}"] for i in range(N + 2))
        (folder / "optout.txt").write_text(f"@h{N}\n@h{N + 1}\n")  # two opted out: a count in the product's report
        config = config_from_dict(CONFIG, base_dir=folder)
        _write_exports(folder / "exports", rng, 1.0)
        self.first = asyncio.run(Aggregator(config).run())
        _write_exports(folder / "exports", rng, 0.8)  # new scores, kred rescaled
        self.result = asyncio.run(Aggregator(config).run())
        self.folder = folder
        for result, name in ((self.first, "prev"), (self.result, "now")):
            assert main(["export", result.run_id, "--store", str(folder / "history.sqlite"),
                         "--parquet", str(folder / name)]) == 0
        self.out = folder / "out"
        assert main(["compare", "--engine", "numpy", "--run", str(folder / "now"), "--previous", str(folder / "prev"),
                     "--out", str(self.out)]) == 0

    def product(self) -> RunOutcome:
        return exportable(self.result.outcome)


def exportable(outcome: RunOutcome) -> RunOutcome:
    """The product's own outcome of a run, without what an export does not carry."""
    return replace(outcome, opted_out=0, forgotten=0, timing=MappingProxyType({}), history=ConsensusHistory(),
                   people=None, comparison=replace(outcome.comparison, fingerprint=None))


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Compared:
    return Compared(tmp_path_factory.mktemp("files"))


def _report(compared: Compared, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["report", "--from", str(compared.out), "--title", "Files <report>", *args]) == 0
    return capsys.readouterr().out


def _drop(document: Any, path: str) -> None:
    """Set ``path`` (dots; ``[]`` for every item of a list) to None in a JSON document."""
    head, _, rest = path.partition(".")
    key = head.removesuffix("[]")
    if not rest:
        document[key] = None
        return
    for item in document[key] if head.endswith("[]") else [document[key]]:
        _drop(item, rest)


def test_the_json_report_is_the_product_s_but_for_what_an_export_lacks(compared, capsys):
    ours = json.loads(_report(compared, "--format", "json", capsys=capsys))
    theirs = json.loads(compared.result.render("json"))
    # the parts left out really are there in the product's report, and not in ours
    assert theirs["meta"]["opted_out"] == 2 and ours["meta"]["opted_out"] == 0
    assert theirs["history_runs"] == 2 and ours["history_runs"] == 0
    assert all(row["latency_text"] for row in theirs["indices"]) and not any(r["latency_text"] for r in ours["indices"])
    for path in NOT_EXPORTED:
        _drop(ours, path)
        _drop(theirs, path)
    assert ours == theirs
    # and what the comparison found is in it: changes, a rescale, topics, inversions, failures, explanations
    assert ours["changes"]["previous_run"] == compared.first.run_id
    assert any(row["event"] for row in ours["changes"]["indices"])
    assert ours["lone_topics"] and ours["inversions"]["rows"] and ours["failures_total"] > 0
    assert ours["meta"]["shortlist"] and any(d["explanation"] for d in ours["disagreements"])


@pytest.mark.parametrize("kind", ["html", "text", "json"])
def test_every_format_is_the_product_s_report_of_the_run_without_what_an_export_lacks(compared, kind, capsys):
    assert _report(compared, "--format", kind, capsys=capsys) == render(compared.product(), kind)


def test_past_500_subjects_the_page_and_the_full_standing_csv_are_the_product_s(compared, capsys, tmp_path):
    RunResult(compared.product()).write(tmp_path / "theirs" / "report.html")
    shown = _report(compared, "--out", str(tmp_path / "ours" / "report.html"), "--eml", str(tmp_path / "r.eml"),
                    capsys=capsys)
    assert f"report: {tmp_path / 'ours' / 'report.html'}" in shown and "email: " in shown
    for name in ("report.html", "report.standing.csv"):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes(), name
    assert len((tmp_path / "ours" / "report.standing.csv").read_text().splitlines()) == N + 1
    message = (tmp_path / "r.eml").read_bytes()
    assert b"Content-Type: multipart/" in message and b"<script>alert" not in message


def test_untrusted_names_and_topics_are_escaped_in_the_page(compared, capsys):
    page = _report(compared, "--format", "html", capsys=capsys)
    assert "<script>alert" not in page and "&lt;script&gt;alert(" in page
    assert "<i>wine</i>" not in page and "Files <report>" not in page and "Files &lt;report&gt;" in page


def test_the_compare_output_holds_the_agreed_layout(compared):
    summary = json.loads((compared.out / "summary.json").read_text())
    assert summary["run_dir"] == str(compared.folder / "now")
    assert summary["shifts"]["previous_run"] == compared.first.run_id
    assert summary["shifts"]["previous_dir"] == str(compared.folder / "prev")
    comparison = compared.result.outcome.comparison
    assert summary["shifts"]["movers"] == len(comparison.shifts.movers)
    assert [s["index"] for s in summary["shifts"]["indices"]] == ["klout", "kred", "peerindex"]
    assert summary["inversions"]["counts"] == comparison.inversion_counts.tolist()
    assert summary["inversions"]["min_gap"] == comparison.threshold
    assert [(v["above"], v["below"], v["by"], v["against"]) for v in summary["inversions"]["top"]] == [
        (v.above, v.below, v.by, v.against) for v in comparison.inversions]
    assert summary["topics"] == {"subjects": int(np.sum(comparison.topics.n_indices > 0)),
                                 "lone": len(comparison.topics.lone)}
    rows = pq.read_table(compared.out / "subjects").sort_by("position")
    assert {"raw_change", "standing_change", "consensus_change", "movement", "new", "topic_indices",
            "topic_jaccard"} <= set(rows.column_names)
    assert np.array_equal(rows.column("movement").to_numpy(), comparison.shifts.movement, equal_nan=True)
    assert rows.column("topic_indices").to_pylist() == comparison.topics.n_indices.tolist()
    lone = pq.read_table(compared.out / "lone_topics").to_pylist()
    assert [(c["position"], c["index"], c["topic"]) for c in lone] == [
        (t.row, t.index, t.topic) for t in comparison.topics.lone]
    assert all(c["subject_id"] == comparison.table.subject_ids[c["position"]] for c in lone)


def test_without_previous_the_changes_are_left_out_as_the_product_leaves_them(compared, capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["compare", "--engine", "numpy", "--run", str(compared.folder / "now"), "--out", str(out)]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shifts"] is None and "movement" not in pq.read_table(out / "subjects").column_names
    assert main(["report", "--from", str(out), "--title", "Files <report>", "--format", "json"]) == 0
    product = compared.product()
    alone = replace(product, comparison=replace(product.comparison, shifts=None))
    assert capsys.readouterr().out == render(alone, "json")


def test_the_demo_s_sandbox_run_gives_the_product_s_page_and_text(tmp_path, capsys):
    """The demo: four sandbox vendors on 127.0.0.1 and the in-house score, two snapshots (Klout rescales),
    people's judgments, activity features and opt-outs: all but those the same page and text."""
    done = asyncio.run(demo.run_demo(tmp_path, subjects=150, seed=2))
    second = done.result.run_id
    with Store(tmp_path / "history.sqlite") as store:
        (first,) = (run.id for run in store.runs() if run.id != second)
    for run_id in (first, second):
        assert main(["export", run_id, "--store", str(tmp_path / "history.sqlite"),
                     "--parquet", str(tmp_path / run_id)]) == 0
    assert main(["compare", "--engine", "numpy", "--run", str(tmp_path / second), "--previous", str(tmp_path / first),
                 "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    outcome = done.result.outcome
    assert outcome.people is not None and outcome.opted_out and outcome.timing  # really there, and cleared
    for kind in ("html", "text"):
        assert main(["report", "--from", str(tmp_path / "out"), "--title", outcome.title, "--format", kind]) == 0
        assert capsys.readouterr().out == render(exportable(outcome), kind)


# -- bad inputs: a clear error naming the folder or file and what was expected, exit 2, no traceback ---------


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def _copy(compared: Compared, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(compared.out, tmp_path / "out"))


def test_a_folder_that_is_not_a_compare_output_is_named(compared, capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    err = _refused(capsys, "report", "--from", str(tmp_path))
    assert f"{tmp_path} is not a compare output: no summary.json" in err
    err = _refused(capsys, "report", "--from", str(compared.folder / "now"))  # an export, not a comparison
    assert "is an exported run, not a compare output" in err


def test_a_comparison_that_did_not_finish_is_named(compared, capsys, tmp_path):
    out = _copy(compared, tmp_path)
    (out / "summary.json").unlink()
    assert "holds no summary.json: the comparison did not finish" in _refused(capsys, "report", "--from", str(out))


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda text: text[: len(text) // 2], r"summary.json: .*(Invalid JSON|EOF)"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "inversions"}),
     r"summary.json: inversions: Field required"),
    (lambda text: json.dumps({**json.loads(text), "threshold": "wide"}), r"summary.json: threshold: .*valid number"),
])
def test_a_damaged_or_foreign_summary_names_the_file_and_field(compared, capsys, tmp_path, damage, expected):
    import re

    out = _copy(compared, tmp_path)
    (out / "summary.json").write_text(damage((out / "summary.json").read_text()))
    assert re.search(expected, _refused(capsys, "report", "--from", str(out)))


def test_a_run_folder_that_does_not_match_is_refused(compared, capsys, tmp_path):
    err = _refused(capsys, "report", "--from", str(compared.out), "--run", str(compared.folder / "prev"))
    assert f"holds run {compared.first.run_id!r}, but {compared.out} compared run {compared.result.run_id!r}" in err
    out = _copy(compared, tmp_path)  # the run folder moved since: the summary's run_dir is gone
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "run_dir": str(tmp_path / "moved")}))
    err = _refused(capsys, "report", "--from", str(out))
    assert f"{tmp_path / 'moved'} is not an exported run" in err and "--run RUN_DIR" in err
    assert main(["report", "--from", str(out), "--run", str(compared.folder / "now"), "--format", "text"]) == 0


def test_subjects_that_are_not_the_run_s_are_refused(compared, capsys, tmp_path):
    out = _copy(compared, tmp_path)
    rows = pq.read_table(out / "subjects")
    pq.write_table(rows.slice(0, 10), out / "subjects" / "part-00000.parquet")
    assert "holds 10 subjects that are not those of run" in _refused(capsys, "report", "--from", str(out))


def test_compare_names_a_previous_run_that_is_not_an_export(compared, capsys, tmp_path):
    err = _refused(capsys, "compare", "--engine", "numpy", "--run", str(compared.folder / "now"),
                   "--previous", str(tmp_path), "--out", str(tmp_path / "out"))
    assert f"--previous {tmp_path} is not an exported run: no run.json" in err
