"""PyPI client: the project JSON API and the JSON simple index (project status, versions, upload times).

XML-RPC is deprecated on PyPI, so ownership comes from ``ownership.roles`` in the JSON API. That list
holds direct roles only: rights held through a PyPI organisation are not listed, ``ownership.organization``
names it (docs.pypi.org/api/json/, "Ownership"). The JSON API's ``releases`` key is deprecated (same page):
release times and yanks come from the JSON simple index (PEP 691, PEP 700, PEP 592).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.http import (
    PYPI_MAX_BODY_BYTES,
    ApiResponse,
    ApiStats,
    Conditional,
    JsonApi,
    NotFound,
    RateLimitInfo,
    Unavailable,
    stored_etag,
)

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
    # The start of the long description (the README), capped: read for "deprecated, use X instead".
    description_head: str | None = None
    # `info.yanked`: Warehouse's `info` describes a yanked release only when every release is yanked
    # (warehouse/legacy/api/json.py `latest_release_factory` orders by `Release.yanked` first).
    yanked: bool = False

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


def _project(data: dict[str, Any]) -> PyPIProject:
    info = data.get("info") or {}
    ownership = data.get("ownership") or {}
    # `urls`: the files of the latest release (not deprecated, unlike `releases`).
    url_times = [t for t in (_upload_time(f) for f in data.get("urls") or ()) if t is not None]
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
        last_release_at=max(url_times) if url_times else None,
        description_head=_head(info.get("description")),
        yanked=info.get("yanked") is True,
    )


MAX_DESCRIPTION_HEAD = 8000  # characters of the long description kept (a README's opening says "deprecated")


def _head(value: object) -> str | None:
    return value[:MAX_DESCRIPTION_HEAD] if isinstance(value, str) and value else None


@dataclass(frozen=True)
class PyPIFile:
    filename: str
    version: str | None  # read from the filename against the listed versions; None if it can't be
    uploaded_at: datetime | None
    yanked: bool


@dataclass(frozen=True)
class PyPIIndex:
    """A project's page on the JSON simple index (PEP 691, with PEP 700 `versions`/`upload-time`)."""

    name: str
    status: str | None  # PEP 792: "active", "archived", "quarantined", "deprecated"; None if not sent
    versions: tuple[str, ...]
    files: tuple[PyPIFile, ...]

    def releases(self) -> dict[str, datetime]:
        """Version -> first upload time, for releases that are not yanked (PEP 592: a yanked release is
        one its maintainers withdrew). A file whose version can't be read counts under its filename."""
        releases: dict[str, datetime] = {}
        for f in self.files:
            if f.yanked or f.uploaded_at is None:
                continue
            key = f.version or f.filename
            releases[key] = min(releases.get(key, f.uploaded_at), f.uploaded_at)
        return releases


_DIST_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tgz", ".zip", ".tar", ".whl", ".egg", ".exe", ".msi", ".rpm")


def _file_version(filename: str, spellings: dict[str, str]) -> str | None:
    """The version a distribution file belongs to (the simple index doesn't say): in every filename it
    follows the project name after a hyphen, and wheels write a '-' inside it as '_'. Dictionary look-ups
    over the few hyphen-separated parts, so a project with thousands of files stays cheap."""
    lower = filename.lower()
    stem = next((lower[: -len(ext)] for ext in _DIST_EXTENSIONS if lower.endswith(ext)), lower)
    parts = stem.split("-")
    for start in range(1, len(parts)):  # the name is the shortest prefix that leaves a known version
        for end in range(len(parts), start, -1):
            version = spellings.get("-".join(parts[start:end]))
            if version is not None:
                return version
    return None


def _index(data: dict[str, Any]) -> PyPIIndex:
    status = data.get("project-status")
    versions = tuple(v for v in data.get("versions") or () if isinstance(v, str))
    spellings = {v.lower().replace("-", "_"): v for v in versions} | {v.lower(): v for v in versions}
    files = []
    for f in data.get("files") or ():
        if not isinstance(f, dict) or not isinstance(f.get("filename"), str):
            continue
        files.append(
            PyPIFile(
                filename=f["filename"],
                version=_file_version(f["filename"], spellings),
                uploaded_at=_dt(f.get("upload-time")) if isinstance(f.get("upload-time"), str) else None,
                # PEP 691: false, true, or the reason (a string; an empty reason still means yanked).
                yanked=f.get("yanked") is True or isinstance(f.get("yanked"), str),
            )
        )
    return PyPIIndex(
        name=str(data.get("name") or ""),
        status=str(status["status"]) if isinstance(status, dict) and status.get("status") else None,
        versions=versions,
        files=tuple(files),
    )


class ProjectQuarantined(NotFound):
    """The JSON API hides a quarantined project (404) while the simple index still lists it (PEP 792)."""


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
        """Raises NotFound, or ProjectQuarantined when the simple index says why the JSON API has none."""
        valid = self._valid(name)
        # PyPI redirects every other spelling to the PEP 503 normalised name: asking for that costs
        # one request where the name as typed (`Flask-Caching`) costs two.
        try:
            resp = await self._get(f"/pypi/{normalize(valid)}/json")
        except NotFound as missing:
            # A quarantined project answers 404 here; only the simple index still knows it (PEP 792).
            try:
                status = (await self.get_index(valid)).status
            except NotFound:
                raise missing from None
            if status == "quarantined":
                raise ProjectQuarantined(404, f"PyPI has quarantined {valid}.") from None
            raise
        if not isinstance(resp.data, dict):
            raise Unavailable(resp.status, "PyPI sent a response the bot could not read.")
        return _project(resp.data)

    async def get_project_conditional(
        self, name: str, etag: str | None = None
    ) -> tuple[Conditional, PyPIProject | None]:
        """The project JSON asked with a stored ETag (None on a 304: the stored answer holds). Raises NotFound."""
        path = f"/pypi/{normalize(self._valid(name))}/json"
        headers = {"If-None-Match": etag} if etag else None
        resp = await self._api.request("GET", path, headers=headers, cache=False, expected=(200, 304))
        if resp.status in (301, 302, 307, 308):
            resp = await self._api.request(
                "GET", self._api.relative_path(resp.headers.get("Location", "")), cache=False, expected=(200, 304)
            )
        if resp.status == 304:
            return Conditional(True, None, etag), None
        if not isinstance(resp.data, dict):
            raise Unavailable(resp.status, "PyPI sent a response the bot could not read.")
        return Conditional(False, None, stored_etag(resp.headers)), _project(resp.data)

    async def get_index(self, name: str) -> PyPIIndex:
        """The project's JSON simple index page: status, versions, files with upload times and yanks."""
        resp = await self._get(f"/simple/{normalize(self._valid(name))}/", headers={"Accept": SIMPLE_JSON})
        if not isinstance(resp.data, dict):
            raise Unavailable(resp.status, "PyPI sent a response the bot could not read.")
        return _index(resp.data)

    async def get_status(self, name: str) -> str | None:
        """PEP 792 project status from the JSON simple index, or None when active or none is set."""
        status = (await self.get_index(name)).status
        return None if status == "active" else status
