"""Order intake through the real HTTP stack, against pgbench running the same SQL.

    .venv/bin/python bench/intake.py [--seconds 20] [--rounds 3] [--connections 8] [--workers 3]

What it does, on a fresh database ``oms_bench`` next to the one in DATABASE_URL:
1. migrates it, creates a channel with its key and 100 products;
2. sends one 3-line order through Django in-process and records every SQL statement the endpoint
   issues, with its parameters; turns that into a pgbench script in which the per-order values
   (external id, e-mail, idempotency key and lock, returned ids) vary per transaction;
3. serves the OMS with gunicorn and drives it with wrk (several connections, 3-line orders, a new
   customer and a new Idempotency-Key each), printing orders/s and p50 / p99 latency;
4. runs pgbench with the captured script and the same number of connections;
5. repeats 3 and 4 (``--rounds``, alternating, so that drift in the host's speed weighs on both
   sides) and prints each round's ratio and their median.

Needs PostgreSQL and Redis (as for bin/test), ``wrk`` and ``pgbench`` (Debian: wrk, postgresql-client).
Not part of the test suite.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import sqlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms")
BENCH_DB = os.environ.get("BENCH_DB", "oms_bench")
BENCH_URL = urlunparse(urlparse(BASE_URL)._replace(path=f"/{BENCH_DB}"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
PORT = 8765
SKUS = [f"BENCH-{n:03d}" for n in range(100)]


def recreate_database(name: str = BENCH_DB) -> None:
    import psycopg

    parsed = urlparse(BASE_URL)
    with psycopg.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def bench_env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": BENCH_URL,
        "REDIS_URL": REDIS_URL,
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "LOG_LEVEL": "WARNING",
    }


def order_body(run_id: str) -> dict:
    return {
        "external_id": f"B-{run_id}",
        "customer": {"email": f"c{run_id}@example.com", "first_name": "Bench", "last_name": "Customer"},
        "shipping_address": {
            "name": "Bench Customer",
            "line1": "Odos Patision 12",
            "city": "Athens",
            "postal_code": "104 34",
            "country": "GR",
        },
        "lines": [{"sku": SKUS[n], "quantity": 1 + n, "unit_price": "12.50"} for n in (3, 17, 42)],
        "currency": "EUR",
        "service_level": "standard",
        "payment_status": "paid",
        "shipping_total": "4.90",
    }


def setup_and_capture(channel_code: str = "bench") -> tuple[str, list[tuple[str, tuple]], dict]:
    """Create the channel, key and products; capture the SQL of one order as the endpoint issues it."""
    os.environ.update(bench_env())
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from orders import services

    call_command("migrate", verbosity=0)
    channel = services.channel_create(code=channel_code, name="Bench", kind="web")
    _, raw_key = services.api_key_create(name="bench", channel=channel)
    services.products_upsert(
        products=[services.ProductInput(sku=s, name=f"Bench {s}", weight_grams=300) for s in SKUS]
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    # First call records the key's last use (once per few minutes), so the captured one is typical.
    client.post(
        "/api/v1/orders/", order_body("warm"), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-warm"
    )
    statements: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.post(
            "/api/v1/orders/",
            order_body("capture"),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k-capture",
        )
    assert response.status_code == 201, response.content
    created = response.json()
    from oms.idempotency import idempotency_lock_id
    from orders.models import ApiKey, Order

    key = ApiKey.objects.get(name="bench", channel=channel)
    dynamic = {
        "external_id": "B-capture",
        "email": "ccapture@example.com",
        "idem_key": "k-capture",
        "lock_id": idempotency_lock_id(f"apikey:{key.pk}", "k-capture"),
        "customer_id": Order.objects.values_list("customer_id", flat=True).get(pk=created["id"]),
        "order_id": created["id"],
    }
    connection.close()
    return raw_key, statements, dynamic


INSERT_RE = re.compile(r'INSERT INTO "?(\w+)"? \(([^)]*)\) VALUES ')


def placeholder_columns(sql: str) -> tuple[list[str | None], list[str]]:
    """For each ``%s`` of the INSERTs' VALUES lists in ``sql``, the column it fills (in order), and the
    tables inserted into. Placeholders elsewhere (a WHERE after a CTE) get None."""
    columns: list[str | None] = []
    tables = []
    for match in INSERT_RE.finditer(sql):
        tables.append(match.group(1))
        names = [c.strip().strip('"') for c in match.group(2).split(",")]
        position = match.end()
        while position < len(sql) and sql[position] == "(":
            depth, items, start = 0, [], position + 1
            for index in range(position, len(sql)):
                char = sql[index]
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                    if depth == 0:
                        items.append(sql[start:index])
                        break
                elif char == "," and depth == 1:
                    items.append(sql[start:index])
                    start = index + 1
            columns += [name for name, item in zip(names, items, strict=True) if item.strip() == "%s"]
            position = index + 1
            if sql.startswith(", (", position):
                position += 2
    return columns, tables


def literal(value) -> str:
    from psycopg import sql as psql

    if value is None:
        return "NULL"
    if hasattr(value, "dumps") and hasattr(value, "adapted"):  # psycopg Jsonb wrapper
        value = json.dumps(value.obj)
    return psql.Literal(value).as_string(None)


def render_statement(sql: str, params: tuple, by_column: dict, by_value: dict, dynamic: dict) -> str:
    """One captured statement as pgbench text, with the per-order values as pgbench variables."""
    sql = sql.strip().removesuffix(";")
    rendered = []
    columns, tables = placeholder_columns(sql)
    for index, value in enumerate(params):
        column = columns[index] if index < len(columns) else None
        if column in by_column and not (column == "key" and value != dynamic["idem_key"]):
            rendered.append(by_column[column])
        elif isinstance(value, str | int) and value in by_value:
            rendered.append(by_value[value])
        else:
            rendered.append(literal(value))
    text = sql.replace("%s", "{}").format(*rendered) if params else sql
    text = " ".join(text.split())
    # The ids later statements use, from the statements that return them.
    if "orders_order" in tables:
        text += " \\gset ord_"
    elif "orders_customer" in tables:
        text += " \\gset cust_"
    elif "orders_address" in tables:
        text += " \\gset addr_"
    return text


def pgbench_script(statements: list[tuple[str, tuple]], dynamic: dict) -> str:
    """The captured transaction with per-order values turned into pgbench variables."""
    by_column = {
        "external_id": "('B-' || :r)",
        "email": "('c' || :r || '@example.com')",
        "key": "('k-' || :r)",
        "customer_id": ":cust_id",
        "shipping_address_id": ":addr_id",
        "order_id": ":ord_id",
    }
    by_value = {
        dynamic["external_id"]: "('B-' || :r)",
        dynamic["email"]: "('c' || :r || '@example.com')",
        dynamic["idem_key"]: "('k-' || :r)",
        dynamic["lock_id"]: ":r",
    }
    lines = ["\\set r random(1, 1000000000000)", "BEGIN;"]
    for round_trip, round_trip_params in statements:
        if round_trip.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            continue
        # One round trip may carry several statements (oms.sql.deferred_inserts): pgbench sends them
        # together too when they are joined with "\;".
        parts, rendered_parts, offset = sqlparse.split(round_trip), [], 0
        for sql in parts:
            count = sql.count("%s")
            params = round_trip_params[offset : offset + count]
            offset += count
            rendered_parts.append(render_statement(sql, params, by_column, by_value, dynamic))
        text = " \\; ".join(part.removesuffix(";") for part in rendered_parts)
        lines.append(text if "\\gset" in text else text + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


WRK_SCRIPT = """
local counter = 0
local threads = {}
local template = [==[%(template)s]==]
setup = function(thread)
  thread:set("tid", tostring(#threads + 1) .. "%(run)s")
  table.insert(threads, thread)
end
request = function()
  counter = counter + 1
  local id = tid .. "-" .. counter
  local body = string.gsub(template, "RUNID", id)
  return wrk.format("POST", "/api/v1/orders/", {
    ["Authorization"] = "Bearer %(key)s",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "k-" .. id,
  }, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT {\\"requests\\": %%d, \\"seconds\\": %%f, \\"non2xx\\": %%d, "
    .. "\\"errors\\": %%d, \\"p50_ms\\": %%f, \\"p99_ms\\": %%f, \\"mean_ms\\": %%f}\\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def cpu_seconds_by_process() -> dict[int, tuple[str, float, float]]:
    """(program, user + kernel, kernel) CPU seconds so far of every live postgres and gunicorn process."""
    ticks = os.sysconf("SC_CLK_TCK")
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        program = (
            "gunicorn" if "gunicorn" in command else "postgres" if command.startswith("postgres") else None
        )
        if program:
            user, kernel = int(fields[11]) / ticks, int(fields[12]) / ticks
            seen[int(pid)] = (program, user + kernel, kernel)
    return seen


def cpu_seconds_between(before: dict, after: dict) -> dict[str, float]:
    """CPU used between two snapshots by program; a process that ended in between is left out (the
    backends of a finished pgbench exit a moment later, having used nothing since)."""
    totals = {"postgres": 0.0, "gunicorn": 0.0, "gunicorn (kernel)": 0.0}
    for pid, (program, cpu, kernel) in after.items():
        _, cpu_then, kernel_then = before.get(pid, (program, 0.0, 0.0))
        totals[program] += cpu - cpu_then
        if program == "gunicorn":
            totals["gunicorn (kernel)"] += kernel - kernel_then
    return totals


def profile_workers(master_pid: int, directory: str | None, seconds: int) -> list[subprocess.Popen]:
    """py-spy samplers, one per gunicorn worker, writing folded stacks (flamegraph input) for
    ``seconds``; none without ``directory``."""
    if not directory:
        return []
    py_spy = shutil.which("py-spy") or str(ROOT / ".venv/bin/py-spy")
    Path(directory).mkdir(parents=True, exist_ok=True)
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                pid,
                "--duration",
                str(seconds),
                "--rate",
                "250",
                "--nonblocking",
                "--gil",
                "--format",
                "raw",
                "--output",
                str(Path(directory) / f"worker-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in children
    ]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def wrk(script_text: str, seconds: int, connections: int) -> dict:
    """Run wrk with a Lua script whose ``done`` prints a RESULT line; adds ``per_s`` (2xx per second)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            f"http://127.0.0.1:{PORT}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    result["per_s"] = (result["requests"] - result["non2xx"]) / result["seconds"]
    return result


def run_wrk(raw_key: str, seconds: int, connections: int, run: str) -> dict:
    template = json.dumps(order_body("RUNID"))
    result = wrk(WRK_SCRIPT % {"template": template, "key": raw_key, "run": run}, seconds, connections)
    result["orders_per_s"] = result["per_s"]
    return result


def run_pgbench(script_text: str, seconds: int, connections: int, mode: str) -> dict:
    parsed = urlparse(BENCH_URL)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(script_text)
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            mode,
            "-c",
            str(connections),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            script.name,
            "-h",
            parsed.hostname,
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            BENCH_DB,
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))
    failed = int(re.search(r"number of failed transactions: (\d+)", out.stdout).group(1))
    return {"tps": tps, "latency_avg_ms": latency, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20, help="length of each side's run in a round")
    parser.add_argument("--rounds", type=int, default=3, help="API and pgbench runs, alternating")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="gunicorn threads per worker (gthread worker, keeps connections alive); 0: sync",
    )
    parser.add_argument(
        "--worker-class",
        help="another gunicorn worker class (e.g. gevent, with --threads as its worker connections)",
    )
    parser.add_argument(
        "--pgbench-mode",
        default="simple",
        choices=["simple", "extended", "prepared"],
        help="pgbench protocol; simple matches Django's client-side parameter binding (the default)",
    )
    parser.add_argument("--keep-script", action="store_true", help="print the pgbench script")
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="post into BENCH_DB as it is (e.g. BENCH_DB=oms_bench_scale after bench/scale_pages.py) "
        "instead of a fresh one, under a channel of the run's own",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the gunicorn workers with py-spy (pip install py-spy) during the first API run and "
        "write their folded stacks to DIR (the sampling slows that round a little)",
    )
    args = parser.parse_args()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install {'wrk' if tool == 'wrk' else 'postgresql-client'}")

    if args.keep_database:
        raw_key, statements, dynamic = setup_and_capture(f"bench-{int(time.time())}")
    else:
        recreate_database()
        raw_key, statements, dynamic = setup_and_capture()
    script = pgbench_script(statements, dynamic)
    if args.keep_script:
        print(script)
    trips = [sql for sql, _ in statements if not sql.startswith(("SAVEPOINT", "RELEASE"))]
    count = sum(len(sqlparse.split(sql)) for sql in trips)
    print(f"endpoint SQL per order: {count} statements in {len(trips)} round trips (captured)")

    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "oms.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            *(
                ["--worker-class", args.worker_class, "--worker-connections", str(args.threads or 1)]
                if args.worker_class
                else ["--worker-class", "gthread", "--threads", str(args.threads)]
                if args.threads
                else []
            ),
        ],
        cwd=ROOT,
        env=bench_env(),
        start_new_session=True,
    )
    rounds = []
    try:
        wait_for_port(PORT)
        run = str(int(time.time()))
        run_wrk(raw_key, 3, args.connections, run + "w")  # warm-up: imports, connections, caches
        # The two sides alternate, so that a drift in the host's speed (a shared machine's neighbours)
        # weighs on both alike; the ratio reported is the median of the rounds'.
        for number in range(args.rounds):
            samplers = profile_workers(server.pid, args.profile, args.seconds) if number == 0 else []
            cpu_before = cpu_seconds_by_process()
            api = run_wrk(raw_key, args.seconds, args.connections, f"{run}-{number}")
            for sampler in samplers:
                sampler.wait(timeout=60)
            used = cpu_seconds_between(cpu_before, cpu_seconds_by_process())
            api["cpu_ms_per_order"] = {k: v * 1000 / api["requests"] for k, v in used.items()}
            pg = run_pgbench(script, args.seconds, args.connections, args.pgbench_mode)
            rounds.append({"api": api, "pgbench": pg, "ratio": api["orders_per_s"] / pg["tps"]})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(
        f"API: gunicorn {args.workers} workers x {args.threads or 1} threads, wrk {args.connections} "
        f"connections, 3-line orders; pgbench -M {args.pgbench_mode}, same SQL, {args.connections} "
        f"connections; {args.rounds} rounds of {args.seconds} s each, alternating"
    )
    for number, result in enumerate(rounds, 1):
        api, pg = result["api"], result["pgbench"]
        print(
            f"  round {number}: API {api['orders_per_s']:.1f} orders/s (p50 {api['p50_ms']:.1f} ms, "
            f"p99 {api['p99_ms']:.1f} ms, non-2xx {api['non2xx']}, socket errors {api['errors']}); "
            f"pgbench {pg['tps']:.1f} tps (failed {pg['failed']}); ratio {result['ratio']:.3f}"
        )
        print(
            "    CPU per order: " + ", ".join(f"{k} {v:.1f} ms" for k, v in api["cpu_ms_per_order"].items())
        )
    ratio = statistics.median(r["ratio"] for r in rounds)
    print(f"ratio API / pgbench (median of {len(rounds)} rounds): {ratio:.3f}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"intake-{run}.json").write_text(
        json.dumps({"rounds": rounds, "ratio": ratio, "args": vars(args)}, indent=2)
    )


if __name__ == "__main__":
    main()
