"""Loopback aiohttp servers that speak each vanished vendor's API, scored from real activity.

One module per vendor (its docstring lists endpoints, parameters, reply shapes, errors and
what is assumed); ``_base`` holds what they share: credentials, per-key strict sliding-window
limits answered the vendor's way with ``Retry-After``, gzip, and seeded fault injection
(``_faults``). Start them with :func:`adapters.sandbox.launch.launch`.

==============  ===========================================  =========================  ============
vendor          endpoints (GET)                              credentials (query)        limits/key
==============  ===========================================  =========================  ============
klout           /v2/identity.json/twitter?screenName=,       key                        10/s,
                /v2/user.json/{kloutId}[/score|/topics],                                10,000/day
                /1/klout.json?users=a,b (v1, <= 5)
peerindex       /1/actor/{basic,extended,topic}               api_key                    1/s,
                ?twitter_screen_name= | twitter_id= |                                   10,000/day
                peerindex_id=
kred            /kredscore?term=a,b&source=twitter            app_id + app_key           10/s
empireavenue    /profile/info?ticker=A,B (<= 100)             apikey (or access_token)   150/hour
==============  ===========================================  =========================  ============
"""

from __future__ import annotations

from types import MappingProxyType

from adapters.sandbox.servers._base import Credentials, VendorServer
from adapters.sandbox.servers._faults import FAULT_KINDS, Faults, parse_faults
from adapters.sandbox.servers._people import People
from adapters.sandbox.servers.empireavenue import EmpireAvenueServer
from adapters.sandbox.servers.klout import KloutServer
from adapters.sandbox.servers.kred import KredServer
from adapters.sandbox.servers.peerindex import PeerIndexServer

#: vendor name -> server class, in the order the sandbox starts them
SERVERS: MappingProxyType[str, type[VendorServer]] = MappingProxyType({
    server.name: server for server in (KloutServer, PeerIndexServer, KredServer, EmpireAvenueServer)
})

__all__ = ["FAULT_KINDS", "SERVERS", "Credentials", "Faults", "People", "VendorServer", "parse_faults"]
