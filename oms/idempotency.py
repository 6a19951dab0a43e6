"""``Idempotency-Key`` handling for POSTs that create something.

Inside the request's transaction: take a transaction-scoped advisory lock on (client, key) without
waiting - a second request with the same key while the first runs gets 409 - then look for the stored
response: same body, replay it; other body, 422. After the work, the response is stored in the same
transaction, so a request that fails leaves no record and may be retried. The unique constraint on
(principal, key) backs the lock up where advisory locks do not exist (SQLite serialises writers).
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.db import connection

from oms.errors import IdempotencyInProgress, IdempotencyKeyReused, ValidationFailed
from oms.models import IdempotencyRecord
from oms.sql import hot_cursor, insert_rows, objects_from_rows, select_rows, select_sql, unsaved

MAX_KEY_LENGTH = 255
# Visible ASCII, inner spaces allowed (a UUID fits): what an HTTP header carries without surprises.
# The OpenAPI schema states the same pattern (oms.api.schema.IDEMPOTENCY_HEADER).
KEY_PATTERN = "^[\\u0021-\\u007E]([\\u0020-\\u007E]*[\\u0021-\\u007E])?$"


@dataclass(frozen=True)
class IdempotentRequest:
    principal: str
    key: str
    method: str
    path: str
    fingerprint: str


def idempotency_lock_id(principal: str, key: str) -> int:
    digest = hashlib.blake2b(f"{principal}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def idempotent_request(
    *, principal: str, key: str | None, method: str, path: str, body: bytes
) -> IdempotentRequest | None:
    if key is None:
        return None
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH or not re.fullmatch(KEY_PATTERN, key):
        raise ValidationFailed(
            "The Idempotency-Key header is invalid.",
            details={"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} visible ASCII characters."]},
        )
    fingerprint = hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()
    return IdempotentRequest(principal=principal, key=key, method=method, path=path, fingerprint=fingerprint)


RECORD_FIELDS = ("id", "fingerprint", "response_status", "response_body")
RECORD_WHERE = "principal = %s AND key = %s"


def idempotency_claim(request: IdempotentRequest) -> IdempotencyRecord | None:
    """Claim the key for this transaction; return the stored record when this is a replay."""
    if connection.vendor == "postgresql":
        # The lock and the lookup travel as one text: PostgreSQL runs them in order, and the lookup
        # takes its snapshot after the lock is held (ADR 0003), in one round trip instead of two.
        with hot_cursor(connection) as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s); "
                + select_sql(IdempotencyRecord, RECORD_FIELDS, RECORD_WHERE),
                [idempotency_lock_id(request.principal, request.key), request.principal, request.key],
            )
            locked = cursor.fetchone()[0]
            cursor.nextset()
            rows = cursor.fetchall()
        if not locked:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                details={"Idempotency-Key": request.key},
            )
        records = objects_from_rows(IdempotencyRecord, RECORD_FIELDS, rows)
    else:
        records = select_rows(
            IdempotencyRecord, RECORD_FIELDS, RECORD_WHERE, [request.principal, request.key]
        )
    if not records:
        return None
    record = records[0]
    if record.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.",
            details={"Idempotency-Key": request.key},
        )
    return record


def idempotency_store(request: IdempotentRequest, *, status: int, body: Any) -> IdempotencyRecord:
    record = unsaved(
        IdempotencyRecord,
        principal=request.principal,
        key=request.key,
        method=request.method,
        path=request.path[:255],
        fingerprint=request.fingerprint,
        response_status=status,
        response_body=body,
    )
    return insert_rows([record], deferrable=True)[0]
