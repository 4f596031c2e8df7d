"""scripts/derive_population.py rebuilds the packaged population and judgments byte for byte."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
from pathlib import Path

from shared_data import shared_path

from adapters.sandbox.population import load_judgments, load_population

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "adapters" / "sandbox" / "data"


def test_the_script_rebuilds_the_packaged_files_byte_for_byte(tmp_path):
    source = shared_path("peerindex_pairs")
    out, judgments = tmp_path / "population.csv.gz", tmp_path / "judgments.csv.gz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "derive_population.py"), "--source", str(source),
                    "--out", str(out), "--judgments", str(judgments)], check=True, capture_output=True, timeout=300)
    assert out.read_bytes() == (DATA / "population.csv.gz").read_bytes()
    assert judgments.read_bytes() == (DATA / "judgments.csv.gz").read_bytes()


def test_the_judgments_are_the_labelled_pairs_by_person_id():
    source = shared_path("peerindex_pairs", "train.csv")
    population = load_population()
    person = {tuple(row): pid for pid, row in zip(population.ids, population.features.tolist(), strict=True)}
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    judged = load_judgments()
    assert len(judged) == len(rows) == 4000
    features = [name for name in rows[0] if name.startswith("A_")]
    for row, (a, b, winner) in zip(rows, judged, strict=True):
        a_id = person[tuple(float(row[f]) for f in features)]
        b_id = person[tuple(float(row[f.replace("A_", "B_", 1)]) for f in features)]
        assert (a, b) == (a_id, b_id)
        assert winner == (a if row["Choice"] == "1" else b)
    text = gzip.decompress((DATA / "judgments.csv.gz").read_bytes()).decode()
    assert next(csv.reader(io.StringIO(text))) == ["a", "b", "winner"]
