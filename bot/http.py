"""A small JSON-over-HTTP layer shared by the GitHub and PyPI clients.

It owns the things every external API call needs and nothing feature-specific: URL building
restricted to configured base URLs, retries for transient failures only, ETag caching,
rate-limit bookkeeping, counters, and errors whose messages are safe to show a user.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json as jsonlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

log = logging.getLogger("bot.http")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_BODY_BYTES = 8 * 1024 * 1024
# json.loads holds the event loop (and the GIL) for the whole body: ~150 ms for 6.5 MiB of small objects.
# A service whose answers are small anyway (PyPI's project JSON for an extension: tens of KiB) gets less.
PYPI_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_RATE_LIMIT_WAIT = 60.0
# Secondary rate limits (403 or 429, a message saying so, often no Retry-After): wait at least a
# minute, doubling while they go on, up to this. https://docs.github.com/en/rest/using-the-rest-api/
# rate-limits-for-the-rest-api#exceeding-the-rate-limit
SECONDARY_MAX_WAIT = 16 * 60.0
SECONDARY_MARKERS = ("secondary rate limit", "abuse detection")


class ApiError(Exception):
    """An external API call failed. ``message`` is safe to show to a user."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class NotFound(ApiError):
    pass


class Forbidden(ApiError):
    pass


class Unavailable(ApiError):
    pass


class HostNotAllowed(ApiError):
    pass


class TooLarge(ApiError):
    """The answer is over MAX_BODY_BYTES: asking again gets the same answer, so it is not retried."""


class RateLimited(ApiError):
    def __init__(
        self, status: int | None, message: str, *, reset_at: datetime, retry_after: float, secondary: bool = False
    ) -> None:
        super().__init__(status, message)
        self.reset_at = reset_at
        self.retry_after = retry_after
        self.secondary = secondary  # GitHub's secondary (abuse) limit rather than the hourly quota

    def __repr__(self) -> str:
        return (
            f"RateLimited(status={self.status!r}, retry_after={self.retry_after:.0f}, "
            f"reset_at={self.reset_at.isoformat()!r})"
        )


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Any
    headers: Mapping[str, str]
    from_cache: bool = False


@dataclass(frozen=True)
class Conditional:
    """The answer to a conditional GET whose ETag the caller keeps (in the database): `data` is None
    on a 304, when the caller's stored answer still holds."""

    not_modified: bool
    data: Any
    etag: str | None


MAX_ETAG_CHARS = 200  # longer ETags are not stored (real ones are ~40-70 characters)


def stored_etag(headers: Mapping[str, str]) -> str | None:
    etag = headers.get("ETag")
    return etag if etag and len(etag) <= MAX_ETAG_CHARS and etag.isprintable() else None


@dataclass
class ApiStats:
    requests: int = 0  # HTTP requests actually sent, retries included
    not_modified: int = 0  # 304 answers to conditional requests
    counted: int = 0  # requests that count against the rate limit (all sent except authenticated 304s)
    errors: int = 0  # request() calls that ended in an ApiError
    retries: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)

    def __add__(self, other: ApiStats) -> ApiStats:
        return ApiStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class RateLimitInfo:
    remaining: int | None = None
    limit: int | None = None
    reset_at: datetime | None = None
    resource: str | None = None


@dataclass
class _CacheEntry:
    etag: str
    data: Any = field(repr=False)


def token_identity(token: str | None) -> str:
    """A stable, non-reversible key for a token, so cache keys never hold the secret."""
    if not token:
        return "anonymous"
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return url.rstrip("/")


def _parse_epoch(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def _is_secondary(body: bytes) -> bool:
    """GitHub says so only in the message: the headers look like any refusal."""
    text = body[:4096].decode("utf-8", errors="replace").lower()
    return any(marker in text for marker in SECONDARY_MARKERS)


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    return f"about {round(seconds / 60)} minutes"


def _parse_float(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class JsonApi:
    """One configured JSON API: a base URL (plus optional extra ones) and the policies above."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        user_agent: str,
        default_headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        retry_base_delay: float = 0.5,
        extra_base_urls: Iterable[str] = (),
        service: str = "The API",
        cache_size: int = 2000,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._session = session
        self.base_url = _base(base_url)
        self._allowed_bases = {self.base_url, *(_base(u) for u in extra_base_urls)}
        self._headers = {"User-Agent": user_agent, **(default_headers or {})}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._retry_base_delay = retry_base_delay
        self._service = service
        self._cache: OrderedDict[tuple[Any, ...], _CacheEntry] = OrderedDict()
        self._cache_size = cache_size
        self.max_body_bytes = max_body_bytes
        self.stats = ApiStats()
        self.rate_limit = RateLimitInfo()
        self._secondary_strikes = 0  # secondary rate limits in a row, for the exponential back-off

    def __repr__(self) -> str:
        return f"JsonApi(base_url={self.base_url!r})"

    # --- URL handling -------------------------------------------------------------------

    def _url(self, path: str, base_url: str | None) -> str:
        base = self.base_url if base_url is None else base_url.rstrip("/")
        if base not in self._allowed_bases:
            raise HostNotAllowed(None, f"{self._service} URL is not one the bot is configured to use.")
        parts = urlsplit(path)
        if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
            raise HostNotAllowed(None, f"{self._service} request path must be relative to its base URL.")
        return base + path

    def relative_path(self, location: str, *, base_url: str | None = None) -> str:
        """Turn a redirect ``Location`` into a path under the base URL, or raise HostNotAllowed."""
        base = self.base_url if base_url is None else base_url.rstrip("/")
        target = URL(base + "/").join(URL(location))
        base_url_obj = URL(base)
        base_path = base_url_obj.path.rstrip("/")
        if (
            target.scheme != base_url_obj.scheme
            or target.host != base_url_obj.host
            or target.port != base_url_obj.port
            or not (target.path == base_path or target.path.startswith(base_path + "/"))
        ):
            raise HostNotAllowed(None, f"{self._service} redirected outside its configured address.")
        rel = target.raw_path[len(URL(base).raw_path.rstrip("/")) :] or "/"
        return rel + (f"?{target.raw_query_string}" if target.raw_query_string else "")

    # --- the request ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        cache: bool = True,
        base_url: str | None = None,
        expected: Iterable[int] = (200,),
    ) -> ApiResponse:
        method = method.upper()
        url = self._url(path, base_url)
        clean_params = {k: str(v) for k, v in (params or {}).items() if v is not None}
        send_headers = CIMultiDict(self._headers)
        send_headers.update(headers or {})
        if token:
            send_headers["Authorization"] = f"Bearer {token}"
        elif basic_auth:
            raw = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            send_headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        cache_key = None
        if method == "GET" and cache:
            cache_key = (url, tuple(sorted(clean_params.items())), token_identity(token))
            entry = self._cache.get(cache_key)
            if entry is not None:
                send_headers["If-None-Match"] = entry.etag
        try:
            return await self._send(
                method, url, path, clean_params, json, data, send_headers, cache_key, frozenset(expected)
            )
        except ApiError:
            self.stats.errors += 1
            raise

    async def _send(
        self,
        method: str,
        url: str,
        path: str,
        params: dict[str, str],
        json_body: Any,
        data: Mapping[str, str] | None,
        headers: CIMultiDict[str],
        cache_key: tuple[Any, ...] | None,
        expected: frozenset[int],
    ) -> ApiResponse:
        attempt = 0
        while True:
            started = time.monotonic()
            self.stats.requests += 1
            try:
                async with self._session.request(
                    method,
                    URL(url, encoded=True),
                    params=params or None,
                    json=json_body,
                    data=data,
                    headers=headers,
                    allow_redirects=False,
                    timeout=self._timeout,
                ) as resp:
                    body = await self._read(resp, method, path)
                    status, resp_headers = resp.status, resp.headers
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.stats.counted += 1
                elapsed = (time.monotonic() - started) * 1000
                log.warning("%s %s failed after %.0f ms: %s", method, path, elapsed, type(exc).__name__)
                failure = Unavailable(None, f"{self._service} did not answer in time. Try again later.")
            else:
                elapsed = (time.monotonic() - started) * 1000
                log.debug("%s %s -> %s in %.0f ms", method, path, status, elapsed)
                if status == 304:
                    self.stats.not_modified += 1
                if status != 304 or "Authorization" not in headers:
                    # A 304 is free only for an authenticated request: https://docs.github.com/en/rest/
                    # using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
                    self.stats.counted += 1
                self._record_rate_limit(resp_headers)
                if status < 500:
                    return self._handle(status, body, resp_headers, cache_key, expected)
                failure = Unavailable(status, f"{self._service} is having trouble right now. Try again later.")
            if attempt >= self._retries:
                raise failure
            delay = self._retry_base_delay * (2**attempt)
            attempt += 1
            self.stats.retries += 1
            await asyncio.sleep(delay)

    async def _read(self, resp: aiohttp.ClientResponse, method: str, path: str) -> bytes:
        # StreamReader.read(n) returns what has arrived so far, not n bytes: read to the end, bounded.
        chunks: list[bytes] = []
        size = 0
        if (resp.content_length or 0) > self.max_body_bytes:
            raise self._too_large(method, path, resp.content_length or 0)
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large(method, path, size)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, method: str, path: str, size: int) -> TooLarge:
        self.stats.counted += 1
        log.warning("%s %s: answer of %d+ bytes is over the %d-byte cap", method, path, size, self.max_body_bytes)
        return TooLarge(
            None, f"{self._service} sent an answer too large to read (over {self.max_body_bytes // 1024} KiB)."
        )

    def _handle(
        self,
        status: int,
        body: bytes,
        headers: CIMultiDictProxy[str],
        cache_key: tuple[Any, ...] | None,
        expected: frozenset[int],
    ) -> ApiResponse:
        if status < 400:
            self._secondary_strikes = 0  # GitHub answers again: the next secondary limit starts at a minute
        if status == 304 and cache_key is not None and cache_key in self._cache:
            self._cache.move_to_end(cache_key)
            return ApiResponse(200, self._cache[cache_key].data, headers, from_cache=True)
        if status in REDIRECT_STATUSES:
            return ApiResponse(status, None, headers)
        if status not in expected:
            raise self._error(status, headers, body)
        data = self._decode(body)
        etag = headers.get("ETag")
        if cache_key is not None and status == 200 and etag:
            self._cache[cache_key] = _CacheEntry(etag, data)
            self._cache.move_to_end(cache_key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ApiResponse(status, data, headers)

    def _decode(self, body: bytes) -> Any:
        if not body.strip():
            return None
        try:
            return jsonlib.loads(body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser's limit
            raise Unavailable(None, f"{self._service} sent a response the bot could not read.") from None

    def _error(self, status: int, headers: CIMultiDictProxy[str], body: bytes = b"") -> ApiError:
        if status in (403, 429):
            retry_after = _parse_float(headers.get("Retry-After"))
            reset_at = _parse_epoch(headers.get("X-RateLimit-Reset"))
            now = datetime.now(UTC)
            secondary = _is_secondary(body)
            if secondary:
                self._secondary_strikes += 1
            if retry_after is not None:
                return self._rate_limited(status, now + timedelta(seconds=retry_after), retry_after, secondary)
            if headers.get("X-RateLimit-Remaining") == "0" and not secondary:
                if reset_at is None:
                    reset_at = now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT)
                return self._rate_limited(status, reset_at, max(0.0, (reset_at - now).total_seconds()))
            if secondary or status == 429:
                # No wait given: at least a minute, doubled while the limit goes on.
                wait = min(SECONDARY_MAX_WAIT, DEFAULT_RATE_LIMIT_WAIT * 2 ** max(0, self._secondary_strikes - 1))
                if reset_at is not None and headers.get("X-RateLimit-Remaining") == "0":
                    wait = max(wait, (reset_at - now).total_seconds())
                return self._rate_limited(status, now + timedelta(seconds=wait), wait, secondary)
            return Forbidden(status, f"{self._service} refused access to that resource.")
        if status == 404:
            return NotFound(status, f"{self._service} could not find that.")
        if status == 401:
            return ApiError(status, f"{self._service} rejected the bot's credentials.")
        return ApiError(status, f"{self._service} rejected the request (HTTP {status}).")

    def _rate_limited(
        self, status: int, reset_at: datetime, retry_after: float, secondary: bool = False
    ) -> RateLimited:
        kind = "secondary rate limit" if secondary else "rate limit"
        log.warning("%s by %s for %.0f s (until %s)", kind, self._service, retry_after, reset_at)
        return RateLimited(
            status,
            f"{self._service} {kind} reached. Try again in {_wait_text(retry_after)}.",
            reset_at=reset_at,
            retry_after=retry_after,
            secondary=secondary,
        )

    def _record_rate_limit(self, headers: CIMultiDictProxy[str]) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining is None:
            return
        try:
            rem: int | None = int(remaining)
        except ValueError:
            rem = None
        limit = headers.get("X-RateLimit-Limit")
        self.rate_limit = RateLimitInfo(
            remaining=rem,
            limit=int(limit) if limit and limit.isdigit() else None,
            reset_at=_parse_epoch(headers.get("X-RateLimit-Reset")),
            resource=headers.get("X-RateLimit-Resource"),
        )
