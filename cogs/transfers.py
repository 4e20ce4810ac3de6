"""`/eco transfer`, `/eco status`, `/eco withdraw`: the guided transfer intake.

Flow (ARCHITECTURE.md#discord-facts): modal → saved draft with a **Continue** button → terms with **Accept terms**
→ **Submit** → eligibility report. Every button is a DynamicItem `eco:transfer:<action>:<id>`
that reloads the request from the database, so old messages keep working after a restart.
Decisions live in bot.services.transfers; rendering in cogs.transfers_render.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.errors import Conflict, InvalidInput, NotFoundError
from bot.services.eligibility import EligibilityService
from bot.services.form_retries import FormRetryService
from bot.services.review import ReviewService
from bot.services.transfer_status import TransferStatusService
from bot.services.transfers import RepoClaimable, RequestInfo, TransferForm, TransferService
from cogs import transfers_render as render
from cogs._base import EcoCog, GuardedDynamicItem, custom_id_template, fit_message

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

ACTIONS = {
    "continue": ("Continue", discord.ButtonStyle.primary),
    "accept": ("Accept terms", discord.ButtonStyle.success),
    "submit": ("Submit", discord.ButtonStyle.success),
    "edit": ("Edit", discord.ButtonStyle.secondary),
    "withdraw": ("Withdraw", discord.ButtonStyle.danger),
    "restart": ("Start again", discord.ButtonStyle.primary),
}
TEMPLATE = custom_id_template(
    r"eco:transfer:(?P<action>continue|accept|submit|edit|withdraw|restart):(?P<id>[0-9]{1,19})"
)
RETRY_MINUTES = 1.0
WITHDRAW_LISTED = 10  # open requests named in `/eco withdraw`'s "which one?" answer


class TransferButton(GuardedDynamicItem[discord.ui.Button], template=TEMPLATE):
    def __init__(self, action: str, request_id: int, *, label: str | None = None) -> None:
        text, style = ACTIONS[action]
        super().__init__(
            discord.ui.Button(label=label or text, style=style, custom_id=f"eco:transfer:{action}:{request_id}")
        )
        self.action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(match["action"], int(match["id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        cog: Transfers | None = interaction.client.get_cog("Transfers")  # type: ignore[union-attr]
        if cog is None:
            raise NotFoundError("Transfer requests are not available right now. Try again in a minute.")
        await getattr(cog, f"on_{self.action}")(interaction, self.request_id)


def view_of(*items: discord.ui.Item[Any]) -> discord.ui.View:
    """A view only for layout: stopped, so discord.py keeps nothing in memory; DynamicItems (and the
    verification cog's buttons) receive the clicks, before and after a restart alike."""
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def buttons(request_id: int, *actions: str) -> list[discord.ui.Item[Any]]:
    return [TransferButton(action, request_id) for action in actions]


def verify_button(request_id: int, label: str = "Verify ownership") -> discord.ui.Button[Any]:
    # Handled by the verification cog's DynamicItem (eco:verify:start:<id>).
    return discord.ui.Button(label=label, style=discord.ButtonStyle.primary, custom_id=f"eco:verify:start:{request_id}")


def needs_verification(info: RequestInfo) -> bool:
    return info.is_open and info.verified_at is None and info.state in ("submitted", "under_review")


def after_submit_view(info: RequestInfo) -> discord.ui.View:
    return view_of(*([verify_button(info.id)] if needs_verification(info) else []))


FORM_ID = re.compile(r"eco:transfer:form:(?P<id>[0-9]{1,19})")
FORM_FIELDS = ("repository", "pypi_project", "github_username", "pypi_username", "reason")


class TransferModal(discord.ui.Modal):
    """Step 1 of the form: five text inputs (Discord's maximum for a modal).

    Layout only, like `view_of`: stopped before it is sent, so discord.py keeps nothing in memory and
    `Transfers.on_interaction` saves the submission, whether it comes in a minute later, an hour later
    or after a restart (the custom_id names the draft being edited, 0 for a new one)."""

    def __init__(self, request_id: int | None, values: TransferForm | None = None) -> None:
        super().__init__(
            title="Move a project into pallets-eco", timeout=None, custom_id=f"eco:transfer:form:{request_id or 0}"
        )
        v = values or TransferForm(repository="")
        self.repository = discord.ui.TextInput(
            label="GitHub repository",
            custom_id="repository",
            placeholder="owner/name or https://github.com/owner/name",
            max_length=200,
            default=v.repository or None,
        )
        self.pypi_project = discord.ui.TextInput(
            label="PyPI project name (empty if not published)",
            custom_id="pypi_project",
            required=False,
            placeholder="Flask-Something (found in pyproject.toml when left empty)",
            max_length=200,
            default=v.pypi_project or None,
        )
        self.github_username = discord.ui.TextInput(
            label="Your GitHub username",
            custom_id="github_username",
            max_length=39,
            default=v.github_username or None,
        )
        self.pypi_username = discord.ui.TextInput(
            label="Your PyPI username",
            custom_id="pypi_username",
            required=False,
            max_length=100,
            default=v.pypi_username or None,
        )
        self.reason = discord.ui.TextInput(
            label="Why transfer? How is the project doing?",
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            max_length=4000,
            default=v.reason or None,
        )
        for item in (self.repository, self.pypi_project, self.github_username, self.pypi_username, self.reason):
            self.add_item(item)
        self.stop()


def submitted_form(data: dict[str, Any]) -> TransferForm:
    """The form's answers from a modal submission's raw components (inputs nested in rows or labels)."""
    values: dict[str, str] = {}
    stack = list(data.get("components") or ())
    while stack:
        component = stack.pop()
        if component.get("custom_id") in FORM_FIELDS and "value" in component:
            values[component["custom_id"]] = component.get("value") or ""
        stack.extend(component.get("components") or ())
        if component.get("component"):
            stack.append(component["component"])
    return TransferForm(**{name: values.get(name, "") for name in FORM_FIELDS})


class RetryFormButton(GuardedDynamicItem[discord.ui.Button], template=custom_id_template(
        r"eco:transfer:retry:(?P<id>[0-9]{1,19})")):
    """After a refused answer: reopen the form with what the user typed, so nothing is lost. The text is
    in the database (`form_retries`), so the button works after 15 minutes and after a restart too."""

    def __init__(self, retry_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Edit and try again", style=discord.ButtonStyle.primary,
                custom_id=f"eco:transfer:retry:{retry_id}",
            )
        )
        self.retry_id = retry_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):  # type: ignore[override]
        return cls(int(match["id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        cog: Transfers | None = interaction.client.get_cog("Transfers")  # type: ignore[union-attr]
        if cog is None:
            raise NotFoundError("Transfer requests are not available right now. Try again in a minute.")
        # The custom_id is only a key: the row is reopened for the user who typed it, nobody else.
        request_id, values = await cog.retries.load(self.retry_id, interaction.user.id)
        await interaction.response.send_modal(TransferModal(request_id, values))


def form_of(info: RequestInfo) -> TransferForm:
    return TransferForm(
        repository=info.repo_full_name,
        pypi_project="" if info.pypi_project_detected else info.pypi_project or "",
        github_username=info.github_username or "",
        pypi_username=info.pypi_username or "",
        reason=info.reason,
    )


class Transfers(EcoCog):
    def __init__(self, bot: EcoBot) -> None:
        super().__init__(bot)
        deps = bot.deps
        eligibility = EligibilityService(deps.github, deps.pypi, bot.settings, deps.clock)
        self.service = TransferService(deps.db, eligibility, deps.clock, bot.settings)
        self.status_service = TransferStatusService(
            self.service, ReviewService(deps.db, deps.clock, bot.settings), bot.settings
        )
        self.retries = FormRetryService(deps.db, deps.clock)

    async def cog_load(self) -> None:
        await super().cog_load()
        if self.bot.deps.start_background_tasks:
            self.retry_checks.start()

    async def cog_unload(self) -> None:
        self.retry_checks.cancel()
        await super().cog_unload()

    @tasks.loop(minutes=RETRY_MINUTES)
    async def retry_checks(self) -> None:
        try:
            await self.service.expire_stale_drafts()
        except Exception:
            log.exception("expiring stale drafts failed")
        try:
            for request_id in await self.service.retry_pending_checks():
                self.bot.dispatch("transfer_updated", request_id)
        except Exception:
            # A failed pass must not stop the loop: the next pass tries again.
            log.exception("retrying postponed eligibility checks failed")

    # ----- commands -------------------------------------------------------------------------------

    @app_commands.command(name="transfer", description="Ask to move a project you own into pallets-eco")
    async def transfer(self, interaction: discord.Interaction) -> None:
        # Local data only, so the modal goes out well within Discord's 3 seconds.
        start = await self.service.start(interaction.user.id)
        draft = start.draft
        if start.expired is not None and draft is None:
            # A modal can't carry the news: tell first, and let "Start again" open the filled-in form.
            await interaction.response.send_message(
                embed=render.render_draft_expired(start.expired, self.bot.settings.review.draft_expiry_days),
                view=view_of(*buttons(start.expired.id, "restart")),
                ephemeral=True,
            )
            return
        if draft is None:
            await interaction.response.send_modal(TransferModal(None))
            return
        next_action = "submit" if draft.terms_accepted_at else "continue"
        embeds = [render.render_resume(draft)]
        if start.expired is not None:  # an older draft expired: still worth knowing
            embeds.insert(0, render.render_draft_expired(start.expired, self.bot.settings.review.draft_expiry_days))
        await interaction.response.send_message(
            embeds=embeds, view=view_of(*buttons(draft.id, next_action, "edit")), ephemeral=True
        )

    @app_commands.command(name="status", description="Your transfer requests: state, checks and next step")
    async def status(self, interaction: discord.Interaction) -> None:
        # Database only (no GitHub call), so it answers well within Discord's 3 seconds.
        entries = await self.status_service.for_user(interaction.user.id)
        items: list[discord.ui.Item[Any]] = []
        draft = next((e.request for e in entries if e.request.state == "draft"), None)
        if draft is not None:
            items.extend(buttons(draft.id, "submit" if draft.terms_accepted_at else "continue"))
        # The next step tells them to press "Verify ownership": the button must be here too.
        unverified = [e.request for e in entries if needs_verification(e.request)][:4]
        for info in unverified:
            label = "Verify ownership" if len(unverified) == 1 else f"Verify ownership #{info.id}"
            items.append(verify_button(info.id, label))
        embeds = [render.render_status(entries)]
        join = self.bot.get_cog("Join")  # join requests are shown too
        if join is not None:
            join_embed, join_items = await join.status_embed(interaction.user.id)  # type: ignore[attr-defined]
            if join_embed is not None:
                embeds.append(join_embed)
                items.extend(join_items[: max(0, 25 - len(items))])
        await interaction.response.send_message(embeds=embeds, view=view_of(*items), ephemeral=True)

    @app_commands.command(name="withdraw", description="Withdraw one of your open transfer requests")
    @app_commands.describe(request="The request to withdraw (only needed when you have several)")
    async def withdraw(self, interaction: discord.Interaction, request: int | None = None) -> None:
        open_requests = await self.service.open_for_user(interaction.user.id)
        if request is not None:
            chosen = next((r for r in open_requests if r.id == request), None)
            if chosen is None:
                raise NotFoundError(f"You have no open request #{request}. `/eco status` lists yours.")
        elif len(open_requests) == 1:
            chosen = open_requests[0]
        elif not open_requests:
            join = self.bot.get_cog("Join")
            pending = await join.service.open_for_user(interaction.user.id) if join else None  # type: ignore[attr-defined]
            if pending is not None:  # no transfer request, but a join request: that one is withdrawn
                await join.withdraw_request(interaction, pending.id)  # type: ignore[union-attr]
                return
            raise NotFoundError("You have no open transfer request.")
        else:
            shown = ", ".join(f"#{r.id} ({r.repo_full_name})" for r in open_requests[:WITHDRAW_LISTED])
            more = len(open_requests) - WITHDRAW_LISTED
            ids = shown + (f" and {more} more (`/eco status` lists all)" if more > 0 else "")
            raise InvalidInput(f"You have several open requests: {ids}. Pick one with the `request` option.")
        await interaction.response.send_message(
            embed=render.render_withdraw_confirm(chosen),
            view=view_of(TransferButton("withdraw", chosen.id, label=f"Withdraw #{chosen.id}")),
            ephemeral=True,
        )

    @withdraw.autocomplete("request")
    async def withdraw_autocomplete(self, interaction: discord.Interaction, current: str):
        requests = await self.service.open_for_user(interaction.user.id)
        return [
            app_commands.Choice(name=f"#{r.id} {r.repo_full_name} ({r.state_label})"[:100], value=r.id)
            for r in requests
            if current.strip("#") in str(r.id) or current.lower() in r.repo_full_name.lower()
        ][:25]

    # ----- form steps -----------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        match = FORM_ID.fullmatch(str((interaction.data or {}).get("custom_id", "")))
        if match is None:
            return
        try:
            form = submitted_form(dict(interaction.data or {}))
            await self.save_step1(interaction, int(match["id"]) or None, form)
        except Exception as exc:  # the same routing as a modal's on_error
            await self.bot.report_error(interaction, exc)


    async def save_step1(self, interaction: discord.Interaction, request_id: int | None, form: TransferForm) -> None:
        try:
            info = await self.service.save_form(
                interaction.user.id,
                interaction.guild_id or self.bot.settings.discord.guild_id,
                form,
                request_id=request_id,
            )
        except (InvalidInput, Conflict) as exc:
            if isinstance(exc, RepoClaimable):
                await self._offer_claim(interaction, exc)
                return
            retry = None
            if isinstance(exc, InvalidInput):
                retry = view_of(RetryFormButton(await self.retries.save(interaction.user.id, request_id, form)))
            await interaction.response.send_message(
                fit_message(exc.message), view=retry or discord.utils.MISSING, ephemeral=True
            )
            return
        next_action = "submit" if info.terms_accepted_at else "continue"
        embed = render.render_ready(info) if info.terms_accepted_at else render.render_form_saved(info)
        await interaction.response.send_message(
            embed=embed, view=view_of(*buttons(info.id, next_action, "edit")), ephemeral=True
        )

    async def _offer_claim(self, interaction: discord.Interaction, exc: RepoClaimable) -> None:
        """The repository is held by someone else's unverified request: its real owner may take it over
        by proving ownership with GitHub's device flow (handled by the verification cog)."""
        if not self.bot.settings.github.oauth_client_id:
            text = exc.message.split(" If you own it", 1)[0] + (
                " If you own it, tell the maintainers in #pallets-eco: they can reject that request."
            )
            await interaction.response.send_message(text, ephemeral=True)
            return
        claim = discord.ui.Button(
            label="I own it: sign in with GitHub", style=discord.ButtonStyle.primary,
            custom_id=f"eco:verify:claim:{exc.request_id}",
        )
        await interaction.response.send_message(exc.message, view=view_of(claim), ephemeral=True)

    async def on_continue(self, interaction: discord.Interaction, request_id: int) -> None:
        info = await self.service.get(request_id, interaction.user.id)
        if info.state != "draft":
            await self._show_submitted(interaction, info)
        elif info.terms_accepted_at is not None:
            await interaction.response.edit_message(
                embed=render.render_ready(info), view=view_of(*buttons(info.id, "submit", "edit"))
            )
        else:
            await interaction.response.edit_message(
                embed=render.render_terms(info), view=view_of(*buttons(info.id, "accept", "edit"))
            )

    async def on_accept(self, interaction: discord.Interaction, request_id: int) -> None:
        info = await self.service.get(request_id, interaction.user.id)
        if info.state != "draft":
            await self._show_submitted(interaction, info)
            return
        info = await self.service.accept_terms(request_id, interaction.user.id)
        await interaction.response.edit_message(
            embed=render.render_ready(info), view=view_of(*buttons(info.id, "submit", "edit"))
        )

    async def on_edit(self, interaction: discord.Interaction, request_id: int) -> None:
        info = await self.service.get(request_id, interaction.user.id)
        if not info.is_open:
            await self._show_submitted(interaction, info)
            return
        if info.state != "draft":
            raise Conflict(f"Request #{info.id} is {info.state_label}; it can't be edited any more.")
        await interaction.response.send_modal(TransferModal(info.id, form_of(info)))

    async def on_submit(self, interaction: discord.Interaction, request_id: int) -> None:
        closed = await self.service.get(request_id, interaction.user.id)
        if not closed.is_open:  # e.g. a draft that expired while its message stayed on screen
            await self._show_submitted(interaction, closed)
            return
        # Defer before anything slow: the checks call GitHub and PyPI.
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.service.submit(request_id, interaction.user.id)
        info = result.request
        missing = False
        if result.changed:
            try:
                info = (await self.service.run_checks(request_id, withdraw_if_missing=True)).request
                missing = info.state == "withdrawn"
            finally:
                # The request is submitted whatever the checks did: the review card must appear,
                # unless GitHub has no such repository (withdrawn then: nothing for maintainers to see).
                if not missing:
                    self.bot.dispatch("transfer_submitted", request_id)
        # The deferral's loading message becomes the answer (a followup for it is deprecated by Discord).
        if missing:
            await interaction.edit_original_response(
                embed=render.render_repo_missing(info), view=view_of(*buttons(info.id, "restart"))
            )
            return
        await interaction.edit_original_response(
            embeds=render.render_submitted(info, again=not result.changed),
            view=after_submit_view(info),
        )

    async def on_restart(self, interaction: discord.Interaction, request_id: int) -> None:
        """Reopen the form of a closed (expired) request with its answers, as a new request."""
        info = await self.service.get(request_id, interaction.user.id)
        draft = await self.service.get_draft(interaction.user.id)
        if draft is not None:  # one draft per user: offer the one they have
            next_action = "submit" if draft.terms_accepted_at else "continue"
            await interaction.response.send_message(
                embed=render.render_resume(draft), view=view_of(*buttons(draft.id, next_action, "edit")),
                ephemeral=True,
            )
            return
        await interaction.response.send_modal(TransferModal(None, form_of(info)))

    async def on_withdraw(self, interaction: discord.Interaction, request_id: int) -> None:
        result = await self.service.withdraw(request_id, interaction.user.id)
        if result.changed:
            self.bot.dispatch("transfer_updated", request_id)
        await interaction.response.edit_message(embed=render.render_withdrawn(result.request), view=None)

    async def _show_submitted(self, interaction: discord.Interaction, info: RequestInfo) -> None:
        if not info.is_open:  # an old message's button: say what became of the request
            restart = buttons(info.id, "restart") if info.expired else []
            await interaction.response.send_message(
                embed=render.render_closed(info), view=view_of(*restart), ephemeral=True
            )
            return
        await interaction.response.send_message(
            embeds=render.render_submitted(info, again=True), view=after_submit_view(info), ephemeral=True
        )


async def setup(bot: EcoBot) -> None:
    bot.add_dynamic_items(TransferButton, RetryFormButton)
    await bot.add_cog(Transfers(bot))
