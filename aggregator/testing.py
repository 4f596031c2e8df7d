"""Helpers for testing code that uses influence-aggregator (and for our own tests).

``FakeAdapter`` is a real Adapter that answers from a table you give it, so a pipeline, a
renderer or a notebook can be exercised without any vendor::

    fake = FakeAdapter("klout", {"ann": 71.0, "bob": FailureKind.TIMEOUT}, scale=(1, 100))
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import Limits, reading_or_failure

Answer = float | FailureKind | BaseException


class FakeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scores: dict[str, float] = {}
    scale: tuple[float, float] | None = None


class FakeAdapter:
    """Answers each subject from ``answers``: a value, a Failure kind, or an exception to raise.

    Subjects missing from ``answers`` get no answer at all (an adapter breaking its contract).
    ``delay`` seconds pass before each answer, so concurrency and interruption can be tested.
    """

    Config: ClassVar[type[BaseModel]] = FakeConfig

    def __init__(self, name: str, answers: Mapping[str, Answer] | FakeConfig | None = None,
                 limits: Limits | None = None, *, scale: tuple[float, float] | None = None,
                 delay: float = 0.0) -> None:
        if isinstance(answers, FakeConfig):  # built from a config by the registry
            scale = answers.scale
            answers = dict(answers.scores)
        self.name = name
        self.answers: dict[str, Answer] = dict(answers or {})
        self.spec = IndexSpec(name=name, scale=Scale(lo=scale[0], hi=scale[1]) if scale else Scale())
        self.delay = delay
        self.asked: list[str] = []

    async def fetch(self, subjects: Sequence[Subject]) -> AsyncIterator[Reading | Failure]:
        for subject in subjects:
            self.asked.append(subject.id)
            if self.delay:
                await asyncio.sleep(self.delay)
            answer = self.answers.get(subject.id)
            if answer is None:
                continue
            if isinstance(answer, BaseException):
                raise answer
            if isinstance(answer, FailureKind):
                yield Failure(index=self.name, subject_id=subject.id, kind=answer,
                              message=f"{self.name}: {answer.value} (fake)")
            else:
                yield reading_or_failure(self.spec, subject.id, float(answer))
