"""`/eco health`, its restart-proof "Show publicly" button, and the compatibility radar's background
pass and review-channel posts. Decisions live in bot.services.radar; this module renders them.
Everything shown from PyPI or GitHub goes through bot.markdown.escape (no markdown, no pings, capped)."""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import discord
from discord import app_commands
from discord.ext import tasks

from bot.errors import DomainError, NotAllowed
from bot.markdown import escape, pypi_project_url
from bot.services.radar import ProjectHealth, RadarAlert, RadarService, display
from bot.services.suggestions_text import age_text, elapsed_text
from cogs._base import EcoCog, GuardedDynamicItem, custom_id_template, fit_message

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 4000  # an embed description holds 4,096 characters; kept under it with the marker
MAX_RADAR_LINES = 25  # projects named in one radar post; the rest are counted
HISTORY_CHECK = 50  # messages of the review channel read before re-posting a reclaimed radar post
CI_TEXT = {
    "success": "passing", "failure": "failing", "timed_out": "timed out", "startup_failure": "failed to start",
    "cancelled": "cancelled", "running": "running", "none": "no runs",
}
FLAG_ICON = {"cap": "\U0001f6a7", "ci": "\u274c", "stale": "\u23f3"}  # construction, cross, hourglass


_PLAIN_VERSION = re.compile(r"[A-Za-z0-9.+!-]{1,60}")


def ver(version: str | None) -> str:
    """A version as text: PEP 440 versions are plain tokens (no markdown in them); anything else escaped."""
    if version and _PLAIN_VERSION.fullmatch(version):
        return version
    return escape(version, 60)


def repo_link(full_name: str, web_url: str) -> str:
    """`[name](url)` for an org repository; the name is escaped and the path quoted."""
    owner, _, name = full_name.partition("/")
    return f"[{escape(full_name, 120)}]({web_url}/{quote(owner, safe='')}/{quote(name, safe='')})"


def radar_heading(alert: RadarAlert) -> str:
    return f"**Compatibility radar: {display(alert.core)} {ver(alert.version)}**"


def render_alert(alert: RadarAlert, web_url: str) -> str:
    lines = [
        radar_heading(alert),
        f"{display(alert.core)} {ver(alert.version)} is out. The latest release of these pallets-eco "
        f"projects excludes it:",
    ]
    for c in alert.capped[:MAX_RADAR_LINES]:
        extra = " (with an extra)" if c.extra else ""
        lines.append(
            f"- {repo_link(c.full_name, web_url)}: {escape(c.pypi_name, 100)} {ver(c.version)} "
            f"requires {escape(alert.core + c.spec, 200)}{extra}"
        )
    if len(alert.capped) > MAX_RADAR_LINES:
        lines.append(f"… and {len(alert.capped) - MAX_RADAR_LINES} more: `/eco health` lists them.")
    return fit_message("\n".join(lines))


def _released(h: ProjectHealth, now: datetime) -> str:
    if h.on_pypi is None:
        return "not read yet"
    if not h.on_pypi or not h.version:
        return "not on PyPI"
    when = f" ({age_text(now - h.released_at)})" if h.released_at else ""
    name = h.pypi_name or ""
    return f"[{escape(name, 100)} {ver(h.version)}]({pypi_project_url(name)}){when}"


def _ci(h: ProjectHealth) -> str:
    text = CI_TEXT.get(h.ci_state or "", escape(h.ci_state, 20) if h.ci_state else "not read yet")
    # Quoted again when shown (a row stored by an older version): nothing in it can end the link.
    return f"[{text}]({quote(h.ci_url, safe=':/%#?=&')})" if h.ci_url else text


def _flag_lines(h: ProjectHealth) -> list[str]:
    return [f"{FLAG_ICON.get(f.kind, '!')} {escape(f.detail, 200)}" for f in h.flags]


def render_project(h: ProjectHealth, now: datetime, web_url: str) -> discord.Embed:
    embed = discord.Embed(title=escape(h.full_name, 200), url=f"{web_url}/{quote(h.full_name, safe='/')}",
                          colour=discord.Colour.red() if h.flags else discord.Colour.green())
    embed.add_field(name="Latest release", value=_released(h, now), inline=False)
    reqs = []
    for v in h.verdicts[:10]:
        spec = escape(v.requirement.name + (v.requirement.spec or " (any version)"), 150)
        extra = " (with an extra)" if v.requirement.extra else ""
        if v.newest is None:
            verdict = "newest release not seen yet"
        else:
            verdict = f"{'admits' if v.admits else '**excludes**'} {display(v.requirement.name)} {ver(v.newest)}"
        reqs.append(f"{spec}{extra}: {verdict}")
    if h.requires_dropped:
        reqs.append(f"({h.requires_dropped} requirement{'s' if h.requires_dropped != 1 else ''} unreadable, not shown)")
    embed.add_field(name="Pallets requirements", value=fit_message("\n".join(reqs) or "none", 1024), inline=False)
    embed.add_field(name=f"CI on {escape(h.default_branch, 50)}", value=_ci(h), inline=True)
    if h.open_issues is None:
        open_text = "not read yet"
    else:
        plus = "+" if h.issues_capped else ""
        open_text = f"{h.open_issues}{plus} issues, {h.open_prs}{plus} pull requests"
    embed.add_field(name="Open", value=open_text, inline=True)
    if h.oldest_pr_number:
        url = f"{web_url}/{quote(h.full_name, safe='/')}/pull/{h.oldest_pr_number}"
        age = f" (opened {age_text(now - h.oldest_pr_at)})" if h.oldest_pr_at else ""
        embed.add_field(name="Oldest open pull request",
                        value=f"[#{h.oldest_pr_number}]({url}) {escape(h.oldest_pr_title, 200)}{age}", inline=False)
    embed.add_field(name="Flags", value=fit_message("\n".join(_flag_lines(h)) or "none", 1024), inline=False)
    seen = f"read {elapsed_text(now - h.checked_at)}" if h.checked_at else "not read yet"
    embed.set_footer(text=f"Data {seen}; refreshed in the background from PyPI and GitHub.")
    return embed


def render_org(rows: list[ProjectHealth], now: datetime, web_url: str, newest: dict[str, str]) -> discord.Embed:
    flagged = sum(1 for r in rows if r.flags)
    embed = discord.Embed(title="pallets-eco health, worst first",
                          colour=discord.Colour.red() if flagged else discord.Colour.green())
    lines: list[str] = []
    used = 0
    for n, h in enumerate(rows):
        release = f"{ver(h.version)} ({age_text(now - h.released_at)})" if h.version and h.released_at else (
            "not on PyPI" if h.on_pypi is False else ver(h.version) if h.version else "no release read")
        flags = "; ".join(_flag_lines(h)) or "\u2705"
        line = f"{repo_link(h.full_name, web_url)} · {release} · {flags}"
        if len(line) > 600:
            line = line[:599] + "\u2026"
        if used + len(line) + 1 > DESCRIPTION_LIMIT - 80:
            lines.append(f"… and {len(rows) - n} more: `/eco health project:` shows one.")
            break
        lines.append(line)
        used += len(line) + 1
    embed.description = "\n".join(lines) or "No pallets-eco project has been read yet. Try again in a few minutes."
    cores = ", ".join(f"{display(k)} {ver(v)}" for k, v in sorted(newest.items()))
    embed.set_footer(text=fit_message(f"{flagged} of {len(rows)} projects flagged. Newest core releases: "
                                      f"{cores or 'not read yet'}.", 2000))
    return embed


SHARE_COOLDOWN_SECONDS = 60  # one public "Show publicly" per member a minute


class ShowHealthButton(
    GuardedDynamicItem[discord.ui.Button],
    template=custom_id_template(r"eco:health:show:(?P<user>\d{1,20}):(?P<repo>\d{1,20})"),
):
    """Posts the same health answer publicly, re-read from the database; only for the person who asked."""

    def __init__(self, user_id: int, repo_id: int) -> None:
        super().__init__(discord.ui.Button(label="Show publicly", style=discord.ButtonStyle.secondary,
                                           custom_id=f"eco:health:show:{user_id}:{repo_id}"))
        self.user_id, self.repo_id = user_id, repo_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["user"]), int(match["repo"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.user_id:
            raise NotAllowed("Only the person who asked can share this answer. Run `/eco health` yourself.")
        # The bot posts on the member's behalf: only where they could post themselves (interaction
        # permissions are the member's, overwrites included), and not as a way to flood a channel.
        perms = interaction.permissions
        in_thread = isinstance(interaction.channel, discord.Thread)
        if not (perms.send_messages_in_threads if in_thread else perms.send_messages):
            raise NotAllowed("You can't post in this channel, so the bot won't post this answer here for you.")
        cog = _cog(interaction)
        wait = cog.share_wait(interaction.user.id)
        if wait:
            raise NotAllowed(f"You shared a health answer a moment ago: try again in {wait} second(s).")
        embed = await cog.answer(self.repo_id or None)
        await interaction.response.send_message(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        cog.shared(interaction.user.id)


def _cog(interaction: discord.Interaction) -> Radar:
    cog = interaction.client.get_cog("Radar")  # type: ignore[union-attr]
    if cog is None:
        raise DomainError("Project health is not available right now.")
    return cog  # type: ignore[return-value]


class Radar(EcoCog):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        deps = bot.deps
        self.service = RadarService(deps.db, deps.github, deps.pypi, deps.clock, bot.settings)
        self.web_url = bot.settings.github.web_url.rstrip("/")
        self._shared_at: dict[int, datetime] = {}  # member -> last public share (in memory: a restart forgets)

    def share_wait(self, user_id: int) -> int:
        """Seconds before this member may share another answer publicly (0: now)."""
        last = self._shared_at.get(user_id)
        if last is None:
            return 0
        left = SHARE_COOLDOWN_SECONDS - (self.bot.deps.clock.now() - last).total_seconds()
        return max(0, math.ceil(left))

    def shared(self, user_id: int) -> None:
        now = self.bot.deps.clock.now()
        self._shared_at = {u: t for u, t in self._shared_at.items()
                           if (now - t).total_seconds() < SHARE_COOLDOWN_SECONDS}  # stays small
        self._shared_at[user_id] = now

    async def cog_load(self) -> None:
        await super().cog_load()
        if self.bot.deps.start_background_tasks and self.bot.settings.radar.enabled:
            self.radar_loop.change_interval(minutes=self.bot.settings.radar.pass_minutes)
            self.radar_loop.start()

    async def cog_unload(self) -> None:
        self.radar_loop.cancel()
        await super().cog_unload()

    async def answer(self, repo_id: int | str | None) -> discord.Embed:
        now = self.bot.deps.clock.now()
        if repo_id is None:
            rows = await self.service.org_health()
            return render_org(rows, now, self.web_url, await self.service.newest_core())
        health = await self.service.project_health(repo_id)
        if health is None:
            raise DomainError("That is not a pallets-eco project I know of. Pick one from the list.")
        return render_project(health, now, self.web_url)

    @app_commands.command(name="health",
                          description="Latest release, Pallets requirements, CI and flags of eco projects")
    @app_commands.describe(project="A pallets-eco repository (default: the whole org, worst first)")
    async def health(self, interaction: discord.Interaction, project: str | None = None) -> None:
        # Database only: nothing here asks GitHub or PyPI, so it answers at once.
        if project is not None:
            found = await self.service.project_health(project[:200])
            if found is None:
                raise DomainError("That is not a pallets-eco project I know of. Pick one from the list.")
            embed, repo_id = render_project(found, self.bot.deps.clock.now(), self.web_url), found.repo_id
        else:
            embed, repo_id = await self.answer(None), 0
        view = discord.ui.View(timeout=None)
        view.add_item(ShowHealthButton(interaction.user.id, repo_id))
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @health.autocomplete("project")
    async def project_autocomplete(self, interaction: discord.Interaction, current: str):
        names = await self.service.project_names(current[:100])
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names]

    # ----- background work ------------------------------------------------------------------------

    @tasks.loop(minutes=5)
    async def radar_loop(self) -> None:
        try:
            await self.run_pass()
        except Exception:
            log.exception("radar pass failed")

    @radar_loop.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def run_pass(self, *, all_due: bool = False) -> list[RadarAlert]:
        await self.service.refresh_pass(all_due=all_due)
        return await self.service.post_pending(self.send_alert)

    async def send_alert(self, alert: RadarAlert, reclaimed: bool) -> int | None:
        channel = self.bot.get_channel(self.bot.settings.discord.review_channel_id)
        if not isinstance(channel, discord.TextChannel):
            raise DomainError("The review channel is not available for the radar.")
        heading = radar_heading(alert)
        if reclaimed:
            # A process died holding this post: it may have sent it before it could record so.
            async for message in channel.history(limit=HISTORY_CHECK):
                if message.author.id == self.bot.user.id and message.content.startswith(heading):  # type: ignore[union-attr]
                    return message.id
        async with self.bot.critical():
            message = await channel.send(render_alert(alert, self.web_url),
                                         allowed_mentions=discord.AllowedMentions.none(),
                                         suppress_embeds=True)
        return message.id


async def setup(bot: EcoBot) -> None:
    bot.add_dynamic_items(ShowHealthButton)
    await bot.add_cog(Radar(bot))
