"""influence-aggregator: collect, normalize and compare influence scores from several indices.

>>> import aggregator
>>> result = aggregator.compare({"klout": {"ann": 71, "bob": 45}, "kred": {"ann": 610, "bob": 820}})
>>> result.spread.tolist()  # the two indices order Ann and Bob in opposite ways
[50.0, 50.0]

Run a configured collection with ``Aggregator(config).run()`` (async) or ``run_report(path)``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.app import Aggregator, RunResult, render, run_report
    from aggregator.collect import Progress, collect
    from aggregator.compare import Comparison, ScoreTable, compare, compare_table
    from aggregator.config import Config, load_config
    from aggregator.errors import AggregatorError, ConfigError, DeliveryError, StoreError
    from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Run, Scale, Subject
    from aggregator.normalize import NORMALIZERS, normalize
    from aggregator.outcome import RunOutcome

# Public names load on first use (PEP 562), so ``import aggregator`` costs almost nothing:
# numpy, pydantic and asyncio arrive with the first name that needs them.
_HOME = {
    "Aggregator": "app", "RunResult": "app", "render": "app", "run_report": "app",
    "Progress": "collect", "collect": "collect",
    "Comparison": "compare", "ScoreTable": "compare", "compare": "compare", "compare_table": "compare",
    "Config": "config", "load_config": "config",
    "AggregatorError": "errors", "ConfigError": "errors", "DeliveryError": "errors", "StoreError": "errors",
    "Failure": "models", "FailureKind": "models", "IndexSpec": "models", "Reading": "models", "Run": "models",
    "Scale": "models", "Subject": "models",
    "NORMALIZERS": "normalize", "normalize": "normalize",
    "RunOutcome": "outcome",
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


class _Package(types.ModuleType):
    """Keeps the verbs ``collect``, ``compare`` and ``normalize`` pointing at the functions.

    They share their names with their modules, and importing a submodule sets the package
    attribute of that name to the module; refusing that one assignment keeps the verbs lazy.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _HOME and _HOME[name] == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
