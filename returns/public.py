"""Self-service returns on the customer's tracking page: no login; the tracking link and the e-mail or
postcode the order was placed with open it. Only delivered units, not returned or asked back yet,
inside the channel's window, can be asked back; the customer then follows the return and prints its
label here. Nothing on these pages shows anyone's personal data."""

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from oms.errors import DomainError
from orders.models import ActorType
from orders.services import Actor
from returns import selectors, services
from returns.models import CreditMethod, ReturnSource, ReturnStatus
from returns.services import ReturnLineInput
from shipments import services as shipping
from tracking.selectors import order_for_token

CUSTOMER = Actor(type=ActorType.SYSTEM, label="the customer (tracking page)")
# Wrong e-mails or postcodes allowed per tracking link before it is locked for a while (guessing a
# postcode must not be a matter of patience).
MAX_TRIES = 5
LOCK_SECONDS = 15 * 60
CUSTOMER_METHODS = [
    (CreditMethod.REFUND, "Money back"),
    (CreditMethod.STORE_CREDIT, "Store credit"),
    (CreditMethod.EXCHANGE, "The same item again (exchange)"),
]


def _squash(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _matches(order, proof: str) -> bool:
    """The e-mail or the postcode the order was placed with (case, spaces and dashes do not matter)."""
    proof = proof.strip()
    if not proof:
        return False
    if "@" in proof:
        return bool(order.contact_email) and proof.lower() == order.contact_email.lower()
    postcode = _squash(order.shipping_address.postal_code)
    return bool(postcode) and _squash(proof) == postcode


def _session_key(token: str) -> str:
    return f"returns-access:{token}"


def _order_or_404(token: str):
    order = order_for_token(token)
    if order is None:
        raise Http404("No such tracking link.")
    return order


def _private(response: HttpResponse) -> HttpResponse:
    # The link is the key: it must never reach another site. "same-origin" and not "no-referrer": with
    # no-referrer a browser sends its forms with "Origin: null", which CSRF protection rightly refuses.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"
    return response


def _returnable_rows(order, policy, now):
    facts = services.returnable(list(order.lines.order_by("line_number")), window_days=policy.window_days)
    return [fact for fact in facts.values() if fact.free() and fact.in_window(now)]


def self_service(request: HttpRequest, token: str) -> HttpResponse:
    order = _order_or_404(token)
    verified = request.session.get(_session_key(token)) == order.pk
    if request.method == "POST" and not verified:
        tries_key = f"returns:tries:{token}"
        tries = cache.get(tries_key) or 0
        if tries >= MAX_TRIES:
            return _private(render(request, "returns/self_service_locked.html", {"token": token}, status=429))
        if _matches(order, request.POST.get("proof", "")):
            request.session[_session_key(token)] = order.pk
            cache.delete(tries_key)
            return redirect("returns-public:self_service", token)
        cache.set(tries_key, tries + 1, LOCK_SECONDS)
        return _private(
            render(
                request,
                "returns/self_service_verify.html",
                {"token": token, "order": order, "wrong": True},
                status=400,
            )
        )
    if not verified:
        return _private(render(request, "returns/self_service_verify.html", {"token": token, "order": order}))
    policy = services.policy_for(order.channel)
    now = timezone.now()
    if request.method == "POST":
        return _create(request, token, order, policy, now)
    return _private(
        render(
            request,
            "returns/self_service.html",
            {
                "token": token,
                "order": order,
                "rows": _returnable_rows(order, policy, now),
                "reasons": services.reasons_for(order.channel),
                "methods": CUSTOMER_METHODS,
                "window_days": policy.window_days,
                "returns": selectors.returns_of_order(order),
            },
        )
    )


def _create(request: HttpRequest, token: str, order, policy, now) -> HttpResponse:
    chosen = []
    for fact in _returnable_rows(order, policy, now):
        raw = request.POST.get(f"units-{fact.line.pk}", "0").strip()
        units = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0
        if units:
            chosen.append(
                (
                    fact.line.name,
                    ReturnLineInput(
                        order_id=order.pk,
                        line_number=fact.line.line_number,
                        quantity=units,
                        reason=request.POST.get(f"reason-{fact.line.pk}", "")[:32],
                        note=request.POST.get(f"note-{fact.line.pk}", "")[:500],
                    ),
                )
            )
    if not chosen:
        messages.error(request, "Choose how many of an item you send back.")
        return redirect("returns-public:self_service", token)
    unexplained = [name for name, line in chosen if not line.reason]
    if unexplained:
        for name in unexplained:
            messages.error(request, f"{name}: tell us why you send it back.")
        return redirect("returns-public:self_service", token)
    method = request.POST.get("credit_method", CreditMethod.REFUND)
    if method not in dict(CUSTOMER_METHODS):
        method = CreditMethod.REFUND
    try:
        ret = services.return_request(
            channel=order.channel,
            source=ReturnSource.CUSTOMER,
            actor=CUSTOMER,
            lines=[line for _, line in chosen],
            credit_method=method,
        )
    except DomainError as exc:
        # "lines.<i>.<field>" names the i-th item chosen: say which item, in its own words
        for field, problems in (exc.details or {"": [exc.message]}).items():
            parts = field.split(".")
            index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            about = chosen[index][0] if index is not None and index < len(chosen) else ""
            for problem in problems if isinstance(problems, list) else [problems]:
                messages.error(request, f"{about}: {problem}" if about else str(problem))
        return redirect("returns-public:self_service", token)
    return redirect("returns-public:status", token, ret.pk)


def _own_return(request: HttpRequest, token: str, return_id: int):
    order = _order_or_404(token)
    if request.session.get(_session_key(token)) != order.pk:
        return order, None
    ret = (
        selectors.returns_with_lines()
        .filter(pk=return_id, lines__order_line__order=order)
        .distinct()
        .select_related("shipment")
        .first()
    )
    if ret is None:
        raise Http404("No such return for this order.")
    return order, ret


def return_status(request: HttpRequest, token: str, return_id: int) -> HttpResponse:
    order, ret = _own_return(request, token, return_id)
    if ret is None:
        return redirect("returns-public:self_service", token)
    package = ret.shipment.packages.exclude(tracking_number="").first() if ret.shipment else None
    return _private(
        render(
            request,
            "returns/self_service_status.html",
            {
                "token": token,
                "order": order,
                "ret": ret,
                "package": package,
                "can_get_label": ret.status == ReturnStatus.AUTHORISED,
            },
        )
    )


@require_POST
def return_label(request: HttpRequest, token: str, return_id: int) -> HttpResponse:
    _, ret = _own_return(request, token, return_id)
    if ret is None:
        return redirect("returns-public:self_service", token)
    try:
        services.return_label_issue(return_id=ret.pk, actor=CUSTOMER)
    except DomainError as exc:
        messages.error(
            request, f"We could not make the label just now: {exc.message} Please try again in a moment."
        )
    return redirect("returns-public:status", token, ret.pk)


def return_label_pdf(request: HttpRequest, token: str, return_id: int) -> HttpResponse:
    _, ret = _own_return(request, token, return_id)
    if ret is None or ret.shipment is None:
        raise Http404("No label.")
    package = ret.shipment.packages.exclude(tracking_number="").first()
    if package is None:
        raise Http404("No label yet.")
    try:
        label = shipping.label_of(package_id=package.pk, format="pdf")
    except DomainError as exc:
        raise Http404(exc.message) from exc
    response = HttpResponse(bytes(label.content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{ret.number}-label.pdf"'
    return _private(response)


def tracking_page_section(token: str, order) -> tuple[str, dict] | None:
    """On the tracking page: a way to send something back, once something was delivered."""
    if order is None or not order.lines.filter(qty_delivered__gt=0).exists():
        return None
    return "returns/_track_section.html", {
        "token": token,
        "window_days": services.policy_for(order.channel).window_days,
    }
