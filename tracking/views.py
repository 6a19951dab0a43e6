"""The customer's tracking page (public, by token) and the ops pages: exceptions and metrics."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from oms.dashboard import ops_required, page_of
from tracking import selectors

# Sections later apps add to the customer's tracking page (returns offers "send something back"), as
# functions (token, order) -> (template, context) or None; tracking cannot import them.
TrackingPageSection = Callable[[str, object], tuple[str, dict] | None]
TRACKING_PAGE_SECTIONS: list[TrackingPageSection] = []


def track_page(request: HttpRequest, token: str) -> HttpResponse:
    data = selectors.public_tracking(token)
    if data is None:
        # The customer's own frame, not the back office's: no staff navigation, no way into it.
        response = render(request, "tracking/not_found.html", status=404)
    else:
        order = selectors.order_for_token(token)
        sections = [s for register in TRACKING_PAGE_SECTIONS if (s := register(token, order)) is not None]
        response = render(request, "tracking/track.html", {"track": data, "sections": sections})
    # The link is the key: keep it out of referrers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@ops_required
def tracking_dashboard(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "tracking"
    return render(
        request,
        "tracking/dashboard.html",
        {"metrics": selectors.tracking_metrics(), "page": page_of(request, selectors.tracking_exceptions())},
    )


def tracking_panel(order) -> tuple[str, dict] | None:
    timeline = selectors.order_timeline(order)
    if not timeline:
        return None
    link = getattr(order, "tracking_link", None)
    return "tracking/_order_panel.html", {
        "timeline": [
            (state, events, selectors.in_words(state.milestone, state.incident)) for state, events in timeline
        ],
        "token": link.token if link else None,
    }
