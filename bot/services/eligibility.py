"""The eligibility report: checks a repository (and its PyPI project) against the pallets-eco rules.

No Discord here: the transfers cog, the review cog and `python -m bot eligibility` all call
`EligibilityService.evaluate` and render the `Report` their own way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.config import Settings
from bot.errors import ServiceUnavailable
from bot.github import DirEntry, GitHubClient, Repo
from bot.http import PYPI_MAX_BODY_BYTES, ApiError, NotFound, RateLimited, TooLarge
from bot.pypi import PyPIClient, PyPIProject, normalize
from bot.services import adoption as adoption_mod
from bot.services import eligibility_classes, package_files
from bot.services.package_files import requirement_name, valid_project_name
from bot.services.repo_ref import GITHUB_HOSTS, github_hosts_from_url

log = logging.getLogger(__name__)

ELIGIBLE, NEEDS_DECISION, NOT_ACCEPTED = "eligible", "needs_decision", "not_accepted"
VERDICT_LABELS = {ELIGIBLE: "eligible", NEEDS_DECISION: "needs a maintainers' decision", NOT_ACCEPTED: "not accepted"}
PASS, WARN, FAIL = "pass", "warn", "fail"

PALLETS_DEPS = frozenset({"flask", "click", "jinja2", "werkzeug", "markupsafe", "itsdangerous", "quart"})
CORE_OWNER = "pallets"
PACKAGE_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
# SPDX ids approved by the OSI (the ones Python projects use; unknown ids only produce a warning).
OSI_LICENSES = frozenset(
    s.lower()
    for s in (
        "0BSD AFL-3.0 AGPL-3.0 AGPL-3.0-only AGPL-3.0-or-later Apache-2.0 Artistic-2.0 BlueOak-1.0.0 "
        "BSD-1-Clause BSD-2-Clause BSD-3-Clause BSL-1.0 CDDL-1.0 CECILL-2.1 ECL-2.0 EPL-1.0 EPL-2.0 "
        "EUPL-1.1 EUPL-1.2 GPL-2.0 GPL-2.0-only GPL-2.0-or-later GPL-3.0 GPL-3.0-only GPL-3.0-or-later "
        "ISC LGPL-2.1 LGPL-2.1-only LGPL-2.1-or-later LGPL-3.0 LGPL-3.0-only LGPL-3.0-or-later MIT MIT-0 "
        "MPL-2.0 MS-PL NCSA OSL-3.0 PostgreSQL PSF-2.0 Python-2.0 UPL-1.0 Unlicense Zlib"
    ).split()
)
_TRANSLATION_WORDS = re.compile(
    r"translat|traduc|tradu[cç]|[üu]bersetz|\bi18n\b|\bl10n\b|locali[sz]ation|翻译|翻譯|翻訳|번역|перевод", re.I
)
_DOCS_NAME = re.compile(r"(^|[-_.])docs?([-_.]|$)", re.I)
_TEMPLATE_WORDS = re.compile(r"template|boilerplate|starter|skeleton|cookiecutter|scaffold", re.I)
_LOCALE_DIRS = frozenset({"locale", "locales", "po", "translations", ".tx"})
_APP_FILES = frozenset({"wsgi.py", "manage.py", "procfile", "docker-compose.yml", "docker-compose.yaml"})
# Caps on what a PyPI answer may hold before the bot looks at it (the body itself is capped in bot/http.py).
MAX_PYPI_URLS = 50
MAX_PYPI_LIST = 500  # requires_dist entries, classifiers
MAX_URL_CHARS = 500
MAX_LICENSE_CHARS = 200

ADVICE = {
    "translation": (
        "pallets-eco does not take documentation translations as transfers. Translations are gathered in "
        "`pallets-eco/flask-docs-translations`, coordinated by the Flask Community Working Group: please "
        "bring your translation there."
    ),
    "application": (
        "pallets-eco holds libraries that other projects install, not applications or project templates. "
        "Keep maintaining it under your account; you are welcome to share it in #pallets-eco and to help "
        "with the extensions already in the org."
    ),
    "not_owner": (
        "Only the current owner of a repository can transfer it. If the project looks abandoned, fork it, "
        "work on it under your account, then ask with `/eco transfer` for your fork: a fork of an inactive "
        "project with work of its own is reviewed as an adoption. To help with an extension already in the "
        "org, ask with `/eco join`. This protects the many people who install the package. "
        "See https://palletsprojects.com/ecosystem"
    ),
    "in_org": "It is already in pallets-eco: ask in #pallets-eco if you want to help maintain it.",
    "core": (
        "Core Pallets projects are maintained by the Pallets team, not transferred. To help with them, read "
        "https://palletsprojects.com/contributing/"
    ),
    "missing": (
        "Check the spelling of the repository. If it is private, make it public first; then run `/eco transfer` again."
    ),
    "archived": "Unarchive the repository on GitHub (Settings → Danger zone), then run the checks again.",
    "quarantined": "PyPI has quarantined this project: sort it out with the PyPI admins first.",
    **eligibility_classes.ADVICE,
}


class ChecksUnavailable(ServiceUnavailable):
    """GitHub or PyPI could not answer (down, slow or rate limited): save the request, retry later."""

    def __init__(self, service: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.retry_after = retry_after


@dataclass(frozen=True)
class Check:
    key: str
    status: str  # pass | warn | fail
    title: str
    reason: str
    decision: bool = False  # a warning the maintainers must weigh (sets the verdict to needs_decision)


@dataclass
class Report:
    verdict: str
    checks: list[Check]
    repo_full_name: str
    reasons: list[str] = field(default_factory=list)
    advice: str | None = None
    kind: str | None = None
    github_owner: str | None = None
    github_repo_id: int | None = None
    moved_from: str | None = None
    pypi_project: str | None = None
    pypi_project_source: str | None = None  # "given" or the file it was found in
    pypi_role: str | None = None
    adoption: dict[str, Any] | None = None  # set for an adoption of an abandoned extension (services/adoption.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Report:
        data: dict[str, Any] = json.loads(text)
        data["checks"] = [Check(**c) for c in data.get("checks", ())]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in (PASS, WARN, FAIL)}

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS.get(self.verdict, self.verdict)


@dataclass
class ProjectFacts:
    """What the repository's own files say about it."""

    entries: list[DirEntry]
    has_package: bool = False
    name: str | None = None
    name_source: str | None = None
    deps: set[str] = field(default_factory=set)
    dep_source: dict[str, str] = field(default_factory=dict)
    classifiers: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)  # "setup.py: it is not valid ..." per unreadable file

    @property
    def root(self) -> set[str]:
        return {e.name.lower() for e in self.entries}

    @property
    def dirs(self) -> set[str]:
        return {e.name.lower() for e in self.entries if e.type == "dir"}


def render_report_text(report: Report) -> str:
    lines = [f"{report.repo_full_name}: {report.verdict_label.upper()}" + (f" ({report.kind})" if report.kind else "")]
    if report.reasons:
        lines.append("Reasons:")
        lines.extend(f"  - {r}" for r in report.reasons)
    lines.append("Checks:")
    lines.extend(f"  [{c.status}] {c.title}: {c.reason}" for c in report.checks)
    if report.advice:
        lines.append(f"What to do instead: {report.advice}")
    return "\n".join(lines)


def _unavailable(service: str, exc: ApiError) -> ChecksUnavailable:
    retry = exc.retry_after if isinstance(exc, RateLimited) else None
    return ChecksUnavailable(service, f"{service} could not be reached for the checks ({exc.message})", retry)


class EligibilityService:
    def __init__(self, github: GitHubClient, pypi: PyPIClient, settings: Settings, clock: Any = None) -> None:
        self._github = github
        self._clock = clock
        self._adoption_days = settings.review.adoption_inactive_days
        self._pypi = pypi
        self._org = settings.github.org.lower()
        self._trusted_pypi_orgs = {o.lower() for o in settings.pypi.trusted_organizations}
        self._hosts = {*GITHUB_HOSTS, *github_hosts_from_url(settings.github.web_url)}
        # Superseded projects, copies of core projects, applications: bot/services/eligibility_classes.py
        self._classes = eligibility_classes.ClassChecks(github, pypi, settings.github.org, settings.github.web_url)

    # --- fetching (every API failure except "not found" becomes ChecksUnavailable) -------------

    async def _gh(self, coro: Any) -> Any:
        try:
            return await coro
        except NotFound:
            return None
        except ApiError as exc:
            raise _unavailable("GitHub", exc) from exc

    async def _py(self, coro: Any) -> Any:
        try:
            return await coro
        except NotFound:
            return None
        except ApiError as exc:
            raise _unavailable("PyPI", exc) from exc

    async def _pypi_answer(self, coro: Any, what: str, problems: list[str]) -> Any:
        """One PyPI call whose answer the bot could not take in (too large, or shaped so that
        reading it failed) becomes a noted problem, not an exception: asking again gets the same."""
        try:
            return await self._py(coro)
        except ChecksUnavailable as exc:
            if isinstance(exc.__cause__, TooLarge):
                cap = PYPI_MAX_BODY_BYTES // (1024 * 1024)
                problems.append(f"PyPI's answer about {what} is too large to read (over {cap} MiB).")
                return None
            raise
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
            log.warning("PyPI sent an unreadable answer about %r", what, exc_info=True)
            problems.append(f"PyPI's answer about {what} could not be read.")
            return None

    async def _pypi_facts(self, name: str | None) -> tuple[PyPIProject | None, str | None, list[str]]:
        if not name:
            return None, None, []
        problems: list[str] = []
        project, status = await asyncio.gather(
            self._pypi_answer(self._pypi.get_project(name), "the project", problems),
            self._pypi_answer(self._pypi.get_status(name), "the project's status", problems),
        )
        return project, status if isinstance(status, str) else None, problems

    async def _file(self, owner: str, name: str, filename: str, facts: ProjectFacts) -> str | None:
        try:
            return await self._gh(self._github.get_file(owner, name, filename))
        except ChecksUnavailable as exc:
            if isinstance(exc.__cause__, TooLarge):
                facts.problems.append(f"{filename}: GitHub's answer for it is too large to read.")
                return None
            raise

    async def _project_facts(self, owner: str, name: str, entries: list[DirEntry] | None) -> ProjectFacts:
        facts = ProjectFacts(entries=list(entries or ()))
        wanted = [f for f in PACKAGE_FILES if f in facts.root]
        texts = await asyncio.gather(*(self._file(owner, name, f, facts) for f in wanted))
        files = [(f, t) for f, t in zip(wanted, texts, strict=True) if isinstance(t, str) and t]
        # Parsed in a separate process with time and memory limits: see bot/services/package_files.py.
        for result in await package_files.parse_files(files):
            if result.facts is None:
                facts.problems.append(f"{result.filename}: {result.error}")
            else:
                _merge_file(facts, result.filename, result.facts)
        return facts

    # --- the report ---------------------------------------------------------------------------

    async def evaluate(
        self,
        owner: str,
        name: str,
        *,
        pypi_project: str | None = None,
        github_username: str | None = None,
        pypi_username: str | None = None,
    ) -> Report:
        pypi_project = valid_project_name(pypi_project)
        repo, entries, (project, status, pypi_problems) = await asyncio.gather(
            self._gh(self._github.get_repo(owner, name)),
            self._gh(self._github.list_dir(owner, name)),
            self._pypi_facts(pypi_project),
        )
        if repo is None or repo.private:
            return self._missing(f"{owner}/{name}", private=repo is not None)
        facts = await self._project_facts(repo.owner_login, repo.name, entries)
        source = "given" if pypi_project else None
        if not pypi_project and facts.name:
            pypi_project, source = facts.name, facts.name_source
            project, status, pypi_problems = await self._pypi_facts(pypi_project)
        checks = [*self._repo_checks(repo, github_username)]
        repo_checks_end = len(checks)
        if facts.problems:
            checks.append(
                Check(
                    "package_files",
                    WARN,
                    "Package files readable",
                    "Could not read " + "; ".join(facts.problems) + ". Check them by hand.",
                    decision=True,
                )
            )
        checks.extend(self._pypi_checks(repo, pypi_project, source, project, status, pypi_problems))
        kind, kind_check = self._kind(repo, facts, project)
        checks.append(kind_check)
        found = await self._classes.run(
            repo,
            package_name=facts.name,
            package_source=facts.name_source,
            root=facts.root,
            dirs=facts.dirs,
            project=project,
            kind=kind,
            translation=kind == "translation" or _says_translation(repo, facts),
        )
        # Right after the repository checks, so the review card (which clips at the end) keeps them.
        checks[repo_checks_end:repo_checks_end] = [Check(*c) for c in found.checks]
        kind = found.kind or kind
        role, role_check = self._role(project, pypi_username)
        if role_check:
            checks.append(role_check)
        checks.append(self._license(repo, project))
        adoption = await self._adoption(repo, pypi_project, project, role)
        checks = adoption_mod.apply(checks, adoption, self._adoption_days, Check)
        report = Report(
            verdict=ELIGIBLE,
            checks=checks,
            repo_full_name=repo.full_name,
            kind=kind,
            github_owner=repo.owner_login,
            github_repo_id=repo.id,
            moved_from=repo.moved_from,
            pypi_project=_project_name(project, pypi_project),
            pypi_project_source=source,
            pypi_role=role,
            adoption=adoption.adoption.to_dict() if adoption.adoption else None,
        )
        return _decide(report, advice=found.advice)

    async def _adoption(
        self, repo: Repo, name: str | None, project: PyPIProject | None, role: str | None
    ) -> adoption_mod.Assessment:
        if not repo.fork:
            return adoption_mod.Assessment(None)
        links: list[str] = []
        if project is not None:
            urls = project.project_urls if isinstance(project.project_urls, dict) else {}
            links = [r for r in (self._github_repo_of(u) for u in [*list(urls.values())[:MAX_PYPI_URLS],
                                                                    project.home_page] if isinstance(u, str)) if r]
        now = self._clock.now() if self._clock is not None else datetime.now(UTC)
        found = await self._gh(adoption_mod.assess(
            self._github, repo, now=now, inactive_days=self._adoption_days, pypi_name=name, project=project,
            pypi_links=links, pypi_role=role,
        ))
        return found if found is not None else adoption_mod.Assessment(None)

    def _missing(self, full_name: str, *, private: bool) -> Report:
        reason = (
            "The repository is private: only public repositories can join pallets-eco."
            if private
            else "GitHub has no public repository with that name (it may be private or misspelled)."
        )
        check = Check("repo_public", FAIL, "Repository exists and is public", reason)
        return _decide(Report(verdict=NOT_ACCEPTED, checks=[check], repo_full_name=full_name), advice="missing")

    def _repo_checks(self, repo: Repo, github_username: str | None) -> list[Check]:
        checks = [Check("repo_public", PASS, "Repository exists and is public", f"{repo.full_name} is public.")]
        owner = repo.owner_login.lower()
        if owner == self._org:
            how = f" (it moved here from {repo.moved_from})" if repo.moved_from else ""
            checks.append(
                Check("not_in_org", FAIL, "Not already in pallets-eco", f"It is already {repo.full_name}{how}.")
            )
        else:
            moved = f" {repo.moved_from} now redirects to {repo.full_name}." if repo.moved_from else ""
            checks.append(Check("not_in_org", PASS, "Not already in pallets-eco", f"Not in the org.{moved}"))
        source = (repo.source_full_name or "").lower()
        if owner == CORE_OWNER or source.startswith(f"{CORE_OWNER}/"):
            what = "a core Pallets repository" if owner == CORE_OWNER else f"a fork of {repo.source_full_name}"
            checks.append(Check("not_core", FAIL, "Not a core Pallets project", f"It is {what}."))
        else:
            checks.append(Check("not_core", PASS, "Not a core Pallets project", "Not a core Pallets repository."))
        if repo.archived:
            checks.append(Check("not_archived", FAIL, "Not archived", "The repository is archived (read-only)."))
        else:
            checks.append(Check("not_archived", PASS, "Not archived", "The repository is active on GitHub."))
        if repo.fork:
            upstream = repo.parent_full_name or repo.source_full_name or "another repository"
            upstream_owner = upstream.split("/")[0]
            checks.append(
                Check(
                    "fork",
                    WARN,
                    "Fork",
                    f"It is a fork of {upstream} (owned by {upstream_owner}). Usually the upstream owner is the "
                    "one who transfers, unless this fork is the maintained continuation.",
                    decision=True,
                )
            )
        if github_username:
            checks.append(self._ownership(repo, github_username))
        return checks

    def _ownership(self, repo: Repo, github_username: str) -> Check:
        title = "Requester owns the repository"
        if repo.owner_type == "Organization":
            return Check(
                "requester_owner",
                PASS,
                title,
                f"It belongs to the organisation {repo.owner_login}: an admin of it must do the transfer "
                "(checked at verification).",
            )
        if repo.owner_login.lower() != github_username.lower():
            return Check(
                "requester_owner",
                FAIL,
                title,
                f"It belongs to {repo.owner_login}, not to {github_username}: only the owner can transfer it.",
            )
        return Check("requester_owner", PASS, title, f"{github_username} owns it (to be verified).")

    def _pypi_checks(
        self,
        repo: Repo,
        name: str | None,
        source: str | None,
        project: PyPIProject | None,
        status: str | None,
        problems: list[str] | None = None,
    ) -> list[Check]:
        title = "PyPI project exists"
        if not name:
            return [Check("pypi_exists", PASS, title, "No PyPI project given or found: nothing to move on PyPI.")]
        if problems:
            unread = [Check("pypi_readable", WARN, "PyPI answer readable", " ".join(problems) + " Check it by hand.",
                            decision=True)]
            if project is None:
                return unread
            return [*unread, *self._pypi_checks(repo, name, source, project, status)]
        if project is None and status == "quarantined":
            # The JSON API answers 404 for a quarantined project; the simple index still lists it (PEP 792).
            return [
                Check("pypi_exists", PASS, title, f"{name} is on PyPI, in quarantine (hidden from its JSON API)."),
                Check("pypi_status", FAIL, "Not archived or quarantined on PyPI", "PyPI quarantined it."),
            ]
        if project is None:
            if source == "given":
                return [
                    Check(
                        "pypi_exists",
                        WARN,
                        title,
                        f"PyPI has no project named {name}. Check the name; leave it empty if it isn't published.",
                        decision=True,
                    )
                ]
            return [Check("pypi_exists", PASS, title, f"{name} (from {source}) is not published on PyPI.")]
        where = "" if source == "given" else f" (name found in {source})"
        checks = [Check("pypi_exists", PASS, title, f"{project.name} is on PyPI{where}.")]
        checks.append(self._links(repo, project))
        if status in ("quarantined",):
            checks.append(Check("pypi_status", FAIL, "Not archived or quarantined on PyPI", "PyPI quarantined it."))
        elif status in ("archived", "deprecated"):
            checks.append(
                Check(
                    "pypi_status",
                    WARN,
                    "Not archived or quarantined on PyPI",
                    f"PyPI marks it {status}: the owner must lift that after the transfer.",
                    decision=True,
                )
            )
        else:
            checks.append(Check("pypi_status", PASS, "Not archived or quarantined on PyPI", "Active on PyPI."))
        return checks

    def _links(self, repo: Repo, project: PyPIProject) -> Check:
        title = "PyPI project links to this repository"
        wanted = {repo.full_name.lower(), *([repo.moved_from.lower()] if repo.moved_from else [])}
        links = project.project_urls if isinstance(project.project_urls, dict) else {}
        urls = [*list(links.values())[:MAX_PYPI_URLS], project.home_page]
        found = [r for r in (self._github_repo_of(u) for u in urls if isinstance(u, str)) if r]
        if any(r.lower() in wanted for r in found):
            return Check("pypi_links", PASS, title, f"{project.name} links to {repo.full_name}.")
        if found:
            return Check(
                "pypi_links",
                WARN,
                title,
                f"{project.name} links to {found[0]}, not to {repo.full_name}: is it the same project?",
                decision=True,
            )
        return Check(
            "pypi_links", WARN, title, f"{project.name} has no link to a GitHub repository (add project_urls)."
        )

    def _github_repo_of(self, url: str) -> str | None:
        """owner/name of a GitHub repository link, or None (not GitHub, or not a readable URL)."""
        if len(url) > MAX_URL_CHARS:
            return None
        try:
            parts = urlsplit(url.strip())
            host = (parts.hostname or "").lower()
            netloc = f"{host}:{parts.port}" if parts.port else host
        except ValueError:  # a bad port, a stray "[": PyPI metadata is whatever the uploader wrote
            return None
        segments = [s for s in parts.path.split("/") if s]
        if netloc not in self._hosts or len(segments) < 2:
            return None
        owner, name = segments[0], segments[1].removesuffix(".git")
        if not _GITHUB_NAME.fullmatch(owner) or not _GITHUB_NAME.fullmatch(name):
            return None  # shown on the card: only real GitHub names, never arbitrary text
        return f"{owner}/{name}"

    def _kind(self, repo: Repo, facts: ProjectFacts, project: PyPIProject | None) -> tuple[str, Check]:
        title = "Kind of project"
        deps = set(facts.deps)
        classifiers = set(facts.classifiers)
        if project:
            requires = [r for r in _strings(project.requires_dist) if "extra ==" not in r]
            deps |= {n for n in map(requirement_name, requires) if n}
            classifiers |= set(_strings(project.classifiers))
        words = " ".join([repo.name, repo.description or "", *repo.topics])
        is_package = facts.has_package or project is not None
        if "cookiecutter.json" in facts.root or "copier.yml" in facts.root or any("{{" in d for d in facts.dirs):
            return "template", Check("kind", FAIL, title, "A project template (cookiecutter/copier), not a library.")
        locales = bool(facts.dirs & _LOCALE_DIRS)
        says_translation = bool(_TRANSLATION_WORDS.search(words) or _DOCS_NAME.search(repo.name))
        # A pyproject.toml that only pins Sphinx (and Flask, for autodoc) is tooling, not a package:
        # locale folders plus a name or description saying so, with nothing on PyPI, is a translation.
        if (not is_package and (locales or says_translation)) or (project is None and locales and says_translation):
            return "translation", Check("kind", FAIL, title, "A documentation translation with no package of its own.")
        if not is_package:
            if _TEMPLATE_WORDS.search(words):
                return "template", Check("kind", FAIL, title, "A project template or starter, not a library.")
        if project is None and (facts.root & _APP_FILES or {"app.py", "templates"} <= facts.root):
            return "application", Check("kind", FAIL, title, "An application (app layout, not published on PyPI).")
        if not is_package:
            return "unknown", Check(
                "kind",
                WARN,
                title,
                "No package metadata (pyproject.toml, setup.cfg, setup.py) and no PyPI project found.",
                decision=True,
            )
        pallets = sorted(deps & PALLETS_DEPS)
        if pallets:
            src = facts.dep_source.get(pallets[0], "PyPI metadata")
            return "extension", Check("kind", PASS, title, f"An extension: depends on {', '.join(pallets)} ({src}).")
        if any(c.startswith("Framework :: Flask") for c in classifiers):
            return "extension", Check("kind", PASS, title, "An extension: declares `Framework :: Flask`.")
        return "adjacent", Check(
            "kind",
            WARN,
            title,
            "Adjacent: a library with no Pallets dependency. pallets-eco holds some (blinker, cachelib); "
            "the maintainers decide.",
            decision=True,
        )

    def _role(self, project: PyPIProject | None, username: str | None) -> tuple[str | None, Check | None]:
        if project is None:
            return None, None
        title = "Your role on PyPI"
        owners = ", ".join(project.users_with_role("Owner")) or "none listed"
        organization = re.sub(r"[^A-Za-z0-9._-]", "", project.organization or "")[:100]
        if organization.lower() in self._trusted_pypi_orgs:
            direct = {r.role for r in project.roles if username and r.user.lower() == username.lower()}
            role = "Owner" if "Owner" in direct else ("Maintainer" if direct else None)
            return role, Check(
                "pypi_role",
                PASS,
                title,
                f"{project.name} is in the PyPI organisation {organization}, which the Pallets maintainers "
                "hold: nothing to hand over on PyPI.",
            )
        # PyPI's API lists direct roles only: rights through an organisation (owners, teams) don't show.
        org = (
            f" It belongs to the PyPI organisation {organization}: roles held through it (organisation owners, "
            "team members) can't be seen through PyPI's API."
            if organization
            else ""
        )
        if not username:
            return None, Check(
                "pypi_role",
                WARN,
                title,
                f"No PyPI username given, so your role is unknown. Only an Owner of {project.name} "
                f"(owners: {owners}) can make the Pallets maintainers owners.{org}",
            )
        roles = {r.role for r in project.roles if r.user.lower() == username.lower()}
        if "Owner" in roles:
            return "Owner", Check("pypi_role", PASS, title, f"{username} is an Owner of {project.name}.{org}")
        if "Maintainer" in roles:
            return "Maintainer", Check(
                "pypi_role",
                WARN,
                "Your role on PyPI: MAINTAINER, NOT OWNER",
                f"{username} is only a Maintainer of {project.name}. A Maintainer CANNOT add owners: an Owner "
                f"({owners}) must do it, or PyPI access can stay stuck for years (as with Flask-OpenID).{org}",
            )
        return None, Check(
            "pypi_role",
            WARN,
            title,
            f"{username} has no role on {project.name} (owners: {owners}). Only an Owner can hand PyPI over.{org}",
        )

    def _license(self, repo: Repo, project: PyPIProject | None) -> Check:
        title = "OSI-approved license"
        spdx = repo.license_spdx if repo.license_spdx and repo.license_spdx != "NOASSERTION" else None
        spdx = spdx or (project.license_expression if project else None)
        if spdx and (not isinstance(spdx, str) or len(spdx) > MAX_LICENSE_CHARS):
            # The split below backtracks over long runs of spaces: an overlong expression isn't read.
            return Check("license", WARN, title, "The license expression is too long to read: check it by hand.")
        if spdx:
            ids = [p.strip().lower() for p in re.split(r"\s+(?:OR|AND|WITH)\s+|[()]", spdx) if p.strip()]
            # "WITH <exception>" parts are exceptions, not licenses.
            if ids and all(p in OSI_LICENSES or "exception" in p for p in ids):
                return Check("license", PASS, title, f"{spdx}.")
            return Check("license", WARN, title, f"{spdx} is not an OSI-approved license.")
        if project and any(c.startswith("License :: OSI Approved") for c in _strings(project.classifiers)):
            return Check("license", PASS, title, "OSI-approved (PyPI classifier).")
        if repo.license_spdx == "NOASSERTION":
            return Check("license", WARN, title, "GitHub could not identify the license: check it is OSI-approved.")
        return Check("license", WARN, title, "No license found: add an OSI-approved license (like BSD-3-Clause).")


def _decide(report: Report, advice: str | None = None) -> Report:
    """Set verdict, reasons (the checks that decided it first) and the "what to do instead" text."""
    fails = [c for c in report.checks if c.status == FAIL]
    decisions = [c for c in report.checks if c.status == WARN and c.decision]
    others = [c for c in report.checks if c.status == WARN and not c.decision]
    if fails:
        report.verdict = NOT_ACCEPTED
    elif decisions:
        report.verdict = NEEDS_DECISION
    else:
        report.verdict = ELIGIBLE
    report.reasons = [c.reason for c in (*fails, *decisions, *others)]
    if report.verdict == ELIGIBLE:
        # Lead with why it is eligible; remaining warnings are things to fix, not blockers.
        kind = next((c.reason for c in report.checks if c.key == "kind"), "All required checks passed.")
        report.reasons = [kind, *(f"To fix: {r}" for r in report.reasons)]
    if report.verdict == NOT_ACCEPTED:
        report.advice = ADVICE.get(advice or _advice_key(report, fails), None)
    return report


def _says_translation(repo: Repo, facts: ProjectFacts) -> bool:
    words = " ".join([repo.name, repo.description or "", *repo.topics])
    return bool(_TRANSLATION_WORDS.search(words) or _DOCS_NAME.search(repo.name) or facts.dirs & _LOCALE_DIRS)


def _advice_key(report: Report, fails: list[Check]) -> str:
    keys = {c.key for c in fails}
    if "kind" in keys:
        return "translation" if report.kind == "translation" else "application"
    for key, advice in (
        ("not_core", "core"),
        ("not_in_org", "in_org"),
        ("requester_owner", "not_owner"),
        ("not_archived", "archived"),
        ("pypi_status", "quarantined"),
        ("repo_public", "missing"),
    ):
        if key in keys:
            return advice
    return "missing"


# --- package files and PyPI values ------------------------------------------------------------------

_GITHUB_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def _strings(values: Any) -> list[str]:
    """The strings of a list PyPI sent (capped): anything else in it is ignored."""
    if not isinstance(values, list | tuple):
        return []
    return [v for v in values[:MAX_PYPI_LIST] if isinstance(v, str)]


def _project_name(project: PyPIProject | None, asked: str | None) -> str | None:
    """The name to store: PyPI's spelling when it is a valid name for the same project."""
    name = valid_project_name(project.name) if project else None
    if name and asked and normalize(name) == normalize(asked):
        return name
    return asked


def _merge_file(facts: ProjectFacts, filename: str, found: package_files.FileFacts) -> None:
    facts.has_package = facts.has_package or found.has_package
    if found.name and facts.name is None:
        facts.name, facts.name_source = found.name, filename
    if found.invalid_name:
        facts.problems.append(f"{filename}: its project name is not a valid PyPI project name")
    for dep in found.deps:
        facts.deps.add(dep)
        facts.dep_source.setdefault(dep, filename)
    facts.classifiers |= set(found.classifiers)
