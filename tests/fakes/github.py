"""A loopback fake of the GitHub REST API and OAuth device flow.

Response shapes follow GitHub's REST documentation for the fields the bot reads. Tests set the
world up with helper methods (``add_repo``, ``add_issue``, ``transfer_repo`` ...), inject
faults (``fail``, ``latency``, ``down``) and read what the bot did (``requests``, ``count``,
``invitations``, ``revocations``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The login that the request's token belongs to (None when anonymous).
LOGIN = web.RequestKey("login", str)


class RecordedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    status: int  # 0 when the client went away before an answer
    had_auth: bool


class Reply(Exception):
    """Raised by handlers to answer early with a JSON error (or any status)."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Fault:
    method: str | None
    path_regex: re.Pattern[str]
    status: int
    times: int
    body: Any
    headers: dict[str, str]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    if data is None:
        return web.Response(status=status, headers=headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers, content_type="application/json")


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


class FakeService:
    """Shared plumbing: a loopback server, request log, latency, faults and an outage switch."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.down: bool | str = False  # True: answer 503; "close": drop the connection
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        # handler_cancellation stops slow handlers when the client times out; a short shutdown
        # keeps close() fast even then.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def fail(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``. A str body is sent raw."""
        self._faults.append(Fault(method, re.compile(path_regex), status, times, body, dict(headers or {})))

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        pattern = re.compile(path_regex) if path_regex else None
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and (pattern is None or pattern.search(r.path))
        )

    def _take_fault(self, request: web.Request) -> web.Response | None:
        for fault in self._faults:
            if fault.times <= 0 or (fault.method and fault.method.upper() != request.method):
                continue
            if fault.path_regex.search(request.path):
                fault.times -= 1
                if isinstance(fault.body, str | bytes):
                    body = fault.body.encode() if isinstance(fault.body, str) else fault.body
                    return web.Response(
                        body=body, status=fault.status, headers=fault.headers, content_type="application/json"
                    )
                data = fault.body if fault.body is not None else {"message": f"Injected {fault.status}"}
                return json_response(data if fault.status not in (204, 304) else None, fault.status, fault.headers)
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        status = 0
        try:
            resp = await self._dispatch(request, handler)
            status = resp.status
            return resp
        finally:
            self.requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    dict(request.query),
                    status,
                    "Authorization" in request.headers,
                )
            )

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.down == "close":
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        if self.down:
            return json_response({"message": "Service Unavailable"}, 503)
        fault = self._take_fault(request)
        if fault is not None:
            return fault
        try:
            return await self.handle(request, handler)
        except Reply as reply:
            return json_response(reply.body, reply.status, reply.headers)

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Subclasses wrap the route handler (auth, ETags, rate-limit headers)."""
        return await handler(request)

    @staticmethod
    def etag_for(body: bytes) -> str:
        return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    def conditional(self, request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
        """Add an ETag to a 200 GET answer; answer 304 when the client already has it."""
        if request.method != "GET" or resp.status != 200 or not isinstance(resp, web.Response):
            return resp
        etag = self.etag_for(resp.body if isinstance(resp.body, bytes) else b"")
        if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
            return web.Response(status=304, headers={"ETag": etag})
        resp.headers["ETag"] = etag
        return resp


@dataclass
class _Bucket:
    resource: str
    limit: int
    remaining: int
    reset: int


class FakeGitHub(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, dict[str, Any]] = {}
        self.orgs: dict[str, dict[str, Any]] = {}
        self.repos: dict[int, dict[str, Any]] = {}
        self.moved: dict[str, int] = {}  # old lower-case full name -> repo id
        self.tokens: dict[str, str] = {}  # token -> login
        self.invitations: list[tuple[str, str, str, str]] = []  # (org, login, role, inviter)
        # The fake's own "now" for invitation expiry; tests point it at the bot's FakeClock.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.invitation_daily_limit = INVITATIONS_PER_DAY
        self.revocations: list[str] = []  # logins whose token was revoked
        self.search_timeouts = 0  # searches left that time out: partial items, `incomplete_results: true`
        self.oauth_apps: dict[str, str] = {"Iv1.fakeclient": "fake-client-secret"}
        self.device_flow_enabled = True
        self.device_code_error: str | None = None  # any other error code the device-code endpoint answers
        self.device_code_error_status = 400
        self.device_interval = 5
        self.device_expires_in = 900
        self._devices: dict[str, dict[str, Any]] = {}
        self._next_scripts: deque[list[Any]] = deque()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._ids = itertools.count(1001)
        self.bot_login = "eco-bot"
        self.add_user(self.bot_login)
        self._bot_token = ""
        self.bot_token = "ghs_fakebottoken000000000000000000000"

    # --- URLs ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.root_url}/api"

    @property
    def web_url(self) -> str:
        return f"{self.root_url}/web"

    @property
    def client_id(self) -> str:
        return next(iter(self.oauth_apps))

    @property
    def client_secret(self) -> str:
        return self.oauth_apps[self.client_id]

    @property
    def bot_token(self) -> str:
        return self._bot_token

    @bot_token.setter
    def bot_token(self, token: str) -> None:
        self.tokens.pop(self._bot_token, None)
        self._bot_token = token
        self.tokens[token] = self.bot_login

    # --- world set-up helpers ------------------------------------------------------------------

    def add_user(self, login: str, id: int | None = None) -> dict[str, Any]:
        if login.lower() not in self.users:
            self.users[login.lower()] = {"login": login, "id": id or next(self._ids), "type": "User"}
        return self.users[login.lower()]

    def add_org(
        self,
        login: str,
        members: Iterable[str] = (),
        *,
        admins: Iterable[str] = (),
        public_members: Iterable[str] = (),
        bot_is_admin: bool = True,
    ) -> dict[str, Any]:
        org = self.orgs.setdefault(
            login.lower(),
            {
                "login": login,
                "id": next(self._ids),
                "type": "Organization",
                "members": {},
                "public": set(),
                "pending": {},  # login -> role
                "pending_since": {},  # login -> when the invitation was sent (expires after 7 days)
                "expired": [],  # (login, sent at): invitations that lapsed unanswered
                "sent_at": [],  # when each invitation was created, for the daily limit
            },
        )
        for m in members:
            self.add_member(login, m)
        for a in [*admins, *([self.bot_login] if bot_is_admin else [])]:
            self.add_member(login, a, role="admin")
        for p in public_members:
            self.add_member(login, p)
            org["public"].add(p.lower())
        return org

    def add_member(self, org: str, login: str, role: str = "member") -> None:
        self.add_user(login)
        self.orgs[org.lower()]["members"][login.lower()] = role
        self.orgs[org.lower()]["pending"].pop(login.lower(), None)
        self.orgs[org.lower()]["pending_since"].pop(login.lower(), None)

    def add_team(self, org: str, slug: str) -> set[str]:
        """A team in `org` (members' logins, lower-cased)."""
        return self.orgs[org.lower()].setdefault("teams", {}).setdefault(slug.lower(), set())

    def accept_invitation(self, org: str, login: str) -> None:
        """The invitee accepts; an invitation older than 7 days is gone (KeyError), as on GitHub."""
        self._expire_invitations(self.orgs[org.lower()])
        role = self.orgs[org.lower()]["pending"].pop(login.lower())
        self.add_member(org, login, "admin" if role == "admin" else "member")

    def _expire_invitations(self, org: dict[str, Any]) -> None:
        # "Invitations ... expire after 7 days": https://docs.github.com/en/organizations/
        # managing-membership-in-your-organization/inviting-users-to-join-your-organization
        now = self.clock()
        for login, since in list(org["pending_since"].items()):
            if now - since >= INVITATION_LIFETIME:
                org["pending"].pop(login, None)
                org["pending_since"].pop(login, None)
                org["expired"].append((login, since))

    def secondary_rate_limit(
        self, path_regex: str = ".", *, method: str | None = None, times: int = 1, status: int = 403
    ) -> None:
        """The next ``times`` matching requests hit a secondary rate limit the way GitHub answers
        it: 403 (or 429), no Retry-After, a healthy x-ratelimit-remaining, and only the message
        saying what happened. https://docs.github.com/en/rest/using-the-rest-api/
        rate-limits-for-the-rest-api#exceeding-the-rate-limit"""
        self.fail(method, path_regex, status, times=times, body=SECONDARY_LIMIT_BODY,
                  headers={"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4990",
                           "X-RateLimit-Used": "10", "X-RateLimit-Resource": "core",
                           "X-RateLimit-Reset": str(int(datetime.now(UTC).timestamp()) + 3600)})

    def issue_token(self, login: str) -> str:
        self.add_user(login)
        token = "gho_" + secrets.token_hex(18)
        self.tokens[token] = login
        return token

    def add_repo(
        self,
        full_name: str,
        *,
        owner_type: str | None = None,
        private: bool = False,
        archived: bool = False,
        fork_of: str | None = None,
        description: str = "",
        topics: Iterable[str] = (),
        license: str | None = "MIT",
        files: dict[str, str] | None = None,
        default_branch: str = "main",
        pushed_at: datetime | None = None,
        admins: Iterable[str] = (),
        maintainers: Iterable[str] = (),
        workflows: Iterable[str] = (),
        readme: str | None = None,
        releases: Iterable[tuple[str, datetime] | str] = (),
    ) -> dict[str, Any]:
        owner, name = full_name.split("/")
        if owner.lower() not in self.orgs and owner.lower() not in self.users:
            if owner_type == "Organization":
                self.add_org(owner, bot_is_admin=False)
            else:
                self.add_user(owner)
        files = dict(files or {})
        if readme is not None:
            files.setdefault("README.md", readme)
        for wf in workflows:
            files.setdefault(wf if "/" in wf else f".github/workflows/{wf}", f"name: {wf}\non: push\n")
        now = datetime.now(UTC)
        repo = {
            "id": next(self._ids),
            "owner": self._owner(owner)["login"],
            "name": name,
            "private": private,
            "archived": archived,
            "fork_of": fork_of,
            "description": description,
            "topics": list(topics),
            "license": license,
            "files": files,
            "default_branch": default_branch,
            "pushed_at": pushed_at or now,
            "created_at": now - timedelta(days=365),
            "admins": {a.lower() for a in admins},
            "maintainers": {m.lower() for m in maintainers},
            "releases": [(r, now) if isinstance(r, str) else r for r in releases],
            "issues": [],
            "runs": [],  # workflow runs: {"id", "branch", "status", "conclusion", "created_at"}
            "commits": [],  # {"sha", "branch", "date"}
        }
        self.repos[repo["id"]] = repo
        return repo

    def repo(self, full_name: str) -> dict[str, Any]:
        for repo in self.repos.values():
            if f"{repo['owner']}/{repo['name']}".lower() == full_name.lower():
                return repo
        raise KeyError(full_name)

    def transfer_repo(self, old_full_name: str, new_owner: str) -> dict[str, Any]:
        repo = self.repo(old_full_name)
        if new_owner.lower() not in self.orgs:
            self.add_user(new_owner)
        repo["owner"] = self._owner(new_owner)["login"]
        self.moved[old_full_name.lower()] = repo["id"]
        return repo

    def set_fork_progress(self, fork_full_name: str, ahead_by: int, behind_by: int = 0) -> None:
        """The fork's default branch has `ahead_by` commits its parent lacks (and lacks `behind_by` of its)."""
        repo = self.repo(fork_full_name)
        assert repo["fork_of"], f"{fork_full_name} is not a fork"
        repo["ahead_by"], repo["behind_by"] = ahead_by, behind_by

    def set_topics(self, full_name: str, topics: Iterable[str]) -> None:
        self.repo(full_name)["topics"] = list(topics)

    def add_issue(
        self,
        full_name: str,
        title: str,
        *,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        linked_pr: bool = False,
        is_pr: bool = False,
        state: str = "open",
        comments: int = 0,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        author_association: str = "NONE",
        author: str = "someone",
    ) -> dict[str, Any]:
        repo = self.repo(full_name)
        for login in [*assignees, author]:
            self.add_user(login)
        now = datetime.now(UTC)
        issue = {
            "id": next(self._ids),
            "number": len(repo["issues"]) + 1,
            "title": title,
            "labels": list(labels),
            "assignees": list(assignees),
            "linked_pr": linked_pr,
            "is_pr": is_pr,
            "state": state,
            "comments": comments,
            "created_at": created_at or now,
            "updated_at": updated_at or created_at or now,
            "author_association": author_association,
            "author": author,
        }
        repo["issues"].append(issue)
        return issue

    def add_workflow_run(
        self, full_name: str, conclusion: str | None = "success", *, branch: str | None = None,
        status: str = "completed", created_at: datetime | None = None, event: str = "push",
    ) -> dict[str, Any]:
        repo = self.repo(full_name)
        run = {"id": next(self._ids), "branch": branch or repo["default_branch"], "status": status,
               "conclusion": conclusion if status == "completed" else None,
               "created_at": created_at or datetime.now(UTC), "event": event}
        repo["runs"].append(run)
        return run

    def add_commit(self, full_name: str, when: datetime, *, branch: str | None = None) -> dict[str, Any]:
        repo = self.repo(full_name)
        commit = {"sha": hashlib.sha1(f"{full_name}{len(repo['commits'])}".encode()).hexdigest(),
                  "branch": branch or repo["default_branch"], "date": when}
        repo["commits"].append(commit)
        return commit

    def update_issue(self, full_name: str, number: int, **changes: Any) -> dict[str, Any]:
        issue = self.repo(full_name)["issues"][number - 1]
        for login in changes.get("assignees", ()):
            self.add_user(login)
        unknown = set(changes) - set(issue)
        if unknown:
            raise TypeError(f"unknown issue fields: {unknown}")
        issue.update(changes)
        if "updated_at" not in changes:
            issue["updated_at"] = datetime.now(UTC)
        return issue

    def set_rate_limit(self, remaining: int, *, resource: str = "core", login: str | None = None) -> None:
        bucket = self._bucket(login, resource)
        bucket.remaining = remaining

    def rate_limited_cost(self) -> int:
        """Requests that counted against a token's limit: authenticated API answers except 304."""
        return sum(1 for r in self.requests if r.had_auth and r.status not in (0, 304) and r.path.startswith("/api"))

    def anonymous_cost(self) -> int:
        """Requests that counted against the IP's 60/hour: every anonymous API answer, 304s too."""
        return sum(1 for r in self.requests if not r.had_auth and r.status != 0 and r.path.startswith("/api"))

    def search_cost(self) -> int:
        """Search requests answered (they count against the search limit: 30/min, 10/min anonymous)."""
        return sum(1 for r in self.requests if r.status != 0 and r.path.startswith("/api/search/"))

    # --- device flow control ---------------------------------------------------------------------

    def device_flow_script(self, outcomes: Iterable[Any], user_code: str | None = None) -> None:
        """Script poll answers: "authorization_pending", "slow_down", "expired_token",
        "access_denied", ... or ("token", login). Without ``user_code`` it applies to the next
        device code issued. After the script, polls answer authorization_pending until approved."""
        script = list(outcomes)
        if user_code is None:
            self._next_scripts.append(script)
            return
        self._device_by_user_code(user_code)["script"] = deque(script)

    def approve_device(self, user_code: str, login: str) -> None:
        self._device_by_user_code(user_code)["approved"] = login

    def _device_by_user_code(self, user_code: str) -> dict[str, Any]:
        for dev in self._devices.values():
            if dev["user_code"] == user_code:
                return dev
        raise KeyError(user_code)

    # --- internals -------------------------------------------------------------------------------

    def _owner(self, login: str) -> dict[str, Any]:
        return self.orgs.get(login.lower()) or self.users[login.lower()]

    def _full(self, repo: dict[str, Any]) -> str:
        return f"{repo['owner']}/{repo['name']}"

    def _perms(self, repo: dict[str, Any], login: str | None) -> dict[str, bool] | None:
        if login is None:
            return None
        who = login.lower()
        org = self.orgs.get(repo["owner"].lower())
        role = org["members"].get(who) if org else None
        admin = who == repo["owner"].lower() or who in repo["admins"] or role == "admin"
        maintain = admin or who in repo["maintainers"]
        pull = not repo["private"] or maintain or role is not None
        return {"admin": admin, "maintain": maintain, "push": maintain, "triage": maintain, "pull": pull}

    def _visible(self, repo: dict[str, Any], login: str | None) -> bool:
        return not repo["private"] or bool((self._perms(repo, login) or {}).get("pull"))

    def _user_json(self, login: str) -> dict[str, Any]:
        u = self._owner(login)
        return {
            "login": u["login"],
            "id": u["id"],
            "type": u["type"],
            "html_url": f"{self.web_url}/{u['login']}",
            "url": f"{self.api_url}/users/{u['login']}",
        }

    def repo_json(self, repo: dict[str, Any], login: str | None, *, full: bool = True) -> dict[str, Any]:
        full_name = self._full(repo)
        lic = repo["license"]
        data: dict[str, Any] = {
            "id": repo["id"],
            "node_id": f"R_{repo['id']}",
            "name": repo["name"],
            "full_name": full_name,
            "private": repo["private"],
            "owner": self._user_json(repo["owner"]),
            "html_url": f"{self.web_url}/{full_name}",
            "description": repo["description"] or None,
            "fork": repo["fork_of"] is not None,
            "url": f"{self.api_url}/repos/{full_name}",
            "archived": repo["archived"],
            "disabled": False,
            "topics": list(repo["topics"]),
            "default_branch": repo["default_branch"],
            "visibility": "private" if repo["private"] else "public",
            "pushed_at": iso(repo["pushed_at"]),
            "created_at": iso(repo["created_at"]),
            "updated_at": iso(repo["pushed_at"]),
            "license": None
            if lic is None
            else {
                "key": "other" if lic == "NOASSERTION" else lic.lower(),
                "name": "Other" if lic == "NOASSERTION" else f"{lic} License",
                "spdx_id": lic,
            },
            "open_issues_count": sum(1 for i in repo["issues"] if i["state"] == "open"),
        }
        perms = self._perms(repo, login)
        if perms is not None:
            data["permissions"] = perms
        if full and repo["fork_of"]:
            parent = self.repo(repo["fork_of"])
            source = parent
            while source["fork_of"]:
                source = self.repo(source["fork_of"])
            data["parent"] = self.repo_json(parent, None, full=False)
            data["source"] = self.repo_json(source, None, full=False)
        return data

    def issue_json(self, repo: dict[str, Any], issue: dict[str, Any]) -> dict[str, Any]:
        full_name = self._full(repo)
        kind = "pull" if issue["is_pr"] else "issues"
        data = {
            "id": issue["id"],
            "node_id": f"I_{issue['id']}",
            "number": issue["number"],
            "title": issue["title"],
            "state": issue["state"],
            "html_url": f"{self.web_url}/{full_name}/{kind}/{issue['number']}",
            "url": f"{self.api_url}/repos/{full_name}/issues/{issue['number']}",
            "repository_url": f"{self.api_url}/repos/{full_name}",
            "labels": [
                {"id": abs(hash(n)) % 10**8, "name": n, "color": "ededed", "default": False} for n in issue["labels"]
            ],
            "assignees": [self._user_json(a) for a in issue["assignees"]],
            "assignee": self._user_json(issue["assignees"][0]) if issue["assignees"] else None,
            "user": self._user_json(issue["author"]),
            "comments": issue["comments"],
            "created_at": iso(issue["created_at"]),
            "updated_at": iso(issue["updated_at"]),
            "closed_at": None,
            "author_association": issue["author_association"],
            "body": "",
        }
        if issue["is_pr"]:
            data["pull_request"] = {"url": f"{self.api_url}/repos/{full_name}/pulls/{issue['number']}"}
        return data

    def _bucket(self, login: str | None, resource: str) -> _Bucket:
        key = (login.lower() if login else "anonymous", resource)
        now = int(self.clock().timestamp())
        bucket = self._buckets.get(key)
        if bucket is None or bucket.reset <= now:
            if resource == "search":
                limit, window = (30 if login else 10), 60
            else:
                limit, window = (5000 if login else 60), 3600
            bucket = self._buckets[key] = _Bucket(resource, limit, limit, now + window)
        return bucket

    def _login(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if not auth or scheme.lower() == "basic":
            return None
        login = self.tokens.get(token.strip()) if scheme.lower() in ("bearer", "token") else None
        if login is None:
            raise Reply(
                401,
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
            )
        return login

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        login = self._login(request)
        request[LOGIN] = login
        bucket = self._bucket(login, "search" if request.path.startswith("/api/search/") else "core")
        headers = {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Reset": str(bucket.reset),
            "X-RateLimit-Resource": bucket.resource,
        }
        if bucket.remaining <= 0:
            headers["X-RateLimit-Remaining"] = "0"
            return json_response(
                {
                    "message": "API rate limit exceeded",
                    "documentation_url": "https://docs.github.com/rest/rate-limit",
                },
                403,
                headers,
            )
        try:
            resp = await handler(request)
        except Reply as reply:
            resp = json_response(reply.body, reply.status, reply.headers)
        if not request.path.startswith("/api/search/"):
            # Search answers carry no ETag and always count (see _h_search).
            resp = self.conditional(request, resp)
        if resp.status != 304 or login is None:
            # A 304 is free only "while correctly authorized": https://docs.github.com/en/rest/
            # using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
            bucket.remaining -= 1
        headers["X-RateLimit-Remaining"] = str(bucket.remaining)
        resp.headers.update(headers)
        return resp

    # --- routes ----------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/user", self._h_user)
        r.add_get("/api/users/{user}", self._h_user_by_login)
        r.add_put("/api/orgs/{org}/teams/{team}/memberships/{user}", self._h_put_team_membership)
        for prefix in ("/api/repos/{owner}/{repo}", r"/api/repositories/{id:\d+}"):
            r.add_get(prefix, self._h_repo)
            r.add_get(prefix + "/contents", self._h_contents)
            r.add_get(prefix + "/contents/{path:.*}", self._h_contents)
            r.add_get(prefix + "/readme", self._h_readme)
            r.add_get(prefix + "/actions/workflows", self._h_workflows)
            r.add_get(prefix + "/issues", self._h_repo_issues)
            r.add_get(prefix + "/releases", self._h_releases)
            r.add_get(prefix + "/compare/{basehead}", self._h_compare)
            r.add_get(prefix + "/actions/runs", self._h_runs)
            r.add_get(prefix + "/commits", self._h_commits)
        r.add_get("/api/orgs/{org}/repos", self._h_org_repos)
        r.add_get("/api/orgs/{org}/memberships/{user}", self._h_get_membership)
        r.add_put("/api/orgs/{org}/memberships/{user}", self._h_put_membership)
        r.add_get("/api/orgs/{org}/public_members/{user}", self._h_public_member)
        r.add_get("/api/orgs/{org}/members/{user}", self._h_member)
        r.add_get("/api/orgs/{org}/members", self._h_members)
        r.add_get("/api/search/issues", self._h_search)
        r.add_delete("/api/applications/{client_id}/token", self._h_revoke)
        r.add_post("/web/login/device/code", self._h_device_code)
        r.add_post("/web/login/oauth/access_token", self._h_device_token)

    def _repo_from(self, request: web.Request) -> dict[str, Any]:
        login, mi = request[LOGIN], request.match_info
        if "id" in mi:
            repo = self.repos.get(int(mi["id"]))
        else:
            full = f"{mi['owner']}/{mi['repo']}".lower()
            repo = next((r for r in self.repos.values() if self._full(r).lower() == full), None)
            if repo is None and full in self.moved and self._visible(self.repos[self.moved[full]], login):
                parts = request.path.split("/", 5)
                rest = "/" + parts[5] if len(parts) > 5 else ""
                loc = f"{self.api_url}/repositories/{self.moved[full]}{rest}"
                loc += f"?{request.query_string}" if request.query_string else ""
                raise Reply(301, {"message": "Moved Permanently", "url": loc}, {"Location": loc})
        if repo is None or not self._visible(repo, login):
            raise Reply(404, NOT_FOUND)
        return repo

    def _paged(self, request: web.Request, items: list[Any], default: int = 30) -> web.Response:
        per_page = max(1, min(int(request.query.get("per_page", default)), 100))
        page = max(1, int(request.query.get("page", 1)))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        last = max(1, -(-len(items) // per_page))
        if page < last:
            url = request.url.with_query({**request.query, "page": str(page + 1)})
            end = request.url.with_query({**request.query, "page": str(last)})
            headers["Link"] = f'<{url}>; rel="next", <{end}>; rel="last"'
        return json_response(chunk, headers=headers)

    async def _h_user(self, request: web.Request) -> web.Response:
        if request[LOGIN] is None:
            raise Reply(401, {"message": "Requires authentication"})
        return json_response(self._user_json(request[LOGIN]))

    async def _h_user_by_login(self, request: web.Request) -> web.Response:
        # https://docs.github.com/en/rest/users/users#get-a-user: public, carries `created_at`.
        who = request.match_info["user"].lower()
        if who not in self.users:
            raise Reply(404, NOT_FOUND)
        user = self.users[who]
        created = user.get("created_at") or datetime(2015, 1, 1, tzinfo=UTC)
        return json_response({**self._user_json(user["login"]), "created_at": iso(created)})

    async def _h_put_team_membership(self, request: web.Request) -> web.Response:
        # https://docs.github.com/en/rest/teams/members#add-or-update-team-membership-for-a-user: an org
        # owner (or team maintainer) may add; someone not yet in the org gets a "pending" membership that
        # becomes active when they accept the org invitation; an unknown team is 404.
        org, viewer = self._org(request), request[LOGIN]
        who, slug = request.match_info["user"].lower(), request.match_info["team"].lower()
        if viewer is None:
            raise Reply(401, {"message": "Requires authentication"})
        if org["members"].get(viewer.lower()) != "admin":
            raise Reply(403, {"message": "Must have admin rights to Repository."})
        teams = org.setdefault("teams", {})
        if slug not in teams or who not in self.users:
            raise Reply(404, NOT_FOUND)
        teams[slug].add(who)
        state = "active" if who in org["members"] else "pending"
        return json_response({"url": f"{self.api_url}/teams/1/memberships/{who}", "role": "member", "state": state})

    async def _h_repo(self, request: web.Request) -> web.Response:
        return json_response(self.repo_json(self._repo_from(request), request[LOGIN]))

    def _file_json(self, repo: dict[str, Any], path: str) -> dict[str, Any]:
        raw = repo["files"][path].encode()
        b64 = base64.b64encode(raw).decode()
        full = self._full(repo)
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(raw),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": "\n".join(b64[i : i + 60] for i in range(0, len(b64), 60)) + "\n",
            "sha": hashlib.sha1(raw).hexdigest(),
            "url": f"{self.api_url}/repos/{full}/contents/{path}",
            "html_url": f"{self.web_url}/{full}/blob/{repo['default_branch']}/{path}",
        }

    async def _h_contents(self, request: web.Request) -> web.Response:
        repo = self._repo_from(request)
        path = request.match_info.get("path", "").strip("/")
        if path in repo["files"]:
            return json_response(self._file_json(repo, path))
        prefix = f"{path}/" if path else ""
        children: dict[str, str] = {}
        for file_path in repo["files"]:
            if file_path.startswith(prefix):
                head, sep, _ = file_path[len(prefix) :].partition("/")
                children[head] = "dir" if sep else "file"
        if not children:
            raise Reply(404, NOT_FOUND)
        full = self._full(repo)
        return json_response(
            [
                {
                    "type": kind,
                    "name": name,
                    "path": prefix + name,
                    "sha": hashlib.sha1(name.encode()).hexdigest(),
                    "url": f"{self.api_url}/repos/{full}/contents/{prefix}{name}",
                }
                for name, kind in sorted(children.items())
            ]
        )

    async def _h_readme(self, request: web.Request) -> web.Response:
        repo = self._repo_from(request)
        names = sorted(
            (p for p in repo["files"] if "/" not in p and p.lower().startswith("readme")),
            key=lambda p: p != "README.md",
        )
        if not names:
            raise Reply(404, NOT_FOUND)
        return json_response(self._file_json(repo, names[0]))

    async def _h_workflows(self, request: web.Request) -> web.Response:
        repo = self._repo_from(request)
        paths = sorted(p for p in repo["files"] if p.startswith(".github/workflows/") and p.endswith((".yml", ".yaml")))
        workflows = [
            {"id": 500 + i, "name": p.rsplit("/", 1)[-1], "path": p, "state": "active"} for i, p in enumerate(paths)
        ]
        return json_response({"total_count": len(workflows), "workflows": workflows})

    async def _h_repo_issues(self, request: web.Request) -> web.Response:
        # Pull requests are issues here too; `sort` (created, updated, comments; default created) and
        # `direction` (default desc): https://docs.github.com/en/rest/issues/issues#list-repository-issues
        repo = self._repo_from(request)
        state = request.query.get("state", "open")
        issues = [i for i in repo["issues"] if state == "all" or i["state"] == state]
        sort = request.query.get("sort", "created")
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(sort)
        if key is None:
            raise Reply(422, {"message": "Validation Failed"})
        issues.sort(key=lambda i: (i[key], i["number"]), reverse=request.query.get("direction", "desc") != "asc")
        return self._paged(request, [self.issue_json(repo, i) for i in issues])

    def _network_root(self, repo: dict[str, Any]) -> dict[str, Any]:
        while repo["fork_of"]:
            repo = self.repo(repo["fork_of"])
        return repo

    async def _h_compare(self, request: web.Request) -> web.Response:
        # GET /repos/{owner}/{repo}/compare/{base}...{head}: both are branches of the repo, or of another
        # repository in the same network as `<USERNAME>:branch`; the file list comes only with page 1 when
        # paging. https://docs.github.com/en/rest/commits/commits#compare-two-commits
        # Only the fork-against-its-parent case the bot asks is modelled: any other pair answers 404.
        repo = self._repo_from(request)
        base, sep, head = request.match_info["basehead"].partition("...")
        if not sep:
            raise Reply(404, NOT_FOUND)
        head_owner, _, head_branch = head.rpartition(":")
        other = repo
        if head_owner and head_owner.lower() != repo["owner"].lower():
            other = next((r for r in self.repos.values() if r["owner"].lower() == head_owner.lower()
                          and self._network_root(r) is self._network_root(repo) and self._visible(r, request[LOGIN])),
                         None)
            if other is None:
                raise Reply(404, NOT_FOUND)
        if base != repo["default_branch"] or head_branch != other["default_branch"]:
            raise Reply(404, NOT_FOUND)
        if other is repo:
            ahead = behind = 0
        elif other["fork_of"] and self.repo(other["fork_of"]) is repo:
            ahead, behind = other.get("ahead_by", 0), other.get("behind_by", 0)
        else:
            raise Reply(404, NOT_FOUND)
        status = "identical" if not (ahead or behind) else ("diverged" if ahead and behind else
                                                            ("ahead" if ahead else "behind"))
        per_page = max(1, min(int(request.query.get("per_page", 250)), 100 if "per_page" in request.query else 250))
        page = max(1, int(request.query.get("page", 1)))
        commits = [{"sha": hashlib.sha1(f"{self._full(other)}:{n}".encode()).hexdigest(),
                    "commit": {"message": f"commit {n}"}} for n in range(ahead)]
        data: dict[str, Any] = {
            "url": f"{self.api_url}/repos/{self._full(repo)}/compare/{base}...{head}",
            "html_url": f"{self.web_url}/{self._full(repo)}/compare/{base}...{head}",
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": commits[(page - 1) * per_page : page * per_page],
        }
        if page == 1:
            data["files"] = [{"filename": f"file{n}.py", "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"}
                             for n in range(min(ahead, 300))]
        return json_response(data)

    async def _h_runs(self, request: web.Request) -> web.Response:
        # Newest first, filtered by `branch` and `event`; the list sits under `workflow_runs` with
        # `total_count`: https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
        # `branch` matches the run's head branch name only, so a pull request from a fork's own `main`
        # shows up under `branch=main` too (event `pull_request`): only `event=push` leaves it out.
        repo = self._repo_from(request)
        branch, event = request.query.get("branch"), request.query.get("event")
        runs = sorted((r for r in repo["runs"] if (branch is None or r["branch"] == branch)
                       and (event is None or r.get("event", "push") == event)),
                      key=lambda r: (r["created_at"], r["id"]), reverse=True)
        per_page = max(1, min(int(request.query.get("per_page", 30)), 100))
        page = max(1, int(request.query.get("page", 1)))
        full = self._full(repo)
        return json_response({
            "total_count": len(runs),
            "workflow_runs": [
                {"id": r["id"], "head_branch": r["branch"], "status": r["status"], "conclusion": r["conclusion"],
                 "event": r.get("event", "push"), "created_at": iso(r["created_at"]),
                 "html_url": f"{self.web_url}/{full}/actions/runs/{r['id']}"}
                for r in runs[(page - 1) * per_page : page * per_page]
            ],
        })

    async def _h_commits(self, request: web.Request) -> web.Response:
        # `sha` is a branch name or SHA (default: the default branch); `since` keeps commits at or after
        # an ISO 8601 time: https://docs.github.com/en/rest/commits/commits#list-commits
        repo = self._repo_from(request)
        branch = request.query.get("sha") or repo["default_branch"]
        since = request.query.get("since")
        after = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        kept = [c for c in repo["commits"] if c["branch"] == branch and (after is None or c["date"] >= after)]
        commits = sorted(kept, key=lambda c: c["date"], reverse=True)
        full = self._full(repo)
        return self._paged(request, [
            {"sha": c["sha"], "html_url": f"{self.web_url}/{full}/commit/{c['sha']}",
             "commit": {"committer": {"date": iso(c["date"])}, "author": {"date": iso(c["date"])}}}
            for c in commits
        ])

    async def _h_releases(self, request: web.Request) -> web.Response:
        repo = self._repo_from(request)
        rels = sorted(repo["releases"], key=lambda r: r[1], reverse=True)
        return self._paged(
            request,
            [
                {
                    "id": 700 + n,
                    "tag_name": tag,
                    "name": tag,
                    "draft": False,
                    "prerelease": False,
                    "published_at": iso(when),
                    "created_at": iso(when),
                }
                for n, (tag, when) in enumerate(rels)
            ],
        )

    def _org(self, request: web.Request) -> dict[str, Any]:
        org = self.orgs.get(request.match_info["org"].lower())
        if org is None:
            raise Reply(404, NOT_FOUND)
        return org

    async def _h_org_repos(self, request: web.Request) -> web.Response:
        org = self._org(request)
        repos = [
            r
            for r in sorted(self.repos.values(), key=lambda r: r["id"])
            if r["owner"].lower() == org["login"].lower() and self._visible(r, request[LOGIN])
        ]
        return self._paged(request, [self.repo_json(r, request[LOGIN], full=False) for r in repos])

    def _membership_json(self, org: dict[str, Any], login: str, state: str, role: str) -> dict[str, Any]:
        return {
            "url": f"{self.api_url}/orgs/{org['login']}/memberships/{login}",
            "state": state,
            "role": role,
            "organization_url": f"{self.api_url}/orgs/{org['login']}",
            "organization": {"login": org["login"], "id": org["id"]},
            "user": self._user_json(login),
        }

    async def _h_get_membership(self, request: web.Request) -> web.Response:
        org, viewer, who = self._org(request), request[LOGIN], request.match_info["user"].lower()
        self._expire_invitations(org)
        if viewer is None:
            raise Reply(401, {"message": "Requires authentication"})
        if viewer.lower() not in org["members"] and viewer.lower() != who:
            raise Reply(403, {"message": f"You must be a member of {org['login']} to see membership information."})
        if who in org["members"]:
            return json_response(self._membership_json(org, who, "active", org["members"][who]))
        if who in org["pending"]:
            return json_response(self._membership_json(org, who, "pending", org["pending"][who]))
        raise Reply(404, NOT_FOUND)

    async def _h_put_membership(self, request: web.Request) -> web.Response:
        org, viewer, who = self._org(request), request[LOGIN], request.match_info["user"].lower()
        if viewer is None:
            raise Reply(401, {"message": "Requires authentication"})
        if org["members"].get(viewer.lower()) != "admin":
            raise Reply(403, {"message": "You must be an admin to add or update an organization membership."})
        if who not in self.users:
            raise Reply(404, NOT_FOUND)
        role = (await request.json() if request.can_read_body else {}).get("role", "member")
        if who in org["members"]:
            org["members"][who] = role
            return json_response(self._membership_json(org, who, "active", role))
        self._expire_invitations(org)
        if who in org["pending"]:  # already invited: GitHub answers with the pending membership
            return json_response(self._membership_json(org, who, "pending", org["pending"][who]))
        now = self.clock()
        org["sent_at"] = [t for t in org["sent_at"] if now - t < timedelta(days=1)]
        if len(org["sent_at"]) >= self.invitation_daily_limit:
            # "organization owners are limited to creating 50 organization invitations for an
            # organization within a 24 hour period" (500 for older or paid orgs); the endpoint
            # documents 403 and 422 answers. The exact body is not documented: this one is a guess.
            # https://docs.github.com/en/rest/orgs/members#set-organization-membership-for-a-user
            raise Reply(422, INVITATION_LIMIT_BODY)
        org["sent_at"].append(now)
        org["pending"][who] = role
        org["pending_since"][who] = now
        self.invitations.append((org["login"], self.users[who]["login"], role, viewer))
        return json_response(self._membership_json(org, who, "pending", role))

    async def _h_public_member(self, request: web.Request) -> web.Response:
        org = self._org(request)
        return web.Response(status=204 if request.match_info["user"].lower() in org["public"] else 404)

    async def _h_member(self, request: web.Request) -> web.Response:
        org, viewer, who = self._org(request), request[LOGIN], request.match_info["user"]
        if viewer is None or viewer.lower() not in org["members"]:
            # GitHub answers non-members with a redirect to the public membership check.
            loc = f"{self.api_url}/orgs/{org['login']}/public_members/{who}"
            return web.Response(status=302, headers={"Location": loc})
        return web.Response(status=204 if who.lower() in org["members"] else 404)

    async def _h_members(self, request: web.Request) -> web.Response:
        # Like GitHub: a member (or admin) sees everyone, anyone else only the public members.
        # Answers carry an ETag (see ``conditional``), so an unchanged list costs a 304.
        org, viewer = self._org(request), request[LOGIN]
        visible = org["members"] if viewer and viewer.lower() in org["members"] else org["public"]
        return self._paged(request, [self._user_json(login) for login in sorted(visible)])

    async def _h_search(self, request: web.Request) -> web.Response:
        # Search results are computed per call (scores, incomplete_results) and are answered
        # without an ETag, so a repeated search is a full, counted request. GitHub's docs say only
        # that "most endpoints" return an ETag; search answers observed without one:
        # https://github.com/slapperwan/gh4a/issues/886 (the search request "does not have an ETag").
        q = request.query.get("q", "")
        if len(q) > 256:
            # "Queries longer than 256 characters are not supported" (docs.github.com/en/search-github/
            # getting-started-with-searching-on-github/troubleshooting-search-queries); the API answers 422.
            raise Reply(422, {"message": "Validation Failed", "errors": [
                {"message": "The search is longer than 256 characters.", "resource": "Search", "field": "q",
                 "code": "invalid"}]})
        predicates = compile_search(q)
        matches = [
            (repo, issue)
            for repo in self.repos.values()
            if self._visible(repo, request[LOGIN])
            for issue in repo["issues"]
            if all(p(self, repo, issue) for p in predicates)
        ]
        sort = request.query.get("sort", "updated")
        key = {"created": "created_at", "comments": "comments"}.get(sort, "updated_at")
        matches.sort(key=lambda m: m[1][key], reverse=request.query.get("order", "desc") == "desc")
        per_page = max(1, min(int(request.query.get("per_page", 30)), 100))
        page = max(1, int(request.query.get("page", 1)))
        if (page - 1) * per_page >= 1000:
            raise Reply(422, {"message": "Only the first 1000 search results are available"})
        incomplete = self.search_timeouts > 0
        if incomplete:
            # "when a query exceeds the time limit, search returns all matches that were found prior to the
            # timeout" and sets `incomplete_results` (docs.github.com/en/rest/search/search#timeouts-and-
            # incomplete-results; .../troubleshooting-search-queries#potential-timeouts): counts run low.
            self.search_timeouts -= 1
            matches = matches[: len(matches) // 2]
        chunk = matches[:1000][(page - 1) * per_page : page * per_page]
        return json_response(
            {
                "total_count": len(matches),
                "incomplete_results": incomplete,
                "items": [{**self.issue_json(repo, issue), "score": 1.0} for repo, issue in chunk],
            }
        )

    async def _h_revoke(self, request: web.Request) -> web.Response:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        if (
            scheme.lower() != "basic"
            or client_id != request.match_info["client_id"]
            or self.oauth_apps.get(client_id) != secret
        ):
            raise Reply(404, NOT_FOUND)
        token = (await request.json()).get("access_token", "")
        login = self.tokens.pop(token, None)
        if login is None:
            raise Reply(404, NOT_FOUND)
        self.revocations.append(login)
        return web.Response(status=204)

    @staticmethod
    async def _form(request: web.Request) -> dict[str, str]:
        data = dict(request.query)
        if request.content_type == "application/json":
            data.update(await request.json())
        else:
            data.update({k: str(v) for k, v in (await request.post()).items()})
        return data

    async def _h_device_code(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if form.get("client_id") not in self.oauth_apps:
            return json_response({"error": "Not Found"}, 404)
        if not self.device_flow_enabled:
            return self._device_code_error("device_flow_disabled")
        if self.device_code_error:
            return self._device_code_error(self.device_code_error)
        code, user_code = secrets.token_hex(20), f"{secrets.token_hex(2)}-{secrets.token_hex(2)}".upper()
        self._devices[code] = {
            "client_id": form["client_id"],
            "user_code": user_code,
            "scope": form.get("scope", ""),
            "interval": self.device_interval,
            "approved": None,
            "expires_at": datetime.now(UTC) + timedelta(seconds=self.device_expires_in),
            "script": deque(self._next_scripts.popleft() if self._next_scripts else ()),
        }
        return json_response(
            {
                "device_code": code,
                "user_code": user_code,
                "verification_uri": f"{self.web_url}/login/device",
                "expires_in": self.device_expires_in,
                "interval": self.device_interval,
            }
        )

    def _device_code_error(self, error: str) -> web.Response:
        # The device-code endpoint's error codes are documented, its HTTP status for them is not
        # (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
        # #error-codes-for-the-device-flow): tests try both 400 and GitHub's usual OAuth 200.
        body = {"error": error, "error_description": error.replace("_", " "),
                "error_uri": "https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps"}
        return json_response(body, self.device_code_error_status)

    def _device_error(self, error: str, interval: int | None = None) -> web.Response:
        body: dict[str, Any] = {
            "error": error,
            "error_description": error.replace("_", " "),
            "error_uri": "https://docs.github.com/developers/apps/authorizing-oauth-apps",
        }
        if interval is not None:
            body["interval"] = interval
        return json_response(body)  # GitHub answers device-flow errors with 200

    async def _h_device_token(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
            return self._device_error("unsupported_grant_type")
        dev = self._devices.get(form.get("device_code", ""))
        if dev is None:
            return self._device_error("incorrect_device_code")
        if dev["client_id"] != form.get("client_id"):
            return self._device_error("incorrect_client_credentials")
        if datetime.now(UTC) >= dev["expires_at"]:
            return self._device_error("expired_token")
        outcome: Any = dev["script"].popleft() if dev["script"] else None
        if outcome is None and dev["approved"]:
            outcome = ("token", dev["approved"])
        if isinstance(outcome, tuple) and outcome[0] == "token":
            self._devices.pop(form["device_code"])
            return json_response(
                {"access_token": self.issue_token(outcome[1]), "token_type": "bearer", "scope": dev["scope"]}
            )
        if outcome == "slow_down":
            dev["interval"] += 5
            return self._device_error("slow_down", dev["interval"])
        if outcome in ("expired_token", "access_denied"):
            self._devices.pop(form["device_code"])
        return self._device_error(outcome or "authorization_pending")


NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
INVITATION_LIFETIME = timedelta(days=7)
INVITATIONS_PER_DAY = 50
SECONDARY_LIMIT_BODY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits",
    "status": "403",
}
INVITATION_LIMIT_BODY = {
    "message": "Validation Failed",
    "errors": [{"resource": "OrganizationInvitation", "code": "custom", "field": "base",
                "message": "Over invitation rate limit"}],
    "documentation_url": "https://docs.github.com/rest/orgs/members#set-organization-membership-for-a-user",
    "status": "422",
}

# --- issue search ---------------------------------------------------------------------------------

Predicate = Callable[[FakeGitHub, dict[str, Any], dict[str, Any]], bool]
_TERM = re.compile(r'(?:[^\s"]+|"[^"]*")+')
_VALUE = re.compile(r'(?:[^,"]+|"[^"]*")+')
_DATE_OP = re.compile(r"^(>=|<=|>|<)?(\d{4}-\d{2}-\d{2})$")


def _created(value: str) -> Predicate:
    m = _DATE_OP.match(value)
    if not m:
        raise Reply(422, {"message": f"Invalid created qualifier: {value}"})
    op, day = m.group(1) or "=", date.fromisoformat(m.group(2))
    compare = {"=": day.__eq__, ">=": day.__le__, "<=": day.__ge__, ">": day.__lt__, "<": day.__gt__}[op]
    return lambda fake, repo, issue: compare(issue["created_at"].date())


def _qualifier(key: str, values: list[str]) -> Predicate:
    low = [v.lower() for v in values]
    if key == "org":
        return lambda fake, repo, issue: repo["owner"].lower() in low
    if key == "repo":
        return lambda fake, repo, issue: fake._full(repo).lower() in low
    if key in ("is", "type", "state", "archived", "no", "linked"):
        v = low[0]
        checks: dict[tuple[str, str], Predicate] = {
            ("is", "issue"): lambda f, r, i: not i["is_pr"],
            ("is", "pr"): lambda f, r, i: i["is_pr"],
            ("is", "open"): lambda f, r, i: i["state"] == "open",
            ("is", "closed"): lambda f, r, i: i["state"] == "closed",
            ("archived", "false"): lambda f, r, i: not r["archived"],
            ("archived", "true"): lambda f, r, i: r["archived"],
            ("no", "assignee"): lambda f, r, i: not i["assignees"],
            ("no", "label"): lambda f, r, i: not i["labels"],
            ("linked", "pr"): lambda f, r, i: i["linked_pr"],
            # https://docs.github.com/en/search-github/searching-on-github/searching-issues-and-pull-requests
            ("is", "merged"): lambda f, r, i: i["is_pr"] and i.get("merged", False),
        }
        aliases = {
            ("is", "pull-request"): ("is", "pr"),
            ("type", "pr"): ("is", "pr"),
            ("type", "issue"): ("is", "issue"),
            ("state", "open"): ("is", "open"),
            ("state", "closed"): ("is", "closed"),
        }
        pred = checks.get(aliases.get((key, v), (key, v)))
        if pred is not None:
            return pred
    if key == "label":
        return lambda fake, repo, issue: any(v in {n.lower() for n in issue["labels"]} for v in low)
    if key == "created":
        return _created(values[0])
    if key == "author":  # author:USERNAME, same docs page
        return lambda fake, repo, issue: issue["author"].lower() in low
    raise Reply(422, {"message": f"FakeGitHub does not support the qualifier {key}:{','.join(values)}"})


def compile_search(q: str) -> list[Predicate]:
    """Parse the subset of GitHub issue-search syntax the bot uses into predicates (ANDed)."""
    terms = _TERM.findall(q)
    kinds = {t.lower() for t in terms}
    if not kinds & {"is:issue", "is:pr", "is:pull-request", "type:issue", "type:pr"}:
        # GitHub's issue search rejects queries that don't say which kind they want.
        raise Reply(422, {"message": "Query must include 'is:issue' or 'is:pull-request'"})
    predicates: list[Predicate] = []
    for term in terms:
        negate = term.startswith("-") and ":" in term
        key, sep, raw = term.lstrip("-").partition(":") if negate else term.partition(":")
        if not sep:
            words = term.strip('"').lower()
            predicates.append(lambda fake, repo, issue, w=words: w in issue["title"].lower())
            continue
        pred = _qualifier(key.lower(), [v.strip('"') for v in _VALUE.findall(raw)])
        predicates.append((lambda f, r, i, p=pred: not p(f, r, i)) if negate else pred)
    return predicates
