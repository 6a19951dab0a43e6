"""The simulated merchant's demand, drawn from a seed: which orders arrive when, from which channel,
for which city, with which lines. Pure: no database and no clock, so that the same seed gives the
same order stream to every strategy compared on it.

The model:
- **Catalogue demand is Zipf-distributed:** the k-th best seller sells in proportion to 1 / k^s.
  Retail sales follow this closely, with s about 1.
- **Weekly seasonality:** busier Mondays and Thursdays to Fridays, quieter weekends, as web shops
  report. Within a day, arrivals follow an hourly profile: quiet at night, peaks at lunch and in the
  evening.
- **A sale spike:** one day at ``sale_factor`` times the normal rate.
- **Arrivals are Poisson:** a day's count is drawn with the day's mean, and each arrival's minute
  from the hourly profile. So the variance equals the mean, as for independent customers.
- **Channels in fixed shares** (web shop, marketplace, store, app).
- **Destinations by population:** cities drawn in proportion to their inhabitants (the 2021 Greek
  census, municipalities' figures rounded; Athens and Thessaloniki as their urban areas).
- **Basket sizes:** lines per order are one plus a geometric draw, capped; most lines are for one
  unit."""

import math
import random
from dataclasses import dataclass, field
from datetime import date

# (name, postal code of its centre, latitude, longitude, inhabitants)
CITIES: tuple[tuple[str, str, float, float, int], ...] = (
    ("Athens", "105 52", 37.9838, 23.7275, 3_059_000),
    ("Thessaloniki", "546 24", 40.6401, 22.9444, 1_030_000),
    ("Patras", "262 21", 38.2466, 21.7346, 215_000),
    ("Heraklion", "712 02", 35.3387, 25.1442, 180_000),
    ("Larissa", "412 22", 39.6390, 22.4191, 148_000),
    ("Volos", "382 21", 39.3666, 22.9507, 140_000),
    ("Ioannina", "454 44", 39.6650, 20.8537, 113_000),
    ("Chania", "731 32", 35.5138, 24.0180, 111_000),
    ("Chalcis", "341 00", 38.4636, 23.6025, 102_000),
    ("Serres", "621 22", 41.0856, 23.5476, 72_000),
    ("Kalamata", "241 00", 37.0389, 22.1142, 70_000),
    ("Alexandroupoli", "681 00", 40.8457, 25.8739, 71_000),
    ("Katerini", "601 00", 40.2719, 22.5025, 82_000),
    ("Trikala", "421 00", 39.5557, 21.7679, 80_000),
    ("Rhodes", "851 00", 36.4349, 28.2176, 125_000),
    ("Kavala", "654 03", 40.9376, 24.4129, 66_000),
    ("Corfu", "491 00", 39.6243, 19.9217, 100_000),
    ("Komotini", "691 00", 41.1224, 25.4066, 66_000),
    ("Xanthi", "671 00", 41.1349, 24.8880, 65_000),
    ("Lamia", "351 00", 38.8990, 22.4340, 65_000),
)

CHANNEL_SHARES: tuple[tuple[str, float], ...] = (
    ("web", 0.50),
    ("marketplace", 0.25),
    ("store", 0.10),
    ("app", 0.15),
)

# Monday .. Sunday, relative to an average day (their mean is 1)
WEEKDAY_FACTORS: tuple[float, ...] = (1.08, 0.98, 0.98, 1.06, 1.12, 0.92, 0.86)

# Share of a day's orders in each hour, from midnight
HOURLY_PROFILE: tuple[float, ...] = (
    1, 0.6, 0.4, 0.3, 0.3, 0.4, 1, 2, 3.5, 4.5, 5, 5.5,
    6.5, 6, 5.5, 5, 5, 5.5, 6, 6.5, 7, 6.5, 4.5, 2.5,
)  # fmt: skip

MAX_LINES = 5


@dataclass(frozen=True)
class Params:
    days: int = 30
    orders_per_day: int = 2000
    warehouses: int = 3
    seed: int = 1
    skus: int = 200
    zipf_s: float = 1.0
    sale_day: int | None = None  # which day (from 0) has the sale; None: two thirds into the run
    sale_factor: float = 3.0
    start: date = date(2026, 3, 2)  # a Monday; the simulated clock's first day, whatever today is

    @property
    def the_sale_day(self) -> int:
        return self.sale_day if self.sale_day is not None else (self.days * 2) // 3


@dataclass(frozen=True)
class Arrival:
    """One order as it arrives: its minute of the day, its channel, its city and its lines, each a
    (catalogue rank from 0, units) pair."""

    minute: int
    channel: str
    city: int  # index in CITIES
    lines: tuple[tuple[int, int], ...]


@dataclass
class Demand:
    """The order stream of one seed; ``day(n, weekday)`` gives the same arrivals every time it is
    asked, in any order of asking."""

    params: Params
    sku_weights: list[float] = field(init=False)

    def __post_init__(self) -> None:
        raw = [1 / (rank + 1) ** self.params.zipf_s for rank in range(self.params.skus)]
        total = sum(raw)
        self.sku_weights = [w / total for w in raw]

    def rate(self, day: int, weekday: int) -> float:
        """The mean number of orders of a day (``weekday``: 0 is Monday)."""
        mean = self.params.orders_per_day * WEEKDAY_FACTORS[weekday]
        return mean * (self.params.sale_factor if day == self.params.the_sale_day else 1.0)

    def day(self, day: int, weekday: int) -> list[Arrival]:
        # one generator per day, seeded from the run's seed and the day: days are independent and
        # reproducible one by one (a strategy replays day 12 without drawing days 0-11 first)
        rng = random.Random(f"{self.params.seed}:{day}")
        count = poisson(rng, self.rate(day, weekday))
        hours = rng.choices(range(24), weights=HOURLY_PROFILE, k=count)
        channels, channel_weights = zip(*CHANNEL_SHARES, strict=True)
        populations = [city[4] for city in CITIES]
        arrivals = []
        for hour in hours:
            lines_count = min(MAX_LINES, 1 + geometric(rng, 0.55))
            ranks = rng.choices(range(self.params.skus), weights=self.sku_weights, k=lines_count)
            lines = {}
            for rank in ranks:  # the same SKU twice in a basket is one line with more units
                lines[rank] = lines.get(rank, 0) + rng.choices((1, 2, 3), weights=(85, 12, 3))[0]
            arrivals.append(
                Arrival(
                    minute=hour * 60 + rng.randrange(60),
                    channel=rng.choices(channels, weights=channel_weights)[0],
                    city=rng.choices(range(len(CITIES)), weights=populations)[0],
                    lines=tuple(sorted(lines.items())),
                )
            )
        return sorted(arrivals, key=lambda a: a.minute)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: Knuth's product of uniforms for small means, and for large ones the normal
    approximation (error below 1 % of the spread once the mean passes 50)."""
    if mean <= 0:
        return 0
    if mean < 50:
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def geometric(rng: random.Random, p: float) -> int:
    """Failures before the first success, each try succeeding with ``p``."""
    return int(math.log(1 - rng.random()) / math.log(1 - p))


# ---------------------------------------------------------------------------------------- the network

# Warehouses are opened in these cities, in this order (indexes in CITIES): --warehouses 3 gives
# Athens, Thessaloniki and Heraklion.
HUBS: tuple[int, ...] = (0, 1, 3, 2, 4, 6, 14)

# Islands without a road to the mainland: a parcel to another island (or from one) goes by ferry or
# plane. Heraklion and Chania share Crete.
ISLAND_OF: dict[int, str] = {3: "crete", 7: "crete", 14: "rhodes", 16: "corfu"}


def distance_km(a: int, b: int) -> float:
    """Great-circle distance between two cities of CITIES."""
    lat1, lon1, lat2, lon2 = map(math.radians, (CITIES[a][2], CITIES[a][3], CITIES[b][2], CITIES[b][3]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def crosses_sea(a: int, b: int) -> bool:
    return ISLAND_OF.get(a) != ISLAND_OF.get(b)


def lane_surcharge(hub: int, city: int) -> float:
    """What the simulated carrier adds to its table price on a lane: 0.4 cents per km, and 1.50
    across the sea (the zone surcharges Greek couriers publish have this shape)."""
    return round(0.004 * distance_km(hub, city) + (1.5 if crosses_sea(hub, city) else 0.0), 2)


def nearest_hub(city: int, hubs: tuple[int, ...]) -> int:
    return min(hubs, key=lambda hub: (distance_km(hub, city), hub))


def hub_shares(hubs: tuple[int, ...]) -> dict[int, float]:
    """Each hub's share of the population that lives nearest to it (where its stock is placed)."""
    served = dict.fromkeys(hubs, 0)
    for index, city in enumerate(CITIES):
        served[nearest_hub(index, hubs)] += city[4]
    total = sum(served.values())
    return {hub: people / total for hub, people in served.items()}


# ---------------------------------------------------------------------------------------- the carrier


@dataclass(frozen=True)
class CarrierModel:
    """Transit times of the simulated courier, by lane: a base by distance (same city, up to 300 km,
    farther), a day more across the sea, times a log-normal factor (carriers' transit times are
    right-skewed); deliveries happen 08:00 - 20:00, else the next morning. Some first attempts fail
    (nobody at home: delivered a day later) and some parcels meet an exception (weather, a missed
    ferry: two days later)."""

    local_hours: float = 20.0
    regional_hours: float = 28.0
    far_hours: float = 36.0
    sea_hours: float = 22.0
    spread: float = 0.22  # sigma of the log-normal factor
    failed_attempt: float = 0.07
    exception: float = 0.02


def parcel_script(
    model: CarrierModel, seed: int, tracking_number: str, hub: int, city: int, shipped_hour: float
) -> list[tuple[float, str, str]]:
    """The carrier's scans for one parcel, as (hours after hand-over, sandbox status code, text). Drawn
    from the run's seed and the tracking number, so a parcel's fate is the same in every strategy
    that ships it on the same lane. ``shipped_hour``: the local hour of hand-over (deliveries keep to
    daytime)."""
    rng = random.Random(f"{seed}:parcel:{tracking_number}")
    km = distance_km(hub, city)
    base = model.local_hours if hub == city else model.regional_hours if km <= 300 else model.far_hours
    if crosses_sea(hub, city):
        base += model.sea_hours
    hours = base * math.exp(rng.gauss(0, model.spread))
    excepted = rng.random() < model.exception
    if excepted:
        hours += 48
    arrival = _daytime(shipped_hour + hours, rng) - shipped_hour
    script = [(1.0, "SBX-PU", "Picked up by the driver"), (4.0, "SBX-IT", "On its way to the hub")]
    if excepted:
        script.append((10.0, "SBX-WX", "Held at the sorting centre (weather)"))
    script.append((max(arrival - 6, 5.0), "SBX-HUB", "Arrived at the delivery hub"))
    script.append((max(arrival - 2, 6.0), "SBX-OFD", "Out for delivery"))
    if rng.random() < model.failed_attempt:
        script.append((arrival, "SBX-NH", "Nobody at home; we will try again"))
        again = _daytime(shipped_hour + arrival + 20, rng) - shipped_hour
        script.append((again - 2, "SBX-OFD", "Out for delivery (second attempt)"))
        arrival = again
    script.append((arrival, "SBX-DL", "Delivered"))
    return script


def _daytime(hour: float, rng: random.Random) -> float:
    """``hour`` (from the hand-over day's midnight) moved into the next 08:00 - 20:00 window."""
    day, clock = divmod(hour, 24)
    if clock < 8:
        clock = 8 + rng.random() * 4
    elif clock > 20:
        day, clock = day + 1, 8 + rng.random() * 4
    return day * 24 + clock


# -------------------------------------------------------------------------------------- the customers

RETURN_REASONS: tuple[tuple[str, float], ...] = (
    ("too_small", 0.28),
    ("too_large", 0.2),
    ("changed_mind", 0.27),
    ("not_as_described", 0.08),
    ("damaged", 0.07),
    ("wrong_item", 0.04),
    ("late", 0.06),
)


@dataclass(frozen=True)
class Customers:
    """How the simulated customers behave. A customer expects the parcel by the date they were last
    told (the promise in the shipping message), or three days after ordering when nobody told them
    anything. When that day ends with no parcel and no message explaining the delay, they ask where
    their order is with ``ask_when_late``; a customer told of the delay still asks with
    ``ask_when_told``. Of delivered orders, ``return_share`` send a unit back, a few days later."""

    expected_days_untold: int = 3
    ask_when_late: float = 0.6
    ask_when_told: float = 0.08
    return_share: float = 0.1
