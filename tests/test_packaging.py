"""The wheel carries what a non-editable install needs at run time (CI also runs the demo from it)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("influence_aggregator-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_holds_the_packages_their_data_and_type_markers(wheel):
    names = set(wheel.namelist())
    for package in ("aggregator", "adapters", "reports"):
        assert f"{package}/py.typed" in names
    assert "adapters/sandbox/data/population.csv.gz" in names
    assert "adapters/sandbox/data/judgments.csv.gz" in names
    assert "reports/templates/report.html.j2" in names
    for section in ("headline", "standing", "disagreements", "inversions", "agreement", "changes", "health",
                    "method", "people"):
        assert f"reports/templates/sections/{section}.html.j2" in names
        assert f"reports/sections/{section}.py" in names
    assert "aggregator/scoring/model.json" in names
    assert "aggregator/__main__.py" in names
    assert not any(name.startswith(("tests/", "scripts/", "bench/")) for name in names)


def test_wheel_registers_the_builtin_plugins_and_the_command(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parsed = ConfigParser()
    parsed.read_string(wheel.read(entry_points).decode())
    assert parsed["console_scripts"]["aggregator"] == "aggregator.cli:main"
    assert {"files", "inhouse", "klout", "peerindex", "kred", "empireavenue", "http_json"} <= set(
        parsed["aggregator.adapters"])
    assert {"html", "text", "json", "email"} <= set(parsed["aggregator.renderers"])
