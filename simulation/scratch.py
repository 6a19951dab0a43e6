"""Scratch databases for simulation runs: each strategy runs in a fresh OMS of its own, created from a
migrated template (PostgreSQL's CREATE DATABASE ... TEMPLATE, or a copy of an SQLite file), so that
a run never touches the merchant's data and every strategy starts from the same empty schema."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections

ALIAS = "default"


def _settings() -> dict:
    return connections[ALIAS].settings_dict


def is_postgres() -> bool:
    return _settings()["ENGINE"] == "django.db.backends.postgresql"


def _switch(name: str) -> None:
    connection = connections[ALIAS]
    connection.close()
    connection.settings_dict["NAME"] = name


def _admin(sql: str) -> None:
    """Run one statement outside any transaction on the server's maintenance database."""
    import psycopg

    conf = _settings()
    with psycopg.connect(
        dbname="postgres",
        user=conf.get("USER") or None,
        password=conf.get("PASSWORD") or None,
        host=conf.get("HOST") or None,
        port=conf.get("PORT") or None,
        autocommit=True,
    ) as admin:
        admin.execute(sql)


class Scratch:
    """The template and the run databases of one ``simulate`` command, named after the OMS's own."""

    def __init__(self, keep: bool = False):
        self.home = _settings()["NAME"]
        self.keep = keep
        self.made: list[str] = []
        if is_postgres():
            self.template = f"{self.home}_sim_template"
        else:
            folder = Path(settings.VAR_DIR) / "simulation"
            folder.mkdir(parents=True, exist_ok=True)
            self.template = str(folder / "template.sqlite3")

    def _name(self, label: str) -> str:
        if is_postgres():
            return f"{self.home}_sim_{label}"
        return str(Path(self.template).with_name(f"{label}.sqlite3"))

    def prepare(self) -> None:
        """Create the template and migrate it (once per command)."""
        self._drop(self.template)
        if is_postgres():
            _admin(f'CREATE DATABASE "{self.template}"')
        _switch(self.template)
        try:
            call_command("migrate", verbosity=0, interactive=False)
        finally:
            connections[ALIAS].close()
            _switch(self.home)

    @contextmanager
    def database(self, label: str) -> Iterator[str]:
        """Connect the OMS to a new database copied from the template for the block's duration."""
        name = self._name(label)
        self._drop(name)
        if is_postgres():
            _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            # A run's database is thrown away: its commits need not wait for the disk.
            _admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        else:
            shutil.copyfile(self.template, name)
        self.made.append(name)
        _switch(name)
        try:
            yield name
        finally:
            connections[ALIAS].close()
            _switch(self.home)

    @contextmanager
    def attach(self, label: str) -> Iterator[str]:
        """Connect to a kept run database (``--keep``) for the block's duration."""
        name = self._name(label)
        _switch(name)
        try:
            yield name
        finally:
            connections[ALIAS].close()
            _switch(self.home)

    def cleanup(self) -> None:
        self._drop(self.template)
        if not self.keep:
            for name in self.made:
                self._drop(name)

    def _drop(self, name: str) -> None:
        if is_postgres():
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            Path(name).unlink(missing_ok=True)
