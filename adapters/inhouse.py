"""The in-house score (``aggregator.scoring``) as one more index, computed from an activity file.

Vendor: none, our own transparent model. Scale: 0-100 (about the percentage of the reference
population scoring lower). Algorithm version: the model file's SHA-256 (first 12 hex digits).
Network: none. Each reading's components are the points of reach, recognition, amplification,
conversation, network and earned audience; they add up to the score.
Config keys (``[indices.NAME.options]``)::

    features = "features.csv"      # key column + feature columns (follower_count, ... see below)
    match = "handle:twitter"       # what the key column holds: "id" (roster id) or "handle:NETWORK"
    key_column = "screen_name"
    model = "model.json"           # optional: fitted with `aggregator scorer fit` (default: packaged)
    edges = "interactions.txt.gz"  # optional: the network component from PageRank in this graph,
                                   # whose node ids are the key column's values
    label = "In-house"

Feature columns: ``follower_count, following_count, listed_count, mentions_received,
retweets_received, posts`` are required; ``network_feature_1..3`` are optional (absent: the
network component counts as typical, unless ``edges`` gives it); ``mentions_sent`` and
``retweets_sent`` are accepted and unused. A bad cell fails that subject only, naming file,
line and column; a subject absent from the file is ``not_found``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aggregator.errors import ConfigError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import Limits, reading_or_failure, resolve_path
from aggregator.scoring.features import COMPONENT_NAMES, FeatureRows, read_features
from aggregator.scoring.model import load_model

MEASURES = ("Influence as people judge it, from reach, recognition, amplification and conversation per post, "
            "and network; posting more without more response never raises it")


class InhouseConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    features: Path
    match: str = Field(default="id", pattern=r"^(id|handle:\S+)$")
    key_column: str = "id"
    model: Path | None = None
    edges: Path | None = None
    label: str = "In-house"

    _resolve = field_validator("features", "model", "edges")(resolve_path)

    @field_validator("model")
    @classmethod
    def _readable_model(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                load_model(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value


class InhouseAdapter:
    Config: ClassVar[type[BaseModel]] = InhouseConfig

    def __init__(self, name: str, config: InhouseConfig, limits: Limits | None = None) -> None:
        self.name = name
        self.config = config
        self.model = load_model(config.model)
        self.spec = IndexSpec(name=name, label=config.label, scale=Scale(lo=0, hi=100),
                              algorithm_version=self.model.digest, measures=MEASURES)

    async def fetch(self, subjects: Sequence[Subject]) -> AsyncIterator[Reading | Failure]:
        try:  # reading and scoring a large file is blocking work: keep other adapters running meanwhile
            rows, network = await asyncio.to_thread(self._read)
        except ConfigError as exc:
            for subject in subjects:
                yield self._failure(subject.id, FailureKind.BAD_PAYLOAD, str(exc))
            return
        if rows.unkeyed:
            more = f" (and {len(rows.unkeyed) - 5} more)" if len(rows.unkeyed) > 5 else ""
            yield self._failure(None, FailureKind.BAD_PAYLOAD, "; ".join(rows.unkeyed[:5]) + more)
        where: dict[str, list[int]] = {}
        for i, key in enumerate(rows.keys):
            where.setdefault(_norm(key, self.config.match), []).append(i)
        chosen: dict[str, int] = {}
        for subject in subjects:
            problem = self._locate(subject, rows, where, chosen)
            if problem is not None:
                yield problem
        order = list(chosen.values())
        scores, points = self.model.points(rows.values[order], None if network is None else network[order])
        for k, subject_id in enumerate(chosen):
            components = {name: float(points[k, j]) for j, name in enumerate(COMPONENT_NAMES)}
            yield reading_or_failure(self.spec, subject_id, float(scores[k]), raw=f"{scores[k]:.2f}",
                                     components=components)

    def _locate(self, subject: Subject, rows: FeatureRows, where: dict[str, list[int]],
                chosen: dict[str, int]) -> Failure | None:
        file = self.config.features.name
        match = self.config.match
        key = subject.id if match == "id" else subject.handle(match.removeprefix("handle:"))
        if key is None:
            return self._failure(subject.id, FailureKind.NOT_FOUND, f"subject has no {match} to look up")
        found = where.get(_norm(key, match), [])
        if not found:
            return self._failure(subject.id, FailureKind.NOT_FOUND, f"{file} has no row for {key!r}")
        if len(found) > 1:
            lines = ", ".join(str(rows.lines[i]) for i in found)
            return self._failure(subject.id, FailureKind.BAD_PAYLOAD, f"{file} has {len(found)} rows for {key!r} "
                                                                      f"(lines {lines})")
        if found[0] in rows.bad_rows:
            return self._failure(subject.id, FailureKind.BAD_PAYLOAD, rows.bad_rows[found[0]])
        chosen[subject.id] = found[0]
        return None

    def _read(self) -> tuple[FeatureRows, Any]:
        rows = read_features(self.config.features, self.config.key_column)
        if self.config.edges is None:
            return rows, None
        from aggregator.scoring.graph import pagerank, percentiles, read_edges

        edges = read_edges(self.config.edges)
        ranks = pagerank(edges.source, edges.target, edges.weight, edges.n)
        pct = percentiles(ranks.scores)
        # a subject outside the graph ranks as a node nobody amplified: with the graph's lowest PageRank
        lowest = float(pct[ranks.scores.argmin()]) if len(pct) else 0.0
        by_node = {_norm(str(node), self.config.match): p for node, p in zip(edges.nodes.tolist(), pct.tolist(),
                                                                             strict=True)}
        found = np.array([by_node.get(_norm(key, self.config.match), lowest) for key in rows.keys])
        return rows, self.model.network_from_percentile(found)

    def _failure(self, subject_id: str | None, kind: FailureKind, message: str) -> Failure:
        return Failure(index=self.name, subject_id=subject_id, kind=kind, message=f"{self.name}: {message}"[:2000])


def _norm(key: str, match: str) -> str:
    key = key.strip()
    return key if match == "id" else key.lstrip("@").casefold()


__all__ = ["InhouseAdapter", "InhouseConfig"]
