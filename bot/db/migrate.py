"""Run Alembic migrations programmatically (on start, and for `python -m bot db upgrade`).

`upgrade(engine)` migrates in this process (the CLI's `db upgrade`, tests). The bot itself calls
`upgrade_in_child(url)`: the same upgrade in a short-lived child process, so the long-running
process never imports Alembic, Mako and the SQL dialects Alembic loads (about 13 MiB resident that
would otherwise stay for the life of the bot). Alembic is therefore only imported inside functions.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import fcntl
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the directory holding the `bot` package
CHILD_TIMEOUT = 300.0  # SQLite migrations take seconds; this only stops a hung child blocking start-up
ERROR_PREFIX = "error: "
LOCK_SUFFIX = ".migrate-lock"
LOCK_TIMEOUT = CHILD_TIMEOUT  # another process migrating longer than this is hung, not slow
LOCK_POLL = 0.05


class MigrationError(RuntimeError):
    """The database could not be brought up to date; ``str()`` is one line for the log."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats "%" as interpolation: a PostgreSQL URL has them (%2F in a socket path).
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextlib.asynccontextmanager
async def migration_lock(engine: AsyncEngine, *, timeout: float = LOCK_TIMEOUT) -> AsyncIterator[None]:
    """Hold an exclusive lock for the upgrade of this database, across processes.

    PostgreSQL: an advisory lock (`_advisory_lock`). SQLite: as follows.

    SQLite runs Alembic's DDL outside a transaction (the driver begins one only before DML), so two
    processes upgrading a fresh file both see no version table and both `CREATE TABLE`. A `flock` on a
    file beside the database serialises them: the second waits, then finds the work done. The lock
    file is created 0600 and left in place (removing it would let a third process lock a new inode).
    """
    from bot.db.engine import sqlite_path

    if engine.dialect.name == "postgresql":
        async with _advisory_lock(engine, timeout=timeout):
            yield
        return
    path = sqlite_path(str(engine.url))
    if path is None:  # in-memory: private to this process
        yield
        return
    lock_path = path.with_name(path.name + LOCK_SUFFIX)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info("another process is migrating the database; waiting for it")
                    waited = True
                if loop.time() > deadline:
                    raise MigrationError(
                        f"another process held the migration lock ({lock_path}) for more than {timeout:.0f} s"
                    ) from None
                await asyncio.sleep(LOCK_POLL)  # polling keeps the event loop free meanwhile
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# Any fixed 64-bit number the bot's own database uses for nothing else: "eco-migr" in ASCII.
ADVISORY_LOCK_KEY = int.from_bytes(b"eco-migr", "big") & 0x7FFF_FFFF_FFFF_FFFF


@contextlib.asynccontextmanager
async def _advisory_lock(engine: AsyncEngine, *, timeout: float) -> AsyncIterator[None]:
    """PostgreSQL's session-level advisory lock, held on a connection of its own for the upgrade.

    PostgreSQL runs the DDL in a transaction, but two processes upgrading an empty database still both
    see no version table, and the second fails on "relation already exists" when the first commits.
    The lock is released explicitly, and by the server if this process dies (its session ends).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waited = False
    async with engine.connect() as conn:
        while not (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})).scalar():
            await conn.rollback()  # don't sit "idle in transaction" while polling
            if not waited:
                log.info("another process is migrating the database; waiting for it")
                waited = True
            if loop.time() > deadline:
                raise MigrationError(
                    f"another process held the migration lock (advisory lock {ADVISORY_LOCK_KEY}) "
                    f"for more than {timeout:.0f} s"
                )
            await asyncio.sleep(LOCK_POLL)
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            await conn.commit()


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision of every feature branch ("heads").

    Safe with several processes at once: the upgrade runs under `migration_lock`, and whoever waited
    re-reads the version under it (a database already at every head is left untouched).
    """
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))  # str() would mask it as ***

    def _upgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")  # reads the current version itself: upgrades only what is missing

    async with migration_lock(engine):
        if await is_up_to_date(engine):
            return
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)


def head_revisions(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The revisions no other revision builds on, read from the migration files without Alembic.

    None when a file doesn't state `revision`/`down_revision` as plain literals: then only
    Alembic can tell, and the caller should simply run the upgrade.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
                node.target if isinstance(node, ast.AnnAssign) else None
            )
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value:
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        down_list = [down] if isinstance(down, str) else list(down) if isinstance(down, tuple | list) else []
        parents.update(d for d in down_list if isinstance(d, str))
    return frozenset(revisions - parents) or None


async def is_up_to_date(engine: AsyncEngine) -> bool:
    """True when the database already sits at every head (the usual restart): nothing to run.

    Any doubt (no version table yet, unreadable files, a locked database) answers False, so the
    real upgrade runs and reports whatever is wrong.
    """
    heads = head_revisions()
    if heads is None:
        return False
    try:
        async with engine.connect() as conn:
            current = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except DBAPIError:
        return False
    return current == heads


async def upgrade_in_child(url: str, *, timeout: float = CHILD_TIMEOUT) -> None:
    """`upgrade` in a child Python process. Raises MigrationError with the child's one-line reason.

    The URL goes through stdin, never argv, so a password in it can't show up in a process list.
    """
    env = dict(os.environ)
    # The child must import this very checkout of the bot, wherever the parent was started from.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.db.migrate",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(url.encode()), timeout)
    except TimeoutError:
        raise MigrationError(f"the migration did not finish within {timeout:.0f} s") from None
    finally:
        if proc.returncode is None:  # timed out, or start-up was cancelled: don't leave it running
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    for line in out.decode(errors="replace").splitlines():
        # "Running upgrade a -> b" is worth a line in the bot's log; Alembic's chatter is not.
        log.log(logging.INFO if line.startswith("Running ") else logging.DEBUG, "%s", line)
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        for line in lines[:-1]:
            log.debug("migration: %s", line)  # the traceback, for whoever turns debug logging on
        reason = lines[-1].removeprefix(ERROR_PREFIX) if lines else f"exit status {proc.returncode}"
        raise MigrationError(reason)


def _child_main() -> int:
    """`python -m bot.db.migrate`: upgrade the database whose URL is on stdin.

    Alembic's progress lines go to stdout (the parent logs them); on failure the traceback, then
    one "error: ..." line, go to stderr and the exit status is 1.
    """
    import traceback

    from bot.db.engine import create_engine

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    alembic_log = logging.getLogger("alembic")
    alembic_log.addHandler(handler)
    alembic_log.setLevel(logging.INFO)
    url = sys.stdin.read().strip()
    if not url:
        sys.stderr.write(f"{ERROR_PREFIX}no database URL on stdin\n")
        return 2

    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - every failure becomes the one line the parent reports
        traceback.print_exc(file=sys.stderr)
        summary = " ".join(str(exc).split())[:500] or "no details"
        sys.stderr.write(f"{ERROR_PREFIX}{type(exc).__name__}: {summary}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
