"""Shared helpers of the resilience suite: the transfer world, database snapshots, outbound-host
recording and small waits. Step helpers come from the feature tests so the suites drive the bot
the same way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import text

from bot.db.base import Base
from tests.e2e.test_review_flow import (  # noqa: F401 - re-exported for the resilience tests
    ADMIN_TOKEN,
    APPROVE,
    LOOKING,
    REJECT,
    card_of,
    dm_texts,
    stored,
    thread_texts,
    wait_card,
    wait_state,
)
from tests.e2e.test_transfer_flow import (  # noqa: F401 - re-exported for the resilience tests
    FORM,
    click,
    custom_id,
    fill,
    open_form,
    request_row,
    submit,
    to_ready,
)
from tests.services.test_eligibility import build_world

T = TypeVar("T")


def setup_transfer_world(h: Any, *, admin: bool = False) -> None:
    """alice/flask-foo (an eligible Flask extension owned by alice) and friends; with `admin`, the org
    admin token the bot uses to send invitations."""
    build_world(h.github, h.pypi)
    if admin:
        h.github.add_org("pallets-eco", admins=["org-admin"])
        h.github.tokens[ADMIN_TOKEN] = "org-admin"


async def submitted_request(h: Any, user: int | None = None, *, verified: bool = True, **form: str) -> int:
    """Drive the real form to a submitted request whose review card is posted; return its id.

    `verified`: a maintainer vouches with `/eco verify-manual`, so approvals need no confirm click."""
    msg = await to_ready(h, user, **form)
    await submit(h, msg, user)
    rid = int(custom_id(msg, "submit").rsplit(":", 1)[1])
    await card_of(h, rid)
    await wait_state(h, rid, "under_review")
    if verified:
        done = await h.slash(h.MAINTAINER, "eco verify-manual", request=rid, reason="Checked on a call")
        assert "Verified" in (await done.wait_message()).text()
        await wait_card(h, rid, "\u2705 Verified")
    return rid


async def wait_for(check: Callable[[], Awaitable[T | None] | T | None], timeout: float = 5.0,
                   what: str = "condition") -> T:
    """Poll `check` (sync or async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


async def settle(h: Any, rounds: int = 3) -> None:
    """Let the bot's background follow-ups (card refreshes, messages after a decision) finish."""
    for _ in range(rounds):
        await asyncio.sleep(0.1)
        pending = [t for t in h.bot._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=5)


async def db_snapshot(h: Any, *, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for "nothing changed" assertions."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with h.db() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = await session.execute(text(f'SELECT * FROM "{table.name}" ORDER BY 1'))
            out[table.name] = [tuple(r) for r in rows]
    return out


def snapshot_diff(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    return {
        name: {"gone": [r for r in rows if r not in after.get(name, [])],
               "new": [r for r in after.get(name, []) if r not in rows]}
        for name, rows in before.items()
        if rows != after.get(name, [])
    }


def fake_hosts(h: Any) -> set[str]:
    """host:port of the three loopback fakes: the only places the bot may talk to."""
    from urllib.parse import urlsplit

    return {urlsplit(u).netloc for u in (h.discord.api_base, h.github.api_url, h.pypi.url)}


@contextlib.contextmanager
def record_outbound() -> Iterator[list[str]]:
    """Record host:port of every aiohttp request made in this process (discord.py's REST and
    gateway, the GitHub and PyPI clients: all go through ClientSession._request)."""
    seen: list[str] = []
    original = aiohttp.ClientSession._request

    async def recording(self: aiohttp.ClientSession, method: str, str_or_url: Any, *args: Any, **kwargs: Any):
        url = str_or_url if isinstance(str_or_url, str) else str(str_or_url)
        from yarl import URL

        parsed = URL(url)
        seen.append(f"{parsed.host}:{parsed.port}")
        return await original(self, method, str_or_url, *args, **kwargs)

    aiohttp.ClientSession._request = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        aiohttp.ClientSession._request = original  # type: ignore[method-assign]


def assert_no_pings(msg: Any, *, allowed_users: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    """What the fake Discord resolved as notified: nobody but the intended users."""
    assert not msg.mention_everyone, f"@everyone/@here pinged by {msg!r}"
    assert msg.mention_role_ids == set(), f"roles pinged by {msg!r}: {msg.mention_role_ids}"
    assert msg.mention_ids <= set(allowed_users), f"users pinged by {msg!r}: {msg.mention_ids - set(allowed_users)}"


def fast_retries(h: Any, delay: float = 0.02) -> None:
    """Shorter pauses between the clients' retries of 5xx and network errors (0.5 s, 1 s in
    production): every retry still happens, the suite just doesn't sleep through them."""
    for client in (h.bot.deps.github, h.bot.deps.pypi):
        for api in (getattr(client, "_api", None), getattr(client, "_web", None)):
            if api is not None:
                api._retry_base_delay = delay
