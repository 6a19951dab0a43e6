"""Real processes for the tests about crashes and outages: a Redis server the test owns, and the OMS's
own web server, Celery worker and beat, started as in production on the test database.

Only for tests marked ``django_db(transaction=True)``: the processes see committed rows only. Stop every
process before the test ends (the fixtures do), or the database flush after the test waits for them.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from django.db import connection

from tests.factories import order_payload

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], *, seconds: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(step)


def database_url() -> str:
    """The test database, as the child processes reach it."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class RedisServer:
    """A Redis of the test's own, on a free port, that the test may stop and start again."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # A server is not part of what a shifted clock tests (and libfaketime breaks redis-server).
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, seconds=10, what="Redis to start")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port, trust auth),
    holding a copy of the test database, that the test may restart: the machine's server is shared
    with the rest of the suite and must stay up."""

    def __init__(self):
        initdb = shutil.which("initdb") or max(glob.glob("/usr/lib/postgresql/*/bin/initdb"), default="")
        if not initdb:
            raise AssertionError("PostgreSQL's initdb is not installed (the postgresql package)")
        self.bin = Path(initdb).resolve().parent  # the version's own folder: psql and pg_dump beside it
        self.port = free_port()
        # postgres refuses to run as root: as root, the cluster belongs to the postgres user
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.folder = Path(tempfile.mkdtemp(prefix="oms-pg-"))
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self.data = self.folder / "data"
        self.env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/oms"

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self.as_user, *command], check=True, env=self.env, cwd=self.folder, capture_output=True
        )

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-w", "-t", "60",
            "-o", options, "-l", str(self.folder / "server.log"), *extra,
        )  # fmt: skip

    def start(self, copy_of: str) -> None:
        """initdb, start, and restore ``copy_of`` (a database URL) into the database ``oms``."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")
        self._pg_ctl("start")
        admin = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [str(self.bin / "psql"), admin, "-qc", "CREATE DATABASE oms"], check=True, env=self.env
        )
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--no-owner", "--no-privileges", copy_of],
            check=True, env=self.env, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [str(self.bin / "psql"), self.url, "-q", "-v", "ON_ERROR_STOP=1"],
            input=dump.stdout, check=True, env=self.env, capture_output=True,
        )  # fmt: skip

    def restart(self) -> None:
        """As an operator's restart does: every session terminated, in-flight transactions rolled
        back, the server down until it has started again."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class OmsProcess:
    """One OMS process (web, worker or beat) in a session of its own, so that a kill takes its children
    too, as when a container is killed."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path):
        self.name = name
        self.log = folder / f"{name}.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, seconds: float = 60) -> None:
        def seen() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.output()[-3000:]}")
            return text in self.output()

        wait_for(seen, seconds=seconds, what=f"{self.name} to print {text!r}")

    def kill(self) -> None:
        """SIGKILL to the process and its children: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Stack:
    """Starts OMS processes against the test database and a given Redis; stops them all at the end."""

    def __init__(self, folder: Path, redis_url: str, **settings: str):
        self.folder = folder
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "oms.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "OMS_VAR_DIR": str(folder / "var"),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "ROUTING_ON_RECEIPT": "1",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        self.processes: list[OmsProcess] = []
        self._workers = 0

    def _start(self, name: str, command: list[str]) -> OmsProcess:
        process = OmsProcess(name, command, self.env, self.folder)
        self.processes.append(process)
        return process

    def web(self, workers: int = 1) -> str:
        """gunicorn as in production (threaded workers); returns its base URL once it answers."""
        port = free_port()
        self.web_process = self._start(
            "web",
            [
                *(str(BIN / "gunicorn"), "oms.wsgi:application", "--bind", f"127.0.0.1:{port}"),
                *("--workers", str(workers), "--worker-class", "gthread", "--threads", "4"),
                *("--log-level", "warning"),
            ],
        )
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            # gunicorn's master accepts connections before its worker has imported the app, so on a
            # slow machine the first request can wait longer than one try: a timeout is "not yet".
            try:
                return requests.get(f"{base}/api/v1/orders/", timeout=5).status_code == 401
            except (requests.ConnectionError, requests.Timeout):
                return False

        wait_for(answers, seconds=60, what="gunicorn to answer")
        return base

    def worker(self) -> OmsProcess:
        """A Celery worker on every queue, two pool processes, late acknowledgement as configured."""
        self._workers += 1
        process = self._start(
            f"worker-{self._workers}",
            [
                *(str(BIN / "celery"), "-A", "oms", "worker"),
                *("-Q", "default,routing,tracking,notifications,replenishment,integrations"),
                *(
                    "-c",
                    "2",
                    "-l",
                    "INFO",
                    "-n",
                    f"w{self._workers}@%h",
                    "--without-mingle",
                    "--without-gossip",
                ),
            ],
        )
        process.wait_for_output("ready.")
        return process

    def beat(self) -> OmsProcess:
        process = self._start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "oms",
                "beat",
                "-l",
                "INFO",
                "-s",
                str(self.folder / "beat-schedule"),
            ],
        )
        process.wait_for_output("beat: Starting")
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def one_cap(external_id: str) -> dict:
    body = order_payload(external_id, lines=[{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "15.00"}])
    # The OMS's processes keep the machine's time, not the tests' pinned clock: no dates from here.
    del body["placed_at"], body["requested_delivery_window"]
    return body


def post(base: str, key: str, body: dict) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/orders/",
        json=body,
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": body["external_id"]},
        timeout=10,
    )


def gunicorn_workers(master_pid: int) -> set[int]:
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as children:
        return {int(pid) for pid in children.read().split()}
