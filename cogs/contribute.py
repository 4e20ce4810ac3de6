"""`/eco contribute`, `/eco subscribe`, `/eco unsubscribe`: beginner issues from the cache, the
"More" and "Show publicly" buttons, the refresh loop and the weekly digest.
Decisions live in bot.services.suggestions; this module turns them into Discord messages."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import tasks

from bot.db.models.core import BotState
from bot.errors import DomainError
from bot.services.digest_pacing import DmTooFast
from bot.services.suggestions import (
    CONTRIBUTING_URL,
    KINDS,
    DigestPlan,
    DigestRun,
    RefreshResult,
    Suggestion,
    Suggestions,
    SuggestionService,
    WorkIdea,
    age_text,
    elapsed_text,
)
from cogs._base import EcoCog, GuardedDynamicItem, custom_id_template

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

FIRST_FILL_TIMEOUT = 10.0  # a first-ever answer may wait this long for the initial refresh
DIGEST_THREAD_KEY = "contribute_digest_thread"
DIGEST_THREAD_NAME = "Weekly beginner issues"
DM_CLOSED = 50007
DM_TOO_FAST = 40003  # "You are opening direct messages too fast" (see bot/services/digest_pacing.py)
RULE = (
    "No need to ask to be assigned: anyone may take an open issue with no assignee and no linked PR. "
    "Say you're working on it by opening a PR."
)
_KIND_RE = "|".join(KINDS)


def _clean(text: str, limit: int = 200, *, markdown: bool = False) -> str:
    """GitHub text shown in Discord: no pings, no broken links, and no markdown unless the text
    is the bot's own wording (which uses backticks on purpose)."""
    if not markdown:
        text = discord.utils.escape_markdown(text)
    text = discord.utils.escape_mentions(text).replace("[", "(").replace("]", ")")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_line(s: Suggestion, now_age: str) -> str:
    labels = ", ".join(f"`{_clean(label, 40)}`" for label in s.labels[:4])
    comments = f"{s.comments} comment{'s' if s.comments != 1 else ''}"
    return (
        f"**[{_clean(s.title)}]({s.url})**\n"
        f"{_clean(s.repo, 100)}#{s.number} · {labels} · opened {now_age} · {comments}\n"
        f"_{_clean(s.why, 300, markdown=True)}_"
    )


def _idea_line(idea: WorkIdea) -> str:
    return (
        f"**[{_clean(idea.repo, 100)}: {_clean(idea.title, 120, markdown=True)}]({idea.url})**\n"
        f"{_clean(idea.detail, 400, markdown=True)} ([contributing guide]({idea.guide_url}))"
    )


def render_suggestions(answer: Suggestions, now: datetime) -> discord.Embed:
    where = f" in {answer.project}" if answer.project else ""
    kind = f" ({answer.kind})" if answer.kind != "any" else ""
    embed = discord.Embed(title=f"Where to start{where}{kind}"[:256], colour=discord.Colour.green())
    blocks = [_item_line(s, age_text(now - s.created_at)) for s in answer.items]
    if answer.ideas:
        header = "**Docs and tests work that is always welcome:**" if answer.items else (
            "No open beginner issue fits right now. Docs and tests work that is always welcome:"
        )
        blocks.append(header + "\n" + "\n\n".join(_idea_line(i) for i in answer.ideas))
    embed.description = "\n\n".join(blocks)[:4000]
    embed.add_field(name="How to start", value=f"[Pallets contributing guide]({CONTRIBUTING_URL})", inline=False)
    embed.set_footer(text=RULE)
    return embed


def notes_for(answer: Suggestions) -> str | None:
    """Things only the person asking needs to read (kept out of the embed "Show publicly" copies)."""
    notes = []
    if answer.repeated:
        notes.append("You've seen every matching issue in the last 14 days; here they are again.")
    if answer.stale and answer.data_age is not None:
        notes.append(
            f"This list was last updated {elapsed_text(answer.data_age)}: GitHub could not be reached since."
        )
    elif answer.stale:
        # Repositories are known but no refresh has completed yet (the first one is slow or failed
        # mid-way): don't let a short list or the docs/tests fallback read as "no beginner issues".
        notes.append("The issue list is still being prepared, so this may be incomplete: try again in a minute.")
    return "\n".join(notes) or None


def _key(project_id: int | None, kind: str) -> str:
    return f"{project_id or 0}:{kind}"


class MoreButton(
    GuardedDynamicItem[discord.ui.Button],
    template=custom_id_template(rf"eco:contribute:more:(?P<project>\d{{1,20}}):(?P<kind>{_KIND_RE})"),
):
    def __init__(self, project_id: int | None, kind: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="More", style=discord.ButtonStyle.primary,
                custom_id=f"eco:contribute:more:{_key(project_id, kind)}",
            )
        )
        self.project_id, self.kind = project_id, kind

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["project"]) or None, match["kind"])

    async def handle(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        # Acknowledge first (the list is then edited in place), for the same reason as the command.
        await interaction.response.defer()
        project = await cog.service.project_by_id(self.project_id) if self.project_id else None
        if self.project_id and project is None:
            raise DomainError("That repository is no longer in the org. Run `/eco contribute` again.")
        answer = await cog.service.suggest(interaction.user.id, project, self.kind)
        await interaction.edit_original_response(
            content=notes_for(answer), embed=cog.render(answer), view=suggestion_view(answer)
        )


class PublicButton(
    GuardedDynamicItem[discord.ui.Button],
    template=custom_id_template(rf"eco:contribute:public:(?P<project>\d{{1,20}}):(?P<kind>{_KIND_RE})"),
):
    def __init__(self, project_id: int | None, kind: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Show publicly", style=discord.ButtonStyle.secondary,
                custom_id=f"eco:contribute:public:{_key(project_id, kind)}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["project"]) or None, match["kind"])

    async def handle(self, interaction: discord.Interaction) -> None:
        message = interaction.message
        if message is None or not message.embeds:
            raise DomainError("There is no list to show. Run `/eco contribute` again.")
        # The embed holds only the list; per-user notes live in the ephemeral content.
        await interaction.response.send_message(
            content=f"Suggested for {interaction.user.mention}: beginner issues to start on.",
            embed=message.embeds[0],
            allowed_mentions=discord.AllowedMentions.none(),
        )


def suggestion_view(answer: Suggestions) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(MoreButton(answer.project_id, answer.kind))
    view.add_item(PublicButton(answer.project_id, answer.kind))
    return view


def _cog(interaction: discord.Interaction) -> Contribute:
    cog = interaction.client.get_cog("Contribute")  # type: ignore[union-attr]
    if cog is None:
        raise DomainError("Suggestions are not available right now.")
    return cog  # type: ignore[return-value]


def render_digest(plan: DigestPlan, now: datetime) -> discord.Embed:
    scope = "the whole org" if "*" in plan.projects else ", ".join(plan.projects)
    embed = discord.Embed(
        title="New beginner issues this week",
        description="\n\n".join(_item_line(s, age_text(now - s.created_at)) for s in plan.items)[:4000],
        colour=discord.Colour.green(),
    )
    embed.add_field(name="Subscribed to", value=_clean(scope, 1000), inline=False)
    embed.add_field(name="How to start", value=f"[Pallets contributing guide]({CONTRIBUTING_URL})", inline=False)
    embed.set_footer(text=RULE + " Stop these with /eco unsubscribe.")
    return embed


class Contribute(EcoCog):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        deps = bot.deps
        self.service = SuggestionService(deps.db, deps.github, deps.clock, bot.settings)

    async def cog_load(self) -> None:
        await super().cog_load()
        if self.bot.deps.start_background_tasks:
            self.refresh_loop.change_interval(minutes=self.bot.settings.contribute.refresh_minutes)
            self.refresh_loop.start()
            self.digest_loop.start()

    async def cog_unload(self) -> None:
        self.refresh_loop.cancel()
        self.digest_loop.cancel()
        await self.service.close()
        await super().cog_unload()

    def render(self, answer: Suggestions) -> discord.Embed:
        return render_suggestions(answer, self.bot.deps.clock.now())

    # ----- commands -------------------------------------------------------------------------------

    @app_commands.command(name="contribute", description="Find an open beginner issue (or docs/tests work) to start on")
    @app_commands.describe(project="A pallets-eco repository (optional)", kind="What kind of work (optional)")
    @app_commands.choices(kind=[app_commands.Choice(name=k, value=k) for k in KINDS])
    async def contribute(
        self, interaction: discord.Interaction, project: str | None = None, kind: str = "any"
    ) -> None:
        # Acknowledge before touching the database: reading the cache and recording what was shown
        # queue behind each other (and behind a refresh's writes) when many people ask at once.
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer = await self.service.suggest(interaction.user.id, project, kind)
        if answer.preparing:
            # First start: nothing cached yet. Fetch once (bounded), then answer.
            await self.first_fill()
            answer = await self.service.suggest(interaction.user.id, project, kind)
        if answer.preparing:
            await interaction.edit_original_response(
                content="The list of issues is being prepared. Try again in a minute."
            )
            return
        # The deferral's loading message becomes the answer (a followup for it is deprecated by Discord).
        await interaction.edit_original_response(
            content=notes_for(answer) or None,
            embed=self.render(answer),
            view=suggestion_view(answer),
        )

    @contribute.autocomplete("project")
    async def project_autocomplete(self, interaction: discord.Interaction, current: str):
        names = await self.service.project_names(current)
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names]

    @app_commands.command(name="subscribe", description="Get a weekly DM with new beginner issues")
    @app_commands.describe(project="Only this repository (default: the whole org)")
    async def subscribe(self, interaction: discord.Interaction, project: str | None = None) -> None:
        what, new = await self.service.subscribe(interaction.user.id, project)
        scope = "every pallets-eco repository" if what == "*" else what
        lead = "Subscribed" if new else "You were already subscribed"
        await interaction.response.send_message(
            f"{lead}: once a week I'll DM you new beginner issues in {scope}. If your DMs are closed, "
            "I'll mention you in the digest thread of the eco channel instead. `/eco unsubscribe` stops it.",
            ephemeral=True,
        )

    @subscribe.autocomplete("project")
    async def subscribe_autocomplete(self, interaction: discord.Interaction, current: str):
        return await self.project_autocomplete(interaction, current)

    @app_commands.command(name="unsubscribe", description="Stop the weekly beginner-issue digest")
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        removed = await self.service.unsubscribe(interaction.user.id)
        text = "Done: no more weekly digests." if removed else "You had no digest subscription."
        await interaction.response.send_message(text, ephemeral=True)

    # ----- background work ------------------------------------------------------------------------

    async def first_fill(self) -> RefreshResult | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self.service.refresh()), FIRST_FILL_TIMEOUT)
        except TimeoutError:
            log.info("first contribute refresh still running; answering without it")
            return None

    @tasks.loop(minutes=15)
    async def refresh_loop(self) -> None:
        try:
            await self.service.refresh()
        except Exception:
            log.exception("contribute refresh failed")

    @tasks.loop(hours=1)
    async def digest_loop(self) -> None:
        try:
            await self.run_digest_once()
        except Exception:
            log.exception("contribute digest failed")

    @refresh_loop.before_loop
    @digest_loop.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def run_digest_once(self) -> DigestRun:
        return await self.service.run_digest_once(self.send_digest)

    async def send_digest(self, plan: DigestPlan) -> str:
        embed = render_digest(plan, self.bot.deps.clock.now())
        user = self.bot.get_user(plan.user_id) or await self.bot.fetch_user(plan.user_id)
        try:
            await user.send(embed=embed)
            return "dm"
        except discord.Forbidden as exc:
            if exc.code != DM_CLOSED:
                raise
        except discord.HTTPException as exc:
            if exc.code == DM_TOO_FAST:  # a 400, not a 429: discord.py doesn't retry it; the service does
                raise DmTooFast() from exc
            raise
        thread = await self._digest_thread()
        await thread.send(
            content=f"<@{plan.user_id}> your weekly beginner issues (your DMs are closed):",
            embed=embed,
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(plan.user_id)]),
        )
        return "thread"

    async def _digest_thread(self) -> discord.Thread:
        """The eco channel's digest thread, created once and remembered across restarts."""
        async with self.bot.deps.db() as s:
            row = await s.get(BotState, DIGEST_THREAD_KEY)
            if row is not None:
                try:
                    channel = self.bot.get_channel(int(row.value)) or await self.bot.fetch_channel(int(row.value))
                    if isinstance(channel, discord.Thread):
                        if channel.archived:
                            await channel.edit(archived=False)
                        return channel
                except discord.NotFound:
                    pass
            eco = self.bot.get_channel(self.bot.settings.discord.eco_channel_id)
            if not isinstance(eco, discord.TextChannel):
                raise DomainError("The eco channel is not available for the digest thread.")
            thread = await eco.create_thread(
                name=DIGEST_THREAD_NAME, type=discord.ChannelType.public_thread, auto_archive_duration=10080
            )
            if row is None:
                s.add(BotState(key=DIGEST_THREAD_KEY, value=str(thread.id)))
            else:
                row.value = str(thread.id)
            await s.commit()
            return thread


async def setup(bot: EcoBot) -> None:
    bot.add_dynamic_items(MoreButton, PublicButton)
    await bot.add_cog(Contribute(bot))
