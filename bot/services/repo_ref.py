"""Parse what people type into the transfer form: a GitHub repository, a PyPI project, usernames.

Parsing only extracts names; the bot never fetches a URL the user typed. Every rejection is an
`InvalidInput` whose message says what is expected instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.errors import InvalidInput

MAX_INPUT = 300  # far above any real repository URL; a pasted essay is refused without scanning it

# GitHub owners: letters, digits and single hyphens inside, at most 39 characters.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?\Z")
# GitHub repository names: letters, digits, '.', '_' and '-', at most 100 characters.
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}\Z")
# PEP 508 project names.
_PYPI = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])\Z")
# PyPI usernames: letters, digits, '.', '_' and '-', starting and ending with a letter or digit.
_PYPI_USER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?\Z")

GITHUB_HOSTS = ("github.com", "www.github.com")
PYPI_HOSTS = ("pypi.org", "www.pypi.org")
# First path segments of github.com pages that are not user or organisation accounts.
_RESERVED_OWNERS = frozenset(
    "orgs settings marketplace topics collections explore search sponsors notifications login logout "
    "features about pricing apps users issues pulls new organizations enterprise codespaces trending".split()
)
_REPO_EXPECTED = "Give the repository as `owner/name` or `https://github.com/owner/name`."


@dataclass(frozen=True)
class RepoRef:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def key(self) -> str:
        """The uniqueness key: GitHub names are case-insensitive."""
        return self.full_name.lower()


def _clean(text: str | None, what: str, limit: int = MAX_INPUT) -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"The {what} is too long ({len(value)} characters).")
    return value


def _strip_git(name: str) -> str:
    return name[: -len(".git")] if name.lower().endswith(".git") else name


def _hosts(extra_hosts: Iterable[str]) -> set[str]:
    return {*GITHUB_HOSTS, *(h.lower() for h in extra_hosts if h)}


def parse_repo_ref(text: str | None, *, extra_hosts: Iterable[str] = ()) -> RepoRef:
    """`owner/name`, `github.com/owner/name`, `https://www.github.com/owner/name.git/` -> RepoRef.

    `extra_hosts` adds web hosts (host[:port]) such as a GitHub Enterprise server's.
    """
    value = _clean(text, "repository")
    if not value:
        raise InvalidInput(f"The repository is missing. {_REPO_EXPECTED}")
    if value.startswith("git@"):
        # SSH clone address: git@github.com:owner/name.git
        host, _, path = value[4:].partition(":")
        if host.lower() not in _hosts(extra_hosts):
            raise InvalidInput(f"Only GitHub repositories can be transferred. {_REPO_EXPECTED}")
        return _from_path(path)
    lowered = value.lower()
    looks_like_url = "://" in value or lowered.startswith(("www.", *(f"{h}/" for h in _hosts(extra_hosts))))
    if not looks_like_url:
        if ":" in value or "\\" in value or value.startswith("/"):
            raise InvalidInput(f"`{_short(value)}` is not a GitHub repository. {_REPO_EXPECTED}")
        return _from_path(value)
    return _from_url(value if "://" in value else f"https://{value}", extra_hosts)


def _from_url(url: str, extra_hosts: Iterable[str]) -> RepoRef:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"That link could not be read. {_REPO_EXPECTED}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"Only GitHub web links (https://github.com/...) are accepted. {_REPO_EXPECTED}")
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{port}" if port else host
    if parts.username or parts.password or netloc not in _hosts(extra_hosts):
        if host == "gist.github.com":
            raise InvalidInput(f"That is a gist, not a repository. {_REPO_EXPECTED}")
        raise InvalidInput(f"Only repositories on github.com can be transferred. {_REPO_EXPECTED}")
    return _from_path(parts.path, from_url=True)


def _from_path(path: str, *, from_url: bool = False) -> RepoRef:
    segments = [s for s in path.strip().split("/") if s]
    if len(segments) > 2:
        raise InvalidInput(
            "That link points inside a repository (an issue, a pull request, a branch or a file). "
            f"Use the repository's main address. {_REPO_EXPECTED}"
        )
    if len(segments) < 2:
        raise InvalidInput(f"That is not a repository address. {_REPO_EXPECTED}")
    owner, name = segments[0], _strip_git(segments[1])
    if from_url and owner.lower() in _RESERVED_OWNERS:
        raise InvalidInput(f"That GitHub page is not a repository. {_REPO_EXPECTED}")
    if not _OWNER.match(owner):
        raise InvalidInput(
            f"`{_short(owner)}` is not a valid GitHub account name (letters, digits and hyphens, "
            "at most 39 characters, not starting or ending with a hyphen)."
        )
    if not _REPO.match(name) or name in (".", ".."):
        raise InvalidInput(
            f"`{_short(name)}` is not a valid GitHub repository name (letters, digits, '.', '_' and '-', "
            "at most 100 characters)."
        )
    return RepoRef(owner, name)


def _short(value: str, limit: int = 60) -> str:
    # Echoed back inside inline code: drop backticks so the message's formatting can't break.
    value = value.replace("`", "'")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def parse_pypi_name(text: str | None) -> str | None:
    """A PyPI project name, a `pypi.org/project/<name>` link, or None when left empty."""
    value = _clean(text, "PyPI project name", 300)
    if not value:
        return None
    if "://" in value or value.lower().startswith(PYPI_HOSTS):
        try:
            parts = urlsplit(value if "://" in value else f"https://{value}")
            port = parts.port
        except ValueError:  # a stray "[" or a port that isn't a number
            port, parts = -1, urlsplit("")
        segments = [s for s in parts.path.split("/") if s]
        if (
            port is not None
            or parts.scheme.lower() not in ("http", "https")
            or (parts.hostname or "").lower() not in PYPI_HOSTS
            or len(segments) < 2
            or segments[0] != "project"
        ):
            raise InvalidInput(
                "Give the PyPI project as its name (like `Flask-Caching`) or its pypi.org/project/ link."
            )
        value = segments[1]
    if len(value) > 200 or not _PYPI.match(value):
        raise InvalidInput(
            f"`{_short(value)}` is not a valid PyPI project name (letters, digits, '.', '_' and '-'). "
            "Leave it empty if the project is not on PyPI."
        )
    return value


def parse_github_username(text: str | None) -> str:
    value = _clean(text, "GitHub username", 100).removeprefix("@")
    if not value:
        raise InvalidInput("Your GitHub username is missing.")
    if not _OWNER.match(value):
        raise InvalidInput(
            f"`{_short(value)}` is not a valid GitHub username (letters, digits and hyphens, at most 39 "
            "characters, not starting or ending with a hyphen)."
        )
    return value


def parse_pypi_username(text: str | None) -> str | None:
    value = _clean(text, "PyPI username", 100).removeprefix("@")
    if not value:
        return None
    if not _PYPI_USER.match(value):
        raise InvalidInput(
            f"`{_short(value)}` is not a valid PyPI username (letters, digits, '.', '_' and '-', "
            "at most 50 characters)."
        )
    return value


def github_hosts_from_url(web_url: str) -> tuple[str, ...]:
    """The host[:port] of a configured GitHub web URL, when it is not github.com (Enterprise)."""
    parts = urlsplit(web_url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return () if not netloc or netloc in GITHUB_HOSTS else (netloc,)
