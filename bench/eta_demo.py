"""The demo's delivery estimates, scored: load the demo into a fresh embedded database, let days pass
(the carrier polled every few minutes, as beat does), and print how often the estimate shown to the
customer held, and by how much it missed.

    .venv/bin/python bench/eta_demo.py [--days 3] [--step-minutes 10]

Runs on a SQLite file in a temporary folder, as `bin/run` does; the clock is moved with time-machine,
so three days take a minute. Results and the command go to docs/eta.md.
"""

import argparse
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--step-minutes", type=int, default=10)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="oms-eta-")
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {"OMS_VAR_DIR": folder, "DJANGO_SETTINGS_MODULE": "oms.settings", "CELERY_TASK_ALWAYS_EAGER": "0"}
    )
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command
    from django.utils import timezone

    from tracking import selectors, services

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    start = timezone.now()
    steps = int(args.days * 24 * 60 / args.step_minutes)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(steps):
            clock.shift(timedelta(minutes=args.step_minutes))
            services.tracking_poll_due()
    metrics = selectors.tracking_metrics(days=30)
    print(f"predictions scored: {metrics.predictions_scored}")
    if metrics.inside_window_share is not None:
        print(f"delivered inside the window shown: {metrics.inside_window_share:.0%}")
        print(f"mean absolute error: {metrics.mean_abs_error_days:.2f} days")
    from tracking.models import EtaPrediction

    by_milestone: dict[str, list[int]] = {}
    for milestone, error in EtaPrediction.objects.filter(actual_date__isnull=False).values_list(
        "milestone", "error_days"
    ):
        by_milestone.setdefault(milestone, []).append(abs(error))
    for milestone, errors in sorted(by_milestone.items()):
        mean = sum(errors) / len(errors)
        print(f"  made at {milestone:<18} {len(errors):>4} predictions, mean error {mean:.2f} d")


if __name__ == "__main__":
    main()
