"""A loopback fake of PyPI's project JSON API and JSON simple index (PEP 691/700/792).

Strict where Warehouse (PyPI's code, github.com/pypi/warehouse) is:
- `/pypi/<name>/json` redirects any other spelling to the PEP 503 normalised name
  (warehouse/legacy/api/json.py `json_project`: `project.normalized_name != request.matchdict["name"]`
  -> HTTPMovedPermanently), and answers 404 for a quarantined project (`latest_release_factory` filters
  `Project.lifecycle_status` "quarantine-enter"); its `releases` key is documented as deprecated
  (docs.pypi.org/api/json/: "should be considered deprecated ... use the simple API") and a test can drop it.
- `ownership.roles` lists direct roles only (`project.roles`, one per user); rights held through a PyPI
  organisation (its owners, its teams) are never listed, `ownership.organization` names it.
- `/simple/<name>/` with `Accept: application/vnd.pypi.simple.v1+json` (PEP 691) answers `versions`,
  files with `upload-time` and `yanked` (PEP 700, PEP 592), and always a `project-status` (PEP 792;
  warehouse/packaging/utils.py `_simple_detail`): a quarantined project is still listed there, with its
  status and without files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from packaging.version import InvalidVersion, Version

from tests.fakes.github import FakeService, Handler, Reply, json_response

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
NOT_FOUND = {"message": "Not Found"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class FakePyPI(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self.projects: dict[str, dict[str, Any]] = {}  # normalized name -> project
        # Warehouse still sends the deprecated `releases` key; False drops it, as PyPI says it may.
        self.releases_key = True

    @property
    def url(self) -> str:
        return self.root_url

    # --- world set-up helpers ------------------------------------------------------------------

    def add_project(
        self,
        name: str,
        *,
        version: str = "1.0.0",
        summary: str = "",
        description: str = "",
        requires_dist: Iterable[str] = (),
        classifiers: Iterable[str] = (),
        project_urls: dict[str, str] | None = None,
        home_page: str | None = None,
        roles: Iterable[tuple[str, str]] = (("Owner", "alice"),),
        organization: str | None = None,
        status: str | None = None,
        releases: dict[str, datetime] | None = None,
        org_roles: Iterable[tuple[str, str]] = (),
        license: str | None = None,
        license_expression: str | None = None,
    ) -> dict[str, Any]:
        releases = dict(releases or {})
        releases.setdefault(version, datetime(2024, 1, 1, tzinfo=UTC))
        project = {
            "name": name,
            "version": version,
            "summary": summary,
            "description": description,
            "requires_dist": list(requires_dist),
            "classifiers": list(classifiers),
            "project_urls": project_urls,
            "home_page": home_page,
            "roles": [tuple(r) for r in roles],
            "organization": organization,
            # Rights through the organisation (its owners, team roles): real, but not in `ownership.roles`.
            "org_roles": [tuple(r) for r in org_roles],
            "yanked": {},  # version -> reason ("" when none given)
            "status": status,
            "status_reason": None,
            "releases": releases,
            "license": license,
            "license_expression": license_expression,
        }
        self.projects[normalize(name)] = project
        return project

    def project(self, name: str) -> dict[str, Any]:
        return self.projects[normalize(name)]

    def set_roles(self, name: str, roles: Iterable[tuple[str, str]]) -> None:
        self.project(name)["roles"] = [tuple(r) for r in roles]

    def set_status(self, name: str, status: str | None, reason: str | None = None) -> None:
        self.project(name).update(status=status, status_reason=reason)

    def add_release(self, name: str, version: str, when: datetime) -> None:
        project = self.project(name)
        project["releases"][version] = when
        if when >= max(project["releases"].values()):
            project["version"] = version
        self._pick_latest(project)

    @staticmethod
    def _pick_latest(project: dict[str, Any]) -> None:
        # info.version, in warehouse/legacy/api/json.py `latest_release_factory`: ORDER BY `Release.yanked`
        # ASC, `Release.is_prerelease` NULLS LAST, `Release._pypi_ordering` DESC (version order), LIMIT 1. So
        # the newest non-yanked final release, else pre-release; with every release yanked, the newest
        # yanked one, and then `info.yanked` is true.
        try:
            parsed = {v: Version(v) for v in project["releases"]}
        except InvalidVersion:
            return
        project["version"] = max(parsed, key=lambda v: (v not in project["yanked"], not parsed[v].is_prerelease,
                                                        parsed[v]))

    def yank(self, name: str, version: str, reason: str = "") -> None:
        """PEP 592: a yanked release stays listed, flagged; Warehouse yanks whole releases."""
        project = self.project(name)
        project["yanked"][version] = reason
        self._pick_latest(project)

    def quarantined(self, project: dict[str, Any]) -> bool:
        return project["status"] == "quarantined"

    # --- responses -------------------------------------------------------------------------------

    def _files(self, project: dict[str, Any], version: str) -> list[dict[str, Any]]:
        when: datetime = project["releases"][version]
        filename = f"{normalize(project['name']).replace('-', '_')}-{version}.tar.gz"
        digest = hashlib.sha256(filename.encode()).hexdigest()
        return [
            {
                "filename": filename,
                "packagetype": "sdist",
                "size": 1234,
                "url": f"{self.url}/packages/{filename}",
                "digests": {"sha256": digest},
                "upload_time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "upload_time_iso_8601": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "yanked": version in project["yanked"],
                "yanked_reason": project["yanked"].get(version) or None,
            }
        ]

    def project_json(self, project: dict[str, Any]) -> dict[str, Any]:
        data = {
            "info": {
                "name": project["name"],
                "version": project["version"],
                "summary": project["summary"],
                "description": project.get("description", ""),
                "requires_dist": project["requires_dist"] or None,
                "classifiers": project["classifiers"],
                "project_urls": project["project_urls"],
                "home_page": project["home_page"],
                "license": project["license"],
                "license_expression": project["license_expression"],
                "package_url": f"{self.url}/project/{project['name']}/",
                # The release `info` describes may be yanked (when every release is): json.py `json_release`
                # sends `"yanked": release.yanked, "yanked_reason": release.yanked_reason or None`.
                "yanked": project["version"] in project["yanked"],
                "yanked_reason": project["yanked"].get(project["version"]) or None,
            },
            "last_serial": 1,
            "releases": {v: self._files(project, v) for v in project["releases"]},
            "urls": self._files(project, project["version"]),
            "vulnerabilities": [],
            "ownership": {
                # Direct roles only, Owners first (warehouse/legacy/api/json.py `roles_data`).
                "roles": [
                    {"role": role, "user": user}
                    for role, user in sorted(project["roles"], key=lambda r: (r[0] != "Owner", r[1]))
                ],
                "organization": project["organization"],
            },
        }
        if not self.releases_key:
            del data["releases"]
        return data

    def simple_json(self, project: dict[str, Any]) -> dict[str, Any]:
        # A quarantined project keeps its page but offers no files (warehouse/packaging/utils.py).
        versions = [] if self.quarantined(project) else list(project["releases"])
        files = [f for v in versions for f in self._files(project, v)]
        data: dict[str, Any] = {
            "meta": {"api-version": "1.4"},
            "name": normalize(project["name"]),
            # Warehouse always sends a status; "active" when none was set (PEP 792).
            "project-status": {"status": project["status"] or "active"},
            "versions": versions,
            "files": [
                {
                    "filename": f["filename"],
                    "url": f["url"],
                    "hashes": {"sha256": f["digests"]["sha256"]},
                    "upload-time": f["upload_time_iso_8601"],
                    "size": f["size"],
                    # PEP 592/691: false, true, or the reason as a string.
                    "yanked": (f["yanked_reason"] or True) if f["yanked"] else False,
                }
                for f in files
            ],
        }
        if project["status_reason"]:
            data["project-status"]["reason"] = project["status_reason"]
        return data

    # --- routes ----------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/pypi/{name}/json", self._h_project)
        app.router.add_get("/simple/{name}/", self._h_simple)

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except Reply as reply:
            resp = json_response(reply.body, reply.status, reply.headers)
        return self.conditional(request, resp)

    def _find(self, name: str) -> dict[str, Any]:
        project = self.projects.get(normalize(name))
        if project is None:
            raise Reply(404, NOT_FOUND)
        return project

    async def _h_project(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        project = self._find(name)
        if self.quarantined(project):
            raise Reply(404, NOT_FOUND)  # the JSON API hides quarantined projects
        if name != normalize(name):
            # Warehouse redirects any other spelling, the display name included, to the normalised name.
            raise Reply(301, None, {"Location": f"{self.url}/pypi/{normalize(name)}/json"})
        return json_response(self.project_json(project))

    async def _h_simple(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        project = self._find(name)
        if name != normalize(name):
            raise Reply(301, None, {"Location": f"{self.url}/simple/{normalize(name)}/"})
        if SIMPLE_JSON not in request.headers.get("Accept", ""):
            links = "".join(f'<a href="{f["url"]}">{f["filename"]}</a>' for f in self.simple_json(project)["files"])
            return web.Response(text=f"<!DOCTYPE html><html><body>{links}</body></html>", content_type="text/html")
        resp = json_response(self.simple_json(project))
        resp.content_type = SIMPLE_JSON
        return resp
