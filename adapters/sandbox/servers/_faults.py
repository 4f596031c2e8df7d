"""Fault injection as data: which faults, how often, how slow; parsed from ``--faults`` text.

A reply is slowed by ``latency`` plus up to ``jitter`` seconds, then suffers at most one fault.
Each fault kind has a *share* of replies; the shares are disjoint slices of ``[0, 1)`` (their
sum may not exceed 1), so ``5xx=0.1`` means exactly one reply in ten is a 5xx, whatever else
is on. Which reply gets which fault is drawn from a hash of the seed, the request (path and
query, credentials left out) and how many times that request was seen before: the same
requests get the same faults under the same seed, however they interleave, and a retried
request draws again, so retries can succeed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Every fault kind, in the order their slices are laid out.
FAULT_KINDS: tuple[str, ...] = (
    "server_error",  # a 5xx (500, 502, 503 or 504) in the vendor's error shape
    "timeout",  # never answers (the connection stays open until the client gives up)
    "reset",  # the connection is reset (TCP RST) before any reply
    "malformed",  # 200 with the JSON content type, but the body's second half is missing
    "truncated",  # the real reply, cut off mid-body below its Content-Length, then closed
    "html",  # 200 with an HTML maintenance page
    "out_of_range",  # the real reply with the headline value outside the vendor's scale
    "not_complete",  # Kred only: a "still computing" reply (status not "complete")
)
#: Faults that only some vendors can show.
VENDOR_ONLY: Mapping[str, frozenset[str]] = {"not_complete": frozenset({"kred"})}
_ALIASES = {"5xx": "server_error"}
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(ms|s)$")


def applies(kind: str, vendor: str) -> bool:
    return vendor in VENDOR_ONLY.get(kind, frozenset({vendor}))


@dataclass(frozen=True)
class Faults:
    """Latency and fault shares for one vendor server (all zero: a healthy vendor)."""

    latency: float = 0.0
    jitter: float = 0.0
    shares: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.latency < 0 or self.jitter < 0:
            raise ValueError(f"latency and jitter must be 0 or more, got {self.latency} and {self.jitter}")
        unknown = sorted(set(self.shares) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(FAULT_KINDS)}")
        bad = {kind: share for kind, share in self.shares.items() if not 0.0 <= share <= 1.0}
        if bad:
            raise ValueError(f"fault shares must be between 0 and 1, got {bad}")
        if sum(self.shares.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault shares add up to {sum(self.shares.values()):g}, more than 1")

    @classmethod
    def every(cls, share: float, vendor: str, *, latency: float = 0.0, jitter: float = 0.0) -> Faults:
        """Every fault kind the vendor can show, each at ``share``."""
        return cls(latency, jitter, {kind: share for kind in FAULT_KINDS if applies(kind, vendor)})

    def check_vendor(self, vendor: str) -> None:
        wrong = [kind for kind, share in self.shares.items() if share and not applies(kind, vendor)]
        if wrong:
            raise ValueError(f"{vendor} cannot show the fault(s) {wrong}")

    def pick(self, unit: float) -> str | None:
        """The fault whose slice holds ``unit`` (a number in [0, 1)), or None."""
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.shares.get(kind, 0.0)
            if unit < edge:
                return kind
        return None


def parse_faults(text: str, vendors: Iterable[str]) -> dict[str, Faults]:
    """Faults per vendor from ``[VENDOR.]NAME=VALUE`` items separated by commas.

    NAME is ``latency`` or ``jitter`` (with a unit: ``20ms``, ``0.5s``), ``all`` (every fault
    kind the vendor can show) or a fault kind (``5xx`` is ``server_error``), with a share as
    ``0.1`` or ``10%``. Items without a vendor apply to every vendor; vendor items override.

    >>> parse_faults("latency=20ms,5xx=10%,kred.not_complete=0.5", ["klout", "kred"])["kred"].shares
    {'server_error': 0.1, 'not_complete': 0.5}
    """
    names = list(vendors)
    settings: dict[str, dict[str, float]] = {name: {} for name in names}
    items = [item.strip() for item in text.split(",") if item.strip()]
    # vendor-wide items first, then vendor-specific ones, whatever order they were written in
    for specific in (False, True):
        for item in items:
            key, sep, value = item.partition("=")
            vendor, dot, name = key.strip().rpartition(".")
            if not sep or not name:
                raise ValueError(f"fault {item!r} is not of the form [VENDOR.]NAME=VALUE")
            if bool(dot) != specific:
                continue
            if dot and vendor not in settings:
                raise ValueError(f"fault {item!r}: vendor {vendor!r} is not running; running: {', '.join(names)}")
            for target in [vendor] if dot else names:
                _apply(settings[target], target, item, _ALIASES.get(name, name), value.strip(), explicit=bool(dot))
    faults = {}
    for name, values in settings.items():
        latency, jitter = values.pop("latency", 0.0), values.pop("jitter", 0.0)
        try:
            faults[name] = Faults(latency, jitter, {k: v for k, v in values.items() if v})
        except ValueError as exc:
            raise ValueError(f"faults for {name}: {exc}") from None
    return faults


def _apply(values: dict[str, float], vendor: str, item: str, name: str, value: str, *, explicit: bool) -> None:
    if name in {"latency", "jitter"}:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"fault {item!r}: {name} needs a duration with a unit, e.g. 20ms or 0.5s")
        values[name] = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
        return
    share = _share(item, value)
    if name == "all":
        values.update({kind: share for kind in FAULT_KINDS if applies(kind, vendor)})
    elif name not in FAULT_KINDS:
        raise ValueError(f"fault {item!r}: unknown name {name!r}; known: latency, jitter, all, 5xx, "
                         + ", ".join(FAULT_KINDS))
    elif applies(name, vendor):
        values[name] = share
    elif explicit:
        raise ValueError(f"fault {item!r}: {vendor} cannot show {name}")


def _share(item: str, value: str) -> float:
    try:
        share = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError(f"fault {item!r}: share must be a number like 0.1 or 10%") from None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"fault {item!r}: share must be between 0 and 1 (0% and 100%)")
    return share
