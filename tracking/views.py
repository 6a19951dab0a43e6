"""The customer's tracking page (public, by token) and the ops page: metrics, shipments that need a
look, and carrier calls not processed."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from oms.dashboard import ops_required, page_of
from tracking import selectors, services

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
        {
            "metrics": selectors.tracking_metrics(),
            "page": page_of(request, selectors.tracking_exceptions()),
            "calls": list(selectors.carrier_calls_waiting()[: selectors.CALLS_SHOWN + 1]),
            "calls_shown": selectors.CALLS_SHOWN,
            "sweep_every": f"{settings.TRACKING_WEBHOOK_SWEEP_SECONDS:g} s",
        },
    )


@ops_required
@require_POST
def carrier_calls_retry(request: HttpRequest) -> HttpResponse:
    """Process the selected waiting calls now (after what made them fail was fixed)."""
    ids = [int(v) for v in request.POST.getlist("call") if v.isdigit()][: selectors.CALLS_SHOWN]
    outcome = services.webhooks_retry(delivery_ids=ids)
    done, waiting = outcome["processed"], outcome["pending"]
    if done:
        flash.success(request, f"{done} carrier call{'s' if done != 1 else ''} processed.")
    if waiting:
        flash.warning(request, f"{waiting} still failing: the error beside each says why.")
    return redirect(reverse("tracking:dashboard") + "#carrier-calls")


def carrier_calls_banner(request: HttpRequest) -> tuple[str, str] | None:
    """While a carrier's call waits unprocessed, every dashboard page says so."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return None
    count = selectors.carrier_calls_waiting()[:100].count()
    if not count:
        return None
    shown = f"{count}+" if count >= 100 else str(count)
    return (
        f"{shown} carrier call{'s' if count != 1 else ''} not processed for over "
        f"{selectors.CALL_WAITING_AFTER.total_seconds() / 60:.0f} minutes",
        reverse("tracking:dashboard") + "#carrier-calls",
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
