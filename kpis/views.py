"""KPI pages: the home page (every KPI as a figure, its change against the period before, and its
trend), a KPI's own page (its breakdowns by channel, warehouse and carrier), the orders behind any
figure, CSV of every table, and the alerts. Thin: reads go through selectors and definitions."""

import csv
from datetime import date
from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from kpis import selectors
from kpis.charts import trend_svg
from kpis.definitions import BY_CODE, Kpi, Span, orders_behind
from kpis.formatting import axis_words, display
from kpis.forms import KpiFilterForm
from kpis.models import Threshold
from kpis.selectors import Filters
from oms.dashboard import ops_required, page_of


def change_words(kpi: Kpi, figure: selectors.Figure) -> str:
    change = figure.change
    if change is None:
        return "no figure for the period before" if figure.value is not None else ""
    if kpi.kind == "rate":
        return f"{change * 100:+.1f} pts on the period before"
    if figure.previous:
        return f"{change / figure.previous * 100:+.0f} % on the period before"
    return ""


def _view(request: HttpRequest) -> tuple[KpiFilterForm, date, date, Filters, dict]:
    form = KpiFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
    else:
        blank = KpiFilterForm({})
        blank.is_valid()
        data = blank.cleaned_data
    filters = Filters(
        data["channel"].pk if data.get("channel") else None,
        data["warehouse"].pk if data.get("warehouse") else None,
        data["carrier"].pk if data.get("carrier") else None,
        data.get("country") or "",
    )
    query = {k: v for k, v in request.GET.items() if k in form.fields and v}
    return form, data["first"], data["last"], filters, query


def _link(name: str, query: dict, **args) -> str:
    kwargs = {"code": args.pop("code")} if "code" in args else {}
    merged = {**query, **{k: v for k, v in args.items() if v not in (None, "")}}
    return f"{reverse(name, kwargs=kwargs)}?{urlencode(merged)}" if merged else reverse(name, kwargs=kwargs)


def _thresholds(filters: Filters) -> dict[str, Decimal]:
    rows = Threshold.objects.filter(
        is_active=True,
        channel_id=filters.channel_id,
        warehouse_id=filters.warehouse_id,
        carrier_id=filters.carrier_id,
    )
    return {t.kpi: t.alert_at for t in rows}


def _chart(kpi: Kpi, figure: selectors.Figure, query: dict, line_at: Decimal | None, **size) -> str:
    # a link per point: the URL's fixed part once, the day's dates per point (a year has 365 of them)
    base = reverse("kpis:orders", kwargs={"code": kpi.code})
    rest = urlencode({k: v for k, v in query.items() if k not in ("start", "end", "days")})
    rest = f"&{rest}" if rest else ""
    return trend_svg(
        figure.trend,
        label=lambda v: display(kpi, v),
        link=lambda day: f"{base}?start={day}&end={day}{rest}",
        bars=kpi.kind == "count",
        scale=100 if kpi.kind == "rate" else 1,
        line_at=line_at,
        caption=f"{kpi.label} per day",
        axis=lambda v: axis_words(kpi, v),
        **size,
    )


@ops_required
def home(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "kpis"
    form, first, last, filters, query = _view(request)
    lines = _thresholds(filters)
    cards = []
    for figure in selectors.kpi_figures(first, last, filters):
        kpi = figure.kpi
        cards.append(
            {
                "figure": figure,
                "value": display(kpi, figure.value),
                "change": change_words(kpi, figure),
                "chart": _chart(kpi, figure, query, lines.get(kpi.code)) if figure.available else "",
                "detail": _link("kpis:detail", query, code=kpi.code),
                "orders": _link("kpis:orders", query, code=kpi.code),
                "missed": _link("kpis:orders", query, code=kpi.code, missed=1) if kpi.missed else "",
            }
        )
    return render(
        request,
        "kpis/home.html",
        {
            "form": form,
            "first": first,
            "last": last,
            "cards": cards,
            "alerts": alert_rows(selectors.open_alerts()[:20]),
            "query": urlencode(query),
        },
    )


def _kpi(code: str) -> Kpi:
    kpi = BY_CODE.get(code)
    if kpi is None:
        raise Http404("No such KPI.")
    return kpi


BREAKDOWNS = [
    ("channel", "By channel"),
    ("warehouse", "By warehouse"),
    ("carrier", "By carrier"),
    ("lane", "By lane (warehouse → destination)"),
]


@ops_required
def detail(request: HttpRequest, code: str) -> HttpResponse:
    request.dashboard_section = "kpis"
    kpi = _kpi(code)
    form, first, last, filters, query = _view(request)
    figure = next(f for f in selectors.kpi_figures(first, last, filters) if f.kpi.code == kpi.code)
    codes = _codes()
    tables = []
    for by, title in BREAKDOWNS:
        rows = selectors.breakdown(kpi, first, last, by, filters)
        if not rows:
            continue
        tables.append(
            {
                "by": by,
                "title": title,
                "csv": _link("kpis:export", query, code=kpi.code, by=by),
                "rows": [
                    {
                        "row": row,
                        "value": display(kpi, row.value),
                        "orders": _link("kpis:orders", query, code=kpi.code, **_drill(codes, by, row.key)),
                        "missed": _link(
                            "kpis:orders", query, code=kpi.code, missed=1, **_drill(codes, by, row.key)
                        )
                        if kpi.missed
                        else "",
                    }
                    for row in rows
                ],
            }
        )
    return render(
        request,
        "kpis/detail.html",
        {
            "kpi": kpi,
            "form": form,
            "first": first,
            "last": last,
            "figure": figure,
            "value": display(kpi, figure.value),
            "previous": display(kpi, figure.previous),
            "change": change_words(kpi, figure),
            "chart": _chart(kpi, figure, query, _thresholds(filters).get(kpi.code))
            if figure.available
            else "",
            "tables": tables,
            "days_csv": _link("kpis:export", query, code=kpi.code, by="day"),
            "orders": _link("kpis:orders", query, code=kpi.code),
            "missed": _link("kpis:orders", query, code=kpi.code, missed=1) if kpi.missed else "",
            "query": urlencode(query),
        },
    )


def _drill(codes: dict[str, dict[int, str]], by: str, key) -> dict[str, str]:
    """The filters that narrow a drill-down to one row of a breakdown."""
    if by == "lane":
        warehouse, country = key
        return {"warehouse": codes["warehouse"].get(warehouse, ""), "country": country}
    return {by: codes[by].get(key, "")}


def _codes() -> dict[str, dict[int, str]]:
    """Each channel's, warehouse's and carrier's code by id: three queries for a page of breakdowns,
    not one per row."""
    from inventory.models import Warehouse
    from orders.models import Channel
    from shipments.models import Carrier

    return {
        by: dict(model.objects.values_list("pk", "code"))
        for by, model in (("channel", Channel), ("warehouse", Warehouse), ("carrier", Carrier))
    }


@ops_required
def orders(request: HttpRequest, code: str) -> HttpResponse:
    """The orders behind a figure: those counted (or, with ``missed``, those that failed it)."""
    request.dashboard_section = "kpis"
    kpi = _kpi(code)
    form, first, last, filters, query = _view(request)
    missed = request.GET.get("missed") == "1" and kpi.missed is not None
    behind = (
        orders_behind(
            kpi,
            Span(first, last),
            missed=missed,
            channel_id=filters.channel_id,
            warehouse_id=filters.warehouse_id,
            carrier_id=filters.carrier_id,
            country=filters.country,
        )
        .select_related("channel", "shipping_address")
        .order_by("-placed_at", "-id")
    )
    if request.GET.get("format") == "csv":
        return _csv(
            f"{kpi.code}-orders-{first}-{last}.csv",
            ["number", "channel", "external_id", "status", "placed_at", "city", "country"],
            (
                [
                    o.number,
                    o.channel.code,
                    o.external_id,
                    o.status,
                    o.placed_at.isoformat(),
                    o.shipping_address.city,
                    o.shipping_address.country,
                ]
                for o in behind.iterator(chunk_size=2000)
            ),
        )
    page = page_of(request, behind)
    return render(
        request,
        "kpis/orders.html",
        {
            "kpi": kpi,
            "form": form,
            "first": first,
            "last": last,
            "missed": missed,
            "page": page,
            "query": urlencode({**query, **({"missed": 1} if missed else {})}),
            "csv": _link("kpis:orders", query, code=kpi.code, missed=1 if missed else None, format="csv"),
            "detail": _link("kpis:detail", query, code=kpi.code),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(filename: str, header: list[str], rows) -> HttpResponse:
    from django.http import StreamingHttpResponse

    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@ops_required
def export(request: HttpRequest, code: str) -> HttpResponse:
    """A KPI's table as CSV: by day, or per channel, warehouse or carrier over the period."""
    kpi = _kpi(code)
    _, first, last, filters, _ = _view(request)
    by = request.GET.get("by", "day")
    if by == "day":
        figure = next(f for f in selectors.kpi_figures(first, last, filters) if f.kpi.code == kpi.code)
        rows = ([day.isoformat(), "" if value is None else str(value)] for day, value in figure.trend)
        return _csv(f"{kpi.code}-{first}-{last}-by-day.csv", ["day", kpi.code], rows)
    if by not in {b for b, _ in BREAKDOWNS}:
        raise Http404("Break down by day, channel, warehouse or carrier.")
    table = selectors.breakdown(kpi, first, last, by, filters)
    rows = ([r.label, "" if r.value is None else str(r.value), str(r.count)] for r in table)
    return _csv(f"{kpi.code}-{first}-{last}-by-{by}.csv", [by, kpi.code, kpi.counts], rows)


def alert_rows(alerts) -> list[dict]:
    rows = []
    for alert in alerts:
        kpi = BY_CODE.get(alert.threshold.kpi)
        if kpi is None:
            continue
        t = alert.threshold
        scope = " · ".join(str(x) for x in (t.channel, t.warehouse, t.carrier) if x) or "every order"
        rows.append(
            {
                "alert": alert,
                "kpi": kpi,
                "scope": scope,
                "value": display(kpi, alert.value),
                "line": display(kpi, t.alert_at),
                "recovered": display(kpi, alert.recovered_value) if alert.recovered_value is not None else "",
                "orders": _link(
                    "kpis:orders",
                    {},
                    code=kpi.code,
                    start=alert.window_start,
                    end=alert.window_end,
                    missed=1 if kpi.missed else None,
                    channel=t.channel.code if t.channel else None,
                    warehouse=t.warehouse.code if t.warehouse else None,
                    carrier=t.carrier.code if t.carrier else None,
                ),
            }
        )
    return rows


@ops_required
def alerts(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "kpis"
    return render(request, "kpis/alerts.html", {"rows": alert_rows(selectors.recent_alerts(100))})


def alert_banner(request: HttpRequest) -> tuple[str, str] | None:
    """ "2 KPI alerts open" on every dashboard page while any is (one indexed count, at most 100)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return None
    count = selectors.open_alerts().order_by()[:100].count()
    if not count:
        return None
    return f"{count} KPI alert{'s' if count != 1 else ''} open: see which", reverse("kpis:alerts")
