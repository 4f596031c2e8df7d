"""Try changes to the in-house model's fit, judged by cross-validation on pairs fixed in advance (a dev tool).

    python scripts/tune_scorer.py [--pairs ../shared/data/peerindex_pairs/train.csv] [--held-out]

The pairs are split once, before anything is tried, into a **tuning part** and a **held-out
part** (about a third, ``aggregator.scoring.metrics.held_out_rows``): by the SHA-256 of the
pair's two people, so a duplicated pair, or the same two people judged with A and B swapped,
fall on the same side. Every variant is cross-validated on the tuning part only, in the same 5 stratified
folds (seed 0, ``aggregator.scoring.metrics.stratified_folds``), beside the logistic regression
and follower-ratio baselines. ``--held-out`` then fits the current settings and the best
variant on the whole tuning part and scores each once on the held-out part.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aggregator.scoring.evaluate import follower_ratio, logistic_regression  # noqa: E402
from aggregator.scoring.features import read_pairs  # noqa: E402
from aggregator.scoring.fit import FitSettings, cross_validate, fit_model, inhouse_method, subset  # noqa: E402
from aggregator.scoring.metrics import auc, held_out_rows  # noqa: E402

VARIANTS: dict[str, FitSettings] = {
    "current (16 knots, l2 1e-4, smooth 1e-3)": FitSettings(),
    "8 knots": FitSettings(knots=8),
    "12 knots": FitSettings(knots=12),
    "24 knots": FitSettings(knots=24),
    "smooth 1e-4": FitSettings(smooth=1e-4),
    "smooth 1e-2": FitSettings(smooth=1e-2),
    "l2 1e-3": FitSettings(l2=1e-3),
    "l2 1e-5": FitSettings(l2=1e-5),
    "24 knots, smooth 1e-2": FitSettings(knots=24, smooth=1e-2),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path,
                        default=REPO.parent / "shared" / "data" / "peerindex_pairs" / "train.csv")
    parser.add_argument("--held-out", action="store_true", help="also score the best variant on the held-out part")
    parser.add_argument("--only", nargs="*", help="variants to run (default: all)")
    args = parser.parse_args(argv)
    pairs = read_pairs(args.pairs)
    held = held_out_rows(pairs.a, pairs.b)
    tuning, test = subset(pairs, np.flatnonzero(~held)), subset(pairs, np.flatnonzero(held))
    print(f"{len(pairs)} pairs: {len(tuning)} for tuning (5-fold CV, seed 0), {len(test)} held out")
    results: dict[str, float] = {}
    for name, method in (("baseline: follower ratio", follower_ratio),
                         ("baseline: logistic regression", logistic_regression)):
        cv = cross_validate(tuning, method)
        print(f"{name:<44} CV AUC {cv.auc:.4f} ± {cv.auc_sd:.4f}", flush=True)
    for name, settings in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        cv = cross_validate(tuning, inhouse_method(settings))
        results[name] = cv.auc
        folds = " ".join(f"{a:.4f}" for a in cv.fold_auc)
        print(f"{name:<44} CV AUC {cv.auc:.4f} ± {cv.auc_sd:.4f}  folds {folds}", flush=True)
    if args.held_out:
        best = max(results, key=lambda k: results[k])
        for name in dict.fromkeys([next(iter(VARIANTS)), best]):
            model = fit_model(tuning, VARIANTS[name])
            score = auc(test.a_wins, model.strength(test.a) - model.strength(test.b))
            print(f"held out, fitted on the tuning part: {name:<44} AUC {score:.4f}")
        for label, method in (("logistic regression", logistic_regression), ("follower ratio", follower_ratio)):
            print(f"held out, fitted on the tuning part: {label:<44} AUC {auc(test.a_wins, method(tuning, test)):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
