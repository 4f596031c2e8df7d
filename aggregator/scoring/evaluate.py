"""Evaluate the in-house score against simple baselines, in the same cross-validation folds.

Methods (each trained on four folds, judged on the fifth):

* ``inhouse``: the monotone, activity-neutral model of ``fit.py``;
* ``follower_ratio``: ``log1p(followers_A) - log1p(followers_B)``, nothing fitted;
* ``logistic_regression``: unconstrained logistic regression on the 11 ``log1p`` differences
  (standardised, L2 with C = 1, as scikit-learn's default), fitted here with scipy;
* ``gradient_boosting``: scikit-learn's ``HistGradientBoostingClassifier`` (defaults) on the
  same differences, when scikit-learn is installed (it is a test/bench extra, not a run-time
  dependency); otherwise reported as not run.

The packaged model is also scored on the file as it is, without refitting (in-sample when the
file is the one it was fitted on).
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
    #: the packaged (or given) model on the whole file, no refit: (auc, accuracy)
    as_shipped: tuple[float, float] | None = None

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
            "model_as_shipped": None if self.as_shipped is None else {
                "auc": round(self.as_shipped[0], 6), "accuracy": round(self.as_shipped[1], 6),
                "note": "no refit: in-sample if this is the file the model was fitted on",
            },
        }

    def table(self) -> str:
        lines = [f"{self.n} pairs, {self.folds}-fold stratified cross-validation (seed {self.seed}), "
                 "every method trained and judged in the same folds",
                 f"{'method':<52} {'AUC':>7} {'± sd':>7} {'accuracy':>9}"]
        for key, cv in self.results.items():
            lines.append(f"{LABELS[key]:<52} {cv.auc:>7.4f} {cv.auc_sd:>7.4f} {cv.accuracy:>9.4f}")
        for key, why in self.skipped.items():
            lines.append(f"{LABELS[key]:<52} {'—':>7} {'':>7} {'':>9}  ({why})")
        if self.as_shipped is not None:
            lines.append(f"{'packaged model, no refit (in-sample if fitted here)':<52} {self.as_shipped[0]:>7.4f} "
                         f"{'':>7} {self.as_shipped[1]:>9.4f}")
        best, best_auc = self.best_baseline
        lines.append(f"in-house minus best baseline ({best}): {self.results['inhouse'].auc - best_auc:+.4f} AUC")
        return "\n".join(lines)


def evaluate(pairs: Pairs, settings: FitSettings | None = None, *, model: ScorerModel | None = None,
             boosting: bool | None = None) -> Evaluation:
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
    shipped = None
    if model is not None:
        decisions = model.strength(pairs.a) - model.strength(pairs.b)
        shipped = (auc(pairs.a_wins, decisions), accuracy(pairs.a_wins, decisions))
    return Evaluation(n=len(pairs), folds=settings.folds, seed=settings.seed, results=results, skipped=skipped,
                      as_shipped=shipped)


__all__ = ["LABELS", "Evaluation", "evaluate", "follower_ratio", "gradient_boosting", "logistic_regression"]
