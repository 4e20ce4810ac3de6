"""Ownership verification: `/eco verify`, `/eco verify-manual`, the persistent verification buttons and
the background device-flow poller. Decisions live in bot.services.verification."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import tasks

from bot.errors import DomainError
from bot.services.states import LABELS
from bot.services.verification import (
    DeviceStart,
    Outcome,
    PyPICheck,
    RequestSummary,
    TopicChallenge,
    VerificationService,
)
from bot.services.verification_text import taken_over_notice
from cogs._base import EcoCog, GuardedDynamicItem, custom_id_template, require_maintainer

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
# Interaction tokens live 15 minutes; leave a margin before falling back to a DM.
TOKEN_LIFETIME = timedelta(minutes=14)
_ID = r"(?P<request_id>[0-9]{1,18})"


# ----- rendering (pure) -----------------------------------------------------------------------------


def _repo(text: str) -> str:
    return discord.utils.escape_markdown(discord.utils.escape_mentions(text))


def render_methods(summary: RequestSummary, pypi: PyPICheck | None, device_available: bool) -> discord.Embed:
    title = f"Verify ownership of {_repo(summary.repo)}"[:256]
    if summary.verified and summary.can_prove_login and device_available:
        embed = discord.Embed(
            title=title,
            description=(
                f"✅ Verified with a repository topic ({summary.verification_method}). Your GitHub username is "
                "still only what you typed, so a maintainer must confirm before it is invited to the org. "
                "**Sign in with GitHub** to prove it (and, for an organisation's repository, that you are an admin)."
            ),
            colour=discord.Colour.green(),
        )
    elif summary.verified:
        who = f" as **{summary.verified_github_login}**" if summary.verified_github_login else ""
        embed = discord.Embed(
            title=title,
            description=f"✅ Already verified ({summary.verification_method}{who}). Nothing else to do here.",
            colour=discord.Colour.green(),
        )
    else:
        embed = discord.Embed(
            title=title,
            description=(
                "Only the current owner can transfer a repository, so maintainers need to know you control "
                f"this one. Request #{summary.id} is {LABELS.get(summary.state, summary.state)} and "
                "**not verified** yet. Pick one way:"
            ),
            colour=discord.Colour.blurple(),
        )
        if device_available:
            embed.add_field(
                name="Sign in with GitHub",
                value="Enter a short code on github.com. I read your account and the repository once, then "
                "discard the sign-in. Nothing is stored but your GitHub login.",
                inline=False,
            )
        embed.add_field(
            name="Repository topic",
            value="I give you a one-time topic to add to the repository (only people with maintain or admin "
            "rights can), then you press **Check**.",
            inline=False,
        )
    if pypi is not None:
        embed.add_field(name="PyPI", value=pypi.message[:1024], inline=False)
    return embed


def methods_view(summary: RequestSummary, device_available: bool) -> discord.ui.View | None:
    if summary.verified and summary.can_prove_login and device_available:
        view = discord.ui.View(timeout=None)
        view.add_item(DeviceButton(summary.id))
        return view
    if summary.verified:
        return None
    view = discord.ui.View(timeout=None)
    if device_available:
        view.add_item(DeviceButton(summary.id))
    view.add_item(TopicButton(summary.id))
    return view


def render_device(start: DeviceStart) -> discord.Embed:
    expires = discord.utils.format_dt(start.expires_at, "R")
    return discord.Embed(
        title="Sign in with GitHub",
        description=(
            f"1. Open {start.verification_uri}\n"
            f"2. Enter the code **`{start.user_code}`** and approve.\n\n"
            f"The code expires {expires}. I'll tell you here (or by DM) when GitHub answers."
        ),
        colour=discord.Colour.blurple(),
    )


def render_topic(challenge: TopicChallenge) -> discord.Embed:
    expires = discord.utils.format_dt(challenge.expires_at, "R")
    return discord.Embed(
        title="Prove it with a repository topic",
        description=(
            f"1. On GitHub, open **{_repo(challenge.repo)}** → About → ⚙ → Topics.\n"
            f"2. Add the topic **`{challenge.nonce}`** and save.\n"
            "3. Press **Check** below.\n\n"
            f"This topic works only for you and this repository, and expires {expires}."
        ),
        colour=discord.Colour.blurple(),
    )


def render_outcome(outcome: Outcome) -> discord.Embed:
    if outcome.verified:
        title, colour = "✅ Verified", discord.Colour.green()
    elif outcome.state == "pending":
        title, colour = "Not verified yet", discord.Colour.orange()
    else:
        title, colour = "Not verified", discord.Colour.red()
    return discord.Embed(title=title, description=outcome.message[:4000], colour=colour)


# ----- persistent buttons ---------------------------------------------------------------------------


def _cog(interaction: discord.Interaction) -> VerificationCog:
    # Looked up by name, not isinstance: load_extension re-executes this module, so a button built by
    # another cog (which imported it earlier) holds a different class object than the loaded cog.
    cog = interaction.client.get_cog("Verification")  # type: ignore[union-attr]
    if cog is None:
        raise DomainError("Verification isn't available right now. Try again in a minute.")
    return cog  # type: ignore[return-value]


def _button(label: str, action: str, request_id: int, style: discord.ButtonStyle) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=label, style=style, custom_id=f"eco:verify:{action}:{request_id}")


class StartButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:verify:start:{_ID}")):
    """Shown by the transfers cog after submission: offers the verification methods."""

    def __init__(self, request_id: int) -> None:
        super().__init__(_button("Verify ownership", "start", request_id, discord.ButtonStyle.primary))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).show_methods(interaction, self.request_id)


class DeviceButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:verify:device:{_ID}")):
    def __init__(self, request_id: int) -> None:
        super().__init__(_button("Sign in with GitHub", "device", request_id, discord.ButtonStyle.primary))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).start_device(interaction, self.request_id)


class ClaimButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:verify:claim:{_ID}")):
    """Posted by the transfers cog when someone else's unverified request holds the repository: a device
    flow whose proof of ownership takes it over. Anyone may press it; only a proven owner succeeds."""

    def __init__(self, request_id: int) -> None:
        super().__init__(_button("I own it: sign in with GitHub", "claim", request_id, discord.ButtonStyle.primary))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).start_claim(interaction, self.request_id)


class TopicButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:verify:topic:{_ID}")):
    def __init__(self, request_id: int) -> None:
        super().__init__(_button("Use a repository topic", "topic", request_id, discord.ButtonStyle.secondary))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).start_topic(interaction, self.request_id)


class CheckButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(rf"eco:verify:check:{_ID}")):
    def __init__(self, request_id: int) -> None:
        super().__init__(_button("Check", "check", request_id, discord.ButtonStyle.success))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["request_id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).check_topic(interaction, self.request_id)


# ----- the cog --------------------------------------------------------------------------------------


@dataclass
class _Waiting:
    """The interaction that started a device flow: its token can carry the result for 15 minutes."""

    interaction: discord.Interaction
    since: datetime


class VerificationCog(EcoCog, name="Verification"):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        deps = bot.deps
        self.service = VerificationService(
            deps.db, deps.github, deps.clock, deps.settings, pypi=deps.pypi, secret_filter=deps.secret_filter
        )
        self._waiting: dict[int, _Waiting] = {}

    async def cog_load(self) -> None:
        await super().cog_load()
        # Device flows that were pending when the bot stopped: expire the stale ones now; the poller
        # resumes the rest and tells people about anything they missed.
        await self.service.resume_pending()
        if self.bot.deps.start_background_tasks:
            self.poller.start()

    async def cog_unload(self) -> None:
        self.poller.cancel()
        await super().cog_unload()

    # ----- background ----------------------------------------------------------------------------

    @tasks.loop(seconds=POLL_SECONDS)
    async def poller(self) -> None:
        try:
            await self.run_pass()
        except Exception:
            log.exception("verification poll pass failed")  # the loop keeps running

    @poller.before_loop
    async def _before_poller(self) -> None:
        await self.bot.wait_until_ready()

    async def run_pass(self) -> list[Outcome]:
        """Poll due device flows, then tell every user whose verification finished."""
        await self.service.poll_due()
        now = self.bot.deps.clock.now()
        for vid in [v for v, w in self._waiting.items() if now - w.since >= TOKEN_LIFETIME]:
            del self._waiting[vid]  # token lapsed (or the flow was replaced): a DM will carry the news
        outcomes = await self.service.unnotified()
        for outcome in outcomes:
            await self._deliver(outcome)
        await self.tell_takeovers()
        return outcomes

    async def tell_takeovers(self) -> None:
        """Tell each requester whose unverified request a proven owner took over (from the audit log,
        so a restart between the takeover and the message still tells them, once it is recorded)."""
        for request_id, user_id, repo in await self.service.untold_takeovers():
            self.bot.dispatch("transfer_updated", request_id)  # its review card shows it withdrawn
            embed = discord.Embed(
                title="Transfer request withdrawn", description=taken_over_notice(repo)[:4000],
                colour=discord.Colour.orange(),
            )
            told = await self._tell_privately(user_id, embed)
            if not told:
                log.warning("could not tell user %s that request %s was taken over", user_id, request_id)
            # Recorded even when undeliverable (as for verification results): /eco status shows it.
            await self.service.mark_takeover_told(request_id, "told" if told else "undeliverable")

    async def _deliver(self, outcome: Outcome) -> None:
        assert outcome.verification_id is not None
        if outcome.verified or outcome.code == "not_owner":
            self.bot.dispatch("transfer_updated", outcome.request_id)
        embed = render_outcome(outcome)
        waiting = self._waiting.pop(outcome.verification_id, None)
        delivered = False
        if waiting is not None:
            try:
                await waiting.interaction.followup.send(embed=embed, ephemeral=True)
                delivered = True
            except discord.HTTPException as exc:
                log.info("followup for verification %s failed (%s); trying a DM", outcome.verification_id, exc.code)
        if not delivered:
            delivered = await self._tell_privately(outcome.user_id, embed)
        if not delivered:
            log.warning("could not tell user %s about verification %s", outcome.user_id, outcome.verification_id)
        # Marked even when undeliverable: `/eco verify` shows the state, and retrying forever helps nobody.
        await self.service.mark_notified(outcome.verification_id)

    async def _tell_privately(self, user_id: int, embed: discord.Embed) -> bool:
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            await user.send(embed=embed)
            return True
        except discord.Forbidden:
            pass  # DMs closed (50007): a private thread in the eco channel instead
        except discord.HTTPException:
            return False
        channel = self.bot.get_channel(self.bot.settings.discord.eco_channel_id)
        if not isinstance(channel, discord.TextChannel):
            return False
        try:
            thread = await channel.create_thread(
                # Not `invitable=False`: then only moderators (Manage Threads) may add the user, the bot too.
                name="Ownership verification", type=discord.ChannelType.private_thread
            )
            await thread.add_user(discord.Object(id=user_id))
            await thread.send(
                content=f"<@{user_id}>",
                embed=embed,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=user_id)]),
            )
            return True
        except discord.HTTPException as exc:
            log.warning("could not open a private thread for user %s (%s)", user_id, exc.code)
            return False

    # ----- commands ------------------------------------------------------------------------------

    @app_commands.command(name="verify", description="Prove you own the repository of your transfer request")
    @app_commands.describe(request="Your request (optional when you have only one open)")
    async def verify(self, interaction: discord.Interaction, request: int | None = None) -> None:
        await self.show_methods(interaction, request)

    @verify.autocomplete("request")
    async def _request_autocomplete(self, interaction: discord.Interaction, current: str):
        mine = await self.service.open_requests(interaction.user.id)
        return [
            app_commands.Choice(name=f"#{r.id} {r.repo} ({LABELS.get(r.state, r.state)})"[:100], value=r.id)
            for r in mine
            if current.strip().lstrip("#").lower() in f"{r.id} {r.repo_key}"
        ][:25]

    @app_commands.command(name="verify-manual", description="Maintainers: mark a request's ownership as verified")
    @app_commands.describe(request="The request id", reason="Why (recorded in the audit log)")
    async def verify_manual(
        self, interaction: discord.Interaction, request: int, reason: app_commands.Range[str, 1, 500]
    ) -> None:
        require_maintainer(interaction)
        outcome = await self.service.verify_manually(request, interaction.user.id, reason)
        await interaction.response.send_message(embed=render_outcome(outcome), ephemeral=True)
        self.bot.dispatch("transfer_updated", request)

    # ----- flows (commands and buttons share them) -----------------------------------------------

    async def show_methods(self, interaction: discord.Interaction, request_id: int | None) -> None:
        # Local check first: someone else's request is refused without touching the network.
        summary = await self.service.pick_request(interaction.user.id, request_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        pypi = await self.service.pypi_check_for(summary.id, interaction.user.id)  # per-user cooldown on PyPI
        available = self.service.device_flow_available
        view = methods_view(summary, available)
        embed = render_methods(summary, pypi, available)
        # After a deferral the first answer edits the loading message (a followup for it is deprecated).
        await interaction.edit_original_response(embed=embed, view=view)

    async def start_device(self, interaction: discord.Interaction, request_id: int) -> None:
        await self.service.pick_request(interaction.user.id, request_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        start = await self.service.start_device(request_id, interaction.user.id)
        self._waiting[start.verification_id] = _Waiting(interaction, self.bot.deps.clock.now())
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Open GitHub", url=start.verification_uri))
        await interaction.edit_original_response(embed=render_device(start), view=view)

    async def start_claim(self, interaction: discord.Interaction, request_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        start = await self.service.start_claim(request_id, interaction.user.id)
        self._waiting[start.verification_id] = _Waiting(interaction, self.bot.deps.clock.now())
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Open GitHub", url=start.verification_uri))
        await interaction.followup.send(embed=render_device(start), view=view, ephemeral=True)

    async def start_topic(self, interaction: discord.Interaction, request_id: int) -> None:
        challenge = await self.service.start_topic(request_id, interaction.user.id)
        view = discord.ui.View(timeout=None)
        view.add_item(CheckButton(request_id))
        await interaction.response.send_message(embed=render_topic(challenge), view=view, ephemeral=True)

    async def check_topic(self, interaction: discord.Interaction, request_id: int) -> None:
        await self.service.pick_request(interaction.user.id, request_id)  # only the requester may check
        self.service.take_press(interaction.user.id, "check")  # each press asks GitHub: a per-user cooldown
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.service.check_topic(request_id, interaction.user.id)
        await interaction.edit_original_response(embed=render_outcome(outcome))
        if outcome.verified:
            self.bot.dispatch("transfer_updated", request_id)


async def setup(bot: EcoBot) -> None:
    bot.add_dynamic_items(StartButton, DeviceButton, TopicButton, CheckButton, ClaimButton)
    await bot.add_cog(VerificationCog(bot))
