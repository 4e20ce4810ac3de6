"""One typed Settings object, read from a TOML file plus secrets from the environment.

Every problem is reported as a single `ConfigError` line naming the key, so start-up can
print it and exit without a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A configuration problem, with a message meant for the person running the bot."""


@dataclass(frozen=True)
class DiscordSettings:
    guild_id: int
    eco_channel_id: int
    review_channel_id: int
    maintainer_role_ids: tuple[int, ...]
    announce_channel_id: int | None = None
    message_content: bool = False
    # Only for tests and self-hosted gateways; production leaves both unset.
    api_base: str | None = None
    gateway_url: str | None = None

    @property
    def announce_channel(self) -> int:
        return self.announce_channel_id or self.eco_channel_id


@dataclass(frozen=True)
class GitHubSettings:
    org: str = "pallets-eco"
    api_url: str = "https://api.github.com"
    web_url: str = "https://github.com"
    oauth_client_id: str | None = None
    timeout_seconds: float = 10.0
    # Seconds a member waits between two "Sign in with GitHub" clicks (each one is a GitHub call and a row).
    sign_in_cooldown_seconds: float = 30.0
    # Seconds a member waits between two presses of "Check" (a topic: a GitHub call) and between two of
    # "Verify ownership" (a PyPI call); each button counts on its own. 0 turns it off.
    check_cooldown_seconds: float = 10.0


@dataclass(frozen=True)
class PyPISettings:
    url: str = "https://pypi.org"
    trusted_owners: tuple[str, ...] = ("davidism",)
    timeout_seconds: float = 10.0
    # PyPI organisations (URL slugs) the maintainers hold: a project in one is handed over on PyPI.
    trusted_organizations: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///data/eco-bot.db"
    # The running bot writes a heartbeat row this often; `python -m bot health` (the Docker HEALTHCHECK)
    # fails once the newest one is older than heartbeat_max_age_seconds.
    heartbeat_seconds: float = 60.0
    heartbeat_max_age_seconds: float = 180.0


@dataclass(frozen=True)
class ReviewSettings:
    approvals_required: int = 1
    # "card": the maintainers' discussion is a (public) thread on the review card; the requester is told by DM,
    # or in a private thread in the eco channel when their DMs are closed. "requester": the same card thread,
    # plus a private thread with the requester opened with the card, for requester-facing news only.
    thread_mode: str = "card"
    # A draft transfer request untouched this long is withdrawn, freeing its repository.
    draft_expiry_days: float = 14.0
    # Requests one member may have waiting for a decision (draft, submitted, under review): no squatting.
    max_open_per_user: int = 3
    # Seconds a member waits between two submissions (each posts a card and spends GitHub calls).
    submit_cooldown_seconds: float = 120.0
    # A fork whose upstream saw no push and no release for this many days, and that has work of its own, is
    # an adoption of an abandoned extension (bot/services/adoption.py).
    adoption_inactive_days: float = 365.0


@dataclass(frozen=True)
class TrackingSettings:
    interval_minutes: float = 10.0
    nudge_after_days: float = 7.0


@dataclass(frozen=True)
class ContributeSettings:
    labels: tuple[str, ...] = (
        "good first issue",
        "help wanted",
        "docs",
        "area/docs",
        "documentation",
        "tests",
    )
    refresh_minutes: float = 15.0
    max_age_days: int = 730
    docs_labels: tuple[str, ...] = ("docs", "area/docs", "documentation")
    tests_labels: tuple[str, ...] = ("tests", "testing")
    bug_labels: tuple[str, ...] = ("bug",)
    feature_labels: tuple[str, ...] = ("enhancement", "feature")
    # Weekly digest DMs: after a burst of a few, one DM opened per interval; when Discord still says
    # "opening direct messages too fast" (40003), wait this long (doubling) before trying again.
    digest_dm_interval_seconds: float = 2.0
    digest_retry_seconds: float = 60.0


@dataclass(frozen=True)
class FaqSettings:
    path: str | None = None  # None: the FAQ shipped in bot/data/faq.toml
    cooldown_minutes: float = 30.0
    auto_answer: bool = True
    welcome: bool = True
    answer_in_foreign_threads: bool = False
    # Wait this long before an automatic answer, so a maintainer who replies first keeps the bot quiet.
    reply_delay_seconds: float = 15.0
    welcome_per_minute: int = 5  # cap on welcomes during a raid
    # Welcome only members who joined the server this recently (0: anyone's first message here).
    welcome_joined_within_days: float = 14.0
    # `/eco faq user:` pings: one per invoking member and one per mentioned member in this window.
    ping_cooldown_seconds: float = 300.0


@dataclass(frozen=True)
class DigestSettings:
    """The maintainers' weekly digest in the review channel (not the contributors' digest DMs)."""

    enabled: bool = True
    weekday: int = 0  # 0 = Monday ... 6 = Sunday (UTC)
    hour: int = 9  # UTC
    check_minutes: float = 5.0  # how often the bot looks whether the week's post is due
    claim_lease_minutes: float = 10.0  # a claim that never became a post is taken over after this
    unanswered_after_hours: float = 24.0
    question_retention_days: float = 14.0
    max_questions: int = 500  # candidate questions kept (oldest pruned)


@dataclass(frozen=True)
class RadarSettings:
    """Compatibility radar and `/eco health`: refreshed in the background, never while someone waits."""

    enabled: bool = True
    # Each project is re-read (conditional requests: 304s cost no GitHub rate limit) at most this often.
    refresh_minutes: float = 60.0
    # One background pass this often; each reads a few projects, so a refresh is spread over time.
    pass_minutes: float = 5.0
    projects_per_pass: int = 10
    # Flag a project with no release for this long while its default branch has commits since.
    stale_release_months: int = 18
    # Radar posts for pre-releases (3.2.0rc1) of the core projects too.
    include_prereleases: bool = False
    core_projects: tuple[str, ...] = ("flask", "werkzeug", "jinja2", "click", "markupsafe", "itsdangerous", "wtforms")


@dataclass(frozen=True)
class JoinSettings:
    """`/eco join`: members asking to help maintain pallets-eco."""

    approvals_required: int = 1
    # Days a member waits after a rejection before asking again.
    retry_after_days: float = 30.0
    # Project (repository name in the org) -> GitHub team slug the person is added to on approval.
    teams: dict[str, str] = field(default_factory=dict)
    # Where each project's maintainers talk, told to the person on approval (project -> text); "*" is the default.
    channels: dict[str, str] = field(default_factory=dict)
    about_max_chars: int = 500


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class Secrets:
    discord_token: str = field(repr=False)
    github_token: str | None = field(default=None, repr=False)
    github_org_admin_token: str | None = field(default=None, repr=False)
    github_oauth_client_secret: str | None = field(default=None, repr=False)

    def all_values(self) -> list[str]:
        return [
            v
            for v in (
                self.discord_token,
                self.github_token,
                self.github_org_admin_token,
                self.github_oauth_client_secret,
            )
            if v
        ]


@dataclass(frozen=True)
class Settings:
    discord: DiscordSettings
    github: GitHubSettings = GitHubSettings()
    pypi: PyPISettings = PyPISettings()
    database: DatabaseSettings = DatabaseSettings()
    review: ReviewSettings = ReviewSettings()
    tracking: TrackingSettings = TrackingSettings()
    contribute: ContributeSettings = ContributeSettings()
    faq: FaqSettings = FaqSettings()
    join: JoinSettings = JoinSettings()
    logging: LoggingSettings = LoggingSettings()
    digest: DigestSettings = DigestSettings()
    radar: RadarSettings = RadarSettings()
    secrets: Secrets = field(default_factory=lambda: Secrets(discord_token=""), repr=False)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_SECTIONS: dict[str, type] = {
    "discord": DiscordSettings,
    "github": GitHubSettings,
    "pypi": PyPISettings,
    "database": DatabaseSettings,
    "review": ReviewSettings,
    "tracking": TrackingSettings,
    "contribute": ContributeSettings,
    "faq": FaqSettings,
    "join": JoinSettings,
    "logging": LoggingSettings,
    "digest": DigestSettings,
    "radar": RadarSettings,
}

_ENV_SECRETS = {
    "discord_token": "DISCORD_TOKEN",
    "github_token": "GITHUB_TOKEN",
    "github_org_admin_token": "GITHUB_ORG_ADMIN_TOKEN",
    "github_oauth_client_secret": "GITHUB_OAUTH_CLIENT_SECRET",
}


def _type_name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    origin = typing.get_origin(tp)
    if origin is tuple:
        (inner, _) = typing.get_args(tp)
        return f"a list of {_type_name(inner).removeprefix('an ').removeprefix('a ')}s"
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(args[0])
    return names.get(tp, str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(key, value, args[0])
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if not isinstance(value, list):
            raise ConfigError(f"config: `{key}` must be {_type_name(tp)}, got {value!r}")
        return tuple(_coerce(f"{key}[{i}]", v, inner) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"config: `{key}` must be a table of strings, got {value!r}")
        return {str(k): v for k, v in value.items()}
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - only the types above are declared
        ok = True
    if not ok:
        raise ConfigError(f"config: `{key}` must be {_type_name(tp)}, got {value!r}")
    return value


def _build_section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: `[{name}]` must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"config: unknown key `{name}.{unknown[0]}`")
    values: dict[str, Any] = {}
    for fname, f in fields.items():
        if fname in raw:
            values[fname] = _coerce(f"{name}.{fname}", raw[fname], hints[fname])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"config: missing key `{name}.{fname}`")
    return cls(**values)


def _check_url(key: str, value: str | None, schemes: tuple[str, ...] = ("https", "http")) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"config: `{key}` must be an absolute {'/'.join(schemes)} URL, got {value!r}")


def _validate(settings: Settings) -> None:
    d = settings.discord
    for key in ("guild_id", "eco_channel_id", "review_channel_id"):
        if getattr(d, key) <= 0:
            raise ConfigError(f"config: `discord.{key}` must be a positive Discord id")
    if not d.maintainer_role_ids:
        raise ConfigError("config: `discord.maintainer_role_ids` needs at least one role id")
    _check_url("discord.api_base", d.api_base)
    _check_url("discord.gateway_url", d.gateway_url, ("ws", "wss"))
    _check_url("github.api_url", settings.github.api_url)
    _check_url("github.web_url", settings.github.web_url)
    _check_url("pypi.url", settings.pypi.url)
    for slug in settings.pypi.trusted_organizations:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", slug):
            raise ConfigError(f"config: `pypi.trusted_organizations` holds {slug!r}, not a PyPI organisation slug")
    if not settings.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError("config: `database.url` must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
    if not 0 < settings.database.heartbeat_seconds < settings.database.heartbeat_max_age_seconds:
        raise ConfigError(
            "config: `database.heartbeat_seconds` must be positive and below `database.heartbeat_max_age_seconds`"
        )
    if settings.review.approvals_required < 1:
        raise ConfigError("config: `review.approvals_required` must be at least 1")
    if settings.review.thread_mode not in ("card", "requester"):
        raise ConfigError("config: `review.thread_mode` must be \"card\" or \"requester\"")
    if settings.review.draft_expiry_days <= 0:
        raise ConfigError("config: `review.draft_expiry_days` must be positive")
    if settings.review.adoption_inactive_days <= 0:
        raise ConfigError("config: `review.adoption_inactive_days` must be positive")
    if settings.review.max_open_per_user < 1:
        raise ConfigError("config: `review.max_open_per_user` must be at least 1")
    if (settings.review.submit_cooldown_seconds < 0 or settings.github.sign_in_cooldown_seconds < 0
            or settings.github.check_cooldown_seconds < 0):
        raise ConfigError("config: cooldowns (`review.submit_cooldown_seconds`, "
                          "`github.sign_in_cooldown_seconds`, `github.check_cooldown_seconds`) can't be negative")
    if settings.tracking.interval_minutes <= 0 or settings.contribute.refresh_minutes <= 0:
        raise ConfigError("config: intervals must be positive")
    for key in ("welcome_joined_within_days", "ping_cooldown_seconds"):
        if getattr(settings.faq, key) < 0:
            raise ConfigError(f"config: `faq.{key}` must not be negative")
    if settings.contribute.digest_dm_interval_seconds < 0 or settings.contribute.digest_retry_seconds <= 0:
        raise ConfigError("config: `contribute.digest_dm_interval_seconds`/`digest_retry_seconds` must be positive")
    dg = settings.digest
    if not 0 <= dg.weekday <= 6 or not 0 <= dg.hour <= 23:
        raise ConfigError("config: `digest.weekday` must be 0 (Monday) to 6 and `digest.hour` 0 to 23 (UTC)")
    if dg.check_minutes <= 0 or dg.claim_lease_minutes <= 0 or dg.unanswered_after_hours <= 0:
        raise ConfigError("config: `digest.check_minutes`, `claim_lease_minutes`, `unanswered_after_hours` "
                          "must be positive")
    if dg.question_retention_days <= 0 or not 1 <= dg.max_questions <= 100_000:
        raise ConfigError("config: `digest.question_retention_days` must be positive and "
                          "`digest.max_questions` 1 to 100000")
    if settings.radar.refresh_minutes <= 0 or settings.radar.pass_minutes <= 0 or settings.radar.projects_per_pass < 1:
        raise ConfigError("config: `radar.refresh_minutes`, `pass_minutes` and `projects_per_pass` must be positive")
    if not 1 <= settings.radar.stale_release_months <= 240:
        raise ConfigError("config: `radar.stale_release_months` must be between 1 and 240")
    for name in settings.radar.core_projects:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", name):
            raise ConfigError(f"config: `radar.core_projects` holds {name!r}, not a normalised PyPI name")
    from bot.services.suggestions_refresh import search_query  # here: that module imports this one

    if len(search_query(settings.github.org, settings.contribute.labels)) > 256:
        # GitHub search: "Queries longer than 256 characters are not supported" (docs.github.com/en/search-github/
        # getting-started-with-searching-on-github/troubleshooting-search-queries): it answers 422.
        raise ConfigError("config: `contribute.labels` make the issue search longer than GitHub's 256 characters: "
                          "use fewer or shorter labels")
    if settings.join.approvals_required < 1:
        raise ConfigError("config: `join.approvals_required` must be at least 1")
    if settings.join.retry_after_days < 0:
        raise ConfigError("config: `join.retry_after_days` must not be negative")
    if not 1 <= settings.join.about_max_chars <= 1000:
        raise ConfigError("config: `join.about_max_chars` must be between 1 and 1000")
    for project, slug in settings.join.teams.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", slug):
            raise ConfigError(f"config: `join.teams.{project}` is {slug!r}, not a GitHub team slug")
    if settings.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("config: `logging.level` must be DEBUG, INFO, WARNING or ERROR")


def parse_settings(
    raw: Mapping[str, Any], env: Mapping[str, str], *, require_token: bool = True
) -> Settings:
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"config: unknown section `[{unknown[0]}]`")
    if "discord" not in raw:
        raise ConfigError("config: missing section `[discord]`")
    for name, table in raw.items():
        for key in table if isinstance(table, Mapping) else ():
            if "token" in key.lower() or "secret" in key.lower():
                # Secrets never live in the file: refuse rather than silently ignore.
                raise ConfigError(f"config: `{name}.{key}` is a secret; set it in the environment instead")
    sections = {name: _build_section(name, cls, raw[name]) for name, cls in _SECTIONS.items() if name in raw}
    secrets = Secrets(**{attr: (env.get(var) or None) for attr, var in _ENV_SECRETS.items()} | {
        "discord_token": env.get("DISCORD_TOKEN", "")
    })
    if require_token and not secrets.discord_token:
        raise ConfigError("DISCORD_TOKEN is not set: export the bot token in the environment")
    settings = Settings(**sections, secrets=secrets)
    _validate(settings)
    return settings


def load_settings(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None, *, require_token: bool = True
) -> Settings:
    env = os.environ if env is None else env
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {p} (copy config.example.toml to {p})") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {p}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {p} is not valid TOML: {exc}") from None
    return parse_settings(raw, env, require_token=require_token)


def default_config_path(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("ECO_BOT_CONFIG", "config.toml")
