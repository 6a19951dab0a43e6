"""Run the simulated merchant through the real OMS and print the outcome table:
`manage.py simulate --days 30 --orders-per-day 2000 --warehouses 3 --seed 1 --strategy all`.

Each variant runs in a scratch database of its own (named after the OMS's, dropped afterwards
unless --keep); the results are saved in this OMS (the dashboard's Simulation page) and as JSON."""

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from simulation import services
from simulation.scratch import Scratch
from simulation.world import HUBS, Params


def _bar(label: str, done: int, total: int, stream) -> None:
    width = 30
    filled = round(width * done / total)
    end = "\n" if done == total or not stream.isatty() else ""
    stream.write(f"\r{label:<24} [{'#' * filled}{'.' * (width - filled)}] day {done}/{total}{end}")
    stream.flush()


def _run_one(scratch: Scratch, params: Params, name: str, drain_days: int, quiet: bool) -> dict:
    with scratch.database(name.replace("-", "_")):
        progress = None if quiet else (lambda done, total: _bar(name, done, total, sys.stderr))
        result = services.variant_run(params, name, drain_days=drain_days, progress=progress)
        result["bound"] = services.bounds_of(result["first_day"])
    return result


def _kpi_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.1%}"
    if unit in ("orders", "events"):
        return f"{value:,.1f}" if value % 1 else f"{value:,.0f}"
    return f"{value:,.2f} {unit}" if unit != "money" else f"{value:,.2f}"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=30, help="Days of orders (then --drain-days without)."
        )
        parser.add_argument("--orders-per-day", type=int, default=2000)
        parser.add_argument("--warehouses", type=int, default=3, help=f"1 to {len(HUBS)}.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--skus", type=int, default=200)
        parser.add_argument(
            "--strategy",
            choices=sorted(services.STRATEGIES),
            default="all",
            help="all: greedy, the rule set, the rule set without reorder rules and without notifications.",
        )
        parser.add_argument("--drain-days", type=int, default=7)
        parser.add_argument(
            "--start", type=date.fromisoformat, default=Params.start, help="The first simulated day."
        )
        parser.add_argument("--jobs", type=int, default=1, help="Variants run side by side (one core each).")
        parser.add_argument("--output", type=Path, help="Where to write the JSON (default var/simulation/).")
        parser.add_argument("--keep", action="store_true", help="Keep the scratch databases to look into.")

    def handle(self, *args, **options):
        if not 1 <= options["warehouses"] <= len(HUBS):
            raise CommandError(f"--warehouses: 1 to {len(HUBS)}.")
        for name in ("days", "orders_per_day", "skus", "jobs"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')}: at least 1.")
        if options["drain_days"] < 0:
            raise CommandError("--drain-days: 0 or more.")
        params = Params(
            days=options["days"],
            orders_per_day=options["orders_per_day"],
            warehouses=options["warehouses"],
            seed=options["seed"],
            skus=options["skus"],
            start=options["start"],
        )
        names = services.STRATEGIES[options["strategy"]]
        began = time.perf_counter()
        scratch = Scratch(keep=options["keep"])
        self.stderr.write(f"Preparing the scratch databases ({scratch.template}) ...")
        scratch.prepare()
        quiet = options["verbosity"] < 1
        results = {}
        try:
            if options["jobs"] > 1 and len(names) > 1:
                connections.close_all()
                with ProcessPoolExecutor(max_workers=options["jobs"], mp_context=get_context("fork")) as pool:
                    futures = {
                        name: pool.submit(_run_one, scratch, params, name, options["drain_days"], quiet)
                        for name in names
                    }
                    results = {name: future.result() for name, future in futures.items()}
                scratch.made = [scratch._name(name.replace("-", "_")) for name in names]
            else:
                for name in names:
                    results[name] = _run_one(scratch, params, name, options["drain_days"], quiet)
        finally:
            scratch.cleanup()
        seconds = time.perf_counter() - began
        table = services.comparison(results)
        run = services.run_save(
            params=params, strategy=options["strategy"], results=results, table=table, seconds=seconds
        )
        output = options["output"] or Path(settings.VAR_DIR) / "simulation" / f"run-{run.pk}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(run.results, indent=2, default=str))
        self._print(params, results, table, seconds)
        self.stdout.write(f"\nSaved as run {run.pk} (dashboard: Simulation) and {output}.")
        broken = {name: {k: v for k, v in r["invariants"].items() if v} for name, r in results.items()}
        broken = {name: b for name, b in broken.items() if b}
        if broken:
            raise CommandError(f"Invariants broken: {json.dumps(broken)[:2000]}")

    def _print(self, params: Params, results: dict, table: dict, seconds: float) -> None:
        out = self.stdout.write
        out(
            f"\n{params.days} days x {params.orders_per_day} orders/day, {params.warehouses} warehouses, "
            f"seed {params.seed}: {seconds:.0f} s"
        )
        rows = [
            ("Extra shipments per order", "extra_shipments_per_order", "{:.3f}"),
            ("Outbound cost per order (EUR)", "outbound_cost_per_order", "{:.2f}"),
            ("Perfect order rate", "perfect_order", "{:.1%}"),
            ("On-time delivery", "on_time", "{:.1%}"),
            ("Delivery date exact (first ETA)", "eta_exact_date", "{:.1%}"),
            ("Delivery date in window", "eta_inside_window", "{:.1%}"),
            ("Fill rate at arrival", "fill_rate_at_arrival", "{:.1%}"),
            ("Stock-out SKU-days", "stockout_share_of_sku_days", "{:.1%}"),
            ("WISMO per 100 shipped", "wismo_per_100_shipped", "{:.1f}"),
            ("First-attempt delivery", "first_attempt", "{:.1%}"),
            ("Cost per delivery (EUR)", "cost_per_delivery", "{:.2f}"),
        ]
        names = list(table["rows"])
        out(f"{'':34}" + "".join(f"{name:>24}" for name in names))
        for label, key, fmt in rows:
            cells = []
            for name in names:
                value = table["rows"][name][key]
                cells.append(f"{'-' if value is None else fmt.format(value):>24}")
            out(f"{label:34}" + "".join(cells))
        for channel in ("all", "web", "marketplace", "store", "app"):
            cells = []
            for name in names:
                cycle = table["rows"][name]["cycle_hours"].get(channel)
                text = (
                    f"{cycle['p50']:.0f} / {cycle['p90']:.0f} h"
                    if cycle and cycle["p50"] is not None
                    else "-"
                )
                cells.append(f"{text:>24}")
            out(f"{'Cycle time p50 / p90 (' + channel + ')':34}" + "".join(cells))
        out("\nThe KPI table (docs/kpis.md), as the dashboard folded it during the run")
        out(f"{'':34}" + "".join(f"{name:>24}" for name in names))
        for code, row in next(iter(results.values()))["outcomes"]["kpis"].items():
            cells = [
                _kpi_text(results[name]["outcomes"]["kpis"][code]["value"], row["unit"]) for name in names
            ]
            out(f"{row['label']:34}" + "".join(f"{cell:>24}" for cell in cells))
        if "extra_shipments_fewer" in table:
            fewer = table["extra_shipments_fewer"]
            out(f"\nExtra shipments, rules vs greedy: {'-' if fewer is None else f'{fewer:.0%} fewer'}")
            out(f"  anchor: {table['anchors']['extra_shipments']}")
            first = table["first_day"]
            greedy = first["greedy"]
            out(
                f"First day: greedy {greedy['parcels']} parcels / {greedy['lane_cost']:.2f} EUR, "
                f"rules {first['rules']['parcels']} / {first['rules']['lane_cost']:.2f}, "
                f"bound {first['bound']['parcels']:.0f} / {first['bound']['lane_cost']:.2f}"
            )
            for key, label in (("parcel_gap_closed", "parcels"), ("cost_gap_closed", "cost")):
                value = first[key]
                out(f"  gap closed ({label}): {'-' if value is None else f'{value:.0%}'}")
            out(f"  anchor: {table['anchors']['cost_gap_closed']}")
