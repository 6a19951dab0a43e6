"""Where order intake spends its time: cProfile over N orders through Django's full request stack,
in-process, on the bench database that bench/intake.py prepares (run that first).

    .venv/bin/python bench/profile_intake.py [--orders 300] [--sort cumulative|tottime]
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, order_body  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=45)
    parser.add_argument("--no-profile", action="store_true", help="only time the orders")
    args = parser.parse_args()
    os.environ.update(bench_env())
    import django

    django.setup()
    from django.test import Client

    from orders import services
    from orders.models import Channel

    _, raw_key = services.api_key_create(name="profile", channel=Channel.objects.get(code="bench"))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    run = str(int(time.time()))
    bodies = [json.dumps(order_body(f"p{run}-{n}")) for n in range(args.orders + 20)]
    for body in bodies[:20]:
        client.post("/api/v1/orders/", body, content_type="application/json")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    if not args.no_profile:
        profiler.enable()
    for n, body in enumerate(bodies[20:]):
        response = client.post(
            "/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"k-p{run}-{n}"
        )
        assert response.status_code == 201, response.content
    profiler.disable()
    elapsed = time.perf_counter() - started
    mode = "unprofiled" if args.no_profile else "profiled"
    print(f"{args.orders} orders in {elapsed:.2f}s: {elapsed / args.orders * 1000:.2f} ms per order ({mode})")
    if args.no_profile:
        return
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        if "site-packages" in filename:
            key = filename.split("site-packages/")[-1].split("/")[0]
        else:
            key = "oms code" if str(ROOT) in filename else "python"
        by_package[key] = by_package.get(key, 0) + tottime
    total = sum(by_package.values())
    print("own time by package:")
    for key, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {key:24} {seconds / total:6.1%}")
    stats.sort_stats(args.sort).print_stats(args.limit)


if __name__ == "__main__":
    main()
