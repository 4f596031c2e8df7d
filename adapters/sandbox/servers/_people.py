"""The people the vendor servers know: handles, vendor ids, and each vendor's scores.

Scores come from the vendor formulas (``adapters.sandbox.vendors.score``) over a population,
by default the packaged 1,569 real (anonymized) accounts. A vendor knows a person exactly
where its formula's ``known`` mask is True. Vendor-side ids are derived from a hash of the
person's id, so they are stable across runs and samples: a kloutId of 6 to 18 digits (often
more than 2**53, so it must stay a string), a numeric Twitter id, a PeerIndex UUID.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence

from adapters.sandbox.formulas import VendorScores
from adapters.sandbox.population import Population, load_population
from adapters.sandbox.vendors import VENDORS, score

_TWO_TO_64 = float(2**64)


def unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts`` (a hash, not a random generator)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _TWO_TO_64


def _digits(key: str, shortest: int, longest: int) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    length = shortest + int.from_bytes(digest[:8], "big") % (longest - shortest + 1)
    low = 10 ** (length - 1)
    return str(low + int.from_bytes(digest[8:], "big") % (9 * low))


def _unique(ids: Sequence[str], make: Callable[[str], str]) -> tuple[str, ...]:
    taken: set[str] = set()
    out = []
    for person in ids:
        value, salt = make(person), 0
        while value in taken:  # a hash clash: derive again, deterministically
            salt += 1
            value = make(f"{person}#{salt}")
        taken.add(value)
        out.append(value)
    return tuple(out)


class People:
    """Lookups from what a client sends (handle, vendor id) to a population row, and scores."""

    def __init__(self, population: Population | None = None) -> None:
        self.population = load_population() if population is None else population
        ids = self.population.ids
        self.klout_ids = _unique(ids, lambda key: _digits(f"klout-id:{key}", 6, 18))
        self.twitter_ids = _unique(ids, lambda key: _digits(f"twitter-id:{key}", 6, 10))
        self.peerindex_ids = _unique(
            ids, lambda key: str(uuid.uuid3(uuid.NAMESPACE_URL, f"sandbox:peerindex-id:{key}"))
        )
        self._by_handle = {handle.lower(): row for row, handle in enumerate(self.population.handles)}
        if len(self._by_handle) != len(ids):
            raise ValueError("handles must be unique (ignoring case) for the vendor servers to find people")
        self._by_klout_id = {value: row for row, value in enumerate(self.klout_ids)}
        self._by_twitter_id = {value: row for row, value in enumerate(self.twitter_ids)}
        self._by_peerindex_id = {value: row for row, value in enumerate(self.peerindex_ids)}
        self._scores: dict[tuple[str, int], VendorScores] = {}

    def __len__(self) -> int:
        return len(self.population)

    @property
    def handles(self) -> tuple[str, ...]:
        return self.population.handles

    def by_handle(self, handle: str) -> int | None:
        """The row of a Twitter screen name, ignoring case (as Twitter does)."""
        return self._by_handle.get(handle.lower())

    def by_klout_id(self, value: str) -> int | None:
        return self._by_klout_id.get(value)

    def by_twitter_id(self, value: str) -> int | None:
        return self._by_twitter_id.get(value)

    def by_peerindex_id(self, value: str) -> int | None:
        return self._by_peerindex_id.get(value.lower())

    def scores(self, vendor: str, version: int) -> VendorScores:
        """``vendor``'s scores for everyone at algorithm era ``version`` (computed once)."""
        resolved = VENDORS[vendor].resolve(version)
        if (vendor, resolved) not in self._scores:
            self._scores[vendor, resolved] = score(vendor, self.population, version=resolved)
        return self._scores[vendor, resolved]

    def unit(self, row: int, salt: str) -> float:
        """A number in [0, 1) fixed by the person and ``salt``."""
        return unit("person", self.population.ids[row], salt)
