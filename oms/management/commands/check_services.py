"""Fails with a message naming the service when PostgreSQL or Redis cannot be reached."""

import os

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Check that the database and Redis named by DATABASE_URL and REDIS_URL answer."

    def add_arguments(self, parser):
        parser.add_argument("--require-postgres", action="store_true")
        parser.add_argument("--require-redis", action="store_true")

    def handle(self, *args, require_postgres: bool, require_redis: bool, **options):
        from django.db import connection

        problems = []
        database_url = os.environ.get("DATABASE_URL", "(embedded SQLite)")
        if require_postgres and connection.vendor != "postgresql":
            problems.append(f"DATABASE_URL must point at PostgreSQL, not {connection.vendor}.")
        try:
            # The server is what must answer: the test database itself is created by the test run.
            with connection._nodb_cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            problems.append(f"PostgreSQL is unreachable at {database_url}: {exc}".strip())
        if require_redis:
            import redis

            url = os.environ.get("REDIS_URL", "")
            try:
                redis.Redis.from_url(url, socket_connect_timeout=3).ping()
            except Exception as exc:
                problems.append(f"Redis is unreachable at {url or '(REDIS_URL not set)'}: {exc}")
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write("PostgreSQL and Redis answer." if require_redis else "The database answers.")
