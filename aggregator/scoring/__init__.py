"""The in-house scorer: transparent, calibrated on human judgments, not an activity meter.

* ``features``: the activity features, the terms built from them and the six components;
* ``model``: the fitted model (monotone curves, frozen reference distribution), its JSON file;
* ``fit``: fitting on labelled pairs (monotone Bradley–Terry), cross-validation;
* ``evaluate``: AUC and accuracy against baselines in the same folds;
* ``explain``: points per component (they add up to the score) and one-line reasons;
* ``graph``: weighted PageRank by sparse power iteration, edge files.

>>> from aggregator.scoring import load_model
>>> model = load_model()          # the packaged model
>>> len(model.digest)
12

Names load on first use, so importing this package (as the ``aggregator`` command does to
add its ``scorer`` commands) costs nothing until a scorer is needed. The verbs that share a
name with their module are imported from it: ``from aggregator.scoring.fit import fit``,
``from aggregator.scoring.evaluate import evaluate``, ``from aggregator.scoring.explain import explain``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.scoring.evaluate import Evaluation
    from aggregator.scoring.explain import Explanation, why
    from aggregator.scoring.features import COMPONENTS, FEATURES, Pairs, read_features, read_pairs, write_features
    from aggregator.scoring.fit import FitSettings, fit_model
    from aggregator.scoring.graph import PageRank, pagerank, read_edges
    from aggregator.scoring.model import ScorerModel, load_model

_HOME = {
    "Evaluation": "evaluate",
    "Explanation": "explain", "why": "explain",
    "COMPONENTS": "features", "FEATURES": "features", "Pairs": "features", "read_features": "features",
    "read_pairs": "features", "write_features": "features",
    "FitSettings": "fit", "fit_model": "fit",
    "PageRank": "graph", "pagerank": "graph", "read_edges": "graph",
    "ScorerModel": "model", "load_model": "model",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"aggregator.scoring.{_HOME[name]}"), name)
    raise AttributeError(f"module 'aggregator.scoring' has no attribute {name!r}")


__all__ = [
    "COMPONENTS", "FEATURES", "Evaluation", "Explanation", "FitSettings", "PageRank", "Pairs", "ScorerModel",
    "fit_model", "load_model", "pagerank", "read_edges", "read_features", "read_pairs", "why", "write_features",
]
