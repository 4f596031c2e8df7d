"""Which part of the code may import which: the layers of docs/architecture.md, held for every import.

Every ``import`` and ``from ... import`` in the three packages counts, at the top of a module or
inside a function (a lazy import is still a dependency). The core never imports the plugin
packages, no two modules import each other (directly or round a longer loop), and importing
the package stays light.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aggregator", "adapters", "reports")
CONTRACTS = {"aggregator.models", "aggregator.errors", "aggregator.plugins", "aggregator.ratelimit",
             "aggregator.testing", "aggregator.atomic"}

#: layer -> the layers it may import (its own layer included where listed)
ALLOWED = {
    "contracts": {"contracts"},
    "collection": {"contracts", "collection"},
    "analytics": {"contracts", "analytics"},
    "scoring": {"contracts", "scoring"},
    # the app wires the stages together; the plugin packages only lazily (test below)
    "app": {"contracts", "collection", "analytics", "scoring", "app", "adapters", "reports"},
    "cli": {"api", "contracts", "collection", "analytics", "scoring", "app", "cli", "adapters", "reports"},
    # `import aggregator`: the public names, each loaded on first use
    "api": {"contracts", "collection", "analytics", "app"},
    "entry": {"cli"},
    "adapters": {"contracts", "scoring", "adapters"},
    "reports": {"contracts", "analytics", "reports"},
}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "aggregator":
        return parts[0]
    if module == "aggregator":
        return "api"
    if module == "aggregator.__main__":
        return "entry"
    if module in CONTRACTS:
        return "contracts"
    return parts[1]


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module an imported name lives in (a submodule if there is one), if it is ours."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in map(_target, names) if t is not None and t != module}
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer_with_rules():
    assert {layer(m) for m in MODULES} <= set(ALLOWED)
    assert {"collection", "analytics", "app", "cli"} <= {layer(m) for m in MODULES}


def test_imports_go_only_in_the_allowed_directions():
    wrong = sorted(
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in GRAPH.items() for target in targets
        if layer(target) not in ALLOWED[layer(module)]
    )
    assert wrong == []


def test_nothing_but_the_cli_and_the_entry_point_imports_the_cli():
    assert sorted(m for m, targets in GRAPH.items() for t in targets
                  if layer(t) == "cli" and layer(m) not in {"cli", "entry"}) == []


def test_no_import_loops():
    """Tarjan's strongly connected components: any component of two or more modules is a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                loops.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert loops == []


def test_imports_inside_functions_count():
    assert "aggregator.app.history" in GRAPH["aggregator.cli.stored"]  # imported inside _history
    assert "reports.render" in GRAPH["aggregator.app.api"]  # imported inside render


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_core_modules_do_not_load_adapters_or_reports():
    core = sorted(m for m in MODULES if layer(m) in {"contracts", "collection", "analytics", "scoring", "app"})
    if importlib.util.find_spec("pyspark") is None:  # the Spark engine is the optional 'spark' extra
        core = [m for m in core if "spark" not in m.split(".")]
    loaded = _loaded_after("\n".join(f"import {name}" for name in core))
    assert not {m for m in loaded if m.split(".")[0] in {"adapters", "reports"}}


def test_import_aggregator_loads_no_heavy_library():
    loaded = _loaded_after("import aggregator")
    heavy = {"numpy", "pydantic", "asyncio", "aiohttp", "scipy", "matplotlib", "pandas", "jinja2", "rich",
             "sqlite3", "tenacity", "pyspark", "pyarrow", "numba", "llvmlite"}
    assert not loaded & heavy
    # the app layer arrives with the first name that needs it, still without plugins
    names = _loaded_after("import aggregator; aggregator.Aggregator")
    assert "sqlite3" in names
    assert not {m for m in names if m.split(".")[0] in {"adapters", "reports", "aiohttp"}}


def test_numba_loads_only_when_inversions_are_counted():
    # the compiled kernels cost half a second to import: a comparison module must not pay it up front
    assert "numba" not in _loaded_after("import aggregator.analytics.compare, aggregator.analytics.inversions")
    assert "numba" in _loaded_after(
        "import numpy as np; from aggregator.analytics.inversions import count_inversions\n"
        "count_inversions(np.array([[1.0, 2.0], [2.0, 1.0]]))"
    )
