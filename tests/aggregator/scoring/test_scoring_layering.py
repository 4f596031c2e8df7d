"""The scorer is core: it never imports the plugin packages, and the CLI hook stays light."""

from __future__ import annotations

import json
import subprocess
import sys

MODULES = ["features", "model", "fit", "metrics", "evaluate", "explain", "graph"]


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_scoring_modules_import_neither_adapters_nor_reports_nor_scikit_learn():
    loaded = _loaded_after("\n".join(f"import aggregator.scoring.{name}" for name in MODULES))
    assert not {m for m in loaded if m.split(".")[0] in {"adapters", "reports", "sklearn", "networkx", "igraph"}}
    assert "scipy" not in loaded  # scipy arrives inside the functions that need it


def test_adding_the_scorer_commands_loads_no_numpy():
    loaded = _loaded_after("import aggregator.scoring, aggregator.cli.scorer")
    assert not loaded & {"numpy", "scipy"}
