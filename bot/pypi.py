"""PyPI client: the project JSON API and the JSON simple index (for project status).

XML-RPC is deprecated on PyPI, so ownership comes from ``ownership.roles`` in the JSON API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.http import PYPI_MAX_BODY_BYTES, ApiResponse, ApiStats, JsonApi, NotFound, RateLimitInfo, Unavailable

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_NORMALIZE = re.compile(r"[-_.]+")
# PEP 508 project names: ASCII letters and digits, with '.', '_' and '-' inside.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE)


def normalize(name: str) -> str:
    """PEP 503 normalised project name (``Flask_Caching`` -> ``flask-caching``)."""
    return _NORMALIZE.sub("-", name).lower()


@dataclass(frozen=True)
class PyPIRole:
    role: str  # "Owner" or "Maintainer"
    user: str


@dataclass(frozen=True)
class PyPIProject:
    name: str
    version: str
    summary: str | None
    requires_dist: tuple[str, ...]
    classifiers: tuple[str, ...]
    project_urls: dict[str, str] = field(hash=False)
    home_page: str | None
    license: str | None
    license_expression: str | None
    roles: tuple[PyPIRole, ...]
    organization: str | None
    last_release_at: datetime | None
    releases: dict[str, datetime] = field(hash=False)

    def users_with_role(self, role: str) -> tuple[str, ...]:
        return tuple(r.user for r in self.roles if r.role.lower() == role.lower())


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _upload_time(file: dict[str, Any]) -> datetime | None:
    parsed = _dt(file.get("upload_time_iso_8601"))
    if parsed is None and file.get("upload_time"):
        # Older answers only carry a naive timestamp, which PyPI documents as UTC.
        naive = _dt(file["upload_time"])
        parsed = naive.replace(tzinfo=UTC) if naive and naive.tzinfo is None else naive
    return parsed


def _releases(data: dict[str, Any]) -> dict[str, datetime]:
    releases: dict[str, datetime] = {}
    for version, files in (data.get("releases") or {}).items():
        times = [t for t in (_upload_time(f) for f in files or ()) if t is not None]
        if times:
            releases[version] = min(times)
    return releases


def _project(data: dict[str, Any]) -> PyPIProject:
    info = data.get("info") or {}
    ownership = data.get("ownership") or {}
    releases = _releases(data)
    url_times = [t for t in (_upload_time(f) for f in data.get("urls") or ()) if t is not None]
    all_times = [*releases.values(), *url_times]
    return PyPIProject(
        name=info.get("name") or "",
        version=info.get("version") or "",
        summary=info.get("summary") or None,
        requires_dist=tuple(info.get("requires_dist") or ()),
        classifiers=tuple(info.get("classifiers") or ()),
        project_urls=dict(info.get("project_urls") or {}),
        home_page=info.get("home_page") or None,
        license=info.get("license") or None,
        license_expression=info.get("license_expression") or None,
        roles=tuple(
            PyPIRole(role=str(r["role"]), user=str(r["user"]))
            for r in ownership.get("roles") or ()
            if r.get("role") and r.get("user")
        ),
        organization=ownership.get("organization") or None,
        last_release_at=max(all_times) if all_times else None,
        releases=releases,
    )


class PyPIClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str = "https://pypi.org",
        user_agent: str = "pallets-eco-bot",
        timeout: float = 10.0,
        retries: int = 2,
        retry_base_delay: float = 0.5,
    ) -> None:
        self._api = JsonApi(
            session,
            url,
            user_agent=user_agent,
            default_headers={"Accept": "application/json"},
            timeout=timeout,
            retries=retries,
            retry_base_delay=retry_base_delay,
            service="PyPI",
            max_body_bytes=PYPI_MAX_BODY_BYTES,
        )

    def __repr__(self) -> str:
        return f"PyPIClient(url={self._api.base_url!r})"

    @property
    def stats(self) -> ApiStats:
        return self._api.stats

    @property
    def rate_limit(self) -> RateLimitInfo:
        return self._api.rate_limit

    def _valid(self, name: str) -> str:
        if not _VALID_NAME.match(name.strip()):
            raise NotFound(404, "That is not a valid PyPI project name.")
        return name.strip()

    async def _get(self, path: str, headers: dict[str, str] | None = None) -> ApiResponse:
        resp = await self._api.request("GET", path, headers=headers)
        if resp.status in (301, 302, 307, 308):
            # PyPI redirects non-canonical names; follow once if it stays on PyPI.
            target = self._api.relative_path(resp.headers.get("Location", ""))
            resp = await self._api.request("GET", target, headers=headers)
            if resp.status != 200:
                raise Unavailable(resp.status, "PyPI redirected too many times.")
        return resp

    async def get_project(self, name: str) -> PyPIProject:
        # The name as given: PyPI redirects other spellings to the project's own name, so a
        # correctly typed name costs one request and any other spelling two.
        resp = await self._get(f"/pypi/{self._valid(name)}/json")
        if not isinstance(resp.data, dict):
            raise Unavailable(resp.status, "PyPI sent a response the bot could not read.")
        return _project(resp.data)

    async def get_status(self, name: str) -> str | None:
        """PEP 792 project status from the JSON simple index, or None when none is set."""
        resp = await self._get(f"/simple/{normalize(self._valid(name))}/", headers={"Accept": SIMPLE_JSON})
        data = resp.data if isinstance(resp.data, dict) else {}
        status = data.get("project-status") or {}
        return status.get("status") if isinstance(status, dict) else None
