"""Content negotiation remembered per Accept header gives DRF's own answers."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from oms.api import negotiation
from oms.api.negotiation import RememberingContentNegotiation

ACCEPT_HEADERS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "text/html",
    "text/html, application/json;q=0.9",
    "application/*",
    "image/png",
]


@pytest.fixture(autouse=True)
def _empty_memo(monkeypatch):
    monkeypatch.setattr(RememberingContentNegotiation, "_memo", {})


def _request(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().get(f"/api/v1/orders/{query}", **headers))


def _answer(negotiator, accept, renderer_classes, query=""):
    renderers = [cls() for cls in renderer_classes]
    try:
        renderer, media_type = negotiator.select_renderer(_request(accept, query), renderers)
    except Exception as exc:
        return type(exc).__name__
    assert renderer in renderers  # one of this request's instances, not a remembered one
    return type(renderer).__name__, media_type


def test_same_answer_as_drf_the_first_time_and_the_next():
    # One memo for every combination, so that an answer remembered for one cannot pass for another's.
    remembering = RememberingContentNegotiation()
    for _ in range(2):
        for renderer_classes in ([JSONRenderer], [BrowsableAPIRenderer, JSONRenderer]):
            for query in ("", "?format=json", "?format=api"):
                for accept in ACCEPT_HEADERS:
                    expected = _answer(DefaultContentNegotiation(), accept, renderer_classes, query)
                    actual = _answer(remembering, accept, renderer_classes, query)
                    assert actual == expected, (renderer_classes, query, accept)


def test_refusals_are_not_remembered_and_the_memo_is_bounded(monkeypatch):
    remembering = RememberingContentNegotiation()
    assert _answer(remembering, "image/png", [JSONRenderer]) == "NotAcceptable"
    assert RememberingContentNegotiation._memo == {}
    monkeypatch.setattr(negotiation, "MEMO_LIMIT", 3)
    for n in range(10):
        assert _answer(remembering, f"application/json; v={n}", [JSONRenderer])[1] == (
            f"application/json; v={n}"
        )
    assert len(RememberingContentNegotiation._memo) == 3


def test_api_answers_by_accept_header(api):
    assert api.get("/api/v1/orders/", HTTP_ACCEPT="application/json; indent=2").content.startswith(b'{\n  "')
    assert api.get("/api/v1/orders/", HTTP_ACCEPT="application/json").content.startswith(b'{"')
    refused = api.get("/api/v1/orders/", HTTP_ACCEPT="text/html")
    assert refused.status_code == 406
    assert api.get("/api/v1/orders/", HTTP_ACCEPT="text/html").status_code == 406
