"""The event loop runs of the ``aggregator`` command and of ``run_report`` go on: uvloop's, where
it is installed, else asyncio's own.

Collecting costs the client CPU for every request: sending it, waking up for the reply, reading
it. asyncio's own loop does each of those steps in Python; uvloop (libuv, compiled) does them in
C, which is most of what separates a client's CPU per request from the work of its own code
(``bench/collect.py`` measures both loops). Everything else is the same on either loop, and the
tests run collections on both.

``AGGREGATOR_EVENT_LOOP=asyncio`` chooses asyncio's own loop (to compare, or to rule uvloop out
when something misbehaves); ``uvloop`` insists on uvloop (an error if it is not installed); unset
or ``auto`` takes uvloop when it can be imported (it is a dependency except on Windows, where it
does not run).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aggregator.errors import ConfigError, Problem

#: the environment variable that chooses the loop: ``auto`` (the default), ``uvloop`` or ``asyncio``
ENV = "AGGREGATOR_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")

log = logging.getLogger(__name__)
T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the loop the environment asks for: uvloop's ``new_event_loop``, or None for
    asyncio's own."""
    choice = os.environ.get(ENV, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError([Problem(ENV, f"expected one of {', '.join(CHOICES)}, got {choice[:40]!r}")])
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError([Problem(ENV, "uvloop is not installed: pip install uvloop, or unset it")]) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the loop :func:`loop_factory` chooses."""
    try:
        factory = loop_factory()
    except ConfigError:
        main.close()  # never awaited: no "coroutine was never awaited" warning on top of the error
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        log.debug("event loop: %s", type(runner.get_loop()).__module__.split(".")[0])
        return runner.run(main)
