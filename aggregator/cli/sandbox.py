"""``aggregator sandbox``: run the loopback vendor servers until Ctrl-C (or SIGTERM), print a config.

The app layer: the sandbox (``adapters.sandbox``, aiohttp, numpy) is imported only when the
command runs. Standard output gets the config (TOML, ready for ``aggregator run -c``), ending
with a ``# Ctrl-C`` comment line; standard error gets what is running where.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aggregator.errors import ConfigError

ALL_VENDORS = "klout,peerindex,kred,empireavenue"
READY_LINE = "# sandbox running: Ctrl-C stops it"


def register(commands: Any) -> None:
    """Register ``sandbox`` on the ``aggregator`` command's subparsers."""
    sandbox: argparse.ArgumentParser = commands.add_parser(
        "sandbox", help="run local emulations of the vendor APIs and print a config that uses them",
        description="Serve Klout, PeerIndex, Kred and Empire Avenue look-alike APIs on 127.0.0.1, scored from "
                    "real (anonymized) activity, until Ctrl-C; print a ready-to-use config for them.",
    )
    sandbox.add_argument("--vendors", default=ALL_VENDORS, metavar="LIST",
                         help=f"comma-separated vendors to run (default: {ALL_VENDORS})")
    sandbox.add_argument("--faults", default="", metavar="SPEC",
                         help="faults as [VENDOR.]NAME=VALUE items, comma-separated: latency=20ms, jitter=5ms, "
                              "5xx, timeout, reset, malformed, truncated, html, out_of_range, not_complete (kred), "
                              "all — each a share like 0.1 or 10%% (e.g. 'all=5%%,kred.not_complete=0.3')")
    sandbox.add_argument("--version", dest="vendor_version", type=int, choices=(1, 2), default=1,
                         help="vendors' algorithm version: 2 is Klout's 2011 recalibration (default 1)")
    sandbox.add_argument("--port", type=int, default=0,
                         help="first port; the vendors take PORT, PORT+1, ... (default: any free ports)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed for the keys and the faults (default 0)")
    sandbox.add_argument("--roster", type=Path, metavar="FILE",
                         help="also write the roster of everyone the vendors know here (default: a temporary "
                              "file, removed when the sandbox stops)")
    sandbox.set_defaults(handler=run_sandbox)


def run_sandbox(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import tempfile

    from adapters.sandbox.population import load_population, write_roster
    from adapters.sandbox.servers import SERVERS, parse_faults

    vendors = [name.strip() for name in args.vendors.split(",") if name.strip()]
    unknown = [name for name in vendors if name not in SERVERS]
    if not vendors or unknown:
        raise ConfigError(f"--vendors: unknown vendor(s) {unknown}; choose from {', '.join(SERVERS)}")
    if not 0 <= args.port <= 65535 - len(vendors):
        raise ConfigError(f"--port must be between 0 and {65535 - len(vendors)}, got {args.port}")
    try:
        faults = parse_faults(args.faults, vendors)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="aggregator-sandbox-") as scratch:
        roster = (args.roster or Path(scratch) / "roster.csv").resolve()
        try:
            write_roster(load_population(), roster)
        except OSError as exc:
            raise ConfigError(f"--roster: cannot write {roster}: {exc.strerror}") from None
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the sandbox is meant to stop
            asyncio.run(_serve(vendors, faults, args, roster))
    print("sandbox stopped", file=sys.stderr)
    return 0


async def _serve(vendors: list[str], faults: Any, args: argparse.Namespace, roster: Path) -> None:
    from contextlib import AsyncExitStack

    from adapters.sandbox.launch import launch

    async with AsyncExitStack() as stack:
        try:
            sandbox = await stack.enter_async_context(
                launch(vendors, version=args.vendor_version, faults=faults, seed=args.seed, port=args.port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1 port {args.port or 'any'}: {exc.strerror}") from None
        await _announce_and_wait(sandbox, args, roster)


async def _announce_and_wait(sandbox: Any, args: argparse.Namespace, roster: Path) -> None:
    import asyncio
    import contextlib
    import signal

    from adapters.sandbox.launch import limit_text

    print(sandbox.config_toml(roster=roster), flush=True)
    print(READY_LINE, flush=True)
    for name, vendor in sandbox.vendors.items():
        limits = ", ".join(limit_text(limit) for limit in vendor.rate_limits) or "none"
        print(f"{name:>13}: {vendor.base_url}  (limits per key: {limits})", file=sys.stderr)
    print(f"{len(sandbox.handles)} people in {roster}; algorithm version {args.vendor_version}; "
          f"faults: {args.faults or 'none'}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows: Ctrl-C only
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()  # until SIGTERM, or Ctrl-C cancels the run
