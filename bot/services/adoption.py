"""Adopting an abandoned extension: a fork whose upstream went quiet, and which carries the work on.

The announcement's path for abandoned extensions is "fork it, work on it, then ask about joining". A
transfer request for such a fork is an *adoption*: the eligibility report says so (upstream's last
activity, the fork's own progress), the maintainers decide, and the PyPI part differs because the
original name still belongs to its original owners. No Discord here; eligibility.py calls `assess` and
`apply`, review.py asks `pypi_path` which checklist applies.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.github import GitHubClient, Repo
from bot.http import NotFound, TooLarge
from bot.pypi import PyPIProject

PEP541_URL = "https://peps.python.org/pep-0541/"
# PEP 541 requests are filed as issues of pypi/support ("PEP 541 Request" template).
PYPI_SUPPORT_URL = "https://github.com/pypi/support/issues/new/choose"
PEP541, OWN_NAME = "pep541", "own_name"
WARN, PASS = "warn", "pass"
MAX_DESCRIPTION = 200  # upstream's description, as shown on the card
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_BRANCH = re.compile(r"[A-Za-z0-9_./-]{1,200}")


@dataclass
class Adoption:
    """What the report stores about an adoption (JSON inside the report: no table, nothing to lose on
    a crash that the request row itself doesn't hold)."""

    upstream: str  # owner/name, a checked GitHub name
    upstream_description: str | None
    upstream_last_push: str | None  # ISO dates
    upstream_last_release: str | None
    last_activity: str | None
    inactive_days: int | None  # None: upstream never pushed nor released
    ahead_by: int | None  # None: GitHub could not compare the branches
    compare: str | None  # "base...owner:head" for the web compare page of upstream (checked names only)
    fork_releases: int
    own_pypi: bool  # the fork publishes on PyPI under a name of its own
    pypi_path: str | None  # PEP541, OWN_NAME, or None (nothing on PyPI to sort out differently)
    pypi_name: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Adoption | None:
        if not isinstance(data, dict):
            return None
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None


@dataclass(frozen=True)
class Assessment:
    adoption: Adoption | None  # set when this fork is an adoption
    inactive_without_work: Adoption | None = None  # upstream quiet, but the fork shows no work yet


def _latest(*values: datetime | None) -> datetime | None:
    found = [v for v in values if v is not None]
    return max(found) if found else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def day(value: str | None) -> str:
    return value[:10] if isinstance(value, str) and value else "never"


def valid_full_name(value: Any) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and ".." not in value


def valid_compare(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_./-]{1,200}\.\.\.[A-Za-z0-9_.-]{1,100}:"
                                                   r"[A-Za-z0-9_./-]{1,200}", value) is not None


async def assess(
    github: GitHubClient,
    repo: Repo,
    *,
    now: datetime,
    inactive_days: float,
    pypi_name: str | None,
    project: PyPIProject | None,
    pypi_links: list[str],
    pypi_role: str | None,
) -> Assessment:
    """Whether `repo` (a fork) adopts an abandoned upstream. GitHub errors other than "not found" propagate
    (eligibility turns them into "checks unavailable, retried later")."""
    upstream_name = repo.parent_full_name or repo.source_full_name
    if not repo.fork or not upstream_name or not _NAME.fullmatch(upstream_name):
        return Assessment(None)
    up_owner, up_repo = upstream_name.split("/", 1)
    try:
        upstream, releases = await asyncio.gather(
            github.get_repo(up_owner, up_repo), github.list_releases(up_owner, up_repo)
        )
    except NotFound:
        return Assessment(None)  # upstream deleted or private: nothing to compare with
    last_release = _latest(*(r.published_at for r in releases[:100]))
    links = {link.lower() for link in pypi_links}
    upstream_pypi = project is not None and upstream.full_name.lower() in links
    pypi_release = project.last_release_at if upstream_pypi and project is not None else None
    activity = _latest(upstream.pushed_at, last_release, pypi_release)
    idle = (now - activity) if activity else None
    if idle is not None and idle < timedelta(days=inactive_days):
        return Assessment(None)  # upstream is alive: an ordinary fork
    ahead_by, fork_releases, compare = await _progress(github, repo, upstream)
    own_pypi = project is not None and repo.full_name.lower() in links and not upstream_pypi
    if project is None:
        path = OWN_NAME if pypi_name else None  # not published yet: it can only go out under a free name
    elif own_pypi:
        path = OWN_NAME
    elif pypi_role == "Owner":
        path = None  # the requester says they own the name: the ordinary PyPI hand-over
    else:
        path = PEP541
    adoption = Adoption(
        upstream=upstream.full_name if _NAME.fullmatch(upstream.full_name) else upstream_name,
        upstream_description=(upstream.description or "")[:MAX_DESCRIPTION] or None,
        upstream_last_push=_iso(upstream.pushed_at),
        upstream_last_release=_iso(_latest(last_release, pypi_release)),
        last_activity=_iso(activity),
        inactive_days=idle.days if idle is not None else None,
        ahead_by=ahead_by,
        compare=compare,
        fork_releases=fork_releases,
        own_pypi=own_pypi,
        pypi_path=path,
        pypi_name=pypi_name,
    )
    if (ahead_by or 0) > 0 or fork_releases > 0 or own_pypi:
        return Assessment(adoption)
    return Assessment(None, inactive_without_work=adoption)


async def _progress(github: GitHubClient, fork: Repo, upstream: Repo) -> tuple[int | None, int, str | None]:
    """Commits on the fork's default branch that upstream's lacks, and the fork's own releases (GitHub
    doesn't copy releases into a fork: every one is the fork's)."""
    ahead: int | None = None
    compare = None
    if _BRANCH.fullmatch(upstream.default_branch) and _BRANCH.fullmatch(fork.default_branch):
        try:
            comparison = await github.compare(
                *upstream.full_name.split("/", 1), upstream.default_branch, fork.owner_login, fork.default_branch
            )
            ahead = comparison.ahead_by
            compare = f"{upstream.default_branch}...{fork.owner_login}:{fork.default_branch}"
        except (NotFound, TooLarge):
            ahead = None  # unrelated histories, a renamed branch: the card says it could not compare
    try:
        releases = await github.list_releases(fork.owner_login, fork.name)
    except NotFound:
        releases = []
    return ahead, len(releases), compare


def apply(checks: list[Any], assessment: Assessment, inactive_days: float, check_type: Any) -> list[Any]:
    """The report's checks with the adoption's: the generic "fork" warning gives way to them."""
    adoption = assessment.adoption
    if adoption is None and assessment.inactive_without_work is None:
        return checks
    # In the fork warning's place, among the repository checks: the card lists the first checks only.
    at = next((n for n, c in enumerate(checks) if c.key == "fork"), len(checks))
    out: list[Any] = []
    if adoption is None:
        quiet = assessment.inactive_without_work
        assert quiet is not None
        out.append(check_type(
            "adoption_fork_progress", WARN, "Fork carries the work on",
            f"Upstream {quiet.upstream} has been inactive since {day(quiet.last_activity)}, but this fork has no "
            "commits or releases of its own yet. Fork it, work on it, then ask: an adoption needs the fork's "
            "own progress.",
            decision=True,
        ))
        return [*checks[:at], *out, *checks[at + 1:]]
    limit = int(inactive_days)
    idle = f"{adoption.inactive_days} days" if adoption.inactive_days is not None else "ever"
    out.append(check_type(
        "adoption_upstream_inactive", WARN, "ADOPTION: upstream inactive",
        f"Adoption of an abandoned extension: upstream {adoption.upstream} has had no push and no release "
        f"since {day(adoption.last_activity)} ({idle}; the limit is {limit} days). The maintainers decide.",
        decision=True,
    ))
    out.append(check_type("adoption_fork_progress", PASS, "Fork carries the work on", progress_text(adoption)))
    out.append(check_type("adoption_pypi", WARN, "PyPI name of an adoption", pypi_text(adoption)))
    return [*checks[:at], *out, *checks[at + 1:]]


def progress_text(adoption: Adoption) -> str:
    parts = []
    if adoption.ahead_by is not None:
        parts.append(f"{adoption.ahead_by} commit{'s' if adoption.ahead_by != 1 else ''} ahead of upstream")
    else:
        parts.append("GitHub could not compare it with upstream")
    if adoption.fork_releases:
        parts.append(f"{adoption.fork_releases} release{'s' if adoption.fork_releases != 1 else ''} of its own")
    if adoption.own_pypi and adoption.pypi_name:
        parts.append(f"published on PyPI as {adoption.pypi_name}")
    return "This fork: " + ", ".join(parts) + "."


def pypi_text(adoption: Adoption) -> str:
    ways = (
        f"Two ways: a PEP 541 name transfer request for the abandoned name ({PEP541_URL}, filed at "
        f"{PYPI_SUPPORT_URL}), or publishing under the fork's own name."
    )
    name = adoption.pypi_name
    if adoption.pypi_path == PEP541 and name:
        return f"{name} on PyPI belongs to its original owners, not to the fork. {ways} Tracked: the PEP 541 request."
    if adoption.pypi_path == OWN_NAME and name:
        return (
            f"The fork publishes as {name}: the Pallets maintainers must become Owners of that name. The "
            f"abandoned name stays with its original owners unless a PEP 541 request is granted ({PEP541_URL})."
        )
    return f"The original PyPI name, if any, belongs to its original owners. {ways}"


def load(report_json: str | None) -> Adoption | None:
    """The adoption stored in a report, or None (not an adoption, or a report it can't read)."""
    if not report_json:
        return None
    try:
        data = json.loads(report_json)
    except ValueError:
        return None
    return Adoption.from_dict(data.get("adoption")) if isinstance(data, dict) else None


def pypi_path(report_json: str | None) -> str | None:
    adoption = load(report_json)
    return adoption.pypi_path if adoption and adoption.pypi_path in (PEP541, OWN_NAME) else None
