"""Pacing of bulk DMs (the weekly digest).

Discord refuses to open DMs "too fast" with JSON error 40003, an HTTP 400 that discord.py does not
retry (it only retries 429s); the rate is not published. So the digest opens a few DMs at once,
then one per interval, and when Discord still answers 40003 it waits (doubling) before trying the
same person again. Source: https://github.com/discord/discord-api-docs/blob/main/developers/topics/
opcodes-and-status-codes.mdx#json-error-codes ("40003: You are opening direct messages too fast").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

DM_BURST = 5  # DMs opened back to back before the interval applies (small digests go out at once)
DM_RETRIES = 4  # 40003s in a row for one person before the rest of the run waits for the next one


class DmTooFast(Exception):
    """Discord answered 40003: no more DMs may be opened for now. Nothing was sent."""


class DmPacer:
    """A token bucket: `burst` DMs at once, then one per `interval` seconds."""

    def __init__(self, interval: float, burst: int = DM_BURST, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._interval = interval
        self._burst = burst
        self._tokens = float(burst)
        self._sleep = sleep
        self._last: float | None = None

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def wait(self) -> None:
        """Return when the next DM may be opened (and count it)."""
        now = self._now()
        if self._last is not None and self._interval > 0:
            self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
        self._last = now
        if self._tokens < 1 and self._interval > 0:
            delay = (1 - self._tokens) * self._interval
            await self._sleep(delay)
            self._tokens, self._last = 1.0, self._now()
        self._tokens = max(0.0, self._tokens - 1)

    def drain(self) -> None:
        """Discord said "too fast": the next DMs go one per interval, without a burst."""
        self._tokens, self._last = 0.0, self._now()
