"""Empire Avenue: ``profile/info`` for up to 100 tickers, in a ``{meta, data}`` envelope.

GET ``/profile/info?ticker=A,B&apikey=KEY`` (also under ``/v1/``; ``access_token`` is accepted
in place of ``apikey``, as after EA's move to OAuth2). A person's ticker is their Twitter screen
name upper-cased (tickers are matched ignoring case). Default limit per key: 150/hour.

Every reply, errors included, is JSON with ``meta``: ``total_rows``, ``limit`` (a string, as
recorded), ``limit_type`` ("user"), ``requests`` (used in the current window, this one
included), ``reset`` (seconds until the oldest of them leaves the window) and ``recorded``
(UTC ``YYYY-MM-DD hh:mm:ss``); they describe the first configured limit (without limits:
``limit`` "1000000000", ``requests`` 0). ``data`` holds one item per known ticker, in the order asked,
with the recorded fields: prices and scores as decimal strings (``last_trade`` "92.51020",
``eav_score`` "47.310"), counts as strings, ``max_shares``/``held_shares`` as integers.
``last_trade`` is the headline (share price, unbounded); ``eav_score`` its network score.

Only people who joined EA have a profile: unknown tickers are left out of ``data``; if none
is known the reply is 404. Errors carry ``meta.error``: 403 for a bad or missing key, 403
with ``Retry-After`` over the limit (``meta.requests`` = ``meta.limit``), 400 for a bad query,
404, and 5xx for faults. UNCONFIRMED, assumed: the error layout (``meta.error``; the Ruby
client reads a top-level ``error``), the 404 for all-unknown tickers and the 403 for the
limit. Out-of-range fault: a negative ``last_trade`` and ``eav_score`` above 100.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from adapters.sandbox.servers._base import Credentials, VendorServer

MAX_TICKERS = 100
#: ``meta.limit`` when the server runs without limits (a count no client will reach)
_UNLIMITED = 10**9
_OTHER_NETWORKS = ("facebook", "flickr", "foursquare", "gplus", "instagram", "linkedin", "youtube")


class EmpireAvenueServer(VendorServer):
    name = "empireavenue"
    default_limits = ("150/hour",)
    auth_params = frozenset({"apikey", "access_token", "client_id"})

    def routes(self) -> list[web.RouteDef]:
        return [web.get(path, self.profile_info) for path in ("/profile/info", "/v1/profile/info")]

    def presented(self, request: web.Request) -> Credentials | None:
        key = request.query.get("apikey") or request.query.get("access_token")
        return Credentials(key) if key else None

    def _meta(self, request: web.Request, rows: int = 0) -> dict[str, Any]:
        key = self.exchange.key
        now = time.monotonic()
        windows = self.limiter.windows(key) if key else []
        return {"total_rows": rows, "limit": str(self.limiter.limits[0].count if self.limiter.limits else _UNLIMITED),
                "limit_type": "user", "requests": windows[0].used(now) if windows else 0,
                "reset": round(windows[0].reset_in(now)) if windows else 0,
                "recorded": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}

    def auth_error(self, request: web.Request, presented: Credentials | None) -> web.Response:
        return self._error(request, 403, "Invalid or missing apikey")

    def over_limit(self, request: web.Request, key: str, which: int, retry_after: int) -> web.Response:
        self.exchange.key = key
        response = self._error(request, 403, "Rate limit exceeded")
        response.headers["Retry-After"] = str(retry_after)
        return response

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"meta": {"error": message}}, status=status)

    def _error(self, request: web.Request, status: int, message: str) -> web.Response:
        return web.json_response({"meta": {**self._meta(request), "error": message}}, status=status)

    def server_error(self, status: int) -> web.Response:
        return self.error(status, "The service is temporarily unavailable")

    async def profile_info(self, request: web.Request) -> web.Response:
        tickers = [t.strip() for t in request.query.get("ticker", "").split(",") if t.strip()]
        if not tickers:
            return self._error(request, 400, "ticker is required (the sandbox has no signed-in user)")
        if len(tickers) > MAX_TICKERS:
            return self._error(request, 400, f"at most {MAX_TICKERS} tickers per call")
        rows = dict.fromkeys(row for row in map(self.people.by_handle, tickers) if row is not None and self.known(row))
        if not rows:
            return self._error(request, 404, "No such ticker")
        data = [self._item(row) if self.out_of_range() else self._cached_item(row) for row in rows]
        return web.json_response({"meta": self._meta(request, len(data)), "data": data})

    def _cached_item(self, row: int) -> dict[str, Any]:
        """A profile is fixed by the person and the version: built once (half the cost of a reply)."""
        key = ("profile", self.version, row)
        if key not in self.memo:
            self.memo[key] = self._item(row)
        item: dict[str, Any] = self.memo[key]
        return item

    def _item(self, row: int) -> dict[str, Any]:
        people, unit = self.people, self.people.unit
        price = float(self.scores.values[row])
        eav = float(self.scores.components["eav_score"][row])
        if self.out_of_range():
            price, eav = -price, 100.0 + 200.0 * unit(row, "ea/out-of-range")
        change = (unit(row, "ea/change") - 0.5) * 0.08 * price
        close = price - change
        total = 10_000 * (1 + int(unit(row, "ea/shares") * 50))
        outstanding = int(total * (0.5 + 0.5 * unit(row, "ea/outstanding")))
        ticker = people.handles[row].upper()
        first, _, last = people.population.names[row].partition(" ")
        joined = datetime(2010, 3, 1, tzinfo=UTC).timestamp() + unit(row, "ea/joined") * 3 * 365 * 86400
        item: dict[str, Any] = {
            "ticker": ticker, "first_name": first, "last_name": last, "full_name": people.population.names[row],
            "site_name": "", "site_url": "", "country": "World", "location": "", "type": "person",
            "joined": datetime.fromtimestamp(joined, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "max_shares": total // 250, "commission": "5.00", "last_trade": f"{price:.5f}",
            "outstanding_shares": str(outstanding), "total_shares": str(total), "close": f"{close:.5f}",
            "close_money": f"{close * outstanding / 100:.5f}", "open": f"{close * 1.004:.5f}",
            "yesterday_lowest": f"{min(price, close) * 0.97:.5f}", "yesterday_change": f"{change:.5f}",
            "yesterday_highest": f"{max(price, close):.5f}", "volume": str(int(outstanding * 0.05)),
            "market_last_close": "2013-02-16 11:57:42", "market_last_open": "2013-02-16 11:58:06",
            "current_status": "", "current_status_set": "2013-02-11 19:17:33", "trading_status": "enabled",
            "sm_portrait": f"https://example.invalid/portraits/p_sm_{ticker}.jpg",
            "lg_portrait": f"https://example.invalid/portraits/p_lg_{ticker}.jpg",
        }
        counts = ("investments_count", "shareholders_count", "thumbs_up_count", "thumbs_down_count",
                  "shares_owned_count", "listed_count", "recommended_count")
        for position, name in enumerate(counts):
            item[name] = str(int(unit(row, f"ea/{name}") * eav * (40 if position < 2 else 2)))
        item["held_shares"] = int(unit(row, "ea/held") * 400)
        item["avg_div_per_share"] = f"{price / 140:.2f}"
        item["eav_score"] = f"{eav:.3f}"
        for network in _OTHER_NETWORKS:
            item[f"{network}_score"] = f"{1 + unit(row, f'ea/{network}') * 40:.3f}"
        item["twitter_score"] = f"{eav:.3f}"  # the only network the sandbox sees
        return {key: item[key] for key in _FIELD_ORDER}


_FIELD_ORDER = (
    "ticker", "first_name", "last_name", "full_name", "site_name", "site_url", "country", "location", "joined",
    "type", "max_shares", "commission", "last_trade", "outstanding_shares", "total_shares", "close",
    "close_money", "open", "yesterday_lowest", "yesterday_change", "yesterday_highest", "volume",
    "market_last_close", "market_last_open", "current_status", "current_status_set", "trading_status",
    "sm_portrait", "lg_portrait", "investments_count", "shareholders_count", "thumbs_up_count",
    "thumbs_down_count", "shares_owned_count", "listed_count", "recommended_count", "held_shares",
    "avg_div_per_share", "eav_score", "facebook_score", "flickr_score", "foursquare_score", "gplus_score",
    "instagram_score", "linkedin_score", "twitter_score", "youtube_score",
)
