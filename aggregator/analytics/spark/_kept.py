"""Frames persisted for one comparison, and their release when it is done.

Spark keeps a persisted frame for as long as the session lives, until someone unpersists it: a
notebook or a service that compares run after run in one session would gather every comparison's
cached rows (three frames a comparison, in memory and then on disk). :func:`kept` persists a frame
and notes it; :func:`released` unpersists, on leaving, every frame kept inside it. A frame the
caller had already persisted is not noted: it stays theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pyspark.sql import DataFrame

_frames: ContextVar[list[DataFrame] | None] = ContextVar("kept_frames", default=None)


def kept(frame: DataFrame) -> DataFrame:
    """``frame.persist()``, released by the enclosing :func:`released` (if any) unless it was persisted already."""
    noted = _frames.get()
    if noted is not None and not frame.is_cached:
        noted.append(frame)
    return frame.persist()


@contextmanager
def released() -> Iterator[None]:
    """Unpersist, on leaving (also on an error), every frame :func:`kept` persisted inside."""
    noted: list[DataFrame] = []
    token = _frames.set(noted)
    try:
        yield
    finally:
        _frames.reset(token)
        for frame in noted:
            frame.unpersist()
