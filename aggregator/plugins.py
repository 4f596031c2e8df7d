"""Plugin contracts (Adapter, Renderer) and the registries that find plugins by name.

Plugins are found through the entry-point groups ``aggregator.adapters`` and
``aggregator.renderers``. Our own built-ins are registered there too (see ``pyproject.toml``),
so a third-party plugin is exactly as first-class as ours::

    [project.entry-points."aggregator.adapters"]
    myvendor = "my_package.myvendor:MyVendorAdapter"

The core never imports ``adapters`` or ``reports``; it asks a registry for a name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationInfo

from aggregator.errors import PluginNotFoundError, Problem
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject, handle_maps, reading, utc_now
from aggregator.ratelimit import RateLimit

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

DEFAULT_CONCURRENCY = 4
DEFAULT_BREAKER_AFTER = 10


@dataclass(frozen=True)
class Limits:
    """How hard an adapter may press its vendor: requests per window and requests in flight.

    The collector also holds each index to ``breaker_after`` (that many failures in a row —
    auth, rate limit, timeout, server error — mark the index down for the run; None: never)
    and ``deadline_seconds`` (what is not fetched by then fails as a timeout; None: no limit).
    """

    rate: RateLimit | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    breaker_after: int | None = DEFAULT_BREAKER_AFTER
    deadline_seconds: float | None = None
    #: further limits held at the same time as ``rate`` (a daily quota beside a rate per second)
    more_rates: tuple[RateLimit, ...] = ()

    @property
    def rates(self) -> tuple[RateLimit, ...]:
        """Every limit to honour, ``rate`` first."""
        return (*((self.rate,) if self.rate is not None else ()), *self.more_rates)


@runtime_checkable
class Adapter(Protocol):
    """Fetches one index's scores.

    ``fetch`` yields exactly one :class:`Reading` or :class:`Failure` per subject it is given
    (in any order). It never raises for one subject's trouble, and a whole-index problem
    (bad key, vendor down) becomes one Failure per subject, so the run goes on.
    """

    name: str
    spec: IndexSpec

    def fetch(self, subjects: Sequence[Subject]) -> AsyncIterator[Reading | Failure]: ...


@runtime_checkable
class CheckedAdapter(Protocol):
    """An adapter that can check its inputs before any request (optional): the export file and
    its columns, the roster network it reads. The app calls it before a run and in
    ``validate-config``; each problem's ``where`` is a key path (``indices.NAME.options.path``)."""

    def check_inputs(self, subjects: Sequence[Subject]) -> list[Problem]: ...


def roster_network_problem(where: str, network: str, subjects: Sequence[Subject]) -> Problem | None:
    """A problem if no subject of the roster has a handle on ``network`` (a missing roster
    column would otherwise run with 0 % coverage)."""
    if any(network in handles for handles in handle_maps(subjects)):
        return None
    known = sorted({n for handles in handle_maps(subjects) for n in handles})
    return Problem(where, f"the roster has no {network!r} column, or no one has a handle there "
                          f"(its networks: {', '.join(known) or 'none'})")


class AdapterFactory(Protocol):
    """What the ``aggregator.adapters`` entry point names: usually the adapter class itself.

    ``Config`` is the pydantic model of the adapter's options (``[indices.NAME.options]``);
    the app validates the options against it and passes the result in.
    """

    Config: type[BaseModel]

    def __call__(self, name: str, config: Any, limits: Limits) -> Adapter: ...


@runtime_checkable
class Renderer(Protocol):
    """Turns a report view-model (``reports.model.ReportView``) into a document."""

    name: str
    media_type: str

    def render(self, view: Any) -> bytes | str: ...


def reading_or_failure(
    spec: IndexSpec,
    subject_id: str,
    value: float,
    *,
    raw: str | None = None,
    components: Mapping[str, float] | None = None,
    topics: Sequence[str] = (),
    attempts: int = 1,
) -> Reading | Failure:
    """Build a Reading, or an ``out_of_range`` Failure if ``value`` breaks the index's scale.

    Values outside the declared scale are never clipped: the vendor said something we do not
    understand, and the report should say so.
    """
    if not spec.scale.contains(value):
        return Failure(
            index=spec.name, subject_id=subject_id, kind=FailureKind.OUT_OF_RANGE, attempts=attempts,
            message=f"value {value!r} is outside the declared scale {spec.scale.describe()}",
        )
    return reading({
        "index": spec.name, "subject_id": subject_id, "value": value, "raw": raw, "scale": spec.scale,
        "algorithm_version": spec.algorithm_version, "components": dict(components or {}),
        "topics": tuple(topics), "fetched_at": utc_now(),
    })


def resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """Pydantic field validator: read a relative path relative to the config file's folder.

    Use it in an adapter's Config: ``_resolve = field_validator("path")(resolve_path)``.
    """
    if value is None:
        return None
    base = (info.context or {}).get("base_dir")
    value = value.expanduser()
    return value if value.is_absolute() or base is None else Path(base) / value


def scale_pair(value: Any) -> Any:
    """Pydantic field validator (``mode="before"``): a ``scale = [lo, hi]`` option, lo below hi.

    Use it in an adapter's Config: ``_scale = field_validator("scale", mode="before")(scale_pair)``.
    """
    if value is None:
        return None
    scale = Scale.of(value)
    return (scale.lo, scale.hi)


def restated_components(restates: Sequence[str], components: Mapping[str, str]) -> None:
    """Check a ``restates_score`` option against the same adapter's ``components`` option.

    Call it from the Config's ``model_validator(mode="after")``: every name must be a declared
    component, once; the error names what is wrong and what was expected.
    """
    unknown = [name for name in restates if name not in components]
    if unknown:
        declared = ", ".join(sorted(components)) or "none are declared"
        raise ValueError(f"restates_score names {', '.join(map(repr, unknown))}, which "
                         f"{'is' if len(unknown) == 1 else 'are'} not among this index's components ({declared})")
    twice = sorted({name for name in restates if list(restates).count(name) > 1})
    if twice:
        raise ValueError(f"restates_score names {', '.join(map(repr, twice))} more than once")


T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Plugins of one kind, by name, read from an entry-point group on first use.

    ``register`` adds one in code (tests, notebooks); it is refused if the name is taken.
    """

    group: str
    kind: str
    _extra: dict[str, T] = field(default_factory=dict)

    def _entry_points(self) -> dict[str, list[EntryPoint]]:
        from importlib.metadata import entry_points  # ~40 ms: only when a plugin is looked up

        found: dict[str, list[EntryPoint]] = {}
        for ep in entry_points(group=self.group):
            found.setdefault(ep.name, []).append(ep)
        return found

    def names(self) -> list[str]:
        return sorted(set(self._entry_points()) | set(self._extra))

    def register(self, name: str, plugin: T) -> None:
        if name in self._extra or name in self._entry_points():
            raise PluginNotFoundError(f"{self.kind} {name!r} is already registered")
        self._extra[name] = plugin

    def unregister(self, name: str) -> None:
        self._extra.pop(name, None)

    def load(self, name: str, *, where: str = "") -> T:
        if name in self._extra:
            return self._extra[name]
        eps = self._entry_points().get(name, [])
        if not eps:
            installed = ", ".join(self.names()) or "none"
            raise PluginNotFoundError(
                [Problem(where, f"unknown {self.kind} {name!r}; installed: {installed}")]
            )
        distinct = {ep.value for ep in eps}
        if len(distinct) > 1:
            raise PluginNotFoundError(
                [Problem(where, f"{self.kind} {name!r} is registered twice: {sorted(distinct)}")]
            )
        loaded: T = eps[0].load()
        return loaded


adapters: Registry[AdapterFactory] = Registry("aggregator.adapters", "adapter")
renderers: Registry[Callable[[], Renderer]] = Registry("aggregator.renderers", "renderer")
