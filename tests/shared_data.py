"""Where the project's real data sets live: ``shared/data`` beside the repository.

Tests use the data from there (the package ships only small derived copies). The folder is
found next to the checkout or any folder above it; ``INFLUENCE_SHARED_DATA`` overrides. Tests
that need it skip, saying where they looked, when a checkout has no such folder beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _locate() -> Path | None:
    override = os.environ.get("INFLUENCE_SHARED_DATA")
    if override:
        return Path(override)
    for folder in (ROOT, *ROOT.parents):
        candidate = folder / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


SHARED_DATA = _locate()


def shared_path(*parts: str) -> Path:
    """A path under the shared data folder; skips the test if it is not there."""
    if SHARED_DATA is None:
        pytest.skip(f"no shared/data folder beside {ROOT} or above it (set INFLUENCE_SHARED_DATA)")
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path
