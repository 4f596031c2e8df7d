"""The core never imports the plugin packages, and importing the package stays light."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = ["models", "errors", "plugins", "ratelimit", "config", "roster", "collect", "store", "resume",
        "normalize", "compare", "outcome", "pipeline", "history", "app"]


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_core_modules_do_not_import_adapters_or_reports():
    loaded = _loaded_after("\n".join(f"import aggregator.{name}" for name in CORE))
    assert not {m for m in loaded if m.split(".")[0] in {"adapters", "reports"}}


def test_import_aggregator_loads_no_heavy_library():
    loaded = _loaded_after("import aggregator")
    heavy = {"numpy", "pydantic", "asyncio", "aiohttp", "scipy", "matplotlib", "pandas", "jinja2", "rich",
             "sqlite3", "tenacity"}
    assert not loaded & heavy
    # the app layer arrives with the first name that needs it, still without plugins
    names = _loaded_after("import aggregator; aggregator.Aggregator")
    assert "sqlite3" in names
    assert not {m for m in names if m.split(".")[0] in {"adapters", "reports", "aiohttp"}}
