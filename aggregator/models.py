"""Domain models: the plain data that flows between the stages.

All models are immutable pydantic v2 models that refuse unknown fields, so a typo in a
plugin or a config is an error, not a silently ignored value. Pydantic's validation errors
already name the field (``loc``) and the offending value (``input_value``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: A subject id is what ties one person or brand together across indices and runs: no space at
#: either end, no line break inside
_SUBJECT_ID_FORM = r"\S(.*\S)?"
SubjectId = Annotated[str, Field(min_length=1, max_length=200, pattern=f"^{_SUBJECT_ID_FORM}$")]
_SUBJECT_ID = re.compile(_SUBJECT_ID_FORM)
#: Index names are config keys and appear in reports: short, lowercase, no spaces.
_INDEX_NAME_FORM = r"[a-z][a-z0-9_\-]{0,63}"
IndexName = Annotated[str, Field(pattern=f"^{_INDEX_NAME_FORM}$")]
_INDEX_NAME = re.compile(_INDEX_NAME_FORM)


def utc_now() -> datetime:
    return datetime.now(UTC)


#: C0 controls (NUL, CR, LF, ESC ...), DEL, C1, the line separators and the bidirectional marks,
#: overrides and isolates: in outside text they could rewrite a terminal, a page or a mail header
UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f]")

class _Frozen(BaseModel):
    # defer_build: each model's validator is built on first use, not at import (~60 ms saved)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Subject(_Frozen):
    """A person or brand on the roster.

    >>> Subject(id="ada", name="Ada Lovelace", handles={"twitter": "ada"}).handles["twitter"]
    'ada'
    """

    id: SubjectId
    name: Annotated[str, Field(min_length=1, max_length=500)]
    handles: dict[str, str] = Field(default_factory=dict)
    #: True for demo subjects resampled from the real population, never real people.
    synthetic: bool = False

    def handle(self, network: str) -> str | None:
        return self.handles.get(network) or None


class Subjects(Sequence[Subject]):
    """A roster held as columns (ids, names, handles as JSON text, synthetic flags).

    Each :class:`Subject` is built when it is asked for: a run read back from the store holds a
    million subjects as four lists instead of a million validated models, and a report builds
    only those it shows. Iterating builds them all.
    """

    __slots__ = ("_handles", "_names", "_synthetic", "ids")

    def __init__(self, ids: Sequence[str], names: Sequence[str], handles: Sequence[str],
                 synthetic: Sequence[bool]) -> None:
        if not len(ids) == len(names) == len(handles) == len(synthetic):
            raise ValueError("Subjects: ids, names, handles and synthetic must have one entry per subject")
        self.ids = tuple(ids)
        self._names, self._handles, self._synthetic = names, handles, synthetic

    @classmethod
    def of(cls, subjects: Iterable[Subject]) -> Subjects:
        """The columns of ``subjects`` (themselves if they already are columns)."""
        if isinstance(subjects, Subjects):
            return subjects
        ids: list[str] = []
        names: list[str] = []
        handles: list[str] = []
        synthetic: list[bool] = []
        for subject in subjects:
            ids.append(subject.id)
            names.append(subject.name)
            handles.append(handles_text(subject.handles))
            synthetic.append(subject.synthetic)
        return cls(ids, names, handles, synthetic)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def names(self) -> Sequence[str]:
        """The names, in roster order, without building a Subject each."""
        return self._names

    @property
    def handles_texts(self) -> Sequence[str]:
        """Each subject's handles as the JSON text of its mapping (keys sorted), in roster order."""
        return self._handles

    @property
    def synthetic(self) -> Sequence[bool]:
        """Each subject's ``synthetic`` flag, in roster order."""
        return self._synthetic

    def take(self, positions: Iterable[int]) -> Subjects:
        """The subjects at ``positions``, in that order, still as columns."""
        at = list(positions)
        return Subjects([self.ids[i] for i in at], [self._names[i] for i in at],
                        [self._handles[i] for i in at], [self._synthetic[i] for i in at])

    @overload
    def __getitem__(self, i: int) -> Subject: ...
    @overload
    def __getitem__(self, i: slice) -> Subjects: ...
    def __getitem__(self, i: int | slice) -> Subject | Subjects:
        if isinstance(i, slice):
            return Subjects(self.ids[i], self._names[i], self._handles[i], self._synthetic[i])
        return Subject(id=self.ids[i], name=self._names[i], handles=json.loads(self._handles[i]),
                       synthetic=bool(self._synthetic[i]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # a roster is compared by content, like a list

    def __repr__(self) -> str:
        return f"Subjects({len(self)} subjects)"


#: the handles of a subject who has none, as :class:`Subjects` holds them (one shared text)
NO_HANDLES = "{}"


def handles_text(handles: dict[str, str]) -> str:
    """A subject's handles as :class:`Subjects` and the store hold them: JSON, keys sorted."""
    return json.dumps(handles, sort_keys=True) if handles else NO_HANDLES


def subject_ids(subjects: Sequence[Subject]) -> Sequence[str]:
    """The subjects' ids in order; from a columnar roster without building a Subject each."""
    return subjects.ids if isinstance(subjects, Subjects) else [s.id for s in subjects]


def handle_maps(subjects: Sequence[Subject]) -> Iterator[dict[str, str]]:
    """Each subject's handles (network -> handle) in order; from a columnar roster without
    building a Subject each (a subject without handles costs no parsing)."""
    if not isinstance(subjects, Subjects):
        return (s.handles for s in subjects)
    return ({} if text == NO_HANDLES else json.loads(text) for text in subjects.handles_texts)


def handles_on(subjects: Sequence[Subject], network: str) -> list[str | None]:
    """Each subject's handle on ``network`` (None where it has none), as :meth:`Subject.handle` gives it."""
    return [handles.get(network) or None for handles in handle_maps(subjects)]


def subset(subjects: Sequence[Subject], positions: Iterable[int]) -> Sequence[Subject]:
    """The subjects at ``positions``, in that order: columns stay columns, a list gives a list."""
    if isinstance(subjects, Subjects):
        return subjects.take(positions)
    return [subjects[i] for i in positions]


class Scale(_Frozen):
    """The documented range of an index; both bounds ``None`` means unbounded.

    >>> Scale(lo=1, hi=100).bounded
    True
    >>> Scale().bounded
    False
    """

    lo: float | None = None
    hi: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        if (self.lo is None) != (self.hi is None):
            raise ValueError(f"give both lo and hi, or neither for an unbounded scale (got lo={self.lo}, hi={self.hi})")
        for bound in (self.lo, self.hi):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"scale bounds must be finite numbers, got {bound}")
        if self.lo is not None and self.hi is not None and not self.lo < self.hi:
            raise ValueError(f"scale lo must be below hi, got lo={self.lo}, hi={self.hi}")
        return self

    @classmethod
    def of(cls, pair: Any) -> Scale:
        """A scale from a ``[lo, hi]`` pair as a user writes it; ValueError says what was wrong.

        >>> Scale.of([100, 1])
        Traceback (most recent call last):
        ...
        ValueError: a scale is [lo, hi] with lo below hi, got [100, 1]
        """
        if isinstance(pair, str) or not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"a scale is two numbers [lo, hi], got {pair!r}")
        try:
            return cls(lo=pair[0], hi=pair[1])
        except ValidationError:
            raise ValueError(f"a scale is [lo, hi] with lo below hi, got {list(pair)!r}") from None

    @property
    def bounded(self) -> bool:
        return self.lo is not None

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.lo is None or self.hi is None:
            return True
        return self.lo <= value <= self.hi

    def describe(self) -> str:
        return f"{self.lo:g}-{self.hi:g}" if self.lo is not None and self.hi is not None else "unbounded"


class IndexSpec(_Frozen):
    """What an index is: its scale, direction, algorithm version and what it claims to measure."""

    name: IndexName
    #: how the index reads in a report ("Empire Avenue"); the name when empty
    label: Annotated[str, Field(max_length=100)] = ""
    scale: Scale = Field(default_factory=Scale)
    higher_is_better: bool = True
    algorithm_version: str = "1"
    measures: str = ""
    #: components that restate the score (the score itself, its bounds or its changes): they
    #: explain nothing about it, so the report never names them as a reason for a disagreement
    restates_score: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        return self.label or self.name


class FailureKind(StrEnum):
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    BAD_PAYLOAD = "bad_payload"
    OUT_OF_RANGE = "out_of_range"
    NOT_FOUND = "not_found"
    #: the adapter itself broke its contract (raised, or skipped a subject): a plugin bug.
    ADAPTER_ERROR = "adapter_error"

    @property
    def is_coverage_gap(self) -> bool:
        """An index simply not scoring a subject is coverage, not a fault of the run."""
        return self is FailureKind.NOT_FOUND

    @property
    def is_final(self) -> bool:
        """A healthy vendor would answer the same again, so a resumed run does not ask again.

        Only a well-formed reply can say that: "no such user" (not_found) or a value outside
        the documented scale (out_of_range). A bad payload is how a flaky vendor fails for a
        few seconds (a maintenance page, a body cut short), so a resumed run asks again.
        """
        return self in {FailureKind.NOT_FOUND, FailureKind.OUT_OF_RANGE}

    @property
    def is_vendor_trouble(self) -> bool:
        """The vendor itself is unwell (these count towards the circuit breaker); the other
        kinds are about one subject."""
        return self in {FailureKind.AUTH, FailureKind.RATE_LIMITED, FailureKind.TIMEOUT,
                        FailureKind.SERVER_ERROR, FailureKind.ADAPTER_ERROR}


class Reading(_Frozen):
    """One index's score for one subject, exactly as the index gave it."""

    index: IndexName
    subject_id: SubjectId
    value: float
    #: the value as the vendor wrote it (e.g. ``"61.5"``), kept for the report.
    raw: str | None = None
    scale: Scale = Field(default_factory=Scale)
    algorithm_version: str = "1"
    components: dict[str, float] = Field(default_factory=dict)
    topics: tuple[str, ...] = ()
    fetched_at: datetime = Field(default_factory=utc_now)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"a reading's value must be a finite number, got {value}")
        return value

    @model_validator(mode="after")
    def _within_scale(self) -> Self:
        if not self.scale.contains(self.value):
            raise ValueError(
                f"value {self.value:g} is outside the declared scale {self.scale.describe()}"
            )
        return self

    @classmethod
    def checked(cls, fields: dict[str, Any]) -> Reading:
        """A Reading of values already checked, built without validating each one again.

        For an adapter that checks a million rows a column at a time (the files adapter: finite,
        within the scale, ids from the validated roster): pydantic's validation of each would
        cost several times the rest of its work, and ``model_construct`` nearly as much, since
        it looks every field up. ``fields`` must name every field, and is kept as it is.
        """
        if fields.keys() != _READING_FIELDS:
            raise ValueError(f"Reading.checked needs exactly the fields {sorted(_READING_FIELDS)}, "
                             f"got {sorted(fields)}")
        reading = cls.__new__(cls)
        # what pydantic's model_construct sets on an instance, through the slots' own setters
        _set_dict(reading, "__dict__", fields)
        _set_fields_set(reading, set(_READING_FIELDS))
        _set_extra(reading, None)
        _set_private(reading, None)
        return reading


_READING_FIELDS = frozenset(Reading.model_fields)


def reading(fields: dict[str, Any]) -> Reading:
    """A Reading of ``fields`` (every field named), validated: values of exactly the types the
    fields hold (a finite float within the scale, strings of the right form, a tuple of strings,
    a dict of floats, a datetime) are checked here as pydantic would, in a few comparisons; anything else
    (an int for a float, a list for the topics, a bad id) goes through pydantic, which converts
    what it can and names what it cannot. The HTTP adapters build one for every pair they fetch."""
    value, subject_id, raw, scale = fields["value"], fields["subject_id"], fields["raw"], fields["scale"]
    components, topics, at = fields["components"], fields["topics"], fields["fetched_at"]
    if (type(value) is float and type(scale) is Scale and scale.contains(value)
            and type(subject_id) is str and len(subject_id) <= 200 and _SUBJECT_ID.fullmatch(subject_id)
            and (raw is None or type(raw) is str) and type(fields["algorithm_version"]) is str
            and type(components) is dict and all(type(k) is str and type(v) is float for k, v in components.items())
            and type(topics) is tuple and all(type(topic) is str for topic in topics)
            and type(at) is datetime and type(fields["index"]) is str and _INDEX_NAME.fullmatch(fields["index"])
            and fields.keys() == _READING_FIELDS):
        return Reading.checked(fields)
    return Reading(**fields)
_set_dict = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class Failure(_Frozen):
    """Why an index has no reading for a subject (or, with ``subject_id=None``, for anyone)."""

    index: IndexName
    subject_id: SubjectId | None
    kind: FailureKind
    attempts: Annotated[int, Field(ge=0)] = 1
    #: fit for a report: no URL query, no headers, no secrets, no raw body.
    message: Annotated[str, Field(max_length=2000)]
    at: datetime = Field(default_factory=utc_now)


class Failures(Sequence[Failure]):
    """Failures held as columns (index, subject id, kind, attempts, message, ISO time), in order.

    A run read back from the store can hold hundreds of thousands of failures (every subject an
    index does not know); each :class:`Failure` is built when it is asked for, and the counts a
    comparison needs are taken from the columns. Iterating builds them all.
    """

    __slots__ = ("attempts", "indices", "kinds", "messages", "subject_ids", "times")

    def __init__(self, indices: Sequence[str], subject_ids: Sequence[str | None], kinds: Sequence[str],
                 attempts: Sequence[int], messages: Sequence[str], times: Sequence[str]) -> None:
        if not len(indices) == len(subject_ids) == len(kinds) == len(attempts) == len(messages) == len(times):
            raise ValueError("Failures: every column must have one entry per failure")
        self.indices, self.subject_ids, self.kinds = indices, subject_ids, kinds
        self.attempts, self.messages, self.times = attempts, messages, times

    @classmethod
    def of(cls, failures: Iterable[Failure]) -> Failures:
        """The same failures as columns (as they are, if they already are)."""
        if isinstance(failures, Failures):
            return failures
        given = list(failures)
        return cls([f.index for f in given], [f.subject_id for f in given], [f.kind.value for f in given],
                   [f.attempts for f in given], [f.message for f in given], [f.at.isoformat() for f in given])

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, i: int) -> Failure: ...
    @overload
    def __getitem__(self, i: slice) -> Failures: ...
    def __getitem__(self, i: int | slice) -> Failure | Failures:
        if isinstance(i, slice):
            return Failures(self.indices[i], self.subject_ids[i], self.kinds[i], self.attempts[i], self.messages[i],
                            self.times[i])
        return Failure(index=self.indices[i], subject_id=self.subject_ids[i], kind=FailureKind(self.kinds[i]),
                       attempts=self.attempts[i], message=self.messages[i], at=datetime.fromisoformat(self.times[i]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list

    def __repr__(self) -> str:
        return f"Failures({len(self)} failures)"


class RunCounts(_Frozen):
    subjects: int = 0
    indices: int = 0
    readings: int = 0
    failures: int = 0


class Shard(_Frozen):
    """The ``index``-th (1-based) of ``count`` disjoint parts of a roster (``aggregator run --shard K/N``).

    A subject's part comes from a stable hash of its id (:func:`aggregator.collection.roster.shard_of`).
    ``roster`` is a digest of the whole roster's ids in order and ``size`` its length: ``export``
    joins only shards of one roster, and puts each subject back at its place in it.
    """

    index: Annotated[int, Field(ge=1)]
    count: Annotated[int, Field(ge=1)]
    roster: str = ""
    size: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _index_within_count(self) -> Self:
        if self.index > self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K must be at most N")
        return self

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class Run(_Frozen):
    """One collection of the roster from the configured indices."""

    id: Annotated[str, Field(min_length=1)]
    started_at: datetime
    finished_at: datetime | None = None
    config_digest: str
    counts: RunCounts = Field(default_factory=RunCounts)
    #: set when the run collected one shard of the roster, not all of it
    shard: Shard | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None
