"""influence-aggregator: collect, normalize and compare influence scores from several indices.

>>> import aggregator
>>> result = aggregator.compare({"klout": {"ann": 71, "bob": 45}, "kred": {"ann": 610, "bob": 820}})
>>> result.spread.tolist()  # the two indices order Ann and Bob in opposite ways
[50.0, 50.0]

Run a configured collection with ``Aggregator(config).run()`` (async) or ``run_report(path)``.

The package by stage (``docs/architecture.md`` draws who imports whom):

- here, the contracts every part shares: ``models``, ``errors``, ``plugins`` (the Adapter and
  Renderer protocols and their registries), ``ratelimit``, ``testing`` (a fake adapter), and
  this public API;
- ``collection/``: roster, concurrent collection, resume, the SQLite store;
- ``analytics/``: normalization and the comparison, pure numpy;
- ``scoring/``: the transparent in-house scorer;
- ``app/``: config, the pipeline, history, demo and schedules, wiring the stages together;
- ``cli/``: the ``aggregator`` command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.analytics.compare import Comparison, ScoreTable, compare, compare_table
    from aggregator.analytics.normalize import NORMALIZERS, normalize
    from aggregator.analytics.outcome import RunOutcome
    from aggregator.app.api import Aggregator, RunResult, render, run_report
    from aggregator.app.config import Config, load_config
    from aggregator.collection.collect import Progress, collect
    from aggregator.errors import AggregatorError, ConfigError, DeliveryError, StoreError
    from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Run, Scale, Subject

# Public names load on first use (PEP 562), so ``import aggregator`` costs almost nothing:
# numpy, pydantic and asyncio arrive with the first name that needs them.
_HOME = {
    "Aggregator": "app.api", "RunResult": "app.api", "render": "app.api", "run_report": "app.api",
    "Progress": "collection.collect", "collect": "collection.collect",
    "Comparison": "analytics.compare", "ScoreTable": "analytics.compare", "compare": "analytics.compare",
    "compare_table": "analytics.compare",
    "Config": "app.config", "load_config": "app.config",
    "AggregatorError": "errors", "ConfigError": "errors", "DeliveryError": "errors", "StoreError": "errors",
    "Failure": "models", "FailureKind": "models", "IndexSpec": "models", "Reading": "models", "Run": "models",
    "Scale": "models", "Subject": "models",
    "NORMALIZERS": "analytics.normalize", "normalize": "analytics.normalize",
    "RunOutcome": "analytics.outcome",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("influence-aggregator")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    if name in _HOME:
        value = getattr(importlib.import_module(f"aggregator.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aggregator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "NORMALIZERS",
    "Aggregator",
    "AggregatorError",
    "Comparison",
    "Config",
    "ConfigError",
    "DeliveryError",
    "Failure",
    "FailureKind",
    "IndexSpec",
    "Progress",
    "Reading",
    "Run",
    "RunOutcome",
    "RunResult",
    "Scale",
    "ScoreTable",
    "StoreError",
    "Subject",
    "__version__",
    "collect",
    "compare",
    "compare_table",
    "load_config",
    "normalize",
    "render",
    "run_report",
]
