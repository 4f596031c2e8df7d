"""Fixtures for the scorer and its commands: pairs files written from real accounts of the demo population."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from adapters.sandbox.population import load_population
from aggregator.scoring.features import FEATURES

HEADER = ["Choice", *(f"A_{f}" for f in FEATURES), *(f"B_{f}" for f in FEATURES)]
#: features that make an account more influential to the model (the rest: following, sent, posts)
GOOD = ("follower_count", "listed_count", "mentions_received", "retweets_received",
        "network_feature_1", "network_feature_2", "network_feature_3")


def pairs_text(rows: Sequence[tuple[int, Sequence[float], Sequence[float]]]) -> str:
    lines = [",".join(HEADER)]
    for choice, a, b in rows:
        lines.append(",".join([str(choice), *(f"{v:g}" for v in a), *(f"{v:g}" for v in b)]))
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_pairs(tmp_path: Path) -> Callable[..., Path]:
    def _write(rows: Sequence[tuple[int, Sequence[float], Sequence[float]]], name: str = "pairs.csv") -> Path:
        path = tmp_path / name
        path.write_text(pairs_text(rows), encoding="utf-8")
        return path

    return _write


def dominance_rows(n: int = 10) -> list[tuple[int, list[float], list[float]]]:
    """``n`` pairs where the judged winner has 20x the loser's followers, lists, responses and network,
    with the same following and posts: any monotone model must order every pair right."""
    population = load_population()
    rng = np.random.default_rng(7)
    rows = []
    for k, i in enumerate(rng.choice(len(population), size=n, replace=False)):
        loser = dict(zip(FEATURES, population.features[i].tolist(), strict=True))
        winner = {f: v * 20 + 1 if f in GOOD else v for f, v in loser.items()}
        a, b = (winner, loser) if k % 2 == 0 else (loser, winner)
        rows.append((1 if k % 2 == 0 else 0, [a[f] for f in FEATURES], [b[f] for f in FEATURES]))
    return rows


@pytest.fixture
def dominance() -> Callable[[int], list[tuple[int, list[float], list[float]]]]:
    """``dominance(n)``: see ``dominance_rows``."""
    return dominance_rows
