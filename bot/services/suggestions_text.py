"""What `/eco contribute` says: ages, the "why this one" line, and the docs/tests work offered
when no issue fits. Pure functions over cached repository facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.db.models.contribute import RepoFacts

CONTRIBUTING_URL = "https://palletsprojects.com/contributing/"
THIN_DOCS = 5  # a docs folder with fewer files than this is worth fleshing out


@dataclass(frozen=True)
class WorkIdea:
    """Concrete docs/tests work for a repository, when no issue fits."""

    repo: str
    title: str
    detail: str
    url: str
    guide_url: str



def age_text(delta: timedelta) -> str:
    days = delta.days
    if days < 1:
        return "today"
    if days < 2:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def elapsed_text(delta: timedelta) -> str:
    """How long ago, precise enough for data that is minutes or hours old ("3 hours ago")."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    return age_text(delta)


def why_line(
    *,
    label: str | None,
    updated_at: datetime,
    created_at: datetime,
    comments: int,
    by_maintainer: bool,
    repo_pushed_at: datetime | None,
    now: datetime,
) -> str:
    parts = [f"labelled `{label}`"] if label else []
    if by_maintainer:
        parts.append("filed by a maintainer")
    if updated_at - created_at > timedelta(hours=1):
        parts.append(f"active {age_text(now - updated_at)}")
    else:
        parts.append(f"opened {age_text(now - created_at)}")
    parts.append("no discussion yet" if comments == 0 else f"{comments} comment{'s' if comments != 1 else ''} to read")
    if repo_pushed_at and now - repo_pushed_at <= timedelta(days=90):
        parts.append(f"maintainers pushed {age_text(now - repo_pushed_at)}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _tree(repo: RepoFacts, path: str) -> str:
    return f"{repo.html_url}/tree/{repo.default_branch}/{path}"


def _guide(repo: RepoFacts) -> str:
    if repo.contributing_path:
        return f"{repo.html_url}/blob/{repo.default_branch}/{repo.contributing_path}"
    return CONTRIBUTING_URL


def _docs_idea(repo: RepoFacts, now: datetime) -> WorkIdea:
    release = ""
    if repo.last_release_at is not None:
        release = f" The last release ({repo.last_release_tag}) was {age_text(now - repo.last_release_at)}."
    elif repo.facts_checked_at is not None:
        release = " It has no GitHub release yet."
    if repo.facts_checked_at is None:
        title, url = "Improve the docs", repo.html_url
        detail = "Follow the README or docs from scratch and fix whatever confused you: that is a welcome first PR."
    elif repo.docs_dir is None:
        title, url = "Start a docs folder", repo.html_url
        detail = "There is no `docs/` or `doc/` folder. Turning the README into a small docs site helps every user."
    elif (repo.docs_files or 0) < THIN_DOCS:
        title, url = f"Flesh out `{repo.docs_dir}/`", _tree(repo, repo.docs_dir)
        detail = (
            f"`{repo.docs_dir}/` has only {repo.docs_files or 0} file(s): add a usage example, "
            "or document an option that only the code explains."
        )
    else:
        title, url = f"Check the examples in `{repo.docs_dir}/`", _tree(repo, repo.docs_dir)
        detail = "Run the documented examples against the current code and fix what is outdated or unclear."
    return WorkIdea(repo.full_name, title, detail + release, url, _guide(repo))


def _tests_idea(repo: RepoFacts) -> WorkIdea:
    if repo.facts_checked_at is None:
        title, url = "Add a test", repo.html_url
        detail = "Run the test suite locally, find a function without a test, and add one."
    elif repo.tests_location is None:
        title, url = "Add a test suite", repo.html_url
        detail = "No tests folder was found. A first pytest test for the main entry point is a great start."
    else:
        title, url = f"Extend the tests in `{repo.tests_location}/`", _tree(repo, repo.tests_location)
        detail = "Run them with coverage (`pytest --cov`) and add tests for the branches nobody covers."
    if repo.ci_workflows == 0:
        detail += " There is no GitHub Actions workflow: one that runs the tests on pull requests would help too."
    return WorkIdea(repo.full_name, title, detail, url, _guide(repo))


def fallback_ideas(
    repos: list[RepoFacts], kind: str, now: datetime, wanted: int, *, org: str, org_url: str
) -> list[WorkIdea]:
    """Concrete docs/tests work. One repository: several ideas for it; otherwise one idea each
    for the most recently maintained repositories. Never empty."""
    makers: list[Callable[[RepoFacts], WorkIdea]] = []
    if kind in ("any", "docs", "bug", "feature"):
        makers.append(lambda r: _docs_idea(r, now))
    if kind in ("any", "tests", "bug", "feature"):
        makers.append(_tests_idea)
    if kind == "tests":
        makers.reverse()
    ideas: list[WorkIdea] = []
    if len(repos) == 1:
        ideas = [make(repos[0]) for make in makers]
    else:
        for n, repo in enumerate(repos[:wanted]):
            ideas.append(makers[n % len(makers)](repo))
    if not ideas:
        ideas = [
            WorkIdea(
                org,
                "Pick an extension you use",
                "Read its docs, try its examples, and open a PR for anything wrong or missing.",
                org_url,
                CONTRIBUTING_URL,
            )
        ]
    return ideas[: max(wanted, 1)]
