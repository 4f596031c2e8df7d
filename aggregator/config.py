"""The TOML config: indices, roster, opt-outs, store and report, validated into models.

Precedence, lowest first: the defaults here < the TOML file < ``${ENV_VAR}`` references inside
it (secrets live in the environment, never in the file) < command-line flags.

::

    [store]
    path = "history.sqlite"            # default: aggregator.sqlite beside the config

    [roster]
    path = "roster.csv"                # columns: id, name, then one column per network handle
    opt_out = "opt-out.txt"            # optional: one id or handle per line, '#' comments

    [indices.klout]
    adapter = "files"                  # any installed adapter (aggregator.adapters entry points)
    rate_limit = "10/s"                # optional: COUNT/UNIT, e.g. 150/hour
    concurrency = 4                    # optional: requests in flight
    [indices.klout.options]            # checked against the adapter's own Config model
    path = "exports/klout.csv"
    api_key = "${KLOUT_KEY}"           # resolved from the environment

    [report]
    out = "report.html"
    title = "Weekly influence report"
    normalizer = "percentile"          # or range
    disagreement_threshold = 25        # percentile points of spread that flag a subject

Relative paths are read relative to the config file's folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from aggregator.compare import DEFAULT_DISAGREEMENT_THRESHOLD
from aggregator.errors import ConfigError, Problem
from aggregator.models import IndexName
from aggregator.plugins import DEFAULT_CONCURRENCY, Limits, adapters, resolve_path
from aggregator.ratelimit import RateLimit

DEFAULT_STORE = "aggregator.sqlite"
DEFAULT_REPORT = "report.html"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _parse_rate(value: Any) -> Any:
    return RateLimit.parse(value) if isinstance(value, str) else value


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndexConfig(_Section):
    adapter: str
    options: dict[str, Any] = Field(default_factory=dict)
    rate_limit: Annotated[RateLimit | None, BeforeValidator(_parse_rate)] = None
    concurrency: Annotated[int, Field(ge=1, le=256)] = DEFAULT_CONCURRENCY
    enabled: bool = True

    @property
    def limits(self) -> Limits:
        return Limits(rate=self.rate_limit, concurrency=self.concurrency)


class RosterConfig(_Section):
    path: Path
    opt_out: Path | None = None

    _resolve = field_validator("path", "opt_out")(resolve_path)


class StoreConfig(_Section):
    path: Path = Path(DEFAULT_STORE)

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path | None:
        return value if str(value) == ":memory:" else resolve_path(value, info)


class ReportConfig(_Section):
    out: Path = Path(DEFAULT_REPORT)
    title: Annotated[str, Field(min_length=1, max_length=200)] = "Influence report"
    normalizer: str = "percentile"
    disagreement_threshold: Annotated[float, Field(gt=0, le=100)] = DEFAULT_DISAGREEMENT_THRESHOLD

    _resolve = field_validator("out")(resolve_path)

    @field_validator("normalizer")
    @classmethod
    def _known_normalizer(cls, value: str) -> str:
        from aggregator.normalize import NORMALIZERS

        if value not in NORMALIZERS:
            raise ValueError(f"unknown normalizer {value!r}; known: {', '.join(sorted(NORMALIZERS))}")
        return value


class Config(_Section):
    indices: Annotated[dict[IndexName, IndexConfig], Field(min_length=1)]
    roster: RosterConfig
    store: StoreConfig = Field(default_factory=StoreConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    #: sha256 of the file as written (before ${ENV} substitution, so it never hashes a secret)
    digest: str = ""
    #: each enabled index's options, validated by its adapter's own Config model
    adapter_configs: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @property
    def enabled_indices(self) -> dict[str, IndexConfig]:
        return {name: index for name, index in self.indices.items() if index.enabled}


def load_config(path: str | Path) -> Config:
    """Read, substitute and validate a config file; every problem is reported at once.

    Raises :class:`ConfigError` whose ``problems`` each carry a TOML key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", source=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    return config_from_dict(
        data, base_dir=path.resolve().parent, source=str(path),
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )


def config_from_dict(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    source: str | None = None,
    digest: str = "",
    environ: Mapping[str, str] | None = None,
) -> Config:
    problems: list[Problem] = []
    resolved = _substitute(data, environ if environ is not None else os.environ, (), problems)
    context = {"base_dir": base_dir}
    adapter_configs = _adapter_configs(resolved.get("indices"), context, problems)
    config: Config | None = None
    try:
        config = Config.model_validate(
            {**resolved, "digest": digest, "adapter_configs": adapter_configs}, context=context
        )
    except ValidationError as exc:
        problems.extend(validation_problems(exc))
    if problems or config is None:
        raise ConfigError(problems, source=source)
    return config


def _adapter_configs(indices: Any, context: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """Validate each enabled index's options with its adapter's own Config model."""
    configs: dict[str, Any] = {}
    if not isinstance(indices, dict):
        return configs  # the main validation reports the shape problem
    for name, index in indices.items():
        if not isinstance(index, dict) or not isinstance(index.get("adapter"), str):
            continue
        if index.get("enabled", True) is False:
            continue
        where = f"indices.{name}"
        try:
            factory = adapters.load(index["adapter"], where=f"{where}.adapter")
            configs[name] = factory.Config.model_validate(index.get("options", {}), context=context)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, prefix=f"{where}.options"))
    return configs


def validation_problems(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """One Problem per pydantic error, located by dotted key path; never echoes secrets."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join([*([prefix] if prefix else []), *(str(part) for part in error["loc"])])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        elif _may_echo(where, error["input"]):
            message = f"{message} (got {error['input']!r})"
        problems.append(Problem(where, message))
    return problems


def _may_echo(where: str, value: Any) -> bool:
    """Show the offending value only if it is a scalar that cannot be a secret."""
    secretish = any(word in where.lower() for word in ("key", "secret", "password", "token"))
    return not secretish and isinstance(value, str | int | float | bool)


def _substitute(value: Any, environ: Mapping[str, str], where: tuple[str, ...], problems: list[Problem]) -> Any:
    """Replace ``${VAR}`` with the environment's value; a missing variable is a problem, not ''."""
    if isinstance(value, dict):
        return {k: _substitute(v, environ, (*where, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, (*where, str(i)), problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ or environ[name] == "":
            problems.append(Problem(".".join(where), f"environment variable {name} is not set"))
            return ""
        return environ[name]

    return _ENV_REF.sub(lookup, value)
