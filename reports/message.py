"""The parts of one report email, as plain data: :mod:`reports.email` makes them, :mod:`reports.mail`
assembles and sends them. Both import this module and neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InlineImage:
    """A PNG shown in the HTML part through ``cid:``."""

    cid: str
    png: bytes
    width: int
    height: int
    alt: str


@dataclass(frozen=True)
class EmailParts:
    """Everything one report email carries, before it is addressed."""

    subject: str
    html: str
    text: str
    images: tuple[InlineImage, ...]
    attachment_name: str
    attachment: bytes
