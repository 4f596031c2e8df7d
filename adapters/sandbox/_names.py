"""Word lists for pseudonymous, human-friendly names ("Amber Falcon", handle ``AmberFalcon``).

The real accounts behind the population are anonymous; these names only make a demo report
readable. Adjectives have at most 7 letters and nouns at most 8, so a handle made of one of
each stays within Twitter's 15-character limit. Changing these lists changes nothing already
written to ``data/population.csv.gz``; it only changes the names of synthetic subjects.
"""

from __future__ import annotations

import hashlib

ADJECTIVES: tuple[str, ...] = (
    "Amber", "Azure", "Bold", "Brave", "Bright", "Calm", "Clever", "Coral", "Cosmic", "Crimson",
    "Daring", "Eager", "Early", "Fancy", "Fierce", "Gentle", "Gilded", "Golden", "Grand", "Happy",
    "Hidden", "Honest", "Humble", "Icy", "Jade", "Jolly", "Keen", "Kind", "Lively", "Lucky",
    "Lunar", "Mellow", "Merry", "Misty", "Noble", "Olive", "Quiet", "Rapid", "Rosy", "Rustic",
    "Silver", "Snowy", "Solar", "Steady", "Sunny", "Swift", "Tidy", "Velvet", "Vivid", "Witty",
)

NOUNS: tuple[str, ...] = (
    "Badger", "Beacon", "Birch", "Bison", "Cedar", "Comet", "Condor", "Coyote", "Crane", "Dingo",
    "Dolphin", "Eagle", "Ember", "Falcon", "Fern", "Finch", "Fox", "Gazelle", "Harbor", "Hawk",
    "Heron", "Ibis", "Jaguar", "Kestrel", "Koala", "Lark", "Lemur", "Lynx", "Maple", "Marten",
    "Meadow", "Meteor", "Moose", "Nebula", "Orca", "Osprey", "Otter", "Panda", "Pelican", "Pine",
    "Puffin", "Quartz", "Raven", "Ripple", "Robin", "Sparrow", "Summit", "Thistle", "Walrus",
    "Willow",
)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def shuffled_pairs() -> list[tuple[str, str]]:
    """Every (adjective, noun) pair, in a fixed pseudo-random order (sorted by a hash)."""
    pairs = [(adjective, noun) for adjective in ADJECTIVES for noun in NOUNS]
    return sorted(pairs, key=lambda pair: _digest(f"{pair[0]} {pair[1]}"))


def pair_for(key: str) -> tuple[str, str]:
    """A deterministic (adjective, noun) pair for any key; different keys may share a pair."""
    number = int.from_bytes(_digest(key)[:8], "big")
    return ADJECTIVES[number % len(ADJECTIVES)], NOUNS[(number // len(ADJECTIVES)) % len(NOUNS)]
