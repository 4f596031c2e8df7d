"""Evaluate the in-house score against simple baselines, in the same cross-validation folds.

Methods (each trained on four folds, judged on the fifth):

* ``inhouse``: the monotone, activity-neutral model of ``fit.py``;
* ``follower_ratio``: ``log1p(followers_A) - log1p(followers_B)``, nothing fitted;
* ``logistic_regression``: unconstrained logistic regression on the 11 ``log1p`` differences
  (standardised, L2 with C = 1, as scikit-learn's default), fitted here with scipy;
* ``gradient_boosting``: scikit-learn's ``HistGradientBoostingClassifier`` (defaults) on the
  same differences, when scikit-learn is installed (it is a test/bench extra, not a run-time
  dependency); otherwise reported as not run.

:func:`check_model` is the other question, and ``aggregator scorer evaluate``'s default: how
well a model as it is (the packaged one, or a model file) judges the pairs of a file, with no
refit, beside the follower-count ratio on the same pairs. It is in-sample, and says so, when
the file is the one the model was fitted on (its record holds the file's SHA-256).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aggregator.scoring.features import FEATURES, FloatArray, Pairs
from aggregator.scoring.fit import (
    CrossValidation,
    FitSettings,
    Method,
    cross_validate,
    inhouse_method,
)
from aggregator.scoring.metrics import accuracy, auc
from aggregator.scoring.model import ScorerModel

LABELS = {
    "inhouse": "in-house score (monotone, activity-neutral)",
    "follower_ratio": "baseline: follower-count ratio",
    "logistic_regression": "baseline: logistic regression, 11 log differences",
    "gradient_boosting": "baseline: gradient boosting (unconstrained)",
}


def follower_ratio(_train: Pairs, test: Pairs) -> FloatArray:
    j = FEATURES.index("follower_count")
    result: FloatArray = np.log1p(test.a[:, j]) - np.log1p(test.b[:, j])
    return result


def _log_differences(pairs: Pairs) -> FloatArray:
    result: FloatArray = np.log1p(pairs.a) - np.log1p(pairs.b)
    return result


def logistic_regression(train: Pairs, test: Pairs) -> FloatArray:
    """L2 logistic regression (C = 1, intercept unpenalized) on standardised log differences."""
    from scipy.optimize import minimize

    x = _log_differences(train)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    x = (x - mean) / sd
    sign = 2.0 * train.a_wins - 1.0

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        w, b = theta[:-1], theta[-1]
        margin = sign * (np.einsum("ij,j->i", x, w) + b)
        slope = -sign * 0.5 * (1.0 - np.tanh(0.5 * margin))
        grad = np.append(np.einsum("i,ij->j", slope, x) + w, slope.sum())
        return float(np.logaddexp(0.0, -margin).sum() + 0.5 * (w @ w)), grad

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B",
                     options={"maxiter": 2000, "gtol": 1e-8}).x
    test_x = (_log_differences(test) - mean) / sd
    result: FloatArray = test_x @ theta[:-1] + theta[-1]
    return result


def gradient_boosting(train: Pairs, test: Pairs) -> FloatArray:
    """scikit-learn's HistGradientBoostingClassifier (defaults, fixed random_state) on log differences."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(random_state=0).fit(_log_differences(train), train.a_wins)
    result: FloatArray = model.decision_function(_log_differences(test))
    return result


def sklearn_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None


@dataclass(frozen=True)
class Evaluation:
    n: int
    folds: int
    seed: int
    results: dict[str, CrossValidation]
    #: methods that could not run, with why
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def best_baseline(self) -> tuple[str, float]:
        baselines = {k: v.auc for k, v in self.results.items() if k != "inhouse"}
        name = max(baselines, key=lambda k: baselines[k])
        return name, baselines[name]

    def as_dict(self) -> dict[str, Any]:
        ours = self.results["inhouse"]
        best, best_auc = self.best_baseline
        return {
            "auc": round(ours.auc, 6), "accuracy": round(ours.accuracy, 6), "n": self.n,
            "auc_sd": round(ours.auc_sd, 6), "folds": self.folds, "seed": self.seed,
            "fold_auc": [round(a, 6) for a in ours.fold_auc],
            "baselines": {
                **{k: v.as_dict() for k, v in self.results.items() if k != "inhouse"},
                **dict.fromkeys(self.skipped),
            },
            "skipped": self.skipped,
            "best_baseline": best, "margin_over_best_baseline": round(ours.auc - best_auc, 6),
        }

    def table(self) -> str:
        lines = [f"{self.n} pairs, {self.folds}-fold stratified cross-validation (seed {self.seed}), "
                 "every method trained and judged in the same folds",
                 f"{'method':<52} {'AUC':>7} {'± sd':>7} {'accuracy':>9}"]
        for key, cv in self.results.items():
            lines.append(f"{LABELS[key]:<52} {cv.auc:>7.4f} {cv.auc_sd:>7.4f} {cv.accuracy:>9.4f}")
        for key, why in self.skipped.items():
            lines.append(f"{LABELS[key]:<52} {'—':>7} {'':>7} {'':>9}  ({why})")
        best, best_auc = self.best_baseline
        lines.append(f"in-house minus best baseline ({best}): {self.results['inhouse'].auc - best_auc:+.4f} AUC")
        return "\n".join(lines)


def evaluate(pairs: Pairs, settings: FitSettings | None = None, *, boosting: bool | None = None) -> Evaluation:
    """Cross-validate the in-house procedure and the baselines on ``pairs`` in the same folds.

    ``boosting``: run the gradient-boosting baseline (``None``: when scikit-learn is installed).
    """
    settings = settings or FitSettings()
    methods: dict[str, Method] = {
        "inhouse": inhouse_method(settings),
        "follower_ratio": follower_ratio,
        "logistic_regression": logistic_regression,
    }
    skipped: dict[str, str] = {}
    if boosting is None:
        boosting = sklearn_available()
        if not boosting:
            skipped["gradient_boosting"] = "scikit-learn is not installed: pip install 'influence-aggregator[test]'"
    if boosting:
        methods["gradient_boosting"] = gradient_boosting
    results = {name: cross_validate(pairs, method, folds=settings.folds, seed=settings.seed)
               for name, method in methods.items()}
    return Evaluation(n=len(pairs), folds=settings.folds, seed=settings.seed, results=results, skipped=skipped)


@dataclass(frozen=True)
class ModelCheck:
    """A model as it is, no refit, on every pair of a file, beside the follower-count ratio."""

    n: int
    #: where the model came from (a file path, or the packaged model's) and its algorithm version
    model: str
    version: str
    auc: float
    accuracy: float
    follower_ratio_auc: float
    follower_ratio_accuracy: float
    #: the model was fitted on this very file: the figures are in-sample, not a test
    in_sample: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "model": self.model, "model_version": self.version,
            "model_auc": round(self.auc, 6), "model_accuracy": round(self.accuracy, 6),
            "in_sample": self.in_sample,
            "follower_ratio_auc": round(self.follower_ratio_auc, 6),
            "follower_ratio_accuracy": round(self.follower_ratio_accuracy, 6),
        }

    def table(self) -> str:
        fitted = ("in-sample: this model was fitted on this file, so this is a fit, not a test" if self.in_sample
                  else "the model's fit did not use this file (by its record)")
        lines = [f"{self.n} pairs; the model as it is, no refit ({fitted})",
                 f"{'method':<52} {'AUC':>7} {'accuracy':>9}",
                 f"{f'model {self.model} (version {self.version})':<52} {self.auc:>7.4f} {self.accuracy:>9.4f}",
                 f"{LABELS['follower_ratio'] + ' (nothing fitted)':<52} {self.follower_ratio_auc:>7.4f} "
                 f"{self.follower_ratio_accuracy:>9.4f}"]
        return "\n".join(lines)


def check_model(pairs: Pairs, model: ScorerModel, *, name: str, file_sha256: str | None = None) -> ModelCheck:
    """Score ``pairs`` with ``model`` as it is; ``file_sha256`` (of the pairs file) tells whether it is in-sample."""
    decisions = model.strength(pairs.a) - model.strength(pairs.b)
    ratio = follower_ratio(pairs, pairs)
    fitted_on = model.info.get("source_sha256")
    return ModelCheck(
        n=len(pairs), model=name, version=model.digest,
        auc=auc(pairs.a_wins, decisions), accuracy=accuracy(pairs.a_wins, decisions),
        follower_ratio_auc=auc(pairs.a_wins, ratio), follower_ratio_accuracy=accuracy(pairs.a_wins, ratio),
        in_sample=file_sha256 is not None and fitted_on == file_sha256,
    )


__all__ = ["LABELS", "Evaluation", "ModelCheck", "check_model", "evaluate", "follower_ratio", "gradient_boosting",
           "logistic_regression"]
