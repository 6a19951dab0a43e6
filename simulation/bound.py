"""The offline lower bound for a day of orders: knowing every order of the day at once and the stock
at its start, the fewest parcels, and separately the cheapest shipping, that could have served the
orders a strategy served. Solved as a mixed-integer program with HiGHS (``highspy``); its dual
bound is a valid lower bound even when the time limit stops the search early.

The model, per order o, warehouse w and product p:
- ``x[o,w,p]`` units of p for o from w (continuous), ``y[o,w]`` whether w sends o a parcel (binary);
- each order receives what it was served: sum over w of x[o,w,p] = served[o,p];
- no warehouse gives more than it held: sum over o of x[o,w,p] <= stock[w,p];
- units only travel in a parcel: x[o,w,p] <= served[o,p] * y[o,w];
- objective: the number of parcels, or their lane cost (the courier's per-parcel price on the lane;
  the per-kilogram part is the same wherever the units come from and is left out of both sides)."""

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import highspy

TIME_LIMIT_SECONDS = 60.0


@dataclass(frozen=True)
class DayProblem:
    served: dict[int, dict[int, int]]  # order -> product -> units served on the day
    city: dict[int, int]  # order -> destination city
    stock: dict[tuple[int, int], int]  # (warehouse, product) -> units at the day's start
    lane_cost: dict[tuple[int, int], float]  # (warehouse, city) -> per-parcel price


@dataclass(frozen=True)
class Bound:
    value: float  # the lower bound (the MIP's dual bound)
    best_found: float | None  # the best plan the solver found (an upper bound)
    optimal: bool


def solve(problem: DayProblem, objective: str) -> Bound:
    """``objective``: "parcels" or "cost"."""
    with _quiet():  # the solver greets on stdout when it starts
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", TIME_LIMIT_SECONDS)
    h.setOptionValue("threads", 1)
    warehouses = sorted({w for w, _ in problem.stock})
    uses: dict[tuple[int, int], list] = {}
    for order, lines in sorted(problem.served.items()):
        holders = [w for w in warehouses if any(problem.stock.get((w, p), 0) > 0 for p in lines)]
        parcels = {}
        for w in holders:
            weight = 1.0 if objective == "parcels" else problem.lane_cost[(w, problem.city[order])]
            parcels[w] = h.addVariable(lb=0, ub=1, obj=weight, type=highspy.HighsVarType.kInteger)
        for product, units in lines.items():
            sources = []
            for w in holders:
                if problem.stock.get((w, product), 0) <= 0:
                    continue
                x = h.addVariable(lb=0, ub=units)
                h.addConstr(x <= units * parcels[w])
                sources.append(x)
                uses.setdefault((w, product), []).append(x)
            h.addConstr(h.qsum(sources) == units)
    for key, variables in uses.items():
        h.addConstr(h.qsum(variables) <= problem.stock[key])
    h.run()
    info = h.getInfo()
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    best = info.objective_function_value if info.primal_solution_status else None
    return Bound(value=float(info.mip_dual_bound), best_found=best, optimal=optimal)


@contextmanager
def _quiet():
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
