"""The maintainers' weekly digest on Discord: `/eco digest`, the weekly post in the review
channel, and the listener that notes questions asked in the eco channel. Decisions and contents live in
bot.services.maintainers_digest; this cog fits them into one embed and posts it.

(`/eco subscribe`'s weekly issue DMs are a different feature: cogs/contribute.py.)"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import tasks

from bot.services.faq import is_question_like
from bot.services.maintainers_digest import WEEKLY_MARKER, Digest, MaintainersDigestService, WeekClaim
from cogs._base import EcoCog, require_maintainer

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

# Discord's embed limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
EMBED_TOTAL = 6000
FIELD_VALUE = 1024
FIELD_NAME = 256
MAX_FIELDS = 25
DESCRIPTION = 4096
TOTAL_BUDGET = 5800  # a margin under 6,000 for the title and footer
HISTORY_SCAN = 50  # messages read back when a taken-over claim may already have been posted
NOTHING = "Nothing needs the maintainers' attention this week."


def _more(n: int) -> str:
    return f"\u2026 and {n} more"


def fit_lines(lines: tuple[str, ...], limit: int, more: int = 0) -> str:
    """As many whole lines as fit in `limit` characters, then "… and N more" for the rest."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        rest_after = len(lines) - i - 1 + more
        reserve = len("\n" + _more(rest_after)) if rest_after else 0
        if used + (1 if out else 0) + len(line) + reserve > limit:
            break
        out.append(line)
        used += (1 if len(out) > 1 else 0) + len(line)
    left = len(lines) - len(out) + more
    if left:
        out.append(_more(left))
    text = "\n".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def render_digest(digest: Digest, *, weekly: bool) -> discord.Embed:
    """One embed within Discord's limits: a field per section (empty sections are left out)."""
    embed = discord.Embed(title=f"Maintainers' digest \u00b7 week {digest.week_key}", colour=discord.Colour.blurple())
    footer = f"{WEEKLY_MARKER} \u00b7 {digest.week_key}" if weekly else "Maintainers' digest, posted on demand"
    embed.set_footer(text=footer)
    notes = "\n".join(f"-# {n}" for n in digest.notes)
    if digest.empty:
        embed.description = (NOTHING + ("\n" + notes if notes else ""))[:DESCRIPTION]
        return embed
    if notes:
        embed.description = notes[:DESCRIPTION]
    used = len(embed.title or "") + len(footer) + len(embed.description or "")
    sections = [s for s in digest.sections if s.lines]
    for n, section in enumerate(sections):
        name = f"{section.title} ({len(section.lines) + section.more})"[:FIELD_NAME]
        left_sections = len(sections) - n - 1
        room = TOTAL_BUDGET - used - len(name) - (len(_more(99)) + 40 if left_sections else 0)
        if len(embed.fields) >= MAX_FIELDS - 1 or room < 80:
            embed.add_field(name="More", value=_more(len(sections) - n) + " sections", inline=False)
            break
        value = fit_lines(section.lines, min(FIELD_VALUE, room), section.more)
        if section.note:
            note = f"\n-# {section.note}"
            if len(value) + len(note) <= min(FIELD_VALUE, room):
                value += note
        embed.add_field(name=name, value=value, inline=False)
        used += len(name) + len(value)
    return embed


class MaintainersDigest(EcoCog, name="MaintainersDigest"):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        self.settings = bot.settings
        self.service = MaintainersDigestService(bot.deps.db, bot.deps.clock, bot.settings)
        # message id -> (channel, author) of open questions: the listener writes only when a message
        # is a question or answers one of these, never for ordinary chat.
        self._open: OrderedDict[int, tuple[int, int]] = OrderedDict()

    async def cog_load(self) -> None:
        await super().cog_load()
        for message_id, channel_id, author_id in reversed(await self.service.open_questions()):
            self._open[message_id] = (channel_id, author_id)
        self.bot.message_observers.append(self.observe)
        if self.bot.deps.start_background_tasks and self.settings.digest.enabled:
            self.weekly_loop.change_interval(minutes=self.settings.digest.check_minutes)
            self.weekly_loop.start()

    async def cog_unload(self) -> None:
        self.weekly_loop.cancel()
        if self.observe in self.bot.message_observers:
            self.bot.message_observers.remove(self.observe)
        await super().cog_unload()

    # ----- the command ----------------------------------------------------------------------------

    @app_commands.command(
        name="digest", description="Maintainers: post the maintainers' digest in the review channel now"
    )
    async def digest(self, interaction: discord.Interaction) -> None:
        require_maintainer(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = await self._review_channel()
        if channel is None:
            await interaction.edit_original_response(content="I can't see the review channel: `python -m bot check` "
                                                             "says what is wrong.")
            return
        digest = await self.service.build()
        message = await channel.send(embed=render_digest(digest, weekly=False),
                                     allowed_mentions=discord.AllowedMentions.none())
        await interaction.edit_original_response(content=f"Posted the maintainers' digest: {message.jump_url}")

    # ----- the weekly post --------------------------------------------------------------------------

    @tasks.loop(minutes=5)
    async def weekly_loop(self) -> None:
        try:
            await self.post_weekly()
        except Exception:
            log.exception("maintainers' digest: weekly post failed")

    @weekly_loop.before_loop
    async def _before_weekly(self) -> None:
        await self.bot.wait_until_ready()

    async def post_weekly(self) -> bool:
        """Post this week's digest if it is due and nobody has: True when this call posted it."""
        if not self.settings.digest.enabled:
            return False
        week = self.service.due_week()
        if week is None:
            return False
        claim = await self.service.claim_week(week)
        if claim is None:
            return False
        channel = await self._review_channel()
        if channel is None:
            return False  # the claim lapses after the lease and the next check tries again
        async with self.bot.critical():
            if claim.reclaimed:
                earlier = await self._already_posted(channel, claim)
                if earlier is not None:
                    await self.service.record_posted(claim, channel.id, earlier)
                    log.info("maintainers' digest %s: found the post of a process that died", week)
                    return False
            digest = await self.service.build(claim.week_key)
            message = await channel.send(embed=render_digest(digest, weekly=True),
                                         allowed_mentions=discord.AllowedMentions.none())
            await self.service.record_posted(claim, channel.id, message.id)
        log.info("maintainers' digest %s posted (message %s)", week, message.id)
        return True

    async def _already_posted(self, channel: Any, claim: WeekClaim) -> int | None:
        """A process killed after sending but before recording: its post is in the channel."""
        me = self.bot.user
        marker = f"{WEEKLY_MARKER} \u00b7 {claim.week_key}"
        try:
            async for message in channel.history(limit=HISTORY_SCAN):
                if me is not None and message.author.id == me.id and any(
                    (e.footer.text or "") == marker for e in message.embeds
                ):
                    return message.id
        except discord.HTTPException as exc:
            log.warning("maintainers' digest: can't read the review channel's history (%s)", exc.status)
        return None

    async def _review_channel(self) -> Any:
        channel_id = self.settings.discord.review_channel_id
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                log.error("maintainers' digest: discord.review_channel_id %s is missing or not visible", channel_id)
                return None
        return channel

    # ----- the question listener --------------------------------------------------------------------

    def observe(self, message: discord.Message) -> None:
        """Called for every ordinary message: in-memory checks; a write only for a question or an answer."""
        if message.guild is None or message.guild.id != self.settings.discord.guild_id or message.author.bot:
            return
        channel = message.channel
        in_thread = isinstance(channel, discord.Thread)
        if (channel.parent_id if in_thread else channel.id) != self.settings.discord.eco_channel_id:
            return
        author = message.author.id
        answered = []
        reference = message.reference.message_id if message.reference else None
        # A reply lists the replied-to author among its mentions: then only the reference counts.
        mentioned = set() if reference is not None else {user.id for user in message.mentions}
        if reference in self._open and self._open[reference][1] != author:
            answered.append(reference)
        elif mentioned or in_thread:  # a scan of the open questions only for these (bounded by max_questions)
            for qid, (qchannel, asker) in self._open.items():
                if asker != author and qchannel == channel.id and (asker in mentioned or in_thread):
                    answered.append(qid)
        if answered:
            for qid in answered:
                self._open.pop(qid, None)
            self.bot.spawn(self.service.mark_answered(answered), name="digest-question-answered")
            return
        text = self._question_text(message)
        if text and not self.bot.is_maintainer(message.author) and is_question_like(text):
            self._open[message.id] = (channel.id, author)
            while len(self._open) > self.settings.digest.max_questions:
                self._open.popitem(last=False)
            self.bot.spawn(
                self.service.record_question(message.id, channel.id, author, text), name="digest-question"
            )

    def _question_text(self, message: discord.Message) -> str:
        content = message.content or ""
        me = self.bot.user
        if me is not None:
            content = content.replace(f"<@{me.id}>", "").replace(f"<@!{me.id}>", "")
        return content.strip()


async def setup(bot: EcoBot) -> None:
    await bot.add_cog(MaintainersDigest(bot))
