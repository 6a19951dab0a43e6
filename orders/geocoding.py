"""Where an address probably is when the channel did not say: the centre of its city, from a table
that ships with the OMS (``orders/geodata``, GeoNames). Offline, and a dictionary lookup per address."""

import gzip
import json
import re
import unicodedata
from decimal import Decimal
from functools import cache
from pathlib import Path

GEODATA = Path(__file__).resolve().parent / "geodata"
_SEPARATORS = re.compile("[\\s\\-'\u2019.,()]+")


class CoordinatesSource:
    CHANNEL = "channel"  # the channel sent them
    CITY = "city"  # the centre of the address's city (an estimate)


def place_key(name: str) -> str:
    """A place name as the tables key it: lower case, no accents, single spaces ("Pátra" -> "patra")."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", text).strip()


@cache
def _country_table(country: str) -> dict[str, list[float]]:
    # Loaded on first use per country and kept: a merchant ships to a handful of countries.
    path = GEODATA / f"{country}.json.gz"
    if not country.isalpha() or len(country) != 2 or not path.exists():
        return {}
    return json.loads(gzip.decompress(path.read_bytes()))


def city_centroid(country: str, city: str) -> tuple[Decimal, Decimal] | None:
    """The centre of ``city`` in ``country`` (ISO alpha-2), or None when the table does not know it."""
    if not city or not country:
        return None
    point = _country_table(country.upper()).get(place_key(city))
    if point is None:
        return None
    return Decimal(str(point[0])), Decimal(str(point[1]))


def address_locate(address: dict) -> dict:
    """``address`` (as cleaned for saving) with its coordinates and where they come from: the channel's
    own, else its city's centre, else none."""
    if address.get("latitude") is not None and address.get("longitude") is not None:
        return address | {"coordinates_source": CoordinatesSource.CHANNEL}
    point = city_centroid(str(address.get("country") or ""), str(address.get("city") or ""))
    if point is None:
        return address | {"latitude": None, "longitude": None, "coordinates_source": ""}
    return address | {
        "latitude": point[0],
        "longitude": point[1],
        "coordinates_source": CoordinatesSource.CITY,
    }
