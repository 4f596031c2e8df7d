"""Any JSON API, declared in config only: a URL template, auth, JSON pointers, a scale.

Vendor: any (``docs/http_json.md`` has two worked examples). Scale: declared (``scale``,
omitted = unbounded). Docs: RFC 6901 for the pointers. Limits: none of its own; set the
index's ``rate_limit`` and ``concurrency`` to the vendor's.

Config keys (``[indices.NAME.options]``)::

    url = "https://api.example.com/v1/people/{handle}/score"   # {handle} only in the path
    params = { fields = "score", user = "{handle}" }   # optional query parameters
    network = "twitter"           # which roster handle fills {handle}
    api_key = "${EXAMPLE_KEY}"    # optional, sent as a header or as a query parameter:
    key_header = "Authorization"  #   the header's name, with
    key_prefix = "Bearer "        #   this before the key, or
    key_param = "api_key"         #   the query parameter's name
    value = "/data/score"         # JSON pointer to the score (number or decimal string)
    components = { reach = "/data/reach" }   # optional: name -> JSON pointer
    restates_score = ["score_change"]        # optional: components that are the score itself, its
                                             #   bounds or its changes: never named to explain it
    topics = "/data/topics"       # optional: an array of strings, or of objects with a "name"
    missing = "bad_payload"       # or "not_found": what a reply without the value means
    scale = [0, 100]              # optional; outside it a value is out_of_range, never clipped
    higher_is_better = true
    measures = "what the vendor says it measures"
    timeout_seconds, connect_timeout_seconds, label, algorithm_version

The handle is percent-encoded as one path segment, so no handle can change the path, the
query or the host (``.`` and ``..`` are refused). A 404 is not_found; other statuses map as in
``adapters._http``. Components that are missing or not numbers are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator
from typing_extensions import override
from yarl import URL

from adapters._http import HttpAdapter, HttpConfig, HttpRequest, handle, number, numbers, quote_segment, texts
from aggregator.errors import FatalAdapterError, Problem
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import Limits, reading_or_failure, restated_components, roster_network_problem, scale_pair

_POINTER = re.compile(r"^(/([^~]|~[01])*)*$")


class HttpJsonConfig(HttpConfig):
    base_url: str = ""
    url: str
    params: dict[str, str] = Field(default_factory=dict)
    network: str = "twitter"
    key_header: str | None = None
    key_prefix: str = ""
    key_param: str | None = None
    value: str
    components: dict[str, str] = Field(default_factory=dict)
    restates_score: tuple[str, ...] = ()
    topics: str | None = None
    missing: Literal["bad_payload", "not_found"] = "bad_payload"
    scale: tuple[float, float] | None = None
    higher_is_better: bool = True
    measures: str = ""

    _scale = field_validator("scale", mode="before")(scale_pair)

    @field_validator("base_url")
    @classmethod
    def _no_base(cls, value: str) -> str:
        if value:
            raise ValueError("http_json takes `url`, a template with {handle}, not base_url")
        return value

    @field_validator("url")
    @classmethod
    def _template(cls, url: str) -> str:
        parsed = URL(url.replace("{handle}", "HANDLE"))
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")
        if re.search(r"\{(?!handle\})", url) or "{handle}" in url.partition("?")[2] or "{handle}" in (
                url.partition("://")[2].partition("/")[0]):
            raise ValueError("url may hold {handle} in its path only (put query parameters in `params`)")
        return url

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for where, pointer in {"value": self.value, "topics": self.topics or "", **self.components}.items():
            if not _POINTER.match(pointer):
                raise ValueError(f"{where}: {pointer!r} is not a JSON pointer (like /data/score)")
        if (self.key_header is None) == (self.key_param is None) and self.api_key is not None:
            raise ValueError("with api_key, give exactly one of key_header or key_param")
        if (self.key_header or self.key_param) and self.api_key is None:
            raise ValueError("key_header or key_param needs api_key")
        restated_components(self.restates_score, self.components)
        return self


class HttpJsonAdapter(HttpAdapter[HttpJsonConfig]):
    spec = IndexSpec(name="http_json")
    Config = HttpJsonConfig

    def __init__(self, name: str, config: HttpJsonConfig, limits: Limits) -> None:
        super().__init__(name, config, limits)
        scale = Scale(lo=config.scale[0], hi=config.scale[1]) if config.scale else Scale()
        self.spec = IndexSpec.model_validate({**self.spec.model_dump(), "scale": scale, "measures": config.measures,
                                              "higher_is_better": config.higher_is_better,
                                              "restates_score": config.restates_score})

    @override
    def request_for(self, subject: Subject) -> HttpRequest:
        name = handle(subject, self.config.network)
        params = {key: value.replace("{handle}", name) for key, value in self.config.params.items()}
        headers = {}
        key = self.config.api_key.get_secret_value() if self.config.api_key else ""
        if self.config.key_param:
            params[self.config.key_param] = key
        elif self.config.key_header:
            headers[self.config.key_header] = self.config.key_prefix + key
        return HttpRequest("GET", self.config.url.replace("{handle}", quote_segment(name)), params, headers)

    def check_inputs(self, subjects: Sequence[Subject]) -> list[Problem]:
        """The roster has the network whose handles fill ``{handle}``."""
        missing = roster_network_problem(f"indices.{self.name}.options.network", self.config.network, subjects)
        return [missing] if missing else []

    @override
    def parse(self, payload: Any, subject: Subject) -> Reading | Failure:
        raw = pointer(payload, self.config.value)
        if raw is None:
            kind = FailureKind(self.config.missing)
            raise FatalAdapterError(f"reply has no value at {self.config.value!r}", kind=kind)
        parts = {name: pointer(payload, where) for name, where in self.config.components.items()}
        listed = pointer(payload, self.config.topics) if self.config.topics else None
        topics = [t.get("name") if isinstance(t, dict) else t for t in listed] if isinstance(listed, list) else []
        return reading_or_failure(self.spec, subject.id, number(raw, self.config.value), raw=str(raw),
                                  components=numbers(parts, {name: name for name in parts}), topics=texts(topics))


def pointer(document: Any, path: str) -> Any:
    """RFC 6901: the value at ``path`` in ``document``, or None where there is none.

    >>> pointer({"data": [{"a/b": 7}]}, "/data/0/a~1b")
    7
    """
    for token in path.split("/")[1:] if path else ():
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict):
            document = document.get(token)
        elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        else:
            return None
    return document
