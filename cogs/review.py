"""Maintainer review on Discord: the review card, reaction votes, decisions, tracking to completion.

Decisions live in `bot.services.review` and progress in `bot.services.tracking`; this cog only turns
Discord events into service calls and posts what they return (rendered by `cogs.review_render`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.services.review import ITEM_BY_KEY, OPEN, REVIEWABLE, VOTE_EMOJIS, ReviewService, VoteOutcome
from bot.services.tracking import TrackingResult, TrackingService
from cogs import review_render as render
from cogs._base import (
    STRAY_VOTE_REASONS,
    EcoCog,
    GuardedDynamicItem,
    GuardedModal,
    card_reaction_emoji,
    custom_id_template,
    modal_values,
    remove_stray_reaction,
    require_maintainer,
)

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

DM_CLOSED = 50007
_ID = r"(?P<request_id>[0-9]{1,12})"


def _cog(interaction: discord.Interaction) -> Review:
    cog = interaction.client.get_cog("Review")  # type: ignore[union-attr]
    if not isinstance(cog, Review):
        raise RuntimeError("review cog not loaded")
    return cog


class ConfirmButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:review:confirm:{_ID}")):
    """The second step that approves an unverified or "not accepted" request."""

    def __init__(self, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Confirm approval", style=discord.ButtonStyle.danger, custom_id=f"eco:review:confirm:{request_id}"
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).confirm(interaction, self.request_id)


class ReasonButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:review:reason:{_ID}")):
    """Posted in the review thread after a rejection: opens a form for the reason."""

    def __init__(self, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Give the reason", style=discord.ButtonStyle.primary, custom_id=f"eco:review:reason:{request_id}"
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        require_maintainer(interaction)
        review = _cog(interaction).review
        await review.check_not_requester(self.request_id, interaction.user.id, "explain the rejection of")
        await interaction.response.send_modal(ReasonModal(self.request_id))


REASON_FORM_ID = re.compile(rf"eco:review:reasonform:{_ID}")


class ReasonModal(GuardedModal):
    """The rejection-reason form. Layout only (stopped before it is sent, like the transfer form): the
    submission is handled by `Review.on_interaction` from its custom_id, so a reason written for an
    hour, or across a restart, still arrives (an in-memory modal dies after its timeout or with the
    process, and the maintainer's text with it)."""

    def __init__(self, request_id: int) -> None:
        super().__init__(
            title="Why was this request rejected?", timeout=None, custom_id=f"eco:review:reasonform:{request_id}"
        )
        self.reason = discord.ui.TextInput(
            label="Reason (sent to the requester)",
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            max_length=1500,
        )
        self.add_item(self.reason)
        self.stop()


def requester_thread_greeting(request_id: int, repo: str, requester_id: int) -> str:
    """Requester-facing only: the maintainers' discussion stays on the card in the review channel."""
    return (
        f"<@{requester_id}> This private thread is about your transfer request #{request_id} "
        f"(**{render.safe(repo, 200)}**). Maintainers are reviewing it. The bot sends you news by DM, or here "
        "when your DMs are closed; `/eco status` shows where it stands at any time."
    )


def _is_private_thread(channel: Any) -> bool:
    return isinstance(channel, discord.Thread) and channel.type is discord.ChannelType.private_thread


class Review(EcoCog, name="Review"):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        deps = bot.deps
        self.settings = bot.settings
        self.review = ReviewService(deps.db, deps.clock, bot.settings, deps.github)
        self.tracking = TrackingService(deps.db, deps.github, deps.pypi, deps.clock, bot.settings)
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: set[int] = set()
        self.started_at = deps.clock.now()  # claims older than this were made by an earlier process

    async def cog_load(self) -> None:
        await super().cog_load()
        if self.bot.deps.start_background_tasks:
            self.tracking_loop.change_interval(minutes=self.settings.tracking.interval_minutes)
            self.tracking_loop.start()

    async def cog_unload(self) -> None:
        self.tracking_loop.cancel()
        await super().cog_unload()

    # ----- posting and refreshing the card --------------------------------------------------------

    def _lock(self, request_id: int) -> asyncio.Lock:
        return self._locks.setdefault(request_id, asyncio.Lock())

    async def _channel(self, channel_id: int | None, setting: str | None = None) -> Any:
        if channel_id is None:
            return None
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                if setting:  # a configured channel: say which key to fix
                    log.error("review: %s %s is missing or not visible to the bot: fix the setting or the "
                              "bot's View Channel permission (`python -m bot check` lists what is wrong)",
                              setting, channel_id)
                else:
                    log.error("review: channel %s is missing or not visible to the bot", channel_id)
                return None
        return channel

    async def post_card(self, request_id: int) -> None:
        async with self._lock(request_id):
            data = await self.review.card_data(request_id)
            if data.request.review_message_id is not None or data.request.state not in ("submitted", "under_review"):
                return  # already posted (a duplicate event) or no longer waiting for review
            await self._send_card(request_id, new_thread=True)

    async def _send_card(self, request_id: int, *, new_thread: bool) -> None:
        channel_id = self.settings.discord.review_channel_id
        channel = await self._channel(channel_id, "discord.review_channel_id")
        if channel is None:
            return
        data = await self.review.card_data(request_id)
        try:
            message = await channel.send(embed=render.render_card(data, self.settings))
        except discord.HTTPException as exc:
            log.error("review: can't post the card in channel %s (%s): check the bot's permissions there",
                      channel_id, exc.status)
            return
        # Stored before the reactions go on, so a maintainer who votes at once is counted.
        await self.review.card_posted(request_id, channel_id=channel_id, message_id=message.id, thread_id=None)
        # Reactions and the thread fail independently: missing Add Reactions must not cost the thread.
        try:
            # A card posted again after the decision gets no voting reactions: there is nothing to vote on.
            for emoji in VOTE_EMOJIS if data.request.state in REVIEWABLE else ():
                await message.add_reaction(emoji)
        except discord.NotFound:
            return  # deleted meanwhile: the delete event posts it again
        except discord.HTTPException as exc:
            log.error("review: can't add the voting reactions to card %s (%s): missing Add Reactions?",
                      message.id, exc.status)
        if new_thread:
            try:
                thread_id = await self._open_thread(message, data)
            except discord.NotFound:
                return
            except discord.HTTPException as exc:
                log.error("review: can't open the discussion thread for card %s (%s): missing permissions?",
                          message.id, exc.status)
            else:
                await self.review.card_posted(
                    request_id, channel_id=channel_id, message_id=message.id, thread_id=thread_id
                )
        try:
            await self._edit_card(request_id, message)
        except discord.NotFound:
            return

    async def _open_thread(self, message: discord.Message, data: render.CardData) -> int | None:
        # The maintainers' thread is always on the card (a thread started from a message is public): the
        # review channel's readers see it. In "requester" mode the requester gets their own private
        # thread as well, for requester-facing news only.
        name = f"#{data.request.id} {data.request.repo_full_name}"[:100]
        thread = await message.create_thread(name=name, auto_archive_duration=10080)
        await thread.send(
            f"Discussion of transfer request #{data.request.id}. Vote with reactions on the card; "
            "the bot posts updates here."
        )
        has_one = data.tracking is not None and data.tracking.requester_thread_id is not None
        if self.settings.review.thread_mode == "requester" and not has_one:
            await self._create_requester_thread(data.request.id, data, greet=True)
        return thread.id

    def refresh_card(self, request_id: int) -> None:
        """Re-render the card soon; bursts of events (50 reactions) coalesce into few edits."""
        if request_id in self._queued:
            return
        self._queued.add(request_id)
        self.bot.spawn(self._refresh(request_id), name=f"review-card-{request_id}")

    async def _refresh(self, request_id: int) -> None:
        async with self._lock(request_id):
            self._queued.discard(request_id)
            data = await self.review.card_data(request_id)
            r = data.request
            if r.review_message_id is None:
                if r.state == "submitted":
                    await self._send_card(request_id, new_thread=True)
                return
            channel = await self._channel(r.review_channel_id)
            if channel is None:
                return
            try:
                await self._edit_card(request_id, channel.get_partial_message(r.review_message_id))
            except discord.NotFound:
                if r.state not in OPEN:
                    return  # the card of a finished request is history: deleting it is allowed
                log.info("review card of request %s was deleted; posting it again", request_id)
                await self._send_card(request_id, new_thread=r.review_thread_id is None)

    async def _edit_card(self, request_id: int, message: discord.PartialMessage | discord.Message) -> None:
        data = await self.review.card_data(request_id)
        view = None
        if data.awaiting_confirmation:
            view = discord.ui.View(timeout=None)
            view.add_item(ConfirmButton(request_id))
        await message.edit(embed=render.render_card(data, self.settings), view=view)

    # ----- listeners ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_transfer_submitted(self, request_id: int) -> None:
        # Through spawn: logged on failure, cancelled cleanly on shutdown (the card is re-posted on start).
        await self.bot.spawn(self.post_card(request_id), name=f"review-card-{request_id}")

    @commands.Cog.listener()
    async def on_transfer_updated(self, request_id: int) -> None:
        # Verified after the maintainers approved: their votes decide now (no confirm button left to press).
        await self.handle_outcome(await self.review.reconsider(request_id))
        self.refresh_card(request_id)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.channel_id != self.settings.discord.review_channel_id:
            return
        request_id = await self.review.request_for_message(payload.message_id)
        if request_id is not None:
            self.refresh_card(request_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        # A moderator's purge of the review channel takes cards with it: post them again too.
        if payload.channel_id != self.settings.discord.review_channel_id:
            return
        for message_id in payload.message_ids:
            request_id = await self.review.request_for_message(message_id)
            if request_id is not None:
                self.refresh_card(request_id)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, added=False)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        emoji = card_reaction_emoji(self.bot, payload)
        if emoji is None:
            return
        request_id = await self.review.request_for_message(payload.message_id)
        if request_id is None:
            return
        # REACTION_REMOVE carries no member; only maintainers' votes are stored, so removing is safe.
        is_maintainer = self.bot.is_maintainer(payload.member) if added else True
        outcome = await self.review.record_vote(request_id, payload.user_id, emoji, is_maintainer, added)
        if added and outcome.reason in STRAY_VOTE_REASONS:
            await remove_stray_reaction(self.bot, payload)
        await self.handle_outcome(outcome)

    async def handle_outcome(self, outcome: VoteOutcome) -> None:
        if outcome.changed or outcome.awaiting_confirmation:
            self.refresh_card(outcome.request_id)
        if outcome.decision == "approved":
            self.bot.spawn(self.after_approval(outcome.request_id), name=f"review-approved-{outcome.request_id}")
        elif outcome.decision == "rejected":
            self.bot.spawn(
                self.after_rejection(outcome.request_id, outcome.decided_by),
                name=f"review-rejected-{outcome.request_id}",
            )

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.bot.spawn(self.catch_up(), name="review-catch-up")

    async def catch_up(self) -> None:
        """Apply what happened while the bot was offline: unposted cards and reactions, and approvals
        whose requester was not told yet (the bot stopped between the decision and the message)."""
        for request_id in await self.review.requests_without_card():
            await self.post_card(request_id)
        for request_id in await self.review.unnotified_approvals(self.started_at):
            await self.tell_next_steps(request_id)
        for request_id, channel_id, message_id, state in await self.review.open_cards():
            channel = await self._channel(channel_id)
            if channel is None:
                continue
            try:
                message = await channel.fetch_message(message_id)
            except discord.NotFound:
                self.refresh_card(request_id)  # deleted while we were away: posts it again
                continue
            except discord.HTTPException:
                log.warning("review: could not read card %s", message_id)
                continue
            if state not in REVIEWABLE:
                continue  # a transfer being tracked: its card exists, votes no longer matter
            reactions, maintainers = await self._read_reactions(message)
            outcome = await self.review.sync_votes(request_id, reactions, maintainers)
            await self.handle_outcome(outcome)

    async def _read_reactions(self, message: discord.Message) -> tuple[dict[str, set[int]], set[int]]:
        reactions: dict[str, set[int]] = {}
        for reaction in message.reactions:
            if str(reaction.emoji) in VOTE_EMOJIS:
                reactions[str(reaction.emoji)] = {u.id async for u in reaction.users() if not u.bot}
        maintainers = set()
        guild = message.guild
        for user_id in set().union(*reactions.values()) if reactions else set():
            member = guild.get_member(user_id) if guild else None
            if member is None and guild is not None:
                try:
                    member = await guild.fetch_member(user_id)
                except discord.HTTPException:
                    member = None
            if self.bot.is_maintainer(member):
                maintainers.add(user_id)
        return reactions, maintainers

    # ----- after a decision -----------------------------------------------------------------------

    async def _thread_send(self, request_id: int, content: str, **kwargs: Any) -> None:
        """Maintainer-facing text: the card's thread, else the review channel (never a private thread,
        which maintainers without Manage Threads can't see)."""
        async with self._lock(request_id):  # a card being posted gets its thread first
            data = await self.review.card_data(request_id)
        thread = await self._channel(data.request.review_thread_id)
        if thread is None or _is_private_thread(thread):
            thread = await self._channel(self.settings.discord.review_channel_id, "discord.review_channel_id")
        if thread is None:
            return
        try:
            await thread.send(content, **kwargs)
        except discord.HTTPException as exc:
            log.warning("review: could not post in the thread of request %s: %s", request_id, exc.status)

    async def tell_requester(self, request_id: int, content: str, *, nonce: str | None = None) -> str:
        """DM the requester; with DMs closed, use a private thread they are in. Returns where it went.
        A `nonce` (at most 25 characters) makes Discord deduplicate a resend of the same message
        (Create Message `enforce_nonce`, which discord.py always sets with a nonce)."""
        data = await self.review.card_data(request_id)
        requester = data.request.requester_id
        once: dict[str, Any] = {"nonce": nonce} if nonce else {}
        try:
            user = self.bot.get_user(requester) or await self.bot.fetch_user(requester)
            await user.send(content, **once)
            return "dm"
        except discord.Forbidden as exc:
            if exc.code != DM_CLOSED:
                log.warning("review: DM to the requester of %s refused (%s)", request_id, exc.code)
        except discord.HTTPException as exc:
            log.warning("review: DM to the requester of %s failed (%s)", request_id, exc.status)
        thread = await self._requester_thread(request_id, data)
        if thread is None:
            return "failed"
        mention = discord.AllowedMentions(users=[discord.Object(requester)])
        try:
            await thread.send(f"<@{requester}> {content}", allowed_mentions=mention, **once)
        except discord.HTTPException as exc:
            log.error("review: could not reach the requester of %s in thread %s (%s)", request_id, thread.id,
                      exc.status)
            return "failed"
        return "thread"

    async def _requester_thread(self, request_id: int, data: render.CardData) -> Any:
        if data.tracking is not None and data.tracking.requester_thread_id:
            found = await self._channel(data.tracking.requester_thread_id)
            if found is not None:
                return found
        if self.settings.review.thread_mode == "requester" and data.request.review_thread_id:
            # Opened by an older version as the request's only thread: it is the requester's.
            legacy = await self._channel(data.request.review_thread_id)
            if _is_private_thread(legacy):
                return legacy
        return await self._create_requester_thread(request_id, data)

    async def _create_requester_thread(self, request_id: int, data: render.CardData, *, greet: bool = False) -> Any:
        eco = await self._channel(self.settings.discord.eco_channel_id, "discord.eco_channel_id")
        if eco is None:
            return None
        requester = data.request.requester_id
        try:
            # Not `invitable=False`: on such a thread only moderators (Manage Threads) may add anyone, the
            # bot included (discord-api-docs, thread metadata `invitable`), and the bot is not one.
            thread = await eco.create_thread(
                name=f"Transfer #{request_id} {data.request.repo_full_name}"[:100],
                type=discord.ChannelType.private_thread,
                auto_archive_duration=10080,
            )
            await thread.add_user(discord.Object(requester))
        except discord.HTTPException as exc:
            log.error("review: can't open a private thread in channel %s for request %s (%s)", eco.id, request_id,
                      exc.status)
            return None
        await self.review.set_requester_thread(request_id, thread.id)
        if greet:
            try:
                await thread.send(
                    requester_thread_greeting(data.request.id, data.request.repo_full_name, requester),
                    allowed_mentions=discord.AllowedMentions(users=[discord.Object(requester)]),
                )
            except discord.HTTPException as exc:
                log.warning("review: could not greet in the requester's thread of %s (%s)", request_id, exc.status)
        return thread

    async def after_approval(self, request_id: int) -> None:
        data = await self.review.card_data(request_id)
        await self._thread_send(request_id, f"Approved by <@{data.request.decided_by}>.")
        await self.tell_next_steps(request_id)

    async def tell_next_steps(self, request_id: int) -> None:
        """The invitation, then the requester's checklist: claimed in the database so it goes once,
        and recorded when delivered, so a claim the process died holding is sent after a restart."""
        # The invitation first, so the requester's checklist can say whether they are already in the org.
        invitation = await self.review.ensure_invitation(request_id)
        if invitation.report:
            await self._thread_send(request_id, invitation.message)
        if await self.review.mark_requester_notified(request_id, reclaim_before=self.started_at):
            data = await self.review.card_data(request_id)
            # The same nonce from every process: Discord answers a repeat (same author, same nonce, within
            # a few minutes) with the message already created, so dying between the send and
            # `record_requester_told` doesn't deliver the checklist twice on a quick restart.
            where = await self.tell_requester(request_id, render.requester_checklist(data, self.settings),
                                              nonce=f"eco-told-{request_id}")
            if where != "failed":
                await self.review.record_requester_told(request_id, where)
        self.refresh_card(request_id)

    async def after_rejection(self, request_id: int, maintainer_id: int | None) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(ReasonButton(request_id))
        who = f"<@{maintainer_id}>" if maintainer_id else "Maintainers"
        pings = discord.AllowedMentions(users=[discord.Object(maintainer_id)] if maintainer_id else False)
        await self._thread_send(
            request_id,
            f"{who}, this request is rejected. Please give the reason: it is sent to the requester.",
            view=view,
            allowed_mentions=pings,
        )

    async def confirm(self, interaction: discord.Interaction, request_id: int) -> None:
        outcome = await self.review.confirm_approval(
            request_id, interaction.user.id, self.bot.is_maintainer(interaction.user)
        )
        text = "Approved." if outcome.decision == "approved" else "Nothing to confirm: the request is already decided."
        await interaction.response.send_message(text, ephemeral=True)
        await self.handle_outcome(outcome)

    async def save_reason(self, interaction: discord.Interaction, request_id: int, reason: str) -> None:
        stored = await self.review.set_rejection_reason(
            request_id, interaction.user.id, self.bot.is_maintainer(interaction.user), reason
        )
        if not stored:
            await interaction.response.send_message("A reason was already given for this request.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.review.card_data(request_id)
        await self.review.mark_requester_notified(request_id)  # no "reason to follow" notice after this
        where = await self.tell_requester(request_id, render.rejection_message(data.request, reason))
        done = {"dm": "sent to the requester by DM", "thread": "posted to the requester in a private thread"}
        await interaction.edit_original_response(content=f"Thanks: the reason was {done.get(where, 'saved')}.")
        self.refresh_card(request_id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        match = REASON_FORM_ID.fullmatch(str((interaction.data or {}).get("custom_id", "")))
        if match is None:
            return
        try:  # the custom_id is only a key: the role is checked again here and in the service
            require_maintainer(interaction)
            reason = modal_values(dict(interaction.data or {})).get("reason", "")
            await self.save_reason(interaction, int(match["request_id"]), reason)
        except Exception as exc:  # the same routing as a modal's on_error
            await self.bot.report_error(interaction, exc)

    # ----- commands -------------------------------------------------------------------------------

    @app_commands.command(name="queue", description="Maintainers: open transfer requests and what each waits for")
    async def queue(self, interaction: discord.Interaction) -> None:
        require_maintainer(interaction)
        entries = await self.review.queue()
        embeds = [render.render_queue(entries)]
        join = self.bot.get_cog("Join")  # join requests are listed too
        if join is not None:
            # 6,000 characters for all the embeds of one message together.
            embeds.append(await join.queue_embed(6000 - len(embeds[0])))  # type: ignore[attr-defined]
        await interaction.response.send_message(embeds=embeds, ephemeral=True)

    @app_commands.command(name="tick", description="Maintainers: mark a transfer checklist step as done")
    @app_commands.describe(request="Request number (#id on the review card)", item="The step", note="Optional note")
    @app_commands.choices(item=[app_commands.Choice(name=spec.key, value=spec.key) for spec in ITEM_BY_KEY.values()])
    async def tick(
        self, interaction: discord.Interaction, request: int, item: str, note: str | None = None
    ) -> None:
        require_maintainer(interaction)
        result = await self.tracking.tick(
            request, item, interaction.user.id, self.bot.is_maintainer(interaction.user), note
        )
        text = f"Ticked `{item}` on request #{request}." if result.newly_done else f"`{item}` was already done."
        await interaction.response.send_message(text, ephemeral=True)
        self.refresh_card(request)
        if result.new_state == "done":
            await self.finish(request)

    # ----- tracking -------------------------------------------------------------------------------

    @tasks.loop(minutes=10)
    async def tracking_loop(self) -> None:
        try:
            await self.run_tracking_pass()
        except Exception:
            log.exception("tracking pass failed")

    @tracking_loop.before_loop
    async def _before_tracking(self) -> None:
        await self.bot.wait_until_ready()

    async def run_tracking_pass(self) -> TrackingResult:
        result = await self.tracking.run_pass()
        for invitation in result.invitations:
            await self._thread_send(invitation.request_id, invitation.message)
            if invitation.requester_message:
                await self.tell_requester(invitation.request_id, invitation.requester_message)
        days = self.settings.tracking.nudge_after_days
        for progress in result.progress:
            data = await self.review.card_data(progress.request_id)
            for level in progress.nudges:
                if level == "requester":
                    await self.tell_requester(progress.request_id, render.nudge_requester_message(data.request, days))
                else:
                    roles = self.settings.discord.maintainer_role_ids
                    await self._thread_send(
                        progress.request_id,
                        render.nudge_maintainers_message(data, self.settings, roles, 2 * days),
                        allowed_mentions=discord.AllowedMentions(
                            roles=[discord.Object(r) for r in roles],
                            users=[discord.Object(data.request.decided_by)] if data.request.decided_by else False,
                        ),
                    )
            if progress.new_state == "done":
                await self.finish(progress.request_id)
        for request_id in result.changed_ids:
            self.refresh_card(request_id)
        for request_id in await self.review.unexplained_rejections():
            # Nobody wrote the reason down: the requester still learns the outcome, once.
            if await self.review.mark_requester_notified(request_id):
                data = await self.review.card_data(request_id)
                await self.tell_requester(request_id, render.rejection_message(data.request, None))
        return result

    async def finish(self, request_id: int) -> None:
        if not await self.tracking.claim_announcement(request_id):
            return
        data = await self.review.card_data(request_id)
        await self._thread_send(request_id, "Every checklist step is done. Thank you!")
        channel = await self._channel(self.settings.discord.announce_channel, "discord.announce_channel_id")
        if channel is not None:
            try:
                await channel.send(render.announcement(data.request, self.settings))
            except discord.HTTPException:
                log.error("review: can't post the announcement in channel %s", channel.id)


async def setup(bot: EcoBot) -> None:
    bot.add_dynamic_items(ConfirmButton, ReasonButton)
    await bot.add_cog(Review(bot))
