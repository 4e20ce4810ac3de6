"""Engine and session factory: SQLite in WAL mode, with a busy timeout and foreign keys on (the default),
or PostgreSQL through asyncpg (`postgresql+asyncpg://`, the optional `postgres` extra)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# The database holds pending device codes (with the public client id, exchangeable for the user's
# GitHub token for 15 minutes): only the bot's own user may read it.
DB_FILE_MODE = 0o600
DB_DIR_MODE = 0o700
SQLITE_POOL_SIZE = 5  # connections kept for a SQLite file (SQLAlchemy's default size, without overflow)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def sqlite_path(url: str) -> Path | None:
    if is_postgres(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, tuple | list):
        return type(value)(_without_nul(v) for v in value)
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value


def _drop_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> Any:
    """PostgreSQL's text types cannot hold U+0000 (the statement fails: "invalid byte sequence for
    encoding UTF8: 0x00"), which SQLite stores. Outside text (form fields, GitHub titles) may carry
    one: it is dropped from every bound string, so such input is saved instead of failing the action."""
    return statement, _without_nul(parameters)


def _make_dirs(folder: Path) -> None:
    """Create the missing folders 0700 (whatever the umask); existing ones are left as they are."""
    missing: list[Path] = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir(mode=DB_DIR_MODE)
        except FileExistsError:
            continue  # another process made it just now
        os.chmod(parent, DB_DIR_MODE)  # mkdir's mode is filtered by the umask


def secure_database_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite opens it; warn about an existing readable one.

    SQLite gives its -wal and -shm side files the main file's permission bits, so creating the main
    file 0600 covers them too (an empty file is a valid empty database). A file that already exists
    is never changed: the operator may have chosen its mode (a shared group, a backup job), so a
    group- or world-readable one only gets a warning.
    """
    _make_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_FILE_MODE)
    except FileExistsError:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            return  # SQLite reports whatever is wrong with it
        if mode & 0o077:
            log.warning(
                "the database file %s is readable by other users (mode %04o); it holds pending GitHub "
                "sign-in codes: consider `chmod 600` on it and its -wal/-shm files", path, mode,
            )
        return
    try:
        os.fchmod(fd, DB_FILE_MODE)  # os.open's mode is filtered by the umask too (never widened)
    finally:
        os.close(fd)


def create_engine(url: str) -> AsyncEngine:
    if is_postgres(url):
        # PostgreSQL has row locks and its own durability settings: none of SQLite's pragmas apply. A
        # connection the server dropped (restart, idle timeout of a hosted database) is replaced, not used.
        engine = create_async_engine(url, pool_pre_ping=True, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "before_cursor_execute", _drop_nul, retval=True)
        return engine
    path = sqlite_path(url)
    if path is not None:
        secure_database_file(path)
    # SQLite: a fixed pool. With the default overflow a burst of commands opened up to 10 extra
    # connections (each a thread, a file open and four PRAGMAs) and closed them again at checkin:
    # 50 members at once cost ~10 connects per burst. Five kept connections serve the burst with
    # less CPU (benchmarks: /eco status at 50 users). No code path holds two sessions at once (the
    # transfer, review, contribute and verification e2e tests pass with one connection).
    pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 0} if path is not None else {}
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **pool)
    event.listen(engine.sync_engine, "connect", _on_connect)
    _skip_idle_rollback(engine)
    return engine


def _skip_idle_rollback(engine: AsyncEngine) -> None:
    """Don't send a ROLLBACK to SQLite when it has no transaction open.

    Every session ends in a rollback (or its checkin does), and with aiosqlite each one is a round
    trip to the connection's thread: about a fifth of a read-only command's database time. The
    sqlite3 module only opens a transaction before a write, so a session that only read has none
    (`in_transaction` is False) and SQLite's ROLLBACK would be a no-op; one that wrote and did not
    commit still rolls back.
    """
    dialect = engine.sync_engine.dialect
    if dialect.name != "sqlite":
        return
    rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and getattr(driver, "in_transaction", True) is False:
            return
        rollback(dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
