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
    rate_limit = "10/s"                # optional: COUNT/UNIT, e.g. 150/hour; several held at once:
                                       # ["10/s", "10000/day"]
    concurrency = 4                    # optional: requests in flight
    breaker_after = 10                 # optional: failures in a row that mark the index down
    deadline_seconds = 600             # optional: the whole index's time budget
    [indices.klout.options]            # checked against the adapter's own Config model
    path = "exports/klout.csv"
    api_key = "${KLOUT_KEY}"           # resolved from the environment

    [report]
    out = "report.html"
    title = "Weekly influence report"
    normalizer = "percentile"          # or range, robust_z, quantile_map (quantile_map:INDEX)
    consensus = "median"               # or trimmed_mean, borda
    disagreement_threshold = 25        # points of spread that flag a subject (default: unusual for the roster)

    [validation]                       # optional: check every index against people's judgments
    judgments = "judgments.csv"        # pairs judged by people: a,b,winner[,judge] (ids or handles)
    in_sample = ["inhouse"]            # indices fitted on these judgments: shown as in-sample

Several reports, each on its own schedule and to its own recipients, are ``[[report]]``
entries instead of the one ``[report]`` table (same keys, plus the delivery ones)::

    [[report]]
    name = "weekly"                    # the schedule's key in the delivery log
    title = "Weekly influence report"  # also the email's subject, unless `subject` is given
    schedule = "30 2 * * 1"            # cron: minute hour day-of-month month day-of-week
    timezone = "Europe/Berlin"         # the schedule's wall clock (default UTC)
    recipients = ["ann@example.org", "Bob Stone <bob@example.org>"]
    grace_seconds = 21600              # retry a refused or 4xx send for up to 6 h after the slot
    lease_seconds = 120                # a claim's lease; a dead holder's slot is taken over after it

    [smtp]                             # how email is sent
    host = "smtp.example.org"
    security = "starttls"              # "tls" (implicit, port 465), "starttls" (required, 587)
    username = "reports@example.org"
    password = "${SMTP_PASSWORD}"
    sender = "Influence reports <reports@example.org>"

Relative paths are read relative to the config file's folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aggregator.errors import ConfigError, Problem
from aggregator.models import IndexName
from aggregator.plugins import DEFAULT_BREAKER_AFTER, DEFAULT_CONCURRENCY, Limits, adapters, resolve_path
from aggregator.ratelimit import RateLimit

DEFAULT_STORE = "aggregator.sqlite"
DEFAULT_REPORT = "report.html"
#: seconds for one SMTP operation (connect, each command), and for a whole send
DEFAULT_SMTP_TIMEOUT = 30.0
DEFAULT_SMTP_DEADLINE = 120.0
_SMTP_PORTS = {"tls": 465, "starttls": 587, "none": 25}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# C0 controls, DEL and the C1 range: never allowed in anything that ends up in a mail header
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _parse_rate(value: Any) -> Any:
    """One limit (``"10/s"``) or several held at once (``["10/s", "10000/day"]``), shortest window first."""
    if isinstance(value, str):
        return RateLimit.parse(value)
    if not isinstance(value, list | tuple):
        return value
    if value and all(isinstance(item, RateLimit) for item in value):
        return tuple(sorted(value, key=lambda limit: limit.period))
    if not value:
        raise ValueError("an empty list: give at least one limit ('10/s'), or leave rate_limit out")
    limits = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise ValueError(f"limit {number} of the list ({str(item)[:40]!r}) is not a text like '10/s'")
        try:
            limits.append(RateLimit.parse(item))
        except ValueError as exc:
            raise ValueError(f"limit {number} of the list: {exc}") from None
    limits.sort(key=lambda limit: limit.period)
    for shorter, longer in pairwise(limits):
        if shorter.period == longer.period:  # one window per period is kept (and shared) for an index
            raise ValueError(f"two limits over the same window of {shorter.period:g}s ({shorter.count} and "
                             f"{longer.count}): keep only the lower")
    return limits[0] if len(limits) == 1 else tuple(limits)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndexConfig(_Section):
    adapter: str
    options: dict[str, Any] = Field(default_factory=dict)
    rate_limit: Annotated[RateLimit | tuple[RateLimit, ...] | None, BeforeValidator(_parse_rate)] = None
    concurrency: Annotated[int, Field(ge=1, le=256)] = DEFAULT_CONCURRENCY
    #: failures in a row (auth, rate limit, timeout, server error) that mark the index down
    breaker_after: Annotated[int, Field(ge=1)] | None = DEFAULT_BREAKER_AFTER
    #: seconds the whole index may take; what is not fetched by then fails as a timeout
    deadline_seconds: Annotated[float, Field(gt=0)] | None = None
    enabled: bool = True

    @property
    def limits(self) -> Limits:
        rates = self.rate_limit if isinstance(self.rate_limit, tuple) else (self.rate_limit,)
        return Limits(rate=rates[0], more_rates=rates[1:], concurrency=self.concurrency,
                      breaker_after=self.breaker_after, deadline_seconds=self.deadline_seconds)


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


def _header_text(value: str) -> str:
    """One line of header text: no control characters, as written or hidden in RFC 2047 encoded
    words (``=?utf-8?q?Hi=0D=0ABcc:...?=`` decodes to a line break)."""
    from email.header import decode_header, make_header

    if _CONTROL.search(value):
        raise ValueError("must be one line of text, without control characters (line breaks, tabs)")
    try:
        decoded = str(make_header(decode_header(value))) if "=?" in value else value
    except (ValueError, LookupError, UnicodeDecodeError):
        raise ValueError("holds an encoded word (=?charset?...?=) that does not decode") from None
    if _CONTROL.search(decoded):
        raise ValueError("holds an encoded word (=?charset?...?=) that decodes to a control character "
                         "(a line break could add a header); write the text plainly")
    return value


def email_address(value: str) -> str:
    """One mail address, ``ann@example.org`` or ``Ann Lee <ann@example.org>``, as given.

    Refused: control characters (so no header can be smuggled in), more than one address,
    anything the stdlib parser finds a defect in, and a non-ASCII address part (write an
    international domain in its ``xn--`` form; names may use any script).
    """
    from email.policy import default

    _header_text(value)
    header = default.header_factory("to", value)
    addresses = header.addresses
    if header.defects or len(addresses) != 1:
        raise ValueError(f"not one valid mail address: {value!r}")
    spec: str = addresses[0].addr_spec
    local, _, domain = spec.rpartition("@")
    if not local or not domain or domain.startswith(".") or domain.endswith(".") or not spec.isascii():
        raise ValueError(f"not one valid mail address: {value!r}")
    return value


Address = Annotated[str, BeforeValidator(lambda v: v if not isinstance(v, str) else email_address(v.strip()))]


class ReportConfig(_Section):
    out: Path = Path(DEFAULT_REPORT)
    title: Annotated[str, Field(min_length=1, max_length=200)] = "Influence report"
    normalizer: str = "percentile"
    #: spread (points) that flags a subject; None: the spread unusual for this roster (analytics.disputes)
    disagreement_threshold: Annotated[float, Field(gt=0, le=100)] | None = None
    consensus: str = "median"
    #: the report's key in the delivery log (``--slot NAME``); unique among ``[[report]]``
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")] = "report"
    #: cron expression (5 fields) on the wall clock of ``timezone``; None: not scheduled
    schedule: str | None = None
    timezone: str = "UTC"
    recipients: tuple[Address, ...] = ()
    #: the email's subject; the title when not given
    subject: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    #: after downtime, send one catch-up report for the latest missed slot (older ones are logged)
    catch_up: bool = True
    #: seconds after a slot's due time (or its first attempt, if later) during which a send that
    #: failed for a reason that may pass (connection refused, TLS, a 4xx) is retried
    grace_seconds: Annotated[float, Field(gt=0, le=7 * 86400)] = 6 * 3600
    #: seconds a process holds a slot without renewing its claim; after that (it died) another
    #: process may take the slot over
    lease_seconds: Annotated[float, Field(ge=1, le=3600)] = 120
    #: the most the email's attached page may weigh (MB); past it the email attaches a shortened
    #: page (top and bottom, disputed, movers) and says where the full report was written
    email_attachment_max_mb: Annotated[float, Field(gt=0, le=1000)] = 10.0

    _resolve = field_validator("out")(resolve_path)
    _one_line = field_validator("title", "subject")(lambda v: v if v is None else _header_text(v))

    @field_validator("normalizer")
    @classmethod
    def _known_normalizer(cls, value: str) -> str:
        from aggregator.analytics.normalize import check_method

        return check_method(value)

    @field_validator("consensus")
    @classmethod
    def _known_consensus(cls, value: str) -> str:
        from aggregator.analytics.compare import CONSENSUS_METHODS

        if value not in CONSENSUS_METHODS:
            raise ValueError(f"unknown consensus method {value!r}; known: {', '.join(sorted(CONSENSUS_METHODS))}")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from croniter import croniter

        value = " ".join(value.split())
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"not a 5-field cron expression (minute hour day-of-month month day-of-week): {value!r}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    @property
    def email_subject(self) -> str:
        return self.subject or self.title


class SmtpConfig(_Section):
    """How reports are mailed. Never in plaintext, unless to a relay on this machine, on purpose."""

    host: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\-\[\]]+$")]
    #: default: 465 for tls, 587 for starttls, 25 for none
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    #: tls: implicit TLS; starttls: STARTTLS required (a server that does not offer it is refused)
    security: Literal["tls", "starttls", "none"] = "starttls"
    #: required for security = "none", and only accepted with a loopback host
    allow_plaintext: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: Address
    #: extra CA certificates (PEM) to trust besides the system's, e.g. a company CA
    ca_file: Path | None = None
    timeout: Annotated[float, Field(gt=0, le=600)] = DEFAULT_SMTP_TIMEOUT
    deadline: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_SMTP_DEADLINE

    _resolve = field_validator("ca_file")(resolve_path)

    @model_validator(mode="after")
    def _never_plaintext_by_accident(self) -> Self:
        if self.security == "none":
            if not self.allow_plaintext:
                raise ValueError(
                    'security = "none" sends mail and passwords in plaintext; use "tls" or "starttls", '
                    "or set allow_plaintext = true for a relay on this machine (localhost only)"
                )
            if self.host.strip("[]").lower() not in _LOOPBACK:
                raise ValueError(
                    f"plaintext SMTP is only allowed to a loopback relay (localhost, 127.0.0.1, ::1), "
                    f"not {self.host!r}; use security = \"tls\" or \"starttls\""
                )
        elif self.allow_plaintext:
            raise ValueError('allow_plaintext only applies to security = "none"')
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or _SMTP_PORTS[self.security]


class ValidationConfig(_Section):
    """People's judgments of who is more influential, to check each index against."""

    #: a CSV of judged pairs (see ``aggregator.collection.judgments``); None: no check
    judgments: Path | None = None
    #: indices that were fitted on these same judgments: their agreement is in-sample, and says so
    in_sample: tuple[IndexName, ...] = ()

    _resolve = field_validator("judgments")(resolve_path)


class Config(_Section):
    indices: Annotated[dict[IndexName, IndexConfig], Field(min_length=1)]
    roster: RosterConfig
    store: StoreConfig = Field(default_factory=StoreConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    smtp: SmtpConfig | None = None
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    #: ``[[report]]`` entries when the file has them (validated one by one in config_from_dict)
    report_entries: tuple[ReportConfig, ...] = Field(default=(), exclude=True)
    #: sha256 of the file as written (before ${ENV} substitution, so it never hashes a secret)
    digest: str = ""
    #: each enabled index's options, validated by its adapter's own Config model
    adapter_configs: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _in_sample_indices_exist(self) -> Self:
        unknown = [name for name in self.validation.in_sample if name not in self.indices]
        if unknown:
            raise ValueError(f"validation.in_sample names {', '.join(map(repr, unknown))}, which is not an index "
                             f"of this config ({', '.join(self.indices)})")
        return self

    @property
    def enabled_indices(self) -> dict[str, IndexConfig]:
        return {name: index for name, index in self.indices.items() if index.enabled}

    @property
    def reports(self) -> tuple[ReportConfig, ...]:
        """Every report: the ``[[report]]`` entries, or the one ``[report]`` table."""
        return self.report_entries or (self.report,)

    def report_named(self, name: str) -> ReportConfig:
        for report in self.reports:
            if report.name == name:
                return report
        known = ", ".join(r.name for r in self.reports)
        raise ConfigError([Problem("report", f"no report named {name!r}; the config has: {known}")])

    def with_judgments(self, path: Path) -> Config:
        """This config checked against the judgments in ``path`` (``aggregator run --judgments``)."""
        return self.model_copy(update={"validation": self.validation.model_copy(update={"judgments": path})})

    def for_report(self, report: ReportConfig) -> Config:
        """This config with ``report`` as the one the pipeline uses (normalizer, threshold, title)."""
        return self.model_copy(update={"report": report})


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
    substituted: dict[str, str] = {}
    from_env: list[tuple[tuple[str, ...], str]] = []
    resolved = _substitute(data, environ if environ is not None else os.environ, (), problems, substituted, from_env)
    context = {"base_dir": base_dir}
    adapter_configs = _adapter_configs(resolved.get("indices"), context, problems, from_env)
    resolved = {**resolved, **_report_entries(resolved.get("report"), context, problems)}
    config: Config | None = None
    try:
        config = Config.model_validate(
            {**resolved, "digest": digest, "adapter_configs": adapter_configs}, context=context
        )
    except ValidationError as exc:
        problems.extend(validation_problems(exc))
    if problems or config is None:
        raise ConfigError([_placeholders(problem, substituted) for problem in problems], source=source)
    return config


def _placeholders(problem: Problem, substituted: Mapping[str, str]) -> Problem:
    """The problem as the file wrote it: each value taken from the environment shown as its
    ``${VAR}`` again (it may be a key inside a URL, or a secret in a field that is not one)."""
    message = problem.message
    for value in sorted(filter(None, substituted), key=len, reverse=True):
        message = message.replace(value, substituted[value])
    return Problem(problem.where, message)


def _report_entries(reports: Any, context: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """``[[report]]`` entries, each validated under its own key path (``report.1.recipients.0``)."""
    if not isinstance(reports, list):
        return {}  # the one [report] table (or nothing): the main validation handles it
    if not reports:
        problems.append(Problem("report", "an empty report list; give at least one [[report]]"))
        return {"report": {}}
    entries: list[ReportConfig] = []
    for n, entry in enumerate(reports):
        try:
            entries.append(ReportConfig.model_validate(entry, context=context))
        except ValidationError as exc:
            problems.extend(validation_problems(exc, prefix=f"report.{n}"))
    names = [entry.name for entry in entries]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(Problem("report", f"two reports are named {name!r}; give each [[report]] its own name"))
    if not entries:
        return {"report": {}}
    return {"report": entries[0], "report_entries": tuple(entries)}


def _adapter_configs(indices: Any, context: dict[str, Any], problems: list[Problem],
                     from_env: Sequence[tuple[tuple[str, ...], str]] = ()) -> dict[str, Any]:
    """Validate each enabled index's options with its adapter's own Config model.

    The validation context's ``from_env`` holds, by option name, the values ``${VAR}`` put into
    that index's options: an adapter may treat them as secrets (the HTTP helper scrubs them
    from every message, as it does its ``api_key``: a key may sit inside a ``url``)."""
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
            found: dict[str, list[str]] = {}
            for at, value in from_env:
                if at[:3] == ("indices", name, "options") and len(at) > 3:
                    found.setdefault(at[3], []).append(value)
            configs[name] = factory.Config.model_validate(index.get("options", {}),
                                                          context={**context, "from_env": found})
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
        elif _may_echo(where, error["input"]) and repr(error["input"]) not in message:
            message = f"{message} (got {error['input']!r})"
        problems.append(Problem(where, message))
    return problems


def _may_echo(where: str, value: Any) -> bool:
    """Show the offending value only if it is a scalar that cannot be a secret."""
    secretish = any(word in where.lower() for word in ("key", "secret", "password", "token"))
    return not secretish and isinstance(value, str | int | float | bool)


def _substitute(value: Any, environ: Mapping[str, str], where: tuple[str, ...], problems: list[Problem],
                substituted: dict[str, str], from_env: list[tuple[tuple[str, ...], str]]) -> Any:
    """Replace ``${VAR}`` with the environment's value; a missing variable is a problem, not ''.

    ``substituted`` collects what replaced what (the whole string as substituted -> as written,
    and each variable's value -> ``${VAR}``), so errors can show the file's text instead;
    ``from_env`` each variable's value with the key path it was put at.
    """
    if isinstance(value, dict):
        return {k: _substitute(v, environ, (*where, str(k)), problems, substituted, from_env)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, (*where, str(i)), problems, substituted, from_env)
                for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ or environ[name] == "":
            problems.append(Problem(".".join(where), f"environment variable {name} is not set"))
            return ""
        substituted[environ[name]] = match.group(0)
        from_env.append((where, environ[name]))
        return environ[name]

    resolved = _ENV_REF.sub(lookup, value)
    if resolved and resolved != value:
        substituted[resolved] = value
    return resolved
