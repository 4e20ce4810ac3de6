"""`/eco join`: a member asks to join pallets-eco to help maintain.

The decisions live in bot.services.join; rendering in cogs.join_render. This cog turns commands, the
persistent buttons (`eco:join:<action>:<id>`), the reason form and reactions on join cards into service
calls, and runs one background pass (device-flow polls, cards, invitations) every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.errors import DomainError
from bot.services.join import CHOICE_LIMIT, JoinService
from bot.services.review import VOTE_EMOJIS, VoteOutcome
from cogs import join_render as render
from cogs._base import (
    STRAY_VOTE_REASONS,
    EcoCog,
    GuardedDynamicItem,
    card_reaction_emoji,
    custom_id_template,
    fit_message,
    modal_values,
    remove_stray_reaction,
    require_maintainer,
)

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
TOKEN_LIFETIME = timedelta(minutes=14)  # interaction tokens live 15 minutes
DM_CLOSED = 50007
_ID = r"(?P<join_id>[0-9]{1,12})"
REASON_FORM_ID = re.compile(rf"eco:join:reasonform:{_ID}")


def _cog(interaction: discord.Interaction) -> JoinCog:
    cog = interaction.client.get_cog("Join")  # type: ignore[union-attr]
    if cog is None:
        raise DomainError("Join requests aren't available right now. Try again in a minute.")
    return cog  # type: ignore[return-value]


def _button(label: str, action: str, join_id: int, style: discord.ButtonStyle) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=label, style=style, custom_id=f"eco:join:{action}:{join_id}")


class ProveButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:join:prove:{_ID}")):
    """The requester's "Sign in with GitHub" (the service refuses anyone else)."""

    def __init__(self, join_id: int) -> None:
        super().__init__(_button("Sign in with GitHub", "prove", join_id, discord.ButtonStyle.primary))
        self.join_id = join_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["join_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).start_proof(interaction, self.join_id)


class WithdrawButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:join:withdraw:{_ID}")):
    def __init__(self, join_id: int) -> None:
        super().__init__(_button(f"Withdraw join request #{join_id}", "withdraw", join_id, discord.ButtonStyle.danger))
        self.join_id = join_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["join_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).withdraw_request(interaction, self.join_id)


class ReasonButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:join:reason:{_ID}")):
    """Posted in the card's thread after a rejection: opens the restart-proof reason form."""

    def __init__(self, join_id: int) -> None:
        super().__init__(_button("Give the reason", "reason", join_id, discord.ButtonStyle.primary))
        self.join_id = join_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["join_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        require_maintainer(interaction)
        service = _cog(interaction).service
        await service.check_not_requester(self.join_id, interaction.user.id, "explain the rejection of")
        await interaction.response.send_modal(reason_modal(self.join_id))


def reason_modal(join_id: int) -> discord.ui.Modal:
    """Layout only: the submission is handled by `JoinCog.on_interaction` from its custom_id, so a reason
    written across a restart still arrives."""
    modal = discord.ui.Modal(title="Why was this join request declined?", timeout=None,
                             custom_id=f"eco:join:reasonform:{join_id}")
    modal.add_item(discord.ui.TextInput(label="Reason (sent to the person)", custom_id="reason",
                                        style=discord.TextStyle.paragraph, max_length=1500))
    modal.stop()
    return modal


class JoinCog(EcoCog, name="Join"):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        deps = bot.deps
        self.settings = bot.settings
        self.service = JoinService(deps.db, deps.github, deps.clock, bot.settings, secret_filter=deps.secret_filter)
        self._waiting: dict[int, tuple[discord.Interaction, datetime]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._busy_invitations: set[int] = set()
        self.started_at = deps.clock.now()

    async def cog_load(self) -> None:
        await super().cog_load()
        await self.service.resume()
        if self.bot.deps.start_background_tasks:
            self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()
        await super().cog_unload()

    # ----- commands ---------------------------------------------------------------------------------

    @app_commands.command(name="join", description="Ask to join pallets-eco to help maintain its projects")
    @app_commands.describe(
        about="A few words about you: links, experience (shown to maintainers, quoted)",
        project="A pallets-eco project you want to help with (leave empty: the organisation in general)",
        project2="Another project (optional)",
        project3="A third project (optional)",
    )
    async def join(
        self, interaction: discord.Interaction, about: app_commands.Range[str, 1, 1000],
        project: app_commands.Range[str, 0, 100] | None = None,
        project2: app_commands.Range[str, 0, 100] | None = None,
        project3: app_commands.Range[str, 0, 100] | None = None,
    ) -> None:
        # Database only (the project list is the contribute cache): answers well within 3 seconds.
        info = await self.service.ask(interaction.user.id, interaction.guild_id or 0, (project, project2, project3),
                                      about)
        view = discord.ui.View(timeout=None)
        if self.service.device_flow_available:
            view.add_item(ProveButton(info.id))
        view.add_item(WithdrawButton(info.id))
        await interaction.response.send_message(
            embed=render.render_asked(info, self.service.device_flow_available, self.settings.github.org),
            view=view, ephemeral=True,
        )

    @join.autocomplete("project")
    @join.autocomplete("project2")
    @join.autocomplete("project3")
    async def _project_autocomplete(self, interaction: discord.Interaction, current: str):
        names = await self.service.project_choices(current or "")
        return [app_commands.Choice(name=n[:CHOICE_LIMIT], value=n[:CHOICE_LIMIT]) for n in names]

    # ----- buttons and form -------------------------------------------------------------------------

    async def start_proof(self, interaction: discord.Interaction, join_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        start = await self.service.start_proof(join_id, interaction.user.id)
        self._waiting[join_id] = (interaction, self.bot.deps.clock.now())
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Open GitHub", url=start.verification_uri))
        await interaction.edit_original_response(embed=render.render_proof_start(start), view=view)

    async def withdraw_request(self, interaction: discord.Interaction, join_id: int) -> None:
        info = await self.service.withdraw(join_id, interaction.user.id)
        await interaction.response.send_message(f"Join request #{info.id} is withdrawn.", ephemeral=True)
        self.refresh_card(join_id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        match = REASON_FORM_ID.fullmatch(str((interaction.data or {}).get("custom_id", "")))
        if match is None:
            return
        try:  # the custom_id is only a key: the role is checked again here and in the service
            require_maintainer(interaction)
            join_id = int(match["join_id"])
            reason = modal_values(dict(interaction.data or {})).get("reason", "")
            stored = await self.service.set_rejection_reason(
                join_id, interaction.user.id, self.bot.is_maintainer(interaction.user), reason)
            if not stored:
                await interaction.response.send_message("A reason was already given for this request.",
                                                        ephemeral=True)
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            info = await self.service.info(join_id)
            await self.service.claim_requester_notice(join_id)
            told = await self.tell(info.requester_id, render.rejection_message(
                info, info.decision_reason, self.settings.join.retry_after_days))
            if told:
                await self.service.record_told(join_id)
            await interaction.edit_original_response(
                content="Thanks: the reason was " + ("sent to them." if told else "saved (they couldn't be reached)."))
            self.refresh_card(join_id)
        except Exception as exc:
            await self.bot.report_error(interaction, exc)

    # ----- reactions --------------------------------------------------------------------------------

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
        join_id = await self.service.request_for_message(payload.message_id)
        if join_id is None:
            return
        is_maintainer = self.bot.is_maintainer(payload.member) if added else True  # only maintainers' are stored
        outcome = await self.service.record_vote(join_id, payload.user_id, emoji, is_maintainer, added)
        if added and outcome.reason in STRAY_VOTE_REASONS:
            await remove_stray_reaction(self.bot, payload)
        await self.handle_outcome(outcome)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._cards_deleted(payload.channel_id, [payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._cards_deleted(payload.channel_id, list(payload.message_ids))

    async def _cards_deleted(self, channel_id: int, message_ids: list[int]) -> None:
        if channel_id != self.settings.discord.review_channel_id:
            return
        for message_id in message_ids:
            join_id = await self.service.card_deleted(message_id)
            if join_id is not None:
                log.info("join card of request %s was deleted; posting it again", join_id)
                self.bot.spawn(self.post_card(join_id), name=f"join-card-{join_id}")

    async def handle_outcome(self, outcome: VoteOutcome) -> None:
        if outcome.changed:
            self.refresh_card(outcome.request_id)
        if outcome.decision == "approved":
            self.bot.spawn(self.after_approval(outcome.request_id), name=f"join-approved-{outcome.request_id}")
        elif outcome.decision == "rejected":
            self.bot.spawn(self.after_rejection(outcome.request_id, outcome.decided_by),
                           name=f"join-rejected-{outcome.request_id}")

    # ----- the card ---------------------------------------------------------------------------------

    def _lock(self, join_id: int) -> asyncio.Lock:
        return self._locks.setdefault(join_id, asyncio.Lock())

    async def _channel(self, channel_id: int | None) -> Any:
        if channel_id is None:
            return None
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                log.error("join: channel %s is missing or not visible to the bot", channel_id)
                return None
        return channel

    async def post_card(self, join_id: int) -> None:
        async with self._lock(join_id):
            card = await self.service.card(join_id)
            if card.info.review_message_id is not None or card.info.state != "submitted":
                return
            await self.service.gather_contributions(join_id)
            card = await self.service.card(join_id)
            channel_id = self.settings.discord.review_channel_id
            channel = await self._channel(channel_id)
            if channel is None:
                return
            try:
                message = await channel.send(embed=render.render_card(card, self.settings, self.bot.deps.clock.now()))
            except discord.HTTPException as exc:
                log.error("join: can't post the card in channel %s (%s)", channel_id, exc.status)
                return
            # Stored before the reactions go on, so a maintainer who votes at once is counted.
            await self.service.card_posted(join_id, channel_id=channel_id, message_id=message.id, thread_id=None)
            try:
                for emoji in VOTE_EMOJIS:
                    await message.add_reaction(emoji)
                if card.info.review_thread_id is not None:
                    return  # a card posted again keeps its discussion thread
                thread = await message.create_thread(name=f"Join #{join_id} {card.info.github_login}"[:100],
                                                     auto_archive_duration=10080)
                await self.service.card_posted(join_id, channel_id=channel_id, message_id=message.id,
                                               thread_id=thread.id)
            except discord.HTTPException as exc:
                log.error("join: reactions or thread on card %s failed (%s)", message.id, exc.status)

    def refresh_card(self, join_id: int) -> None:
        self.bot.spawn(self._refresh(join_id), name=f"join-card-{join_id}")

    async def _refresh(self, join_id: int) -> None:
        async with self._lock(join_id):
            card = await self.service.card(join_id)
            channel = await self._channel(card.info.review_channel_id)
            if channel is None or card.info.review_message_id is None:
                return
            try:
                await channel.get_partial_message(card.info.review_message_id).edit(
                    embed=render.render_card(card, self.settings, self.bot.deps.clock.now()))
            except discord.HTTPException as exc:
                log.info("join: card of %s not updated (%s)", join_id, exc.status)

    async def _thread_send(self, join_id: int, content: str, **kwargs: Any) -> None:
        info = await self.service.info(join_id)
        target = await self._channel(info.review_thread_id or self.settings.discord.review_channel_id)
        if target is None:
            return
        try:
            await target.send(fit_message(content), **kwargs)
        except discord.HTTPException as exc:
            log.warning("join: could not post in the thread of %s (%s)", join_id, exc.status)

    # ----- telling the person -----------------------------------------------------------------------

    async def tell(self, user_id: int, content: str, *, nonce: str | None = None) -> bool:
        """A DM; with DMs closed, a private thread in the eco channel they are added to. A `nonce` (at most
        25 characters) makes Discord answer a resend with the message already created (`enforce_nonce`)."""
        content = fit_message(content)
        once: dict[str, Any] = {"nonce": nonce} if nonce else {}
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            await user.send(content, **once)
            return True
        except discord.Forbidden as exc:
            if exc.code != DM_CLOSED:
                log.warning("join: DM to %s refused (%s)", user_id, exc.code)
        except discord.HTTPException as exc:
            log.warning("join: DM to %s failed (%s)", user_id, exc.status)
            return False
        eco = await self._channel(self.settings.discord.eco_channel_id)
        if eco is None:
            return False
        try:
            thread = await eco.create_thread(name="Your join request", type=discord.ChannelType.private_thread,
                                             auto_archive_duration=10080)
            await thread.add_user(discord.Object(user_id))
            await thread.send(f"<@{user_id}> {content}"[:2000],
                              allowed_mentions=discord.AllowedMentions(users=[discord.Object(user_id)]), **once)
            return True
        except discord.HTTPException as exc:
            log.warning("join: private thread for %s failed (%s)", user_id, exc.status)
            return False

    async def after_approval(self, join_id: int) -> None:
        info = await self.service.info(join_id)
        await self._thread_send(join_id, f"Approved by <@{info.decided_by}>.")
        await self.tell_next_steps(join_id)

    async def tell_next_steps(self, join_id: int) -> None:
        self._busy_invitations.add(join_id)
        try:
            await self._tell_next_steps(join_id)
        finally:
            self._busy_invitations.discard(join_id)

    async def _tell_next_steps(self, join_id: int) -> None:
        invitation = await self.service.ensure_invitation(join_id)
        if invitation.report:
            await self._thread_send(join_id, invitation.message)
        if await self.service.claim_requester_notice(join_id, reclaim_before=self.started_at):
            info = await self.service.info(join_id)
            # One nonce for every process: a resend after dying before `record_told` is deduplicated.
            if await self.tell(info.requester_id, render.next_steps(info, self.settings, info.invitation_state),
                               nonce=f"eco-join-told-{join_id}"):
                await self.service.record_told(join_id)
        self.refresh_card(join_id)

    async def after_rejection(self, join_id: int, maintainer_id: int | None) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(ReasonButton(join_id))
        who = f"<@{maintainer_id}>" if maintainer_id else "Maintainers"
        pings = discord.AllowedMentions(users=[discord.Object(maintainer_id)] if maintainer_id else False)
        await self._thread_send(join_id, f"{who}, this join request is declined. Please give the reason: it is "
                                "sent to the person.", view=view, allowed_mentions=pings)

    # ----- background -------------------------------------------------------------------------------

    @tasks.loop(seconds=POLL_SECONDS)
    async def loop(self) -> None:
        try:
            await self.run_pass()
        except Exception:
            log.exception("join pass failed")

    @loop.before_loop
    async def _before_loop(self) -> None:
        await self.bot.wait_until_ready()

    async def run_pass(self) -> None:
        """Poll due sign-ins and tell their outcome, post cards, follow invitations, late rejections."""
        await self.service.poll_due()
        now = self.bot.deps.clock.now()
        for join_id in [j for j, (_, since) in self._waiting.items() if now - since >= TOKEN_LIFETIME]:
            del self._waiting[join_id]
        for proof in await self.service.untold_proofs():
            await self._deliver_proof(proof.join_id, proof.user_id, proof.message, proof.proven)
        for join_id in await self.service.requests_without_card():
            await self.post_card(join_id)
        await self.service.expire_unproven()
        for join_id in await self.service.invitations_to_retry():
            if join_id not in self._busy_invitations:  # an approval being handled right now is left to it
                await self.tell_next_steps(join_id)
        for join_id in await self.service.lapsed_invitations():
            result = await self.service.recheck_invitation(join_id)
            if result.report:
                await self._thread_send(join_id, result.message)
            if result.requester_message:
                await self.tell((await self.service.info(join_id)).requester_id, result.requester_message)
            self.refresh_card(join_id)
        for join_id in await self.service.unexplained_rejections():
            if await self.service.claim_requester_notice(join_id):
                info = await self.service.info(join_id)
                if await self.tell(info.requester_id,
                                   render.rejection_message(info, None, self.settings.join.retry_after_days)):
                    await self.service.record_told(join_id)

    async def _deliver_proof(self, join_id: int, user_id: int, message: str, proven: bool) -> None:
        embed = discord.Embed(title="✅ Signed in" if proven else "Not signed in", description=message[:4000],
                              colour=discord.Colour.green() if proven else discord.Colour.orange())
        waiting = self._waiting.pop(join_id, None)
        delivered = False
        if waiting is not None:
            try:
                await waiting[0].followup.send(embed=embed, ephemeral=True)
                delivered = True
            except discord.HTTPException:
                pass
        if not delivered:
            delivered = await self.tell(user_id, message)
        # Marked even when undeliverable: `/eco status` shows the state.
        await self.service.mark_proof_told(join_id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.bot.spawn(self.catch_up(), name="join-catch-up")

    async def catch_up(self) -> None:
        """What happened while the bot was down: cards not posted, decisions not told, offline votes."""
        for join_id in await self.service.requests_without_card():
            await self.post_card(join_id)
        for join_id in await self.service.untold_approvals(self.started_at):
            await self.tell_next_steps(join_id)
        for join_id, channel_id, message_id in await self.service.open_cards():
            channel = await self._channel(channel_id)
            if channel is None:
                continue
            try:
                message = await channel.fetch_message(message_id)
            except discord.HTTPException:
                log.warning("join: could not read card %s", message_id)
                continue
            reactions: dict[str, set[int]] = {}
            for reaction in message.reactions:
                if str(reaction.emoji) in VOTE_EMOJIS:
                    reactions[str(reaction.emoji)] = {u.id async for u in reaction.users() if not u.bot}
            maintainers = set()
            for user_id in set().union(*reactions.values()) if reactions else set():
                member = message.guild.get_member(user_id) if message.guild else None
                if member is None and message.guild is not None:
                    try:
                        member = await message.guild.fetch_member(user_id)
                    except discord.HTTPException:
                        member = None
                if self.bot.is_maintainer(member):
                    maintainers.add(user_id)
            await self.handle_outcome(await self.service.sync_votes(join_id, reactions, maintainers))

    # ----- helpers for /eco status, /eco withdraw, /eco queue (other cogs) --------------------------

    async def status_embed(self, user_id: int) -> tuple[discord.Embed | None, list[discord.ui.Item[Any]]]:
        entries = await self.service.for_user(user_id)
        if not entries:
            return None, []
        items: list[discord.ui.Item[Any]] = []
        for info in entries:
            if info.state == "proving" and self.service.device_flow_available:
                items.append(ProveButton(info.id))
            if info.state in ("proving", "submitted", "under_review"):
                items.append(WithdrawButton(info.id))
        return render.status_embed(entries, self.settings.github.org), items

    async def queue_embed(self, room: int = 6000) -> discord.Embed:
        """`room`: characters left in the message for this embed (Discord counts all its embeds together)."""
        return render.render_queue(await self.service.queue(), room)


async def setup(bot: EcoBot) -> None:
    bot.add_dynamic_items(ProveButton, WithdrawButton, ReasonButton)
    await bot.add_cog(JoinCog(bot))
