"""Newcomer replies: the one-time welcome, automatic FAQ answers, `/eco faq`, "Answer with FAQ",
"Not helpful" and `/eco faq-stats`. Decisions live in bot.services.newcomers."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import DomainError, NotFoundError
from bot.services.faq import FaqBook, FaqTopic, load_faq, topic_embed
from bot.services.newcomers import SHIPPED_FAQ, Decision, IncomingMessage, NewcomerService
from cogs._base import EcoCog, GuardedDynamicItem, custom_id_template, require_maintainer

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

WELCOME = (
    "Welcome to #pallets-eco! This channel is where the community maintains Flask, Click, Jinja and "
    "Werkzeug extensions together in the pallets-eco organisation. Introduce yourself here to join "
    "the org.\n"
    "- `/eco transfer`: move an extension you own into the org\n"
    "- `/eco contribute`: find an open issue to start on\n"
    "- `/eco faq`: answers to the common questions"
)
UNSURE = "I'm not sure which question that is. `/eco faq` lists the topics I can answer."
DID_YOU_MEAN = (
    "I'm not sure which question that is. Did you mean one of these? The answer shows only to whoever presses; "
    "`/eco faq` lists every topic."
)


ORDINARY_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def is_ordinary(message: discord.Message) -> bool:
    """A member's post or reply; not a system notice (member join, pin, thread created ...)."""
    return message.type in ORDINARY_TYPES


def missing_reply_permissions(perms: discord.Permissions, *, in_thread: bool) -> list[str]:
    """What the bot lacks to reply with an embed: a reply needs Read Message History too."""
    needed = [
        ("View Channel", perms.view_channel),
        ("Send Messages in Threads" if in_thread else "Send Messages",
         perms.send_messages_in_threads if in_thread else perms.send_messages),
        ("Embed Links", perms.embed_links),
        ("Read Message History", perms.read_message_history),
    ]
    return [name for name, ok in needed if not ok]


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"


def faq_path(bot: EcoBot) -> Path:
    return Path(bot.settings.faq.path) if bot.settings.faq.path else SHIPPED_FAQ


def render_topic(topic: FaqTopic, *, automatic: bool) -> discord.Embed:
    # The same rendering load_faq checked against Discord's embed limits.
    embed = discord.Embed.from_dict(topic_embed(topic, automatic=automatic))
    embed.colour = discord.Colour.green()
    return embed


class NotHelpfulButton(
    GuardedDynamicItem[discord.ui.Button],
    template=custom_id_template(r"eco:faq:nothelpful:(?P<topic>[a-z0-9-]{1,64})"),
):
    def __init__(self, topic_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Not helpful",
                style=discord.ButtonStyle.secondary,
                custom_id=f"eco:faq:nothelpful:{topic_id}",
            )
        )
        self.topic_id = topic_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(match["topic"])

    async def handle(self, interaction: discord.Interaction) -> None:
        cog: Faq | None = interaction.client.get_cog("Faq")  # type: ignore[union-attr]
        if cog is None or interaction.message is None:
            raise DomainError("This answer can't take feedback right now.")
        if cog.service.faq.get(self.topic_id) is None:
            # The topic was removed from faq.toml since this answer was posted.
            raise NotFoundError("That FAQ topic no longer exists, so there is nothing to improve here.")
        counted = await cog.service.not_helpful(self.topic_id, interaction.message.id, interaction.user.id)
        text = "Thanks, noted: maintainers use this to improve the answers." if counted else (
            "You already told me, thanks."
        )
        await interaction.response.send_message(text, ephemeral=True)


class ShowTopicButton(
    GuardedDynamicItem[discord.ui.Button],
    template=custom_id_template(r"eco:faq:show:(?P<topic>[a-z0-9-]{1,50})"),
):
    """A "did you mean" choice: shows that topic's answer to whoever presses it, only to them. Stateless, so
    it works after a restart; anyone may press it (it reveals nothing but a public FAQ answer)."""

    def __init__(self, topic_id: str, label: str = "Show answer") -> None:
        super().__init__(
            discord.ui.Button(label=label[:80], style=discord.ButtonStyle.primary, custom_id=f"eco:faq:show:{topic_id}")
        )
        self.topic_id = topic_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(match["topic"])

    async def handle(self, interaction: discord.Interaction) -> None:
        cog: Faq | None = interaction.client.get_cog("Faq")  # type: ignore[union-attr]
        topic = cog.service.faq.get(self.topic_id) if cog is not None else None
        if topic is None:
            raise NotFoundError("That FAQ topic no longer exists. `/eco faq` lists the current ones.")
        await interaction.response.send_message(embed=render_topic(topic, automatic=False), ephemeral=True)


def suggestion_view(topics: tuple[FaqTopic, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for topic in topics[:3]:
        view.add_item(ShowTopicButton(topic.id, topic.title))
    return view


def answer_view(topic: FaqTopic) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(NotHelpfulButton(topic.id))
    return view


class Faq(EcoCog):
    def __init__(self, bot: EcoBot, book: FaqBook) -> None:
        super().__init__(bot)
        self.service = NewcomerService(bot.deps.db, book, bot.deps.clock, bot.settings.faq)
        self.menu = app_commands.ContextMenu(name="Answer with FAQ", callback=self.answer_with_faq)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        await super().cog_load()
        await self.service.load()
        self.bot.tree.add_command(self.menu)
        self.bot.message_handler = self.on_message

    async def cog_unload(self) -> None:
        if self.bot.message_handler == self.on_message:
            self.bot.message_handler = None
        await super().cog_unload()
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # ----- commands -------------------------------------------------------------------------------

    @app_commands.command(name="faq", description="Post the answer to a common question")
    @app_commands.describe(topic="The question to answer", user="Someone to mention with the answer (optional)")
    async def faq(
        self, interaction: discord.Interaction, topic: str, user: discord.Member | None = None
    ) -> None:
        found = self.service.faq.get(topic)
        if found is None:
            raise NotFoundError("I don't know that topic. Pick one from the list as you type.")
        if user is not None and not self.bot.is_maintainer(interaction.user):
            wait = self.service.take_ping(interaction.user.id, user.id)
            if wait:
                raise DomainError(
                    "`/eco faq` mentions someone at most once every "
                    f"{_duration(self.bot.settings.faq.ping_cooldown_seconds)} (per member giving it and per "
                    f"member named): try again in {_duration(wait)}, or leave out `user`."
                )
        mention = user.mention if user is not None else None
        await interaction.response.send_message(
            content=mention,
            embed=render_topic(found, automatic=False),
            # Only the member explicitly given is pinged: never a role, @everyone or anyone else.
            allowed_mentions=discord.AllowedMentions(
                users=[user] if user else False, roles=False, everyone=False, replied_user=False
            ),
        )

    @faq.autocomplete("topic")
    async def faq_topic_autocomplete(self, interaction: discord.Interaction, current: str):
        return [
            app_commands.Choice(name=t.title[:100], value=t.id) for t in self.service.faq.search(current)[:25]
        ]

    @app_commands.command(name="faq-stats", description="Maintainers: answers given and \"Not helpful\" presses")
    async def faq_stats(self, interaction: discord.Interaction) -> None:
        require_maintainer(interaction)
        rows = await self.service.stats()
        lines = [f"`{r.topic_id}`: {r.answers} answers, {r.not_helpful} not helpful" for r in rows]
        embed = discord.Embed(title="FAQ feedback", description="\n".join(lines)[:4000] or "No topics.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def answer_with_faq(self, interaction: discord.Interaction, message: discord.Message) -> None:
        require_maintainer(interaction)
        if not is_ordinary(message):
            await interaction.response.send_message(
                "That is a system notice (a join, pin or new thread), not a question: Discord doesn't allow "
                "replies to it.",
                ephemeral=True,
            )
            return
        in_thread = isinstance(message.channel, discord.Thread)
        missing = missing_reply_permissions(interaction.app_permissions, in_thread=in_thread)
        if missing:
            # Checked before anything is promised: a reply without these fails after "Answering ...".
            await interaction.response.send_message(
                f"I can't reply in this channel: I'm missing **{', '.join(missing)}** here. Ask a server admin "
                "to grant it, or post the answer with `/eco faq topic:<topic> user:<member>`.",
                ephemeral=True,
            )
            return
        match = self.service.faq.match(message.content or "")
        if match is None:
            await interaction.response.send_message(
                "No confident match for that message. Use `/eco faq topic:<topic> user:<member>` instead.",
                ephemeral=True,
            )
            return
        # Noted before anything is awaited: an automatic answer still waiting out its delay must
        # see it, or the member would get the same answer twice.
        self.service.note_maintainer_answer(message.id)
        already = await self.service.answered_topic(message.id)
        if already is not None:
            done = self.service.faq.get(already)
            await interaction.response.send_message(
                f"I already answered that message with **{done.title if done else already}**.", ephemeral=True
            )
            return
        await interaction.response.send_message(f"Answering with **{match.topic.title}**.", ephemeral=True)
        reply = await message.reply(
            embed=render_topic(match.topic, automatic=True),
            view=answer_view(match.topic),
            mention_author=False,
        )
        await self.service.record_answer(
            topic_id=match.topic.id,
            channel_id=message.channel.id,
            user_id=message.author.id,
            message_id=message.id,
            reply_message_id=reply.id,
            automatic=False,
        )

    # ----- the listener ---------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:  # called by EcoBot.on_message
        incoming = self._incoming(message)
        if incoming is None:
            return
        decision = self.service.consider(incoming)
        if decision.speaks:
            self.bot.spawn(self._speak(message, decision), name=f"faq-reply-{message.id}")

    def _incoming(self, message: discord.Message) -> IncomingMessage | None:
        if message.guild is None or message.guild.id != self.bot.settings.discord.guild_id:
            return None
        channel = message.channel
        eco = self.bot.settings.discord.eco_channel_id
        in_thread = isinstance(channel, discord.Thread)
        if (channel.parent_id if in_thread else channel.id) != eco:
            return None
        me = self.bot.user
        reference = message.reference.message_id if message.reference else None
        joined_at = getattr(message.author, "joined_at", None)
        return IncomingMessage(
            message_id=message.id,
            channel_id=channel.id,
            guild_id=message.guild.id,
            author_id=message.author.id,
            author_is_bot=message.author.bot,
            author_is_maintainer=self.bot.is_maintainer(message.author),
            content=message.content,
            mentions_bot=me is not None and me in message.mentions,
            in_thread=in_thread,
            thread_started_by_bot=in_thread and me is not None and channel.owner_id == me.id,
            reply_to_message_id=reference,
            mentioned_user_ids=frozenset(user.id for user in message.mentions),
            joined_at=joined_at,
            ordinary=is_ordinary(message),
        )

    @staticmethod
    def _can_reply(message: discord.Message) -> bool:
        me = message.guild.me if message.guild is not None else None
        channel = message.channel
        if me is None or not hasattr(channel, "permissions_for"):
            return True
        return channel.permissions_for(me).read_message_history  # type: ignore[union-attr]

    async def _speak(self, message: discord.Message, decision: Decision) -> None:
        if decision.topic is not None and self.bot.settings.faq.reply_delay_seconds > 0:
            await asyncio.sleep(self.bot.settings.faq.reply_delay_seconds)
            if self.service.maintainer_replied(
                message.id, channel_id=message.channel.id, author_id=message.author.id, after=decision.order
            ):
                self.service.release_user(message.author.id)
                decision = Decision(welcome=decision.welcome)
        content = WELCOME if decision.welcome else None
        offer = decision.suggestions if decision.unsure and decision.topic is None else ()
        if decision.unsure and decision.topic is None:
            unsure = DID_YOU_MEAN if offer else UNSURE
            content = f"{content}\n\n{unsure}" if content else unsure
        embed = render_topic(decision.topic, automatic=True) if decision.topic else None
        if content is None and embed is None:
            return
        kwargs: dict = {"content": content, "mention_author": False}
        if decision.topic is not None:
            kwargs |= {"embed": embed, "view": answer_view(decision.topic)}
        elif offer:
            kwargs["view"] = suggestion_view(offer)
        # Send and record as one step: a shutdown in between would welcome the member twice.
        async with self.bot.critical():
            try:
                if self._can_reply(message):
                    reply = await message.reply(**kwargs)
                else:
                    # A reply needs Read Message History (Discord answers 403/160002 without it): post in
                    # the channel instead, naming the member without pinging them.
                    kwargs.pop("mention_author")
                    kwargs["content"] = f"{message.author.mention} {kwargs['content'] or ''}".rstrip()
                    reply = await message.channel.send(**kwargs)
            except discord.HTTPException as exc:
                log.warning(
                    "could not reply in channel %s: %s (code %s)", message.channel.id, exc.status, exc.code
                )
                if decision.welcome:
                    self.service.release_welcome(message.guild.id, message.author.id)  # type: ignore[union-attr]
                return
            if decision.welcome:
                await self.service.record_welcome(message.guild.id, message.author.id)  # type: ignore[union-attr]
            if decision.topic is not None:
                await self.service.record_answer(
                    topic_id=decision.topic.id,
                    channel_id=message.channel.id,
                    user_id=message.author.id,
                    message_id=message.id,
                    reply_message_id=reply.id,
                    automatic=True,
                )

async def setup(bot: EcoBot) -> None:
    book = load_faq(faq_path(bot))
    bot.add_dynamic_items(NotHelpfulButton, ShowTopicButton)
    await bot.add_cog(Faq(bot, book))
