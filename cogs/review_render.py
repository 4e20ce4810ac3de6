"""Pure rendering for the review feature: the review card, messages to the requester, the queue.

Nothing here talks to Discord or the database; every function takes service results and returns
embeds or text. User-typed text (reasons, notes, report text) is escaped before display.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.config import Settings
from bot.db.models.transfers import TransferRequest
from bot.markdown import escape, pypi_project_url
from bot.services import adoption as adoption_mod
from bot.services.package_files import valid_project_name
from bot.services.review import (
    APPROVE,
    ITEM_BY_KEY,
    LOOKING,
    MAINTAIN_ONLY_METHOD,
    REJECT,
    CardData,
    QueueEntry,
    item_title,
    login_confirmed,
    login_proven,
    requester_login,
)
from bot.services.states import LABELS

log = logging.getLogger(__name__)

PYPI_PROJECT_URL = "https://pypi.org/project/{name}/"
TRANSFER_DOCS = (
    "https://docs.github.com/en/repositories/creating-and-managing-repositories/transferring-a-repository"
)
COLOURS = {
    "submitted": discord.Colour.light_grey(),
    "under_review": discord.Colour.blurple(),
    "approved": discord.Colour.green(),
    "transferring": discord.Colour.teal(),
    "done": discord.Colour.dark_green(),
    "rejected": discord.Colour.red(),
    "withdrawn": discord.Colour.dark_grey(),
}
STATUS_ICONS = {"pass": "\u2705", "warn": "\u26a0\ufe0f", "fail": "\u274c"}
# Discord's embed limits (a longer embed is refused with a 400, and the card would never appear).
FIELD_LIMIT = 1024
DESCRIPTION_LIMIT = 4096
EMBED_LIMIT = 6000
MAX_MENTIONS = 15  # per vote line: 50 maintainers' mentions would not fit a field


def safe(text: str | None, limit: int = 300) -> str:
    """User or report text made inert: no markdown tricks, no pings, bounded length."""
    if not text:
        return ""
    return escape(text, limit)  # linear: cut first, then escaped (bot/markdown.py)


def _clip(text: str, limit: int = FIELD_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _day(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d}" if when else "?"


def _users(ids: tuple[int, ...]) -> str:
    if not ids:
        return "\u2014"
    shown = ", ".join(f"<@{u}>" for u in ids[:MAX_MENTIONS])
    return shown + (f" and {len(ids) - MAX_MENTIONS} more" if len(ids) > MAX_MENTIONS else "")


def fit_embed(embed: discord.Embed, limit: int = EMBED_LIMIT) -> discord.Embed:
    """Shorten the longest field values until the whole embed is within Discord's total limit."""
    if embed.description and len(embed.description) > DESCRIPTION_LIMIT:
        embed.description = _clip(embed.description, DESCRIPTION_LIMIT)
    over = len(embed) - limit
    order = sorted(range(len(embed.fields)), key=lambda i: -len(embed.fields[i].value or ""))
    for index in order:
        if over <= 0:
            break
        f = embed.fields[index]
        value = f.value or ""
        keep = max(len(value) - over, 80)
        if keep < len(value):
            over -= len(value) - keep
            embed.set_field_at(index, name=f.name, value=_clip(value, keep), inline=bool(f.inline))
    return embed


def load_report(request: TransferRequest) -> Any | None:
    """The eligibility report, or None when it is missing or unreadable (never breaks the card)."""
    if not request.report_json:
        return None
    try:
        from bot.services.eligibility import Report

        return Report.from_json(request.report_json)
    except Exception:  # a report written by another version must not stop the card
        log.warning("could not read the eligibility report of request %s", request.id)
        return None


def repo_url(request: TransferRequest, settings: Settings) -> str:
    return f"{settings.github.web_url}/{request.repo_full_name}"


EVIDENCE_CHECKS = ("superseded_", "core_copy_", "application_")


def _eligibility(request: TransferRequest) -> str:
    report = load_report(request)
    if report is None:
        verdict = request.verdict or "not checked"
        error = f"\nCheck failed: {safe(request.report_error, 200)}" if request.report_error else ""
        return f"**{safe(verdict)}**{error}"
    lines = [f"**{safe(getattr(report, 'verdict_label', report.verdict)).upper()}**"]
    for check in getattr(report, "checks", [])[:12]:
        icon = STATUS_ICONS.get(getattr(check, "status", ""), "\u2022")
        # The superseded / core-copy / application checks carry the evidence links: keep them whole.
        limit = 400 if str(getattr(check, "key", "")).startswith(EVIDENCE_CHECKS) else 140
        lines.append(f"{icon} {safe(check.title, 80)}: {safe(check.reason, limit)}")
    return _clip("\n".join(lines))


def _verification(request: TransferRequest) -> str:
    if request.verified_at is None:
        # The note says why (e.g. "GitHub user X signed in, but o/r is owned by Y").
        why = f"\n{safe(request.verification_note, 400)}" if request.verification_note else (
            "\nThe requester has not completed a verification yet."
        )
        return "\u274c **Not verified**: ownership of the repository has not been proven." + why
    if request.verification_method == MAINTAIN_ONLY_METHOD:
        note = f"\n{safe(request.verification_note, 300)}" if request.verification_note else ""
        return (
            f"\u2611\ufe0f **Maintain access only** (repository topic, {_day(request.verified_at)}): not ownership, "
            f"only an admin can transfer an organisation's repository.{note}"
        )
    method = safe(request.verification_method or "unknown method")
    login = f" as **{safe(request.verified_github_login)}**" if request.verified_github_login else ""
    note = f"\n{safe(request.verification_note, 200)}" if request.verification_note else ""
    return f"\u2705 Verified{login} ({method}, {_day(request.verified_at)}){note}"


def _pypi_role(request: TransferRequest) -> str:
    report = load_report(request)
    role = getattr(report, "pypi_role", None) if report is not None else None
    who = safe(request.pypi_username, 100) or "no PyPI username given"
    caveat = "\n*The PyPI username is self-declared: the bot can't prove the requester owns it.*"
    if role is None:
        return f"{who}: role unknown" + (caveat if request.pypi_username else "")
    text = f"{who}: **{safe(role)}**"
    if str(role).lower() == "maintainer":
        text += "\nA Maintainer can't add Owners: the current Owner must make the hand-over."
    return text + (caveat if request.pypi_username else "")


def _checklist(data: CardData, settings: Settings) -> str:
    lines = []
    for item in data.items:
        spec = ITEM_BY_KEY.get(item.key)
        title = item_title(spec, settings) if spec else item.key
        if item.done_at:
            who = f" by <@{item.done_by}>" if item.done_by else ""
            note = f": {safe(item.note, 80)}" if item.note else ""
            lines.append(f"\u2611\ufe0f ~~{safe(title)}~~ ({_day(item.done_at)}{who}){note}")
        else:
            manual = "" if spec is None or spec.automatic else " *(tick with /eco tick)*"
            lines.append(f"\u2b1c {safe(title)}{manual}")
    return _clip("\n".join(lines) or "\u2014")


def _invitation(data: CardData, settings: Settings) -> str | None:
    t = data.tracking
    if t is None or t.approved_at is None:
        return None
    org, login = settings.github.org, safe(t.invitation_login or requester_login(data.request) or "?")
    people = f"{settings.github.web_url}/orgs/{org}/people"
    return {
        "pending": "being sent\u2026",
        "sending": "being sent\u2026",
        "sent": f"invitation sent to **{login}** ({_day(t.invitation_at)})",
        "resent": f"the first invitation expired; a new one was sent to **{login}** ({_day(t.invitation_at)})",
        "lapsed": f"\u26a0\ufe0f {safe(t.invitation_error, 150)}: invite **{login}** to {org} by hand: {people}",
        "member": f"**{login}** is already a member of {org}",
        "failed": f"failed ({safe(t.invitation_error, 150)}); retried on the next check",
        "manual": f"\u26a0\ufe0f invite **{login}** to {org} by hand: {people}",
    }.get(t.invitation_state, safe(t.invitation_state))


def _pypi_link(name: str) -> str:
    # A stored name is validated, but the card must hold even if one isn't: no link then.
    if valid_project_name(name) is None:
        return f"{safe(name, 100)} *(not a valid PyPI name)*"
    return f"[{safe(name, 200)}]({pypi_project_url(name)})"


def _adoption_field(found: adoption_mod.Adoption, settings: Settings) -> str:
    """Upstream's last activity and the fork's progress, linked. Links only from checked GitHub names; every
    outside string escaped and capped."""
    web = settings.github.web_url
    name_ok = adoption_mod.valid_full_name(found.upstream)
    upstream = f"[{safe(found.upstream, 201)}]({web}/{found.upstream})" if name_ok else safe(found.upstream, 201)
    lines = [f"Upstream: {upstream}"]
    if found.upstream_description:
        # One line, whatever it held: a newline would end the quote and start a heading or a list.
        one_line = " ".join(str(found.upstream_description)[: adoption_mod.MAX_DESCRIPTION].split())
        lines.append(f"> {safe(one_line, adoption_mod.MAX_DESCRIPTION)}")
    idle = f" ({found.inactive_days} days)" if found.inactive_days is not None else ""
    lines.append(
        f"Upstream's last activity: {safe(adoption_mod.day(found.last_activity), 10)}{idle} · last push "
        f"{safe(adoption_mod.day(found.upstream_last_push), 10)} · last release "
        f"{safe(adoption_mod.day(found.upstream_last_release), 10)}"
    )
    progress = safe(adoption_mod.progress_text(found), 300)
    if name_ok and found.compare and adoption_mod.valid_compare(found.compare) and found.ahead_by is not None:
        progress += f" [compare]({web}/{found.upstream}/compare/{found.compare})"
    lines.append(progress)
    lines.append(f"PyPI: {safe(adoption_mod.pypi_text(found), 500)}")
    return _clip("\n".join(lines))


def render_card(data: CardData, settings: Settings) -> discord.Embed:
    r = data.request
    state = r.state
    adoption = adoption_mod.load(r.report_json)
    embed = discord.Embed(
        title=_clip(f"Transfer request #{r.id}: {r.repo_full_name}" + (" (adoption)" if adoption else ""), 256),
        url=repo_url(r, settings),
        colour=COLOURS.get(state, discord.Colour.default()),
    )
    lines = [f"**State:** {LABELS.get(state, state)}"]
    if adoption is not None:
        lines.append(
            f"\U0001f9ed **ADOPTION of an abandoned extension**: a fork of {safe(adoption.upstream, 201)}, inactive "
            f"since {safe(adoption_mod.day(adoption.last_activity), 10)}. The maintainers decide; the PyPI name "
            "stays with its original owners."
        )
    if state in ("submitted", "under_review"):
        if r.verified_at is None:
            lines.append("\u26a0\ufe0f **NOT VERIFIED**: approving needs a maintainer's confirmation.")
            if r.verification_note:
                lines.append(f"> {safe(r.verification_note, 400)}")
        elif r.verification_method == MAINTAIN_ONLY_METHOD:
            lines.append(
                "\u26a0\ufe0f **MAINTAIN ACCESS ONLY**: the topic proves maintain access, not ownership: approving "
                "needs a maintainer's confirmation."
            )
        if not login_confirmed(r):
            login = requester_login(r)
            lines.append(
                f"\u26a0\ufe0f **GitHub login self-declared, not proven**: confirming the approval also invites "
                f"**{safe(login, 40)}** to the org." if login else
                "\u26a0\ufe0f **No GitHub login known**: the requester must be invited by hand."
            )
        if r.verdict == "not_accepted":
            lines.append("\u26d4 **Eligibility verdict: NOT ACCEPTED**: approving needs a maintainer's confirmation.")
        elif r.verdict is None:
            lines.append("\u26a0\ufe0f **NO ELIGIBILITY VERDICT** (the checks have not run): approving needs a "
                         "maintainer's confirmation.")
        if data.awaiting_confirmation:
            lines.append("\U0001f449 Enough approvals: press **Confirm approval** to approve.")
    if r.decided_by and state in ("approved", "transferring", "done"):
        lines.append(f"Approved by <@{r.decided_by}> on {_day(r.decided_at)}.")
    if state == "rejected":
        reason = safe(r.decision_reason, 500) if r.decision_reason else "*waiting for the reason*"
        who = f" by <@{r.decided_by}>" if r.decided_by else ""
        lines.append(f"Rejected{who} on {_day(r.decided_at)}. Reason: {reason}")
    if state == "done":
        lines.append("\U0001f389 Every step is done: this project now lives in the org.")
    embed.description = "\n".join(lines)

    pypi = _pypi_link(r.pypi_project) if r.pypi_project else "none given"
    embed.add_field(name="Repository", value=f"[{safe(r.repo_full_name)}]({repo_url(r, settings)})", inline=True)
    embed.add_field(name="PyPI project", value=pypi, inline=True)
    github = safe(r.verified_github_login or r.github_username) or "unknown"
    if login_proven(r):
        proof = " (signed in)"
    elif login_confirmed(r):
        proof = " *(self-declared, vouched for by a maintainer)*"
    else:
        proof = " *(self-declared, not proven)*"
    embed.add_field(name="Requester", value=f"<@{r.requester_id}>\nGitHub: **{github}**{proof}", inline=True)
    embed.add_field(name="Verification", value=_verification(r), inline=False)
    embed.add_field(name="Eligibility", value=_eligibility(r), inline=False)
    if adoption is not None:
        embed.add_field(name="Adoption", value=_adoption_field(adoption, settings), inline=False)
    embed.add_field(name="PyPI role", value=_pypi_role(r), inline=False)
    if r.reason:
        embed.add_field(name="Why transfer", value=safe(r.reason, 500), inline=False)
    t = data.tally
    votes = (
        f"{APPROVE} {len(t.approvals)}/{data.approvals_required}: {_users(t.approvals)}\n"
        f"{REJECT} {_users(t.rejections)}\n{LOOKING} {_users(t.looking)}"
    )
    embed.add_field(name="Votes", value=_clip(votes), inline=False)
    if data.items:
        embed.add_field(name="Checklist", value=_checklist(data, settings), inline=False)
    if data.tracking is not None and data.tracking.last_error and state in ("approved", "transferring"):
        embed.add_field(
            name="Tracking",
            value=f"\u26a0\ufe0f The last check failed: {safe(data.tracking.last_error, 300)}. "
            "Retried on the next check.",
            inline=False,
        )
    invitation = _invitation(data, settings)
    if invitation:
        embed.add_field(name="Org invitation", value=invitation, inline=False)
    if data.nudges:
        notes = [f"{n.level} reminded on {_day(n.sent_at)}" for n in data.nudges[-3:]]
        embed.add_field(name="Reminders", value="\n".join(notes), inline=False)
    footer = f"Request #{r.id}"
    if state in ("submitted", "under_review"):
        footer = f"{APPROVE} approve \u00b7 {REJECT} reject \u00b7 {LOOKING} looking at it \u00b7 " + footer
    embed.set_footer(text=footer)
    return fit_embed(embed)


def requester_checklist(data: CardData, settings: Settings) -> str:
    """What the requester does next, in order, tailored to their request (ARCHITECTURE.md#after-the-github-move)."""
    r, org = data.request, settings.github.org
    owners = ", ".join(f"`{o}`" for o in settings.pypi.trusted_owners)
    login = requester_login(r)
    invitation = data.tracking.invitation_state if data.tracking else None
    accept = f"{settings.github.web_url}/orgs/{org}/invitation"
    if invitation == "member":
        join = f"1. **Org membership**: **{safe(login)}** is already a member of {org}, nothing to do."
    elif invitation == "manual" or login is None:
        join = (
            "1. **Join the org first**: a maintainer will invite "
            + (f"**{safe(login)}**" if login else "your GitHub account (tell them which one)")
            + f"; then accept the invitation at {accept}."
        )
    else:
        join = f"1. **Join the org first**: accept the invitation at {accept}" + (
            f" (sent to **{safe(login)}**)." if login else "."
        )
    steps = [
        f"Your request to move **{safe(r.repo_full_name)}** into **{org}** was approved. Next steps:",
        join,
        f"2. **Transfer the repository** to `{org}` (Settings \u2192 Transfer). Guide: <{TRANSFER_DOCS}>",
    ]
    n = 3
    path = adoption_mod.pypi_path(r.report_json) if r.pypi_project else None
    if path == adoption_mod.PEP541:
        steps.append(
            f"{n}. **PyPI**: `{safe(r.pypi_project)}` belongs to its original owners. Either file a PEP 541 name "
            f"transfer request for it (<{adoption_mod.PEP541_URL}>, at <{adoption_mod.PYPI_SUPPORT_URL}>) and tell "
            f"the maintainers when it is filed, or publish under your fork's own name and make {owners} an "
            "**Owner** of it."
        )
        n += 1
    elif path == adoption_mod.OWN_NAME:
        steps.append(
            f"{n}. **PyPI**: make {owners} an **Owner** of `{safe(r.pypi_project)}`, your fork's own name (the "
            f"abandoned name stays with its original owners unless a PEP 541 request is granted)."
        )
        n += 1
    elif r.pypi_project:
        role = getattr(load_report(r), "pypi_role", None)
        warn = (
            " You are a Maintainer there: only an Owner can add Owners, so ask the current Owner."
            if str(role).lower() == "maintainer"
            else ""
        )
        steps.append(f"{n}. **PyPI**: make {owners} an **Owner** of `{safe(r.pypi_project)}`.{warn}")
        n += 1
    if r.pypi_project:
        steps.append(
            f"{n}. **Trusted publishing** on PyPI for `{org}/{safe(r.repo_name)}`, workflow `publish.yaml`, "
            "environment `publish`."
        )
        n += 1
    steps.append(f"{n}. Add a notice to the README that the project is part of the Pallets Community Ecosystem.")
    n += 1
    steps.append(f"{n}. Read the Docs" + (" and Test PyPI" if r.pypi_project else "") + f": add {owners}.")
    n += 1
    if r.pypi_project:
        steps.append(f"{n}. **Cut a release** from the new home so PyPI shows it.")
    steps.append("The bot checks these steps by itself and shows progress in `/eco status`.")
    return "\n".join(steps)


def rejection_message(request: TransferRequest, reason: str | None) -> str:
    why = (
        f"Reason from the maintainers: {safe(reason, 1500)}\n"
        if reason
        else "The maintainers have not written down the reason yet; it will be sent to you when they do.\n"
    )
    return (
        f"Your request to move **{safe(request.repo_full_name)}** into pallets-eco was not accepted.\n"
        f"{why}Questions are welcome in the #pallets-eco channel."
    )


def nudge_requester_message(request: TransferRequest, days: float) -> str:
    return (
        f"A friendly reminder about moving **{safe(request.repo_full_name)}** into pallets-eco: nothing has "
        f"changed for {days:g} days. `/eco status` shows what is left. Stuck? Ask in #pallets-eco."
    )


def nudge_maintainers_message(data: CardData, settings: Settings, role_ids: tuple[int, ...], days: float) -> str:
    # The approver is pinged too: a role only pings when it is mentionable (or the bot may ping all roles).
    approver = [f"<@{data.request.decided_by}>"] if data.request.decided_by else []
    pings = " ".join([f"<@&{r}>" for r in role_ids] + approver)
    left = [item_title(ITEM_BY_KEY[i.key], settings) for i in data.items if not i.done_at and i.key in ITEM_BY_KEY]
    return _clip(
        f"{pings} The transfer of **{safe(data.request.repo_full_name)}** has not progressed for {days:g} days. "
        f"Still open: {safe(', '.join(left), 600) or 'nothing'}.",
        2000,
    )


def announcement(request: TransferRequest, settings: Settings) -> str:
    org = settings.github.org
    url = f"{settings.github.web_url}/{org}/{request.repo_name}"
    return (
        f"\U0001f389 **{safe(request.repo_name)}** is now part of the Pallets Community Ecosystem: <{url}>. "
        f"Thanks <@{request.requester_id}>!"
    )


def _age(age: timedelta) -> str:
    if age.days >= 1:
        return f"{age.days}d"
    hours = int(age.total_seconds() // 3600)
    return f"{hours}h" if hours else f"{int(age.total_seconds() // 60)}m"


def render_queue(entries: list[QueueEntry]) -> discord.Embed:
    embed = discord.Embed(title="Transfer queue", colour=discord.Colour.blurple())
    if not entries:
        embed.description = "No open transfer requests."
        return embed
    for state in ("submitted", "under_review", "approved", "transferring"):
        rows = [e for e in entries if e.state == state]
        if not rows:
            continue
        lines = [
            f"#{e.request_id} **{safe(e.repo)}** \u00b7 {_age(e.age)} \u00b7 {safe(e.waiting_for, 200)}" for e in rows
        ]
        embed.add_field(name=f"{LABELS.get(state, state)} ({len(rows)})", value=_clip("\n".join(lines)), inline=False)
    return embed
