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
    profiler.enable()
    for n, body in enumerate(bodies[20:]):
        response = client.post("/api/v1/orders/", body, content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY=f"k-p{run}-{n}")
        assert response.status_code == 201, response.content
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.orders} orders in {elapsed:.2f}s: {elapsed / args.orders * 1000:.2f} ms per order (profiled)")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.limit)


if __name__ == "__main__":
    main()
