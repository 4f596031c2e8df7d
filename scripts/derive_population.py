"""Derive the sandbox's demo population from the PeerIndex pairs data (a dev tool, run by hand).

Reads ``train.csv`` and ``unlabeled.csv`` from ``../shared/data/peerindex_pairs`` (Kaggle
"Influencers in Social Networks", 2013), takes every person in every pair (the ``A_*`` and the
``B_*`` columns), keeps one row per distinct feature vector, and writes
``adapters/sandbox/data/population.csv.gz``:

    id,handle,name,follower_count,...,network_feature_3
    p0001,AmberFalcon,Amber Falcon,95,120,3,0.35694329868,...

and, beside it, the human judgments of ``train.csv`` between those people,
``adapters/sandbox/data/judgments.csv.gz`` (one row per labelled row of ``train.csv``, in its
order; ``winner`` is ``a`` when ``Choice`` is 1, else ``b``):

    a,b,winner
    p0417,p1203,p1203

- Rows are ordered by the SHA-256 of their feature text, so the order is deterministic and
  carries no information (the first rows are not the biggest or the smallest accounts).
- ``id`` is ``p0001``...; ``handle``/``name`` come from adjective + noun word lists
  (``adapters/sandbox/_names.py``), one distinct pair per person. Nobody real is named.
- Feature values are copied as text, exactly as in the source files (never re-serialised).
- A labelled row whose two sides are the same person (the same feature vector) judges no
  pair and is left out of the judgments.
- gzip is written with ``mtime=0`` and no file name, so the output is byte-reproducible.

Usage (from the repository root)::

    python scripts/derive_population.py [--source ../shared/data/peerindex_pairs] [--out PATH] [--judgments PATH]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from adapters.sandbox._names import shuffled_pairs  # noqa: E402 (needs the repo on the path)

FEATURES = (
    "follower_count", "following_count", "listed_count", "mentions_received",
    "retweets_received", "mentions_sent", "retweets_sent", "posts",
    "network_feature_1", "network_feature_2", "network_feature_3",
)
SOURCE_FILES = ("train.csv", "unlabeled.csv")
#: the file whose rows carry human judgments (``Choice``)
LABELLED_FILE = "train.csv"
EXPECTED_DISTINCT = 1569
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def read_people(source: Path) -> set[tuple[str, ...]]:
    """Every distinct feature vector (as source text) of every A and B in the pair files."""
    people: set[tuple[str, ...]] = set()
    for file_name in SOURCE_FILES:
        with (source / file_name).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                for side in ("A", "B"):
                    vector = tuple(row[f"{side}_{feature}"].strip() for feature in FEATURES)
                    for text in vector:
                        float(text)  # refuse anything that is not a number, early
                    people.add(vector)
    return people


def read_judgments(source: Path) -> list[tuple[tuple[str, ...], tuple[str, ...], bool]]:
    """Every labelled row of ``train.csv``: (A's feature text, B's feature text, A judged more influential)."""
    judged = []
    with (source / LABELLED_FILE).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            a, b = (tuple(row[f"{side}_{feature}"].strip() for feature in FEATURES) for side in ("A", "B"))
            if row["Choice"].strip() not in ("0", "1"):
                raise SystemExit(f"{LABELLED_FILE}: Choice must be 0 or 1, got {row['Choice']!r}")
            judged.append((a, b, row["Choice"].strip() == "1"))
    return judged


def judgment_rows(judged: list[tuple[tuple[str, ...], tuple[str, ...], bool]],
                  rows: list[list[str]]) -> tuple[list[list[str]], int]:
    """``a,b,winner`` rows by person id, and how many labelled rows judged a person against themself."""
    person = {tuple(row[3:]): row[0] for row in rows}
    out, same = [], 0
    for a, b, a_wins in judged:
        first, second = person[a], person[b]
        if first == second:
            same += 1
            continue
        out.append([first, second, first if a_wins else second])
    return out, same


def numeric_key(vector: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(float(text) for text in vector)


def build_rows(people: set[tuple[str, ...]]) -> list[list[str]]:
    # two spellings of one number ("1.0" / "1") would be one person counted twice
    if len({numeric_key(vector) for vector in people}) != len(people):
        raise SystemExit("the same feature values are spelled in two ways; deduplicate numerically")
    ordered = sorted(people, key=lambda vector: hashlib.sha256(",".join(vector).encode()).digest())
    pairs = shuffled_pairs()
    if len(pairs) < len(ordered):
        raise SystemExit(f"only {len(pairs)} name pairs for {len(ordered)} people; add words")
    width = max(4, len(str(len(ordered))))
    rows = []
    for number, (vector, (adjective, noun)) in enumerate(zip(ordered, pairs, strict=False), 1):
        handle = f"{adjective}{noun}"
        if not _HANDLE.match(handle):
            raise SystemExit(f"handle {handle!r} is not a valid Twitter screen name")
        rows.append([f"p{number:0{width}d}", handle, f"{adjective} {noun}", *vector])
    return rows


def write_gzip_csv(header: list[str], rows: list[list[str]], out: Path) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    data = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=REPO.parent / "shared" / "data" / "peerindex_pairs"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "adapters" / "sandbox" / "data" / "population.csv.gz"
    )
    parser.add_argument(
        "--judgments", type=Path, default=REPO / "adapters" / "sandbox" / "data" / "judgments.csv.gz"
    )
    args = parser.parse_args(argv)
    people = read_people(args.source)
    if len(people) != EXPECTED_DISTINCT:
        print(f"warning: expected {EXPECTED_DISTINCT} distinct people, found {len(people)}")
    rows = build_rows(people)
    data = write_gzip_csv(["id", "handle", "name", *FEATURES], rows, args.out)
    digest = hashlib.sha256(data).hexdigest()[:16]
    print(f"wrote {len(rows)} people, {len(data):,} bytes, sha256 {digest}… to {args.out}")
    judged, same = judgment_rows(read_judgments(args.source), rows)
    data = write_gzip_csv(["a", "b", "winner"], judged, args.judgments)
    digest = hashlib.sha256(data).hexdigest()[:16]
    print(f"wrote {len(judged)} judgments ({same} rows judging a person against themself left out), "
          f"{len(data):,} bytes, sha256 {digest}… to {args.judgments}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
