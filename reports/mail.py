"""MIME assembly and SMTP delivery of the report email.

:func:`compose` builds the message with the stdlib's :class:`~email.message.EmailMessage`::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                 (first: the least preferred part comes first)
    │   └── multipart/related
    │       ├── text/html
    │       └── image/png              (Content-ID, shown through cid:)
    └── text/html; attachment          (the full web report)

Headers are built from validated pieces only: every address is parsed and must be exactly one
address with no defect and no control character, and subjects must be one line. After
building, the message is parsed back and must have exactly the headers and recipients it was
given, so no CR/LF trick (raw or encoded) can add a header or a recipient.

:func:`send` delivers through aiosmtplib with implicit TLS or *required* STARTTLS and
certificate checks, never in plaintext unless the settings say so for a loopback relay;
optional login; a timeout per SMTP operation and a total deadline per send; and it reports
the recipients the server refused (aiosmtplib returns a partial refusal instead of raising).
It never retries once the message data may have reached the server, so a report is sent at
most once per call; only connecting is retried. Nothing here logs or repeats a password.

Its errors say what a caller may do next: :class:`RetriableDeliveryError` when nothing was
sent and a later attempt may work (the connection refused or timed out, TLS failed, the
server answered 4xx), :class:`DeliveryError` when trying again will not help (a 5xx, with the
server's words) or when the server may already have the message (it stopped answering after
the data went out: sending again could deliver it twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from aggregator.errors import DeliveryError, RetriableDeliveryError
from reports.message import EmailParts

if TYPE_CHECKING:
    import aiosmtplib

# C0, DEL, C1 and the Unicode line and paragraph separators: none belongs in a header
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
#: connection attempts (nothing has been sent while connecting, so retrying is safe)
CONNECT_ATTEMPTS = 3
#: seconds to wait before the second attempt to connect (then twice that, ...)
CONNECT_BACKOFF = 0.5


def one_line(text: str, what: str) -> str:
    """Header text: one line, no control characters, not empty."""
    if not text.strip() or _CONTROL.search(text):
        raise DeliveryError(f"{what} must be one non-empty line without control characters, got {text!r}")
    return text


def parse_address(text: str, what: str = "address") -> Address:
    """Exactly one mail address (``ann@example.org`` or ``Ann <ann@example.org>``), or an error."""
    one_line(text, what)
    try:
        header = default.header_factory("to", text)
        addresses = header.addresses
    except (IndexError, ValueError, TypeError):  # the stdlib parser crashes on some odd display names
        raise DeliveryError(f"{what} is not one valid mail address: {text!r}") from None
    if header.defects or len(addresses) != 1:
        raise DeliveryError(f"{what} is not one valid mail address: {text!r}")
    address: Address = addresses[0]
    local, _, domain = address.addr_spec.rpartition("@")
    if not local or not domain or domain.strip(".") != domain or not address.addr_spec.isascii():
        raise DeliveryError(f"{what} is not one valid mail address: {text!r}")
    return Address(display_name=address.display_name, addr_spec=address.addr_spec)


def message_id(report: str, slot: str, sender: Address | None = None) -> str:
    """A Message-ID fixed by report and slot, so a duplicate (if ever) is recognisable."""
    digest = hashlib.sha256(f"{report}\n{slot}".encode()).hexdigest()[:32]
    domain = sender.domain if sender is not None and sender.domain else "influence-aggregator.invalid"
    return f"<{digest}@{domain}>"


def compose(
    parts: EmailParts,
    *,
    sender: str | None = None,
    recipients: Sequence[str] = (),
    subject: str | None = None,
    msgid: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The report as one MIME message, addressed if ``sender``/``recipients`` are given."""
    from_ = parse_address(sender, "sender") if sender is not None else None
    to = [parse_address(r, f"recipient {n + 1}") for n, r in enumerate(recipients)]
    title = one_line(subject or parts.subject, "subject")
    message = EmailMessage(policy=default)
    try:
        message["Subject"] = title
        if from_ is not None:
            message["From"] = from_
        if to:
            message["To"] = to
        message["Date"] = format_datetime(date or datetime.now(UTC))
        if msgid is not None:
            message["Message-ID"] = one_line(msgid, "Message-ID")
        message["MIME-Version"] = "1.0"
    except ValueError as exc:  # the stdlib's own refusal of a line break in a header
        raise DeliveryError(f"refusing a header: {exc}") from None
    message.set_content(parts.text)
    message.add_alternative(parts.html, subtype="html", cte="quoted-printable")
    payload = message.get_payload()
    html_part = payload[1] if isinstance(payload, list) else None
    if not isinstance(html_part, EmailMessage):  # pragma: no cover - the stdlib builds it so
        raise DeliveryError("could not build the HTML part of the message")
    for image in parts.images:
        html_part.add_related(image.png, "image", "png", cid=f"<{image.cid}>", disposition="inline",
                              filename=image.cid.split("@")[0] + ".png")
    # the page is UTF-8: say so, or mail readers show every accented name as "?"
    message.add_attachment(parts.attachment, maintype="text", subtype="html", filename=parts.attachment_name,
                           params={"charset": "utf-8"})
    _check_headers(message, title, from_, to)
    return message


def _check_headers(message: EmailMessage, subject: str, sender: Address | None, to: Sequence[Address]) -> None:
    """Parse the message back: exactly the headers and recipients we set, nothing smuggled in."""
    parsed = message_from_bytes(message.as_bytes(policy=SMTP), policy=default)
    expected = {"subject", "date", "mime-version", "content-type"}
    expected |= {"from"} if sender is not None else set()
    expected |= {"to"} if to else set()
    expected |= {"message-id"} if message["Message-ID"] else set()
    found = [key.lower() for key in parsed]
    if sorted(found) != sorted(expected) or str(parsed["Subject"]) != subject:
        raise DeliveryError("the message's headers did not come out as built; refusing to send it")
    got = [a.addr_spec for a in parsed["To"].addresses] if to else []
    if got != [a.addr_spec for a in to]:
        raise DeliveryError("the message's recipients did not come out as built; refusing to send it")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; see ``[smtp]`` in the config."""

    host: str
    port: int
    security: Literal["tls", "starttls", "none"] = "starttls"
    allow_plaintext: bool = False
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None
    #: seconds for each SMTP operation, and for the whole send
    timeout: float = 30.0
    deadline: float = 120.0
    connect_attempts: int = CONNECT_ATTEMPTS

    def check(self) -> None:
        loopback = self.host.strip("[]").lower() in _LOOPBACK
        if self.security == "none" and not (self.allow_plaintext and loopback):
            raise DeliveryError(
                f"refusing to send in plaintext to {self.host}:{self.port}: plaintext SMTP needs "
                "allow_plaintext and a loopback relay; use security tls or starttls"
            )


@dataclass(frozen=True)
class SendResult:
    accepted: tuple[str, ...]
    #: addresses the server refused, with its reply (the others were accepted)
    refused: Mapping[str, str]
    #: the server's reply to the message data
    reply: str


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(settings.ca_file))
    return context


def _where(settings: SmtpSettings) -> str:
    return f"SMTP {settings.host}:{settings.port} ({settings.security})"


async def send(message: EmailMessage, settings: SmtpSettings) -> SendResult:
    """Deliver ``message`` to its ``To`` recipients; raises DeliveryError if none accepted it."""
    import aiosmtplib

    settings.check()
    recipients = [a.addr_spec for a in message["To"].addresses] if message["To"] else []
    if not recipients or not message["From"]:
        raise DeliveryError("the message has no sender or no recipients")
    sender = message["From"].addresses[0].addr_spec
    client = aiosmtplib.SMTP(
        hostname=settings.host, port=settings.port, timeout=settings.timeout,
        use_tls=settings.security == "tls", start_tls=settings.security == "starttls",
        validate_certs=True, tls_context=_tls_context(settings) if settings.security != "none" else None,
    )
    where = _where(settings)
    sent = False
    sock = None
    try:
        async with asyncio.timeout(settings.deadline):
            for attempt in range(1, settings.connect_attempts + 1):
                try:
                    await client.connect()
                    if client.transport is not None:  # the raw socket, to see it really closed
                        sock = client.transport.get_extra_info("socket")
                    break
                except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
                    # a refused or unreachable server may come back; a bad certificate will not
                    if attempt >= settings.connect_attempts or isinstance(exc.__cause__, ssl.SSLError):
                        raise
                    await asyncio.sleep(CONNECT_BACKOFF * 2 ** (attempt - 1))
            if settings.username is not None and settings.password is not None:
                await client.login(settings.username, settings.password.get_secret_value())
            sent = True  # from here on the server may have the message: never retried
            refused, reply = await client.send_message(message, sender=sender, recipients=recipients)
            with contextlib.suppress(aiosmtplib.SMTPException):
                await client.quit()
    except TimeoutError as exc:  # the whole send's deadline, or one operation's timeout
        what = (f"{type(exc).__name__}: {_reply(str(exc))}" if isinstance(exc, aiosmtplib.SMTPException)
                else f"no answer within {settings.deadline:g} s")
        if sent:
            raise DeliveryError(f"{where}: {what} after the message was sent; the server may or may not "
                                "have accepted it (not sent again automatically)") from None
        raise RetriableDeliveryError(f"{where}: {what}; nothing was sent") from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refusals = "; ".join(f"{r.recipient}: {r.code} {_reply(r.message)}" for r in exc.recipients)
        kind = RetriableDeliveryError if all(_temporary(r.code) for r in exc.recipients) else DeliveryError
        raise kind(f"{where}: every recipient was refused ({refusals})") from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        kind = RetriableDeliveryError if _temporary(exc.code) else DeliveryError
        raise kind(f"{where}: login refused for user {settings.username!r} ({exc.code})") from None
    except aiosmtplib.SMTPResponseException as exc:
        kind = RetriableDeliveryError if _temporary(exc.code) else DeliveryError
        raise kind(f"{where}: the server answered {exc.code} {_reply(exc.message)}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        text = f"{where}: {type(exc).__name__}: {_reply(str(exc))}"
        if sent:  # the connection broke after the data may have gone out
            raise DeliveryError(f"{text}; the server may or may not have accepted it "
                                "(not sent again automatically)") from None
        raise RetriableDeliveryError(f"{text}; nothing was sent") from None
    finally:
        await _close(client, sock)
    refused_text = {address: f"{r.code} {_reply(r.message)}" for address, r in refused.items()}
    return SendResult(
        accepted=tuple(r for r in recipients if r not in refused),
        refused=refused_text,
        reply=_reply(reply),
    )


async def _close(client: aiosmtplib.SMTP, sock: Any) -> None:
    """Close the connection and wait (briefly) until its socket is really gone.

    A TLS transport closes over a few loop turns (close_notify both ways), even after QUIT;
    returning before that leaves a half-closed socket for whoever closes the loop.
    """
    transport = client.transport
    if isinstance(transport, asyncio.Transport) and not transport.is_closing():
        # after QUIT the server has hung up; otherwise something went wrong: drop the
        # connection at once rather than wait for a TLS goodbye from a server that may hang
        transport.abort()
    client.close()
    for _ in range(200):
        if sock is None or sock.fileno() == -1:
            return
        await asyncio.sleep(0.005)


def _temporary(code: int) -> bool:
    """An SMTP 4xx reply: the server asks to try again later (RFC 5321 §4.2.1)."""
    return 400 <= code < 500


def _reply(text: str) -> str:
    """A server's words, cut and flattened to one line (they go into logs and the delivery log)."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= 200 else text[:199] + "…"
