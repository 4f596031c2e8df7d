"""What each emulated vendor is: its scale, what it claims to measure, its algorithm versions.

``VENDORS[name].spec(version)`` gives the :class:`~aggregator.models.IndexSpec` that the
sandbox servers and the demo's adapters report; ``score(name, population)`` runs the formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from adapters.sandbox.formulas import (
    EMPIREAVENUE_VERSIONS,
    KLOUT_VERSIONS,
    KRED_VERSIONS,
    PEERINDEX_VERSIONS,
    Formula,
    VendorScores,
    empireavenue,
    klout,
    kred,
    peerindex,
)
from adapters.sandbox.population import Population
from aggregator.models import IndexSpec, Scale


@dataclass(frozen=True)
class Vendor:
    name: str
    label: str
    formula: Formula
    scale: Scale
    measures: str
    versions: tuple[int, ...]
    #: True when the vendor gives whole numbers (PeerIndex, Kred).
    integer: bool = False

    @property
    def latest_version(self) -> int:
        return self.versions[-1]

    def resolve(self, version: int) -> int:
        """The newest of this vendor's versions at or below ``version`` (an algorithm era)."""
        eligible = [known for known in self.versions if known <= version]
        if not eligible:
            raise ValueError(
                f"{self.name} has no algorithm version at or below {version}; "
                f"known: {list(self.versions)}"
            )
        return eligible[-1]

    def spec(self, version: int | None = None) -> IndexSpec:
        chosen = self.latest_version if version is None else self.resolve(version)
        return IndexSpec(
            name=self.name,
            label=self.label,
            scale=self.scale,
            higher_is_better=True,
            algorithm_version=str(chosen),
            measures=self.measures,
        )


VENDORS: MappingProxyType[str, Vendor] = MappingProxyType({
    "klout": Vendor(
        name="klout",
        label="Klout",
        formula=klout,
        scale=Scale(lo=1, hi=100),
        measures="Your ability to drive action: how much people react to what you share.",
        versions=KLOUT_VERSIONS,
    ),
    "peerindex": Vendor(
        name="peerindex",
        label="PeerIndex",
        formula=peerindex,
        scale=Scale(lo=0, hi=100),
        measures="Your authority, the receptive audience you reach and your activity, "
        "relative to everyone else.",
        versions=PEERINDEX_VERSIONS,
        integer=True,
    ),
    "kred": Vendor(
        name="kred",
        label="Kred",
        formula=kred,
        scale=Scale(lo=1, hi=1000),
        measures="How often others act on what you post (Influence), beside how generously "
        "you engage others (Outreach).",
        versions=KRED_VERSIONS,
        integer=True,
    ),
    "empireavenue": Vendor(
        name="empireavenue",
        label="Empire Avenue",
        formula=empireavenue,
        scale=Scale(),
        measures="Your social activity, audience and interaction, priced as a share on a "
        "virtual stock market.",
        versions=EMPIREAVENUE_VERSIONS,
    ),
})


def score(vendor: str, population: Population, *, version: int = 1) -> VendorScores:
    """Run one vendor's formula on a population (``version`` is an era, see ``Vendor.resolve``)."""
    try:
        chosen = VENDORS[vendor]
    except KeyError:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)}") from None
    return chosen.formula(
        population.features, population.feature_names, population.ids,
        version=chosen.resolve(version),
    )
