"""Start vendor servers in-process on loopback, for tests, benchmarks, the demo and the CLI.

::

    async with launch(["klout", "kred"], version=1, faults="5xx=0.1", seed=3) as sandbox:
        sandbox["klout"].base_url    # http://127.0.0.1:PORT (the server root)
        sandbox["klout"].options()   # {"base_url": ..., "api_key": ...} for [indices.klout.options]
        sandbox.handles              # the Twitter screen names the vendors know (for a roster)
        sandbox.set_version(2)       # Klout's 2011 recalibration, without restarting
        sandbox.config()             # a whole config (dict); config_toml() as text

Each vendor gets its own server (port 0 = any free port; with ``port=P`` the vendors take
P, P+1, ... in the order asked). Credentials are derived from the seed, so they are the same
every time for a seed; they are sandbox keys, not secrets. Servers stop, and hanging "timeout"
replies are dropped, when the context exits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.sandbox.population import Population
from adapters.sandbox.servers import SERVERS, Credentials, Faults, People, VendorServer, parse_faults
from adapters.sandbox.servers._faults import applies
from adapters.sandbox.servers._limits import DEFAULT_SLACK
from aggregator.ratelimit import RateLimit

HOST = "127.0.0.1"
#: Adapter options the sandbox needs beyond base_url and keys: its EA tickers are the Twitter
#: screen names (upper-cased), so the empireavenue adapter reads the roster's twitter column.
ADAPTER_OPTIONS: dict[str, dict[str, str]] = {"empireavenue": {"network": "twitter"}}

FaultsOption = Faults | Mapping[str, Faults] | str | None
LimitsOption = Mapping[str, str | Sequence[str]] | None


def limit_text(limit: RateLimit) -> str:
    """``RateLimit`` as config text: ``10/s``, ``150/hour``, ``5/0.5s``."""
    return limit.text


@dataclass
class RunningVendor:
    name: str
    base_url: str
    server: VendorServer

    @property
    def credentials(self) -> Credentials:
        return self.server.credentials[0]

    @property
    def api_key(self) -> str:
        return self.credentials.api_key

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return self.server.limiter.limits

    def options(self) -> dict[str, str]:
        """What the vendor's adapter needs in ``[indices.NAME.options]``."""
        options = {"base_url": self.base_url, "api_key": self.api_key}
        if self.credentials.app_id is not None:
            options["app_id"] = self.credentials.app_id
        return options | ADAPTER_OPTIONS.get(self.name, {})

    def index(self) -> dict[str, Any]:
        """The whole ``[indices.NAME]`` table: adapter, the vendor's per-second limit, options."""
        table: dict[str, Any] = {"adapter": self.name}
        if self.rate_limits:
            table["rate_limit"] = limit_text(min(self.rate_limits, key=lambda limit: limit.period))
        table["options"] = self.options()
        return table


@dataclass
class Sandbox:
    vendors: dict[str, RunningVendor]
    people: People
    _runners: list[web.AppRunner] = field(default_factory=list, repr=False)

    def __getitem__(self, name: str) -> RunningVendor:
        return self.vendors[name]

    @property
    def population(self) -> Population:
        return self.people.population

    @property
    def handles(self) -> tuple[str, ...]:
        return self.people.handles

    def set_version(self, version: int) -> None:
        """Every vendor to algorithm era ``version`` (vendors without it keep their newest older one)."""
        for vendor in self.vendors.values():
            vendor.server.set_version(version)

    def set_faults(self, faults: FaultsOption) -> None:
        for name, chosen in _faults(faults, list(self.vendors)).items():
            self.vendors[name].server.set_faults(chosen)

    def write_roster(self, path: Path) -> Path:
        """A roster CSV (``id,name,twitter``) of everyone the sandbox knows."""
        from adapters.sandbox.population import write_roster

        write_roster(self.population, path)
        return path

    def config(self, *, roster: str | Path = "roster.csv", store: str | Path = "history.sqlite",
               report: str | Path = "report.html") -> dict[str, Any]:
        return {
            "store": {"path": str(store)},
            "roster": {"path": str(roster)},
            "report": {"out": str(report), "title": "Influence report (sandbox vendors)"},
            "indices": {name: vendor.index() for name, vendor in self.vendors.items()},
        }

    def config_toml(self, **paths: str | Path) -> str:
        import tomli_w

        return ("# influence-aggregator config for the local sandbox vendors (sandbox keys, not secrets)\n"
                + tomli_w.dumps(self.config(**paths)))


@asynccontextmanager
async def launch(
    vendors: Iterable[str] | None = None,
    *,
    version: int = 1,
    faults: FaultsOption = None,
    limits: LimitsOption = None,
    seed: int = 0,
    population: Population | None = None,
    host: str = HOST,
    port: int = 0,
    slack: float = DEFAULT_SLACK,
) -> AsyncIterator[Sandbox]:
    """Run the named vendors' servers (default: all) until the block ends.

    ``faults``: one :class:`Faults` for every vendor (kinds a vendor cannot show are left out),
    a mapping vendor -> Faults, or ``--faults`` text (see ``parse_faults``). ``limits``: vendor
    -> limit text or texts (``"200/s"``; ``()`` for none), replacing the vendor's own.
    ``population``: who the vendors know (default: the packaged real accounts).
    """
    names = list(SERVERS) if vendors is None else list(dict.fromkeys(vendors))
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise ValueError(f"unknown sandbox vendor(s) {unknown}; known: {', '.join(SERVERS)}")
    unknown = sorted(set(limits or {}) - set(names))
    if unknown:
        raise ValueError(f"limits given for vendor(s) not started: {unknown}")
    people = People(population)
    chosen_faults = _faults(faults, names)
    sandbox = Sandbox(vendors={}, people=people)
    try:
        for offset, name in enumerate(names):
            override = (limits or {}).get(name)
            server = SERVERS[name](
                people, version=version, faults=chosen_faults.get(name), seed=seed, slack=slack,
                limits=[override] if isinstance(override, str) else override,
            )
            runner = web.AppRunner(server.application(), access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            sandbox._runners.append(runner)
            site = web.TCPSite(runner, host, port + offset if port else 0)
            await site.start()
            bound = runner.addresses[0][1]
            sandbox.vendors[name] = RunningVendor(name, f"http://{host}:{bound}", server)
        yield sandbox
    finally:
        for runner in reversed(sandbox._runners):
            await runner.cleanup()


def _faults(faults: FaultsOption, names: list[str]) -> dict[str, Faults]:
    if faults is None:
        return {}
    if isinstance(faults, str):
        return parse_faults(faults, names)
    if isinstance(faults, Faults):
        return {
            name: Faults(faults.latency, faults.jitter,
                         {kind: share for kind, share in faults.shares.items() if applies(kind, name)})
            for name in names
        }
    unknown = sorted(set(faults) - set(names))
    if unknown:
        raise ValueError(f"faults given for vendor(s) not started: {unknown}")
    return dict(faults)
