"""Three kinds of repository the basic eligibility checks misjudge, each with evidence a
maintainer can check in one click:

- superseded: an old extension whose maintained successor already lives in pallets-eco (close name,
  GitHub fork relation either way, "deprecated, use X" on PyPI, years without a push or release);
- core copy: a repository outside `pallets` whose package is named exactly like a core project;
- application: no package metadata and nothing on PyPI, with an app's requirements and layout.

Called from `EligibilityService.evaluate` (bot/services/eligibility.py) after the basic checks;
it never raises for GitHub or PyPI trouble: a missing answer means less evidence, not a failed report.
Every string that came from GitHub or PyPI is matched, never shown: the reasons hold only names that
passed validation and links built from them. No Discord here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bot.github import GitHubClient, Repo
from bot.http import ApiError
from bot.pypi import PyPIClient, PyPIProject, normalize
from bot.services.package_files import requirement_name, valid_project_name

log = logging.getLogger(__name__)

FAIL, WARN = "fail", "warn"
# Core Pallets projects by their PEP 503 package name, and where they live.
CORE_PROJECTS = {
    "flask": ("Flask", "pallets/flask"),
    "jinja2": ("Jinja2", "pallets/jinja"),
    "jinja": ("Jinja", "pallets/jinja"),
    "werkzeug": ("Werkzeug", "pallets/werkzeug"),
    "click": ("Click", "pallets/click"),
    "markupsafe": ("MarkupSafe", "pallets/markupsafe"),
    "itsdangerous": ("ItsDangerous", "pallets/itsdangerous"),
    "quart": ("Quart", "pallets/quart"),
}
PALLETS_DEPS = frozenset({"flask", "quart", "werkzeug", "jinja2", "click"})
STALE_AFTER = timedelta(days=2 * 365)  # "years without a push or a release"
ORG_LIST_TTL = 600.0  # seconds an org listing is reused before asking again (conditionally: 304s are free)
ORG_LIST_RETRY = 120.0  # after a failed listing, don't ask again sooner (the last good one is used meanwhile)
MAX_LINEAGE_LOOKUPS = 6  # GET /repos calls for org forks / close names per report
MAX_TEXT = 8000  # characters of a description read for "deprecated, use X instead"
MAX_REQUIREMENTS_LINES = 400
MAX_REQUIREMENTS_CHARS = 64_000

# Tokens that say "another edition of the same thing", not a different project.
_EDITION_TOKENS = frozenset(
    {"flask", "python", "py", "ng", "next", "too", "fork", "forked", "new", "redux", "continued", "community",
     "maintained", "revived", "ii", "iii"}
)
_SUFFIXES = ("ing", "ers", "er", "es", "s", "ed", "e")
_GITHUB_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_DEPRECATED = re.compile(
    r"\b(deprecated|unmaintained|abandoned|obsolete|superseded|archived|no longer (?:be )?(?:maintained|supported|"
    r"developed|updated)|not (?:actively )?maintained(?: anymore)?)\b",
    re.I,
)
# "use X instead", "moved to X", "superseded by X", "replaced by X", "in favour of X", "successor: X".
_POINTER = re.compile(
    r"\b(?:use|try|see|switch to|moved to|migrate to|replaced by|superseded by|in favou?r of|successor(?: is)?:?)"
    r"[ \t]{1,3}(?:the[ \t]{1,3})?[\[`*\"']{0,3}([A-Za-z0-9][A-Za-z0-9._/-]{0,100})",
    re.I,
)
_GITHUB_LINK = re.compile(r"github\.com/([A-Za-z0-9_.-]{1,100})/([A-Za-z0-9_.-]{1,100})", re.I)
_VERSION_SPEC = re.compile(r"\s*((?:[<>=!~]=?|===)\s*[0-9][0-9A-Za-z.*+!]{0,30})")
_APP_DIRS = frozenset({"templates", "static", "migrations", "app", "instance", "blueprints", "views"})
_APP_FILES = frozenset(
    {"app.py", "wsgi.py", "manage.py", "run.py", "main.py", "server.py", "config.py", "procfile", "dockerfile",
     "docker-compose.yml", "docker-compose.yaml", "app.yaml", "vercel.json", "runtime.txt", "gunicorn.conf.py"}
)
_REQUIREMENTS = ("requirements.txt", "requirements.in", "requirements/base.txt", "requirements/common.txt")

ADVICE = {
    "superseded": (
        "The pallets-eco project named above already covers this one: please help there (issues, pull "
        "requests, reviews) and ask in #pallets-eco to join the org. If your project does something it "
        "doesn't, say so in #pallets-eco and the maintainers will decide."
    ),
    "core_copy": (
        "pallets-eco takes extensions, not copies or forks of the core Pallets projects. Send changes to the "
        "core project as pull requests (https://palletsprojects.com/contributing/); a new project built on it "
        "needs its own package name and can then be proposed."
    ),
    "application_app": (
        "pallets-eco takes installable extensions (packages on PyPI that other projects add to their "
        "dependencies), not applications. Keep the application under your account and share it in "
        "#pallets-eco if you like; if part of it is reusable, extract that part as a package (pyproject.toml, "
        "published on PyPI) and propose the package."
    ),
}


@dataclass
class ClassResult:
    checks: list[tuple[str, str, str, str, bool]] = field(default_factory=list)  # key, status, title, reason, decision
    kind: str | None = None
    advice: str | None = None  # a key of ADVICE, or "translation" (the eligibility module's own advice)


def name_key(name: str | None) -> str | None:
    """A project name with its edition marks set aside: `Flask-Caching`, `flask_cache`, `flask-cache-ng`
    and `Flask-Cache2` all give "cach". None when nothing distinctive is left."""
    if not name:
        return None
    parts: list[str] = []
    for token in re.split(r"[-_.\s]+", name.lower()[:100]):
        if not token or token.isdigit() or token in _EDITION_TOKENS:
            continue
        stripped = re.sub(r"[0-9]+$", "", token)
        if len(stripped) >= 2:
            token = stripped
        for suffix in _SUFFIXES:
            if token.endswith(suffix) and len(token) - len(suffix) >= 4:
                token = token[: -len(suffix)]
                break
        parts.append(token)
    return "-".join(parts) or None


def _age(when: datetime | None, now: datetime) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now - when < STALE_AFTER:
        return None
    years = (now - when).days // 365
    return f"{when:%Y-%m} ({years} years ago)"


class OrgIndex:
    """The org's public repositories, listed at most every ORG_LIST_TTL seconds.

    The listing goes through the GitHub client's ETag cache, the same pages the contribute feature
    reads (`list_org_repos`), so an unchanged org answers 304s that cost no rate limit.
    """

    def __init__(
        self,
        github: GitHubClient,
        org: str,
        *,
        ttl: float = ORG_LIST_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._github = github
        self._org = org
        self._ttl = ttl
        self._monotonic = monotonic
        self._repos: list[Repo] | None = None
        self._read_at: float | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()
        self._lineage: dict[str, tuple[float, tuple[str | None, str | None]]] = {}

    async def repos(self) -> list[Repo] | None:
        async with self._lock:
            now = self._monotonic()
            if self._read_at is not None and now - self._read_at < self._ttl:
                return self._repos
            if self._failed_at is not None and now - self._failed_at < ORG_LIST_RETRY:
                return self._repos
            try:
                listed = await self._github.list_org_repos(self._org)
            except (ApiError, KeyError, TypeError, ValueError) as exc:
                log.warning("could not list %s's repositories for the eligibility checks: %s", self._org, exc)
                self._failed_at = now
                return self._repos
            self._repos = [r for r in listed if not r.private]
            self._read_at, self._failed_at = now, None
            return self._repos

    async def lineage(self, owner: str, name: str) -> tuple[str | None, str | None]:
        """(parent, source) full names of a fork, from GET /repos (cached like the listing)."""
        key = f"{owner}/{name}".lower()
        hit = self._lineage.get(key)
        now = self._monotonic()
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        try:
            repo = await self._github.get_repo(owner, name)
            found = (repo.parent_full_name, repo.source_full_name)
        except (ApiError, KeyError, TypeError, ValueError):
            found = (None, None)
        self._lineage[key] = (now, found)
        return found


class ClassChecks:
    def __init__(self, github: GitHubClient, pypi: PyPIClient, org: str, web_url: str, *, index: OrgIndex | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._github = github
        self._pypi = pypi
        self._org = org.lower()
        self._web = web_url.rstrip("/")
        self.index = index or OrgIndex(github, org)
        self._now = now

    def _link(self, full_name: str) -> str:
        return f"{self._web}/{full_name}"

    async def run(
        self,
        repo: Repo,
        *,
        package_name: str | None,
        package_source: str | None,
        root: set[str],
        dirs: set[str],
        project: PyPIProject | None,
        kind: str | None,
        translation: bool,
    ) -> ClassResult:
        result = ClassResult()
        owner = repo.owner_login.lower()
        if owner in (self._org, "pallets") or repo.private:
            return result
        self._core_copy(repo, package_name, package_source, translation, result)
        if result.checks:
            return result
        try:
            await self._application(repo, root, dirs, project, kind, result)
        except (ApiError, KeyError, TypeError, ValueError) as exc:
            log.warning("application check on %s skipped: %s", repo.full_name, exc)
        if result.checks:
            return result
        try:
            await self._superseded(repo, package_name, project, result)
        except (ApiError, KeyError, TypeError, ValueError) as exc:
            log.warning("superseded check on %s skipped: %s", repo.full_name, exc)
        return result

    # --- 2. copies of a core project --------------------------------------------------------------

    def _core_copy(
        self, repo: Repo, package_name: str | None, source: str | None, translation: bool, result: ClassResult
    ) -> None:
        core = CORE_PROJECTS.get(normalize(package_name)) if package_name else None
        upstream = (repo.source_full_name or "").lower()
        if core:
            display, home = core
            reason = (
                f"Its {source or 'package file'} names the package {display}, exactly like the core project "
                f"{self._link(home)}: this is a copy or fork of {display}, not an extension."
            )
            result.checks.append(("core_copy_package", FAIL, "Not a copy of a core Pallets project", reason, False))
        elif upstream.startswith("pallets/"):
            home = repo.source_full_name or upstream
            reason = f"GitHub lists it as a fork of the core project {self._link(home)}, not an extension."
            result.checks.append(("core_copy_fork", FAIL, "Not a copy of a core Pallets project", reason, False))
        else:
            return
        result.kind = "translation" if translation else "core_copy"
        result.advice = "translation" if translation else "core_copy"

    # --- 3. applications ---------------------------------------------------------------------------

    async def _application(
        self, repo: Repo, root: set[str], dirs: set[str], project: PyPIProject | None, kind: str | None,
        result: ClassResult,
    ) -> None:
        if project is not None or kind not in ("unknown", "application", "template"):
            return
        if kind == "template" and root & {"cookiecutter.json", "copier.yml", "copier.yaml"}:
            return  # a real template generator: the basic checks already say so
        if root & {"pyproject.toml", "setup.cfg", "setup.py"}:
            return
        layout = sorted((dirs & _APP_DIRS) | {f for f in root & _APP_FILES if f not in dirs})
        pin = await self._requirements_pin(repo, root, dirs)
        if not (pin and layout) and len(layout) < 3:
            return
        # "Nothing on PyPI": a project named like the repository that links back would be its package.
        published = await self._published_as(repo)
        if published:
            return
        evidence = ["no pyproject.toml, setup.cfg or setup.py", f"nothing on PyPI named {repo.name}"]
        if pin:
            evidence.append(pin)
        if layout:
            evidence.append("an app layout: " + ", ".join(layout[:6]))
        reason = (
            "An application, not an installable extension: " + "; ".join(evidence) + f" ({self._link(repo.full_name)})."
        )
        result.checks.append(("application_layout", FAIL, "An installable package", reason, False))
        result.kind = "application"
        result.advice = "application_app"

    async def _requirements_pin(self, repo: Repo, root: set[str], dirs: set[str]) -> str | None:
        candidates = [p for p in _REQUIREMENTS if p in root or ("/" in p and p.split("/")[0] in dirs)]
        for path in candidates[:2]:
            try:
                text = await self._github.get_file(repo.owner_login, repo.name, path)
            except ApiError:
                return None
            if not isinstance(text, str):
                continue
            found: dict[str, tuple[int, str]] = {}
            for number, line in enumerate(text[:MAX_REQUIREMENTS_CHARS].splitlines()[:MAX_REQUIREMENTS_LINES], 1):
                line = line.split("#", 1)[0].strip()
                name = requirement_name(line)
                if name in PALLETS_DEPS and name not in found:
                    found[name] = (number, line)
            # The framework pin says "application" best; click or jinja2 alone are often transitive pins.
            for name in ("flask", "quart", "werkzeug", "jinja2", "click"):
                if name in found:
                    number, line = found[name]
                    spec = _VERSION_SPEC.match(line[len(name):]) if line.lower().startswith(name) else None
                    shown = name + (spec.group(1).replace(" ", "") if spec else "")
                    branch = quote(repo.default_branch[:100], safe="")
                    url = f"{self._link(repo.full_name)}/blob/{branch}/{path}#L{number}"
                    return f"{path} requires {shown} ({url})"
        return None

    async def _published_as(self, repo: Repo) -> bool:
        name = valid_project_name(repo.name)
        if not name:
            return False
        try:
            project = await self._pypi.get_project(name)
        except ApiError:
            return False
        urls = [*list((project.project_urls or {}).values())[:50], project.home_page or ""]
        wanted = repo.full_name.lower()
        return any(isinstance(u, str) and wanted in u.lower()[:500] for u in urls)

    # --- 1. superseded projects ----------------------------------------------------------------------

    async def _superseded(
        self, repo: Repo, package_name: str | None, project: PyPIProject | None, result: ClassResult
    ) -> None:
        org_repos = await self.index.repos()
        if not org_repos:
            return
        by_name = {r.full_name.lower(): r for r in org_repos}
        keys = {k for k in (name_key(repo.name), name_key(package_name), name_key(project.name if project else None))
                if k}
        evidence: dict[str, list[str]] = {}
        certain: set[str] = set()

        def add(org_repo: Repo, text: str, *, sure: bool = False) -> None:
            evidence.setdefault(org_repo.full_name, [])
            if text not in evidence[org_repo.full_name]:
                evidence[org_repo.full_name].append(text)
            if sure:
                certain.add(org_repo.full_name)

        # This repository is a fork of an org repository.
        for relation, upstream in (("parent", repo.parent_full_name), ("source", repo.source_full_name)):
            target = by_name.get((upstream or "").lower())
            if target is not None:
                add(target, f"GitHub lists this repository as a fork of it ({relation})", sure=True)
        # Close names.
        named = [r for r in org_repos if name_key(r.name) in keys]
        for target in named:
            add(target, "the same name once `flask-`, `-ng`, numbers and plural/verb endings are set aside")
        # An org repository is a fork of this one: look at the org's forks and close names (bounded).
        lookups = [r for r in named if r.fork] + [r for r in org_repos if r.fork and r not in named]
        me = repo.full_name.lower()
        for target in lookups[:MAX_LINEAGE_LOOKUPS]:
            owner, name = target.full_name.split("/", 1)
            parent, source = await self.index.lineage(owner, name)
            if me in {(parent or "").lower(), (source or "").lower()}:
                add(target, "GitHub lists it as a fork of this repository", sure=True)
        # PyPI and GitHub descriptions: "deprecated", "use X instead".
        texts = [t[:MAX_TEXT] for t in (project.summary if project else None,
                                         project.description_head if project else None, repo.description)
                 if isinstance(t, str)]
        deprecated = any(_DEPRECATED.search(t) for t in texts)
        pypi_link = f"https://pypi.org/project/{quote(project.name, safe='')}/" if project and project.name else None
        where = f"its PyPI description ({pypi_link})" if pypi_link else "its description"
        pointing = deprecated or any("instead" in t.lower() for t in texts)
        for target in self._pointed_at(texts, by_name) if pointing else []:
            add(target, f"{where} points to it" + (" and says it is deprecated" if deprecated else ""), sure=True)
        if not evidence:
            return
        now = self._now()
        stale = []
        pushed = _age(repo.pushed_at, now)
        if pushed:
            stale.append(f"no push since {pushed}")
        released = _age(project.last_release_at, now) if project else None
        if released:
            stale.append(f"last PyPI release {released}")
        if deprecated and not any("deprecated" in e for v in evidence.values() for e in v):
            stale.append(f"{where} says it is deprecated or unmaintained")
        if repo.archived:
            stale.append("the repository is archived")
        best = sorted(evidence, key=lambda n: (n not in certain, by_name[n.lower()].archived, -len(evidence[n])))[0]
        sure = best in certain
        fork_of_org = any("fork of it" in e for e in evidence[best])
        items = [*evidence[best], *stale]
        reason = f"{self._link(best)} already covers it. Evidence: " + "; ".join(items) + "."
        title = "Not superseded by a pallets-eco project"
        if sure and (stale or fork_of_org or any("points to it" in e for e in evidence[best])):
            result.checks.append(("superseded_successor", FAIL, title, reason, False))
            result.advice = "superseded"
        else:
            result.checks.append(
                ("superseded_candidate", WARN, title,
                 reason + " The maintainers decide whether it is the same project.", True)
            )

    def _pointed_at(self, texts: list[str], by_name: dict[str, Repo]) -> list[Repo]:
        keyed: dict[str, Repo] = {}
        for r in by_name.values():
            k = name_key(r.name)
            if k and (k not in keyed or keyed[k].archived):
                keyed[k] = r
        found: list[Repo] = []
        for text in texts:
            for owner, name in _GITHUB_LINK.findall(text):
                target = by_name.get(f"{owner}/{name.removesuffix('.git')}".lower())
                if target is not None and target not in found:
                    found.append(target)
            for match in _POINTER.finditer(text):
                word = match.group(1).rstrip("./-")
                base = word.split("/")[-1]
                if not _GITHUB_NAME.fullmatch(base) or word.lower().split("/")[0] not in (base.lower(), self._org):
                    continue
                target = keyed.get(name_key(base) or "")
                if target is not None and target not in found:
                    found.append(target)
        return found
