"""GitHub REST client: typed results over :class:`bot.http.JsonApi`.

Every URL comes from settings (``api_url``, ``web_url``) so GitHub Enterprise and the test
fake work the same way. User tokens are passed per call and never stored.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from bot.http import (
    ApiError,
    ApiResponse,
    ApiStats,
    Conditional,
    JsonApi,
    NotFound,
    RateLimitInfo,
    Unavailable,
    stored_etag,
)

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# GitHub logins, org and repo names: letters, digits, '-', '_' and '.'; "." and ".." are never valid
# and would let a crafted name walk up the URL path.
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}\Z")
MAX_PAGES = 30
_REDIRECTS = frozenset({301, 302, 307, 308})
# OAuth error codes are short snake_case words; anything else from the wire is not shown to anyone.
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,30}\Z")


class DeviceFlowError(ApiError):
    """GitHub answered the device flow with an error code instead of a device code (for example
    `device_flow_disabled`, whatever the HTTP status). `code` is checked to be a short word."""

    def __init__(self, status: int | None, code: str) -> None:
        super().__init__(status, f"GitHub refused to start the sign-in ({code}).")
        self.code = code


def _error_code(value: object) -> str:
    text = str(value or "")
    return text if _ERROR_CODE.match(text) else "unknown_error"


def _seg(value: str) -> str:
    if not _NAME.match(value) or value in (".", ".."):
        raise NotFound(404, "That is not a valid GitHub name.")
    return value


def _file_path(path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise NotFound(404, "That is not a valid path in a repository.")
    return "/".join(quote(p, safe="") for p in parts)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class Repo:
    id: int
    full_name: str
    owner_login: str
    owner_type: str
    name: str
    private: bool
    archived: bool
    fork: bool
    parent_full_name: str | None
    source_full_name: str | None
    description: str | None
    topics: tuple[str, ...]
    default_branch: str
    html_url: str
    license_spdx: str | None
    pushed_at: datetime | None
    permissions_admin: bool | None = None
    permissions_maintain: bool | None = None
    moved_from: str | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any], *, with_permissions: bool = False) -> Repo:
        perms = d.get("permissions") if with_permissions else None
        lic = d.get("license") or {}
        return cls(
            id=int(d["id"]),
            full_name=d["full_name"],
            owner_login=d["owner"]["login"],
            owner_type=d["owner"].get("type", "User"),
            name=d["name"],
            private=bool(d.get("private")),
            archived=bool(d.get("archived")),
            fork=bool(d.get("fork")),
            parent_full_name=(d.get("parent") or {}).get("full_name"),
            source_full_name=(d.get("source") or {}).get("full_name"),
            description=d.get("description"),
            topics=tuple(d.get("topics") or ()),
            default_branch=d.get("default_branch") or "main",
            html_url=d.get("html_url", ""),
            license_spdx=lic.get("spdx_id") or None,
            pushed_at=_dt(d.get("pushed_at")),
            permissions_admin=perms.get("admin") if perms else None,
            permissions_maintain=perms.get("maintain") if perms else None,
        )


@dataclass(frozen=True)
class GitHubUser:
    id: int
    login: str


@dataclass(frozen=True)
class DirEntry:
    name: str
    path: str
    type: str  # "file", "dir", "symlink" or "submodule"


@dataclass(frozen=True)
class Issue:
    id: int
    number: int
    title: str
    html_url: str
    repo_full_name: str
    labels: tuple[str, ...]
    assignees: tuple[str, ...]
    comments: int
    created_at: datetime
    updated_at: datetime
    is_pull_request: bool
    state: str
    author_association: str
    user_login: str | None

    @classmethod
    def from_api(cls, d: dict[str, Any], *, repo_full_name: str | None = None) -> Issue:
        repo_url = d.get("repository_url") or ""
        path = urlsplit(repo_url).path
        parsed = "/".join(path.rstrip("/").split("/")[-2:]) if "/repos/" in path else None
        return cls(
            id=int(d["id"]),
            number=int(d["number"]),
            title=d.get("title") or "",
            html_url=d.get("html_url") or "",
            repo_full_name=parsed or repo_full_name or "",
            labels=tuple(lb["name"] if isinstance(lb, dict) else str(lb) for lb in d.get("labels") or ()),
            assignees=tuple(a["login"] for a in d.get("assignees") or ()),
            comments=int(d.get("comments") or 0),
            created_at=_dt(d["created_at"]),  # type: ignore[arg-type]
            updated_at=_dt(d["updated_at"]),  # type: ignore[arg-type]
            is_pull_request="pull_request" in d,
            state=d.get("state") or "open",
            author_association=d.get("author_association") or "NONE",
            user_login=(d.get("user") or {}).get("login"),
        )


@dataclass(frozen=True)
class SearchPage:
    total_count: int
    items: list[Issue]
    incomplete_results: bool


@dataclass(frozen=True)
class Release:
    tag: str
    published_at: datetime | None


@dataclass(frozen=True)
class Comparison:
    """How far `head` is ahead of and behind `base` (the compare API's counts)."""

    ahead_by: int
    behind_by: int
    status: str


@dataclass(frozen=True)
class DeviceCode:
    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class DeviceTokenResult:
    access_token: str | None = field(repr=False)
    error: str | None
    interval: int | None


class GitHubClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str,
        web_url: str,
        token: str | None,
        user_agent: str = "pallets-eco-bot",
        timeout: float = 10.0,
        retries: int = 2,
        retry_base_delay: float = 0.5,
    ) -> None:
        opts: dict[str, Any] = {
            "user_agent": user_agent,
            "timeout": timeout,
            "retries": retries,
            "retry_base_delay": retry_base_delay,
            "service": "GitHub",
        }
        self._api = JsonApi(session, api_url, default_headers=API_HEADERS, **opts)
        self._web = JsonApi(session, web_url, default_headers={"Accept": "application/json"}, **opts)
        self._token = token

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self._api.base_url!r}, authenticated={self._token is not None})"

    @property
    def stats(self) -> ApiStats:
        """A snapshot summing API and web (OAuth) traffic."""
        return self._api.stats + self._web.stats

    def reset_stats(self) -> None:
        self._api.stats.reset()
        self._web.stats.reset()

    @property
    def rate_limit(self) -> RateLimitInfo:
        return self._api.rate_limit

    async def _get(self, path: str, *, token: str | None = None, **kw: Any) -> ApiResponse:
        return (await self._get_following(path, token=token, **kw))[0]

    async def _get_following(self, path: str, *, token: str | None = None, **kw: Any) -> tuple[ApiResponse, bool]:
        """GET that follows one redirect, only when it stays under the API base URL.

        Returns the response and whether a redirect was followed. User tokens (``token``)
        bypass the ETag cache: they are used once and their answers are per user.
        """
        tok = token or self._token
        resp = await self._api.request("GET", path, token=tok, cache=token is None, **kw)
        if resp.status not in _REDIRECTS:
            return resp, False
        location = resp.headers.get("Location")
        if not location:
            raise Unavailable(resp.status, "GitHub sent a redirect without a destination.")
        target = self._api.relative_path(location)
        kw.pop("params", None)  # the Location already carries the query
        resp = await self._api.request("GET", target, token=tok, cache=token is None, **kw)
        if resp.status in _REDIRECTS:
            raise Unavailable(resp.status, "GitHub redirected too many times.")
        return resp, True

    # --- repositories ---------------------------------------------------------------------

    async def get_repo(self, owner: str, name: str, *, token: str | None = None) -> Repo:
        resp, moved = await self._get_following(f"/repos/{_seg(owner)}/{_seg(name)}", token=token)
        repo = Repo.from_api(resp.data, with_permissions=token is not None)
        if moved:
            repo = replace(repo, moved_from=f"{owner}/{name}")
        return repo

    async def get_repo_by_id(self, repo_id: int) -> Repo:
        resp = await self._get(f"/repositories/{int(repo_id)}")
        return Repo.from_api(resp.data)

    async def get_authenticated_user(self, token: str) -> GitHubUser:
        resp = await self._api.request("GET", "/user", token=token, cache=False)
        return GitHubUser(id=int(resp.data["id"]), login=resp.data["login"])

    async def get_user_created_at(self, login: str) -> datetime | None:
        """When a GitHub account was created (`GET /users/{username}`, public data)."""
        resp = await self._get(f"/users/{_seg(login)}")
        return _dt(resp.data.get("created_at")) if isinstance(resp.data, dict) else None

    async def add_team_member(self, org: str, team_slug: str, username: str, *, token: str | None) -> str:
        """`PUT /orgs/{org}/teams/{team_slug}/memberships/{username}`: "active", or "pending" until the
        person accepts the org invitation (https://docs.github.com/en/rest/teams/members)."""
        resp = await self._api.request(
            "PUT",
            f"/orgs/{_seg(org)}/teams/{_seg(team_slug)}/memberships/{_seg(username)}",
            json={"role": "member"},
            token=token or self._token,
        )
        return str(resp.data.get("state") or "pending") if isinstance(resp.data, dict) else "pending"

    async def _contents(self, owner: str, name: str, path: str) -> Any:
        suffix = _file_path(path)
        url = f"/repos/{_seg(owner)}/{_seg(name)}/contents" + (f"/{suffix}" if suffix else "")
        try:
            return (await self._get(url)).data
        except NotFound:
            return None

    async def get_file(self, owner: str, name: str, path: str) -> str | None:
        data = await self._contents(owner, name, path)
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return _decode_content(data)

    async def list_dir(self, owner: str, name: str, path: str = "") -> list[DirEntry] | None:
        data = await self._contents(owner, name, path)
        if not isinstance(data, list):
            return None
        return [DirEntry(name=e["name"], path=e["path"], type=e["type"]) for e in data]

    async def get_readme(self, owner: str, name: str) -> str | None:
        try:
            resp = await self._get(f"/repos/{_seg(owner)}/{_seg(name)}/readme")
        except NotFound:
            return None
        return _decode_content(resp.data)

    async def list_workflows(self, owner: str, name: str) -> list[str]:
        try:
            resp = await self._get(f"/repos/{_seg(owner)}/{_seg(name)}/actions/workflows", params={"per_page": 100})
        except NotFound:
            return []
        return [w["path"] for w in resp.data.get("workflows", ())]

    async def list_releases(self, owner: str, name: str) -> list[Release]:
        resp = await self._get(f"/repos/{_seg(owner)}/{_seg(name)}/releases", params={"per_page": 100})
        return [
            Release(tag=r["tag_name"], published_at=_dt(r.get("published_at"))) for r in resp.data if not r.get("draft")
        ]

    async def compare(self, owner: str, name: str, base: str, head_owner: str, head: str) -> Comparison:
        """Commits of `head_owner:head` (a fork in the same network) ahead of/behind `base` of owner/name.

        "To compare branches across other repositories in the same network as `repo`, use the format
        `<USERNAME>:branch`"; "when using paging, the list of changed files is only returned with page 1":
        page 2 of one commit skips the file list (patches can run to megabytes), the counts are on every page.
        https://docs.github.com/en/rest/commits/commits#compare-two-commits
        """
        basehead = f"{quote(base, safe='')}...{_seg(head_owner)}:{quote(head, safe='')}"
        resp = await self._get(
            f"/repos/{_seg(owner)}/{_seg(name)}/compare/{basehead}", params={"per_page": 1, "page": 2}
        )
        d = resp.data if isinstance(resp.data, dict) else {}
        return Comparison(
            ahead_by=max(int(d.get("ahead_by") or 0), 0),
            behind_by=max(int(d.get("behind_by") or 0), 0),
            status=str(d.get("status") or "")[:20],
        )

    async def _paginate(self, path: str, params: dict[str, Any], per_page: int = 100) -> list[Any]:
        # Pages by number rather than by the server's Link URLs, so no absolute URL from a
        # response is ever requested.
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            resp = await self._get(path, params={**params, "per_page": per_page, "page": page})
            items.extend(resp.data)
            if len(resp.data) < per_page:
                break
        return items

    async def get_conditional(self, path: str, *, params: dict[str, Any] | None = None,
                              etag: str | None = None) -> Conditional:
        """A GET with the bot's token and an ETag the caller stores (the radar keeps them in SQLite, so a
        restart still asks conditionally): a 304 costs no rate limit when authenticated."""
        headers = {"If-None-Match": etag} if etag else None
        resp = await self._api.request(
            "GET", path, params=params, headers=headers, token=self._token, cache=False, expected=(200, 304)
        )
        if resp.status == 304:
            return Conditional(True, None, etag)
        return Conditional(False, resp.data, stored_etag(resp.headers))

    async def list_org_repos(self, org: str) -> list[Repo]:
        data = await self._paginate(f"/orgs/{_seg(org)}/repos", {"type": "all"})
        return [Repo.from_api(d) for d in data]

    async def list_repo_issues(self, owner: str, name: str, *, state: str = "open", per_page: int = 100) -> list[Issue]:
        data = await self._paginate(f"/repos/{_seg(owner)}/{_seg(name)}/issues", {"state": state}, per_page=per_page)
        return [Issue.from_api(d, repo_full_name=f"{owner}/{name}") for d in data]

    # --- organisation membership -------------------------------------------------------------

    async def org_membership(self, org: str, username: str, *, token: str | None) -> str:
        try:
            resp = await self._api.request(
                "GET", f"/orgs/{_seg(org)}/memberships/{_seg(username)}", token=token or self._token
            )
        except NotFound:
            return "none"
        return str(resp.data.get("state") or "none")

    async def list_org_members(self, org: str, *, token: str | None = None) -> list[str]:
        """Logins of the org's members, paged and conditional (an unchanged org answers 304s).

        GitHub lists concealed members only when the token's account is itself a member, so
        pass an org admin token to see everyone; otherwise only what the bot's account sees.
        Pending invitations are not members and are not listed.
        """
        path = f"/orgs/{_seg(org)}/members"
        per_page = 100
        logins: list[str] = []
        for page in range(1, MAX_PAGES + 1):
            resp = await self._api.request(
                "GET", path, params={"per_page": per_page, "page": page}, token=token or self._token
            )
            logins.extend(str(u["login"]) for u in resp.data or ())
            if len(resp.data or ()) < per_page:
                break
        return logins

    async def is_public_org_member(self, org: str, username: str) -> bool:
        resp = await self._api.request(
            "GET",
            f"/orgs/{_seg(org)}/public_members/{_seg(username)}",
            token=self._token,
            cache=False,
            expected=(204, 404),
        )
        return resp.status == 204

    async def is_org_member(self, org: str, username: str) -> bool:
        # 302 means the bot itself is not a member and GitHub points at the public list instead.
        resp = await self._api.request(
            "GET",
            f"/orgs/{_seg(org)}/members/{_seg(username)}",
            token=self._token,
            cache=False,
            expected=(204, 404),
        )
        return resp.status == 204

    async def invite_to_org(self, org: str, username: str, *, token: str | None) -> str:
        resp = await self._api.request(
            "PUT",
            f"/orgs/{_seg(org)}/memberships/{_seg(username)}",
            json={"role": "member"},
            token=token or self._token,
        )
        return str(resp.data["state"])

    # --- search --------------------------------------------------------------------------

    async def search_issues(self, query: str, *, page: int = 1, per_page: int = 100) -> SearchPage:
        params = {"q": query, "sort": "updated", "order": "desc", "page": page, "per_page": per_page}
        resp = await self._api.request("GET", "/search/issues", params=params, token=self._token)
        return SearchPage(
            total_count=int(resp.data.get("total_count", 0)),
            items=[Issue.from_api(d) for d in resp.data.get("items", ())],
            incomplete_results=bool(resp.data.get("incomplete_results")),
        )

    # --- OAuth device flow ------------------------------------------------------------------

    @property
    def web_url(self) -> str:
        """The configured GitHub web URL (device flow, links), without a trailing slash."""
        return self._web.base_url.rstrip("/")

    async def request_device_code(self, client_id: str, scope: str = "") -> DeviceCode:
        # Errors come as a JSON `error` (device_flow_disabled, incorrect_client_credentials ...), with
        # HTTP 200 like the token endpoint or with a 4xx: read both rather than calling them an outage.
        resp = await self._web.request(
            "POST", "/login/device/code", data={"client_id": client_id, "scope": scope}, expected=(200, 400, 401, 422)
        )
        d = resp.data if isinstance(resp.data, dict) else {}
        if "device_code" not in d:
            raise DeviceFlowError(resp.status, _error_code(d.get("error")))
        return DeviceCode(
            device_code=d["device_code"],
            user_code=d["user_code"],
            verification_uri=d["verification_uri"],
            expires_in=int(d.get("expires_in", 900)),
            interval=int(d.get("interval", 5)),
        )

    async def poll_device_token(self, client_id: str, device_code: str) -> DeviceTokenResult:
        form = {"client_id": client_id, "device_code": device_code, "grant_type": DEVICE_GRANT}
        # RFC 8628 servers answer errors with 400; GitHub answers them with 200. Accept both.
        resp = await self._web.request("POST", "/login/oauth/access_token", data=form, expected=(200, 400))
        d = resp.data if isinstance(resp.data, dict) else {}
        interval = d.get("interval")
        return DeviceTokenResult(
            access_token=d.get("access_token") or None,
            error=None if d.get("access_token") else _error_code(d.get("error")),
            interval=int(interval) if interval is not None else None,
        )

    async def revoke_token(self, client_id: str, client_secret: str, token: str) -> bool:
        resp = await self._api.request(
            "DELETE",
            f"/applications/{quote(client_id, safe='')}/token",
            json={"access_token": token},
            basic_auth=(client_id, client_secret),
            expected=(204, 404, 422),
        )
        return resp.status == 204


def _decode_content(data: dict[str, Any]) -> str | None:
    if data.get("encoding") != "base64" or data.get("content") is None:
        return None
    try:
        return base64.b64decode(data["content"]).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        raise Unavailable(None, "GitHub sent file contents the bot could not read.") from None
