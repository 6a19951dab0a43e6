"""Handing a rendered message to the outside world: e-mail through Django's e-mail backends (SMTP,
an anymail provider, the embedded file backend), SMS through a small backend interface (Twilio's REST
API, or a log for the demo). Each failure says whether trying again can help."""

import contextlib
import json
import logging
import smtplib
import threading
import uuid
from email.utils import parseaddr
from pathlib import Path

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The backend did not take the message. ``permanent``: trying again cannot help (a bad address, a
    refusal); otherwise it may on a later attempt (a server down, a rate limit)."""

    def __init__(self, reason: str, *, permanent: bool, bad_address: bool = False):
        super().__init__(reason)
        self.reason = reason[:300]
        self.permanent = permanent
        self.bad_address = bad_address


# One connection per worker thread, opened on first use and kept: a new SMTP session per message
# costs more than rendering it. Any error closes it, and the next message opens a fresh one.
_local = threading.local()


def _connection():
    connection = getattr(_local, "email", None)
    if connection is None:
        connection = _local.email = get_connection(fail_silently=False)
    return connection


def email_connection_reset() -> None:
    connection = getattr(_local, "email", None)
    if connection is not None:
        # closing a broken connection may fail too; it is dropped either way
        with contextlib.suppress(Exception):
            connection.close()
    _local.email = None


def send_email(
    *,
    message_id: int,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    reply_to: str = "",
    headers: dict[str, str] | None = None,
) -> str:
    """Send one e-mail; returns the backend's id for it (the Message-ID, or the provider's)."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "oms.local"
    message_header = f"<oms-{message_id}.{uuid.uuid4().hex[:12]}@{domain}>"
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=[recipient],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_header, **(headers or {})},
        connection=_connection(),
    )
    email.attach_alternative(html, "text/html")
    # anymail providers carry these to their webhooks, which is how an event finds its message
    email.metadata = {"oms_message_id": str(message_id)}
    email.track_clicks = False  # our own signed redirects count clicks
    try:
        connection = email.connection
        if isinstance(connection, SmtpBackend) and recipient.isascii() and _envelope_sender(sender).isascii():
            # Straight to the SMTP session Django's backend keeps: its send_messages parses and
            # re-encodes both addresses on every call, which costs more than the rest of the send.
            # Intake checked the recipient; non-ASCII (internationalised) addresses take Django's way.
            connection.open()
            mime = email.message()
            # A boundary of our own: the stdlib makes a random one and compiles a regular expression
            # per message to check the text does not contain it (7 % of a message's CPU); a uuid
            # cannot occur in text we rendered.
            mime.set_boundary(f"==oms-{uuid.uuid4().hex}==")
            connection.connection.sendmail(
                _envelope_sender(sender), [recipient], mime.as_bytes(linesep="\r\n")
            )
        else:
            email.send()
    except Exception as exc:
        email_connection_reset()
        raise _email_failure(exc) from exc
    status = getattr(email, "anymail_status", None)
    return (status.message_id if status is not None and status.message_id else message_header)[:200]


def _envelope_sender(sender: str) -> str:
    return parseaddr(sender)[1]


def _email_failure(exc: Exception) -> DeliveryFailed:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            for code, text in exc.recipients.values()
        )
        permanent = all(code >= 500 for code in codes)
        return DeliveryFailed(f"recipient refused: {detail}", permanent=permanent, bad_address=permanent)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return DeliveryFailed(f"SMTP {exc.smtp_code} {text}", permanent=exc.smtp_code >= 500)
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    if isinstance(exc, AnymailRecipientsRefused):
        return DeliveryFailed(f"provider refused the recipient: {exc}", permanent=True, bad_address=True)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        permanent = status is not None and 400 <= status < 500 and status != 429
        return DeliveryFailed(f"provider error {status}: {exc}", permanent=permanent)
    return DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=False)


class SmsBackend:
    """Sends one SMS; returns the provider's id, or raises DeliveryFailed."""

    def send(self, *, to: str, body: str, sender: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class LogSmsBackend(SmsBackend):
    """The demo's SMS backend: appends each text to var/sms.log (the sent-messages page shows it too)."""

    def send(self, *, to: str, body: str, sender: str) -> str:
        sid = f"log-{uuid.uuid4().hex[:16]}"
        path = Path(settings.VAR_DIR) / "sms.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(
                json.dumps({"id": sid, "to": to, "from": sender, "body": body}, ensure_ascii=False) + "\n"
            )
        return sid


class TwilioSmsBackend(SmsBackend):
    """Twilio's Programmable Messaging REST API (Create a Message): a form POST with basic auth,
    answered 201 with the message's ``sid``; 4xx answers carry Twilio's error code and message."""

    BASE_URL = "https://api.twilio.com/2010-04-01"

    def __init__(self):
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.auth_token = settings.TWILIO_AUTH_TOKEN

    def send(self, *, to: str, body: str, sender: str) -> str:
        data = {"To": to, "Body": body}
        if sender.startswith("MG"):
            data["MessagingServiceSid"] = sender
        else:
            data["From"] = sender
        if settings.TWILIO_STATUS_CALLBACK:
            data["StatusCallback"] = settings.TWILIO_STATUS_CALLBACK
        try:
            response = requests.post(
                f"{self.BASE_URL}/Accounts/{self.account_sid}/Messages.json",
                data=data,
                auth=(self.account_sid, self.auth_token),
                timeout=10,
            )
        except requests.RequestException as exc:
            raise DeliveryFailed(f"Twilio unreachable: {exc}", permanent=False) from exc
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code in (200, 201):
            return str(payload.get("sid", ""))[:200]
        code = payload.get("code")
        reason = (
            f"Twilio {response.status_code}{f' error {code}' if code else ''}: {payload.get('message', '')}"
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryFailed(reason, permanent=False)
        # 21211 invalid number, 21610 the recipient replied STOP, 21614 not a mobile number
        raise DeliveryFailed(reason, permanent=True, bad_address=code in (21211, 21610, 21614))


def sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
