"""`aggregator scorer fit | evaluate | graph`: known answers on small fixtures, exit 2 on bad input."""

from __future__ import annotations

import csv
import json

import pytest

from aggregator.cli import main
from aggregator.scoring.model import load_model


def test_evaluate_json_on_pairs_any_monotone_model_orders_right(write_pairs, dominance, capsys):
    path = write_pairs(dominance(10))
    assert main(["scorer", "evaluate", "--pairs", str(path), "--json", "--cv"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 10
    # the packaged model as it is, no refit: never fitted on this file
    assert result["model_auc"] == 1.0 and result["model_accuracy"] == 1.0 and result["in_sample"] is False
    assert result["follower_ratio_auc"] == 1.0
    refit = result["cv_refit"]
    assert refit["auc"] == 1.0 and refit["accuracy"] == 1.0
    assert refit["baselines"]["follower_ratio"]["auc"] == 1.0
    assert refit["baselines"]["follower_ratio"]["accuracy"] == 1.0
    # with 8 training pairs per fold, default gradient boosting cannot split (20 per leaf): a constant
    assert refit["baselines"]["gradient_boosting"]["auc"] == 0.5
    assert refit["folds"] == 5 and len(refit["fold_auc"]) == 5


def test_evaluate_by_default_scores_the_model_as_it_is_and_says_when_in_sample(write_pairs, dominance, tmp_path,
                                                                                capsys):
    path = write_pairs(dominance(12))
    model = tmp_path / "model.json"
    assert main(["scorer", "fit", "--pairs", str(path), "--out", str(model), "--knots", "4"]) == 0
    capsys.readouterr()
    assert main(["scorer", "evaluate", "--pairs", str(path), "--model", str(model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["in_sample"] is True and result["cv_refit"] is None
    assert result["model"] == str(model) and result["model_version"] == load_model(model).digest
    assert main(["scorer", "evaluate", "--pairs", str(path), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "in-sample: this model was fitted on this file" in out and "cross-validated" not in out
    other = write_pairs(dominance(10), name="other.csv")
    assert main(["scorer", "evaluate", "--pairs", str(other), "--model", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["in_sample"] is False


def test_evaluate_prints_a_table_of_every_method(write_pairs, dominance, capsys):
    path = write_pairs(dominance(10))
    assert main(["scorer", "evaluate", "--pairs", str(path), "--cv", "--no-boosting", "--folds", "2"]) == 0
    out = capsys.readouterr().out
    assert "the model as it is, no refit" in out and "model packaged model.json (version" in out
    assert "10 pairs, 2-fold stratified cross-validation (seed 0)" in out
    assert "in-house score (monotone, activity-neutral)" in out
    assert "baseline: follower-count ratio" in out and "baseline: logistic regression" in out
    assert "gradient boosting" not in out


def test_evaluate_needs_both_outcomes(write_pairs, dominance, capsys):
    path = write_pairs([row for row in dominance(10) if row[0] == 1])
    assert main(["scorer", "evaluate", "--pairs", str(path)]) == 2
    assert "an AUC needs pairs won by A and pairs won by B; the file has 5 and 0" in capsys.readouterr().err


def test_bad_pairs_exit_2_naming_file_line_and_column(write_pairs, dominance, capsys):
    path = write_pairs(dominance(10))
    lines = path.read_text().splitlines()
    cells = lines[4].split(",")
    cells[13] = "lots"
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert main(["scorer", "evaluate", "--pairs", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: line 5, column B_following_count: expected a non-negative number, got 'lots'" in err


def test_too_few_pairs_for_the_folds_exit_2(write_pairs, dominance, capsys):
    path = write_pairs(dominance(6))
    assert main(["scorer", "fit", "--pairs", str(path), "--out", str(path.with_suffix(".json"))]) == 2
    assert "5-fold cross-validation needs at least 5 pairs won by A and 5 won by B" in capsys.readouterr().err


def test_fit_writes_the_same_loadable_model_every_time(write_pairs, dominance, tmp_path, capsys):
    path = write_pairs(dominance(12))
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["scorer", "fit", "--pairs", str(path), "--out", str(first), "--knots", "4"]) == 0
    out = capsys.readouterr().out
    assert "5-fold cross-validated AUC 1.0000" in out and f"model: {first}" in out
    assert main(["scorer", "fit", "--pairs", str(path), "--out", str(second), "--knots", "4"]) == 0
    assert first.read_bytes() == second.read_bytes()
    model = load_model(first)
    assert model.info["pairs"] == 12 and model.info["knots_per_term"] == 4
    assert f"algorithm version {model.digest}" in capsys.readouterr().out


def test_graph_prints_top_nodes_and_writes_every_node(tmp_path, capsys):
    edges = tmp_path / "edges.txt"
    edges.write_text("ann star\nbob star\ncy star\nstar ann\ndee bob\n")
    out_csv = tmp_path / "ranks.csv"
    assert main(["scorer", "graph", "--edges", str(edges), "--top", "2", "--out", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "5 nodes, 5 edges; PageRank converged" in out
    top = [line.split()[1] for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert top == ["star", "ann"]
    with out_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["node"] for r in rows} == {"ann", "bob", "cy", "dee", "star"}
    assert sum(float(r["pagerank"]) for r in rows) == pytest.approx(1.0)
    assert main(["scorer", "graph", "--edges", str(edges), "--json", "--top", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["top"][0]["node"] == "star" and summary["converged"] is True


def test_graph_bad_input_exits_2(tmp_path, capsys):
    edges = tmp_path / "edges.txt"
    edges.write_text("a b 1\nb c x\n")
    assert main(["scorer", "graph", "--edges", str(edges)]) == 2
    assert f"{edges}: line 2, column 3 (weight): expected a non-negative number, got 'x'" in capsys.readouterr().err
    assert main(["scorer", "graph", "--edges", str(edges), "--alpha", "1.5"]) == 2


def test_scorer_alone_prints_help_and_exits_2(capsys):
    assert main(["scorer"]) == 2
    assert "fit" in capsys.readouterr().out
