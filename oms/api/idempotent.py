"""One way for every API POST that creates something to honour ``Idempotency-Key`` (ADR 0003)."""

from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from oms.idempotency import idempotency_claim, idempotency_store, idempotent_request
from oms.models import IdempotencyRecord
from oms.sql import deferred_inserts, shared_cursor

Work = Callable[[], tuple[int, object, dict[str, str]]]


def _replay(record: IdempotencyRecord) -> Response:
    return Response(
        record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"}
    )


def idempotent_post(request: Request, work: Work) -> Response:
    """Run ``work`` (returning status, body, headers) in one transaction with the key claimed, and
    store its answer with the key; a retry gets the stored answer back."""
    idem = idempotent_request(
        principal=f"apikey:{request.auth.pk}",
        key=request.headers.get("Idempotency-Key"),
        method=request.method,
        path=request.path,
        body=request.body,
    )
    try:
        # History rows, domain events and the idempotency record go out together at the end; the
        # hot-path statements share one cursor.
        with transaction.atomic(), shared_cursor(), deferred_inserts():
            if idem and (record := idempotency_claim(idem)):
                return _replay(record)
            status, body, headers = work()
            if idem:
                idempotency_store(idem, status=status, body=body)
    except IntegrityError as exc:
        # A concurrent request with the same key committed first (where advisory locks do not exist,
        # or in the instant between its lock and our read): answer with its response.
        if idem and "idempotency_once" in str(exc) and (record := idempotency_claim(idem)):
            return _replay(record)
        raise
    return Response(body, status=status, headers=headers)
