"""Fit the in-house model on labelled pairs: a monotone Bradley–Terry model over term curves.

Each term's curve is a sum of ramps between knots placed at quantiles of the term over the
distinct accounts of the training pairs; a ramp's weight is the points it adds across its
segment and is constrained to be >= 0, so every curve is non-decreasing (monotone). For a
pair, ``P(A judged more influential) = 1 / (1 + exp(-(strength_A - strength_B)))``; the weights
minimize the mean logistic loss plus a small L2 penalty, by L-BFGS-B from zero weights. No
randomness is involved: the same pairs give the same model, bit for bit on one machine.

Cross-validation uses ``metrics.stratified_folds`` (fixed seed), so ``aggregator scorer fit``
and ``aggregator scorer evaluate`` report the same folds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aggregator.scoring.features import COMPONENT_NAMES, TERMS, FloatArray, Pairs, term_matrix
from aggregator.scoring.metrics import IndexArray, accuracy, auc, one_thread, stratified_folds
from aggregator.scoring.model import PERCENTILES, Curve, ScorerModel

#: Segments per term curve (fewer where a term has fewer distinct values).
DEFAULT_KNOTS = 16
#: L2 penalty on the ramp weights (per pair, the loss is a mean).
DEFAULT_L2 = 1e-4
#: penalty on the change of weight between neighbouring ramps of a term: smoother curves
DEFAULT_SMOOTH = 1e-3
DEFAULT_FOLDS = 5
DEFAULT_SEED = 0


@dataclass(frozen=True)
class FitSettings:
    knots: int = DEFAULT_KNOTS
    l2: float = DEFAULT_L2
    smooth: float = DEFAULT_SMOOTH
    folds: int = DEFAULT_FOLDS
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.knots < 1:
            raise ValueError(f"knots must be at least 1, got {self.knots}")
        if self.l2 < 0:
            raise ValueError(f"l2 must be 0 or more, got {self.l2}")


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold decisions of one method, and the AUC and accuracy per fold and overall."""

    fold_auc: tuple[float, ...]
    fold_accuracy: tuple[float, ...]
    n: int

    @property
    def auc(self) -> float:
        return float(np.mean(self.fold_auc))

    @property
    def auc_sd(self) -> float:
        return float(np.std(self.fold_auc))

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.fold_accuracy))

    def as_dict(self) -> dict[str, Any]:
        return {"auc": round(self.auc, 6), "auc_sd": round(self.auc_sd, 6), "accuracy": round(self.accuracy, 6),
                "n": self.n, "fold_auc": [round(a, 6) for a in self.fold_auc]}


#: A method trains on some pairs and returns the decisions for others: (train, test) -> decisions.
Method = Callable[[Pairs, Pairs], FloatArray]


def subset(pairs: Pairs, rows: IndexArray) -> Pairs:
    return Pairs(a=pairs.a[rows], b=pairs.b[rows], a_wins=pairs.a_wins[rows], source=pairs.source)


def cross_validate(pairs: Pairs, method: Method, *, folds: int = DEFAULT_FOLDS,
                   seed: int = DEFAULT_SEED) -> CrossValidation:
    """Train ``method`` on all folds but one, decide the held-out fold; AUC and accuracy per fold."""
    aucs: list[float] = []
    accuracies: list[float] = []
    everything = np.arange(len(pairs))
    with one_thread():
        for test in stratified_folds(pairs.a_wins, folds, seed):
            train = np.setdiff1d(everything, test, assume_unique=True)
            held_out = subset(pairs, test)
            decisions = method(subset(pairs, train), held_out)
            aucs.append(auc(held_out.a_wins, decisions))
            accuracies.append(accuracy(held_out.a_wins, decisions))
    return CrossValidation(tuple(aucs), tuple(accuracies), len(pairs))


def inhouse_method(settings: FitSettings) -> Method:
    def method(train: Pairs, test: Pairs) -> FloatArray:
        model = fit_model(train, settings)
        return model.strength(test.a) - model.strength(test.b)

    return method


# -- the fit -------------------------------------------------------------------------------------


def distinct_accounts(pairs: Pairs) -> FloatArray:
    """The distinct feature rows among all A and B sides: the reference population."""
    result: FloatArray = np.unique(np.vstack([pairs.a, pairs.b]), axis=0)
    return result


def _knots(values: FloatArray, segments: int) -> FloatArray:
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return np.zeros(1)
    result: FloatArray = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, segments + 1)))
    return result


def _ramps(values: FloatArray, knots: FloatArray) -> FloatArray:
    """``[rows x segments]``: how far each value is through each segment (0 below, 1 above)."""
    if len(knots) < 2:
        return np.zeros((len(values), 0))
    lo, hi = knots[:-1], knots[1:]
    result: FloatArray = np.clip((values[:, None] - lo) / (hi - lo), 0.0, 1.0)
    return result


def fit_model(pairs: Pairs, settings: FitSettings | None = None, *, info: dict[str, Any] | None = None) -> ScorerModel:
    """Fit the term curves on ``pairs`` and freeze the reference distribution of its accounts."""
    from scipy.optimize import minimize

    settings = settings or FitSettings()
    accounts = distinct_accounts(pairs)
    reference_terms = term_matrix(accounts)
    knots = [_knots(reference_terms[:, j], settings.knots) for j in range(len(TERMS))]
    terms_a, terms_b = term_matrix(pairs.a), term_matrix(pairs.b)
    design = np.hstack([_ramps(terms_a[:, j], k) - _ramps(terms_b[:, j], k) for j, k in enumerate(knots)])
    sign = 2.0 * pairs.a_wins - 1.0
    signed = design * sign[:, None]
    l2, smooth = settings.l2, settings.smooth
    # neighbouring ramps of the same term: (left, right) weight positions
    sizes = [len(k) - 1 for k in knots]
    starts = np.cumsum([0, *sizes[:-1]])
    runs = [np.arange(s, s + n - 1, dtype=np.intp) for s, n in zip(starts, sizes, strict=True) if n > 1]
    left = np.concatenate(runs) if runs else np.zeros(0, dtype=np.intp)

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        # einsum, not BLAS: on a small dense design, threaded BLAS only adds contention on a busy machine
        margin = np.einsum("ij,j->i", signed, w)
        step = w[left + 1] - w[left]
        value = float(np.logaddexp(0.0, -margin).mean() + l2 * (w @ w) + smooth * (step @ step))
        slope = -0.5 * (1.0 - np.tanh(0.5 * margin))  # d/dm log(1 + e^-m) = -1 / (1 + e^m)
        grad: FloatArray = np.einsum("i,ij->j", slope, signed) / len(margin) + 2.0 * l2 * w
        np.add.at(grad, left + 1, 2.0 * smooth * step)
        np.add.at(grad, left, -2.0 * smooth * step)
        return value, grad

    width = design.shape[1]
    with one_thread():
        result = minimize(loss, np.zeros(width), jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * width,
                          options={"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-14})
    weights = np.maximum(result.x, 0.0)
    curves: list[Curve] = []
    at = 0
    for j, (term, k) in enumerate(zip(TERMS, knots, strict=True)):
        w = weights[at:at + len(k) - 1]
        at += len(k) - 1
        points = np.concatenate([[0.0], np.cumsum(w)])
        typical = float(np.median(np.interp(reference_terms[:, j][~np.isnan(reference_terms[:, j])], k, points)))
        curves.append(Curve(term=term, knots=k, points=points, typical=typical))
    draft = ScorerModel(curves=tuple(curves), reference=np.zeros(101), network_reference=np.zeros(101))
    parts = draft.components(accounts)
    reference = np.quantile(parts.sum(axis=1), PERCENTILES / 100.0)
    network = np.quantile(parts[:, COMPONENT_NAMES.index("network")], PERCENTILES / 100.0)
    details = {
        "pairs": len(pairs), "reference_accounts": len(accounts), "knots_per_term": settings.knots,
        "l2": settings.l2, "smooth": settings.smooth,
        "optimizer": f"L-BFGS-B, {result.nit} iterations, converged={bool(result.success)}",
        "training_loss": round(float(result.fun), 10),
    }
    return ScorerModel(curves=tuple(curves), reference=reference, network_reference=network,
                       info={**details, **(info or {})})


@dataclass(frozen=True)
class FitResult:
    model: ScorerModel
    cv: CrossValidation


def fit(pairs: Pairs, settings: FitSettings | None = None, *, source: Path | None = None) -> FitResult:
    """Cross-validate the procedure on ``pairs``, then fit the model on all of them."""
    settings = settings or FitSettings()
    cv = cross_validate(pairs, inhouse_method(settings), folds=settings.folds, seed=settings.seed)
    info: dict[str, Any] = {
        "folds": settings.folds, "seed": settings.seed,
        "cv_auc": round(cv.auc, 6), "cv_auc_sd": round(cv.auc_sd, 6), "cv_accuracy": round(cv.accuracy, 6),
    }
    if source is not None:
        info["source"] = source.name
        info["source_sha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
    return FitResult(model=fit_model(pairs, settings, info=info), cv=cv)


__all__ = ["CrossValidation", "FitResult", "FitSettings", "Method", "cross_validate", "distinct_accounts", "fit",
           "fit_model", "inhouse_method", "subset"]
