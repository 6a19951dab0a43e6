"""Standard Webhooks signatures (standardwebhooks.com): HMAC-SHA256 with the endpoint's secret over
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``webhook-signature: v1,<base64>``. A receiver
checks the signature and that the timestamp is within ``TOLERANCE_SECONDS`` of its clock (a replayed
request is older), and dedupes on ``webhook-id`` (the same id on every retry)."""

import base64
import hashlib
import hmac

TOLERANCE_SECONDS = 300


class InvalidSignature(Exception):
    pass


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, received: dict[str, str], body: bytes, *, now: float) -> None:
    """What a receiver does (and the tests, as one): raises ``InvalidSignature`` unless the request
    is signed with ``secret`` and recent."""
    lower = {k.lower(): v for k, v in received.items()}
    try:
        message_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        offered = lower["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("missing or malformed webhook headers") from exc
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the tolerance: a replay, or a clock far off")
    expected = signature(secret, message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise InvalidSignature("no signature matches")
