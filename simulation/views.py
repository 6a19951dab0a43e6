"""The Simulation pages: saved runs, and one run's outcome table beside the published anchors, its
comparison bars and daily trends. Read-only; runs are made by ``manage.py simulate``."""

from datetime import date
from decimal import Decimal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from kpis.charts import trend_svg
from oms.dashboard import ops_required
from simulation.charts import bars_svg
from simulation.models import SimulationRun
from simulation.services import OUTCOME_ROWS


def _broken(results: dict) -> int:
    return sum(
        1
        for variant in results.get("variants", {}).values()
        for breaches in variant["invariants"].values()
        if breaches
    )


@ops_required
def runs(request: HttpRequest) -> HttpResponse:
    recent = list(SimulationRun.objects.all()[:50])
    for run in recent:
        run.variant_names = run.results.get("order") or list(run.results.get("variants", {}))
        run.broken = _broken(run.results)
    return render(request, "simulation/runs.html", {"runs": recent})


@ops_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SimulationRun, pk=run_id)
    variants = run.results.get("variants", {})
    table = run.results.get("table", {})
    names = [name for name in run.results.get("order", variants) if name in variants]
    rows = []
    for key, label, fmt, goal, compared in OUTCOME_ROWS:
        values = [table.get("rows", {}).get(name, {}).get(key) for name in names]
        rows.append(
            {
                "label": label,
                "cells": [
                    ("-" if v is None else fmt.format(v), goal is not None and v is not None and v < goal)
                    for v in values
                ],
                "goal": "" if goal is None else fmt.format(goal),
                "compared": compared,
                "chart": bars_svg(list(zip(names, values, strict=True)), fmt=fmt, caption=label, goal=goal),
            }
        )
    cycles = []
    for channel in ("all", "web", "marketplace", "store", "app"):
        cells = []
        for name in names:
            cycle = table.get("rows", {}).get(name, {}).get("cycle_hours", {}).get(channel)
            cells.append(
                f"{cycle['p50']:.0f} / {cycle['p90']:.0f} h" if cycle and cycle["p50"] is not None else "-"
            )
        cycles.append({"channel": channel, "cells": cells})
    trends = []
    for name in names:
        daily = variants[name].get("daily", [])
        if not daily:
            continue
        days = [date.fromisoformat(d["day"]) for d in daily]
        trends.append(
            {
                "name": name,
                "orders": _trend(
                    days, [d["orders"] for d in daily], f"{name}: orders placed per day", bars=True
                ),
                "waiting": _trend(
                    days, [d["waiting_to_ship"] for d in daily], f"{name}: orders waiting to ship"
                ),
                # runs saved before the runner timed its days have no seconds
                "seconds": _trend(
                    days, [d["seconds"] for d in daily], f"{name}: wall-clock seconds per simulated day"
                )
                if all("seconds" in d for d in daily)
                else None,
            }
        )
    first_day = table.get("first_day")
    kpi_rows = []
    if names:
        for code, row in variants[names[0]]["outcomes"]["kpis"].items():
            kpi_rows.append(
                {
                    "label": row["label"],
                    "cells": [
                        _kpi_text(variants[name]["outcomes"]["kpis"][code], row["unit"]) for name in names
                    ],
                }
            )
    return render(
        request,
        "simulation/run.html",
        {
            "run": run,
            "params": run.results.get("params", {}),
            "names": names,
            "rows": rows,
            "cycles": cycles,
            "trends": trends,
            "table": table,
            "first_day": first_day,
            "kpi_rows": kpi_rows,
            "invariants": {name: variants[name]["invariants"] for name in names},
            "seconds": {name: variants[name]["seconds"] for name in names},
        },
    )


def _kpi_text(row: dict, unit: str) -> str:
    value = row["value"]
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.1%}"
    if unit == "orders":
        return f"{value:,.0f}"
    return f"{value:,.2f} {unit}".replace(" money", "")


def _trend(days: list[date], values: list[float], caption: str, bars: bool = False):
    return trend_svg(
        list(zip(days, [Decimal(str(v)) for v in values], strict=True)),
        label=lambda v: "-" if v is None else f"{v:.0f}",
        link=lambda day: "#",
        bars=bars,
        caption=caption,
    )


@ops_required
def run_json(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(SimulationRun, pk=run_id)
    response = JsonResponse(run.results, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="simulation-run-{run.pk}.json"'
    return response
