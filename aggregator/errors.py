"""One error tree, classified by what the caller does about it.

::

    AggregatorError                 anything this package raises on purpose
    ├── ConfigError                 bad config, roster or input file: fix it and rerun (exit 2)
    │   └── PluginNotFoundError     an adapter or renderer name nobody installed
    ├── StoreError                  the history database cannot be used as asked
    │   └── StoreUnusableError      ... at all: damaged, full, read-only, locked (exit 3)
    ├── DeliveryError               a report could not be written or sent (exit 4)
    │   └── RetriableDeliveryError  nothing was sent and trying later may work (refused
    │                               connection, TLS failure, an SMTP 4xx)
    └── AdapterError                raised inside adapters only, never past their edge
        ├── RetriableAdapterError   timeouts, 408/429, 5xx, resets: worth another attempt
        └── FatalAdapterError       auth, other 4xx, bad payloads: another attempt won't help

Adapters turn ``AdapterError`` into a :class:`~aggregator.models.Failure` value at their edge,
so a caller of :func:`aggregator.collect` only ever sees failures as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.models import FailureKind


class AggregatorError(Exception):
    """Root of every error this package raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(AggregatorError):
    """A config, roster or input file is wrong; carries every problem found, each located.

    ``where`` is a TOML key path (``indices.klout.rate_limit``) or ``file:line:column``.
    """

    def __init__(self, problems: list[Problem] | str, *, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        if len(problems) == 1:
            text = f"{head}{problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            text = f"{head}{len(problems)} problems:\n{lines}"
        super().__init__(text)


class PluginNotFoundError(ConfigError):
    """No adapter or renderer of that name is installed; the message lists those that are."""


class StoreError(AggregatorError):
    """The history database cannot be used as asked: a run or subject it lacks (exit 2)."""


class StoreUnusableError(StoreError):
    """The history database itself cannot be used: damaged, disk full, read-only, locked, not
    openable, or newer than this version (exit 3). The message says what to do.

    ``resumable``: what was stored is intact, and the run can be continued once the cause is
    gone (a full disk).
    """

    def __init__(self, message: str, *, resumable: bool = False) -> None:
        super().__init__(message)
        self.resumable = resumable


class DeliveryError(AggregatorError):
    """A report could not be written or sent."""


class RetriableDeliveryError(DeliveryError):
    """Nothing was sent, and the same message may get through later: the server refused the
    connection, TLS failed, or it answered with a temporary (4xx) reply."""


class AdapterError(AggregatorError):
    """Raised inside adapters; mapped to a ``Failure`` of ``kind`` before it leaves them."""

    kind: FailureKind = FailureKind.SERVER_ERROR

    def __init__(self, message: str, *, kind: FailureKind | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        #: seconds the vendor asked us to wait (``Retry-After``), if it said.
        self.retry_after = retry_after


class RetriableAdapterError(AdapterError):
    """Worth another attempt after a wait: timeouts, 408, 429, 5xx, connection resets."""


class FatalAdapterError(AdapterError):
    """Another attempt would get the same answer: auth, other 4xx, bad payloads."""

    kind = FailureKind.BAD_PAYLOAD
