"""Delivery over SMTP, against a real aiosmtpd server on loopback, then reading what arrived."""

from __future__ import annotations

import re
from functools import cache

import pytest
from pydantic import SecretStr

from aggregator.errors import DeliveryError
from reports.email import build_email
from reports.mail import SmtpSettings, compose, message_id, parse_address, send
from reports.message import EmailParts
from reports.model import build_view

from .conftest import SMTP_PASSWORD, SMTP_USER, make_outcome

SENDER = "Influence reports <reports@example.org>"
TO = ["ann@example.org", "Bob Stone <bob@example.org>"]


@cache
def _parts() -> EmailParts:
    return build_email(build_view(make_outcome()))


def settings(server, **overrides) -> SmtpSettings:
    base = {"host": server.host, "port": server.port, "security": "tls", "ca_file": server.ca_file,
            "timeout": 5.0, "deadline": 10.0}
    return SmtpSettings(**{**base, **overrides})


def message(recipients=TO):
    return compose(_parts(), sender=SENDER, recipients=recipients, msgid=message_id("weekly", "2024-05-06T02:30"))


async def test_implicit_tls_delivers_the_whole_message(tls_server):
    result = await send(message(), settings(tls_server))
    assert result.accepted == ("ann@example.org", "bob@example.org")
    assert result.refused == {}
    assert "queued" in result.reply
    [(envelope, got)] = tls_server.inbox.received
    assert envelope == ["ann@example.org", "bob@example.org"]
    assert got["Subject"] == "Weekly influence report"
    assert [a.addr_spec for a in got["To"].addresses] == ["ann@example.org", "bob@example.org"]
    assert got["Message-ID"] == message_id("weekly", "2024-05-06T02:30")

    # multipart/mixed -> alternative [text/plain first, related [html, png]] + the web report attached
    assert got.get_content_type() == "multipart/mixed"
    alternative, attachment = got.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.get_payload()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    body = html.get_content()
    assert "Dee Falcon" in body and "Dee Falcon" in text.get_content()
    # every cid: in the HTML resolves to an image part, and every image is used
    cids = set(re.findall(r'src="cid:([^"]+)"', body))
    assert cids and cids == {image["Content-ID"].strip("<>") for image in images}
    assert all(image.get_content_type() == "image/png" for image in images)
    assert images[0].get_content().startswith(b"\x89PNG")
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "report-run-2024-05-01.html"
    assert attachment.get_content().startswith("<!doctype html>")
    assert len(body.encode()) <= 90_000


async def test_required_starttls_with_login(starttls_server):
    s = settings(starttls_server, security="starttls", username=SMTP_USER, password=SecretStr(SMTP_PASSWORD))
    result = await send(message(), s)
    assert result.accepted == ("ann@example.org", "bob@example.org")
    assert len(starttls_server.inbox.received) == 1


async def test_a_wrong_password_is_refused_without_repeating_it(starttls_server):
    s = settings(starttls_server, security="starttls", username=SMTP_USER, password=SecretStr("wrong-sentinel-pw"))
    with pytest.raises(DeliveryError) as info:
        await send(message(), s)
    assert "login refused" in str(info.value)
    assert "wrong-sentinel-pw" not in str(info.value) and "wrong-sentinel-pw" not in repr(s)
    assert starttls_server.inbox.received == []


async def test_starttls_is_required_not_opportunistic(plain_server):
    """A server (or an attacker in the middle) that offers no STARTTLS gets nothing."""
    with pytest.raises(DeliveryError) as info:
        await send(message(), settings(plain_server, security="starttls"))
    assert "STARTTLS" in str(info.value) or "starttls" in str(info.value).lower()
    assert plain_server.inbox.received == []


async def test_a_certificate_from_an_unknown_ca_is_refused(tls_server):
    with pytest.raises(DeliveryError) as info:
        await send(message(), settings(tls_server, ca_file=None))
    assert "certificate" in str(info.value).lower()
    assert tls_server.inbox.received == []


async def test_plaintext_is_refused_unless_allowed_for_loopback(plain_server):
    with pytest.raises(DeliveryError, match="refusing to send in plaintext"):
        await send(message(), settings(plain_server, security="none"))
    with pytest.raises(DeliveryError, match="refusing to send in plaintext"):
        await send(message(), settings(plain_server, security="none", allow_plaintext=True, host="smtp.example.org"))
    assert plain_server.inbox.received == []
    result = await send(message(), settings(plain_server, security="none", allow_plaintext=True))
    assert result.accepted == ("ann@example.org", "bob@example.org")
    assert len(plain_server.inbox.received) == 1


async def test_a_partial_refusal_is_reported_and_the_rest_delivered(tls_server):
    tls_server.inbox.refuse = {"bob@example.org"}
    result = await send(message(), settings(tls_server))
    assert result.accepted == ("ann@example.org",)
    assert list(result.refused) == ["bob@example.org"]
    assert result.refused["bob@example.org"].startswith("550")
    [(envelope, _)] = tls_server.inbox.received
    assert envelope == ["ann@example.org"]


async def test_every_recipient_refused_is_an_error(tls_server):
    tls_server.inbox.refuse = {"ann@example.org", "bob@example.org"}
    with pytest.raises(DeliveryError, match="every recipient was refused"):
        await send(message(), settings(tls_server))
    assert tls_server.inbox.received == []


async def test_a_total_deadline_bounds_a_slow_server(tls_server):
    tls_server.inbox.data_delay = 3.0
    with pytest.raises(DeliveryError, match=r"0.5 s after the message was sent; the server may or may not"):
        await send(message(), settings(tls_server, deadline=0.5))


async def test_nothing_listening_is_a_clear_error():
    from loopback import free_port

    s = SmtpSettings(host="127.0.0.1", port=free_port(), security="tls", timeout=1, deadline=10, connect_attempts=2)
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1:\d+ \(tls\)"):
        await send(message(), s)


def test_parse_address_accepts_one_address_and_nothing_else():
    assert parse_address("Ann Lee <ann@example.org>").addr_spec == "ann@example.org"
    for bad in ("", "ann", "a@b.org, c@d.org", "ann@example.org\r\nBcc: eve@evil.example", "ann@exämple.org",
                "<@x>", "a@@b.org", "ann@example.org>", "ann@.org"):
        with pytest.raises(DeliveryError):
            parse_address(bad)
