"""The outside checkers the browser tests run: axe-core (in the page) and the Nu HTML checker (Java).

Both come from npm (``npm install -g axe-core vnu-jar``; ``.ci/run`` installs them, and Java for
the Nu checker). Where one is missing its tests skip and say which and how to get it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from reports._chromium import Page

#: WCAG 2.0 and 2.1, levels A and AA: what the issue asks the pages to pass
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@functools.cache
def _npm_root() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    done = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def _npm_file(env: str, package: str, relative: str) -> Path | None:
    """``$env`` if set, else the file in the globally installed npm ``package``."""
    candidates = [os.environ.get(env)]
    root = _npm_root()
    if root is not None:
        candidates.append(str(root / package / relative))
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def axe_script() -> Path | None:
    return _npm_file("AXE_CORE_JS", "axe-core", "axe.min.js")


def vnu_jar() -> Path | None:
    return _npm_file("VNU_JAR", "vnu-jar", "build/dist/vnu.jar") if shutil.which("java") else None


AXE_MISSING = "axe-core is not installed (npm install -g axe-core, or set $AXE_CORE_JS); CI installs it"
VNU_MISSING = "the Nu HTML checker needs Java and npm's vnu-jar (or $VNU_JAR); CI installs both"


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on the page as it is now: rule, impact and a few nodes."""
    script = axe_script()
    assert script is not None, AXE_MISSING
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(script.read_text(encoding="utf-8") + "\n;0")
    found = await page.evaluate(
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {json.dumps(AXE_TAGS)}}}}})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
        " examples: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary)})))"
    )
    return list(found)


def nu_errors(*paths: Path) -> list[str]:
    """The Nu HTML checker's errors (warnings aside) for each file, one line each."""
    jar = vnu_jar()
    assert jar is not None, VNU_MISSING
    done = subprocess.run(
        [shutil.which("java") or "java", "-jar", str(jar), "--errors-only", "--format", "gnu", *map(str, paths)],
        capture_output=True, text=True, check=False, timeout=300,
    )
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
