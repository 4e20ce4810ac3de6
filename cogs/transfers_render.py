"""Pure rendering for the transfer intake: data in, embeds out. No I/O, so tests can call it directly.

User text (the reason, usernames) is escaped: it is shown as typed without pinging anyone or
breaking the embed's markdown, and cut to Discord's field limits.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.markdown import escape
from bot.services.eligibility import FAIL, PASS, WARN, Report
from bot.services.transfer_status import ChecklistLine, StatusEntry
from bot.services.transfers import TERMS, RequestInfo

FIELD_MAX = 1024
DESCRIPTION_MAX = 4096
ICONS = {PASS: "✅", WARN: "⚠️", FAIL: "❌"}
VERDICT_COLOURS = {
    "eligible": discord.Colour.green(),
    "needs_decision": discord.Colour.gold(),
    "not_accepted": discord.Colour.red(),
}
TRANSFER_DOCS = "https://docs.github.com/en/repositories/creating-and-managing-repositories/transferring-a-repository"
ECOSYSTEM = "https://palletsprojects.com/ecosystem"


def esc(text: str | None, limit: int = FIELD_MAX) -> str:
    """User text made safe for an embed: no markdown, no pings, within `limit` characters."""
    if not text:
        return "—"
    return escape(text, limit)  # linear: cut first, then escaped (bot/markdown.py)


def ts(when: datetime | None, style: str = "f") -> str:
    return discord.utils.format_dt(when, style) if when else "—"


def _summary_fields(embed: discord.Embed, info: RequestInfo) -> None:
    embed.add_field(name="Repository", value=esc(info.repo_full_name), inline=True)
    pypi = esc(info.pypi_project) if info.pypi_project else "not given"
    if info.pypi_project_detected:
        pypi += " (found in the repository)"
    embed.add_field(name="PyPI project", value=pypi, inline=True)
    embed.add_field(
        name="You",
        value=f"GitHub: {esc(info.github_username)}\nPyPI: {esc(info.pypi_username)}",
        inline=True,
    )
    embed.add_field(name="Why / current state", value=esc(info.reason), inline=False)


def render_form_saved(info: RequestInfo) -> discord.Embed:
    embed = discord.Embed(
        title=f"Transfer request #{info.id}: step 1 saved",
        description="Your answers are saved: you can close Discord and come back with `/eco transfer`.\n"
        "Next: press **Continue** to read the terms.",
        colour=discord.Colour.blurple(),
    )
    _summary_fields(embed, info)
    return embed


def render_resume(info: RequestInfo) -> discord.Embed:
    embed = discord.Embed(
        title=f"Your draft transfer request #{info.id}",
        description=f"You have a draft, saved {ts(info.updated_at, 'R')}. {info.next_step}\n"
        "Press **Edit** to change your answers, or withdraw it with `/eco withdraw`.",
        colour=discord.Colour.blurple(),
    )
    _summary_fields(embed, info)
    return embed


def render_terms(info: RequestInfo) -> discord.Embed:
    lines = "\n".join(f"{n}. {term}" for n, term in enumerate(TERMS, 1))
    embed = discord.Embed(
        title=f"Terms for moving {info.repo_full_name} into pallets-eco",
        description=f"{lines}\n\nPress **Accept terms** if you agree. Your acceptance is recorded with the time.",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(
        name="More", value=f"[How pallets-eco works]({ECOSYSTEM}) · [GitHub: transfer a repo]({TRANSFER_DOCS})"
    )
    return embed


def render_ready(info: RequestInfo) -> discord.Embed:
    embed = discord.Embed(
        title=f"Transfer request #{info.id}: ready to submit",
        description=f"Terms accepted {ts(info.terms_accepted_at)}. Press **Submit** to send the request: "
        "the bot then checks GitHub and PyPI and shows you the report.",
        colour=discord.Colour.blurple(),
    )
    _summary_fields(embed, info)
    return embed


def render_report(report: Report, *, limit: int = 20) -> discord.Embed:
    embed = discord.Embed(
        title=f"Eligibility: {report.verdict_label}" + (f" ({report.kind})" if report.kind else ""),
        description="\n".join(f"• {esc(r, 300)}" for r in report.reasons[:6])[:DESCRIPTION_MAX],
        colour=VERDICT_COLOURS.get(report.verdict, discord.Colour.greyple()),
    )
    lines = [f"{ICONS.get(c.status, '•')} **{esc(c.title, 100)}**: {esc(c.reason, 400)}" for c in report.checks[:limit]]
    _add_chunked(embed, "Checks", lines)
    if report.advice:
        embed.add_field(name="What to do instead", value=esc(report.advice), inline=False)
    return embed


def _add_chunked(embed: discord.Embed, name: str, lines: list[str]) -> None:
    """Spread lines over as many fields as needed (each at most 1,024 characters)."""
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > FIELD_MAX:
            embed.add_field(name=name, value="\n".join(chunk), inline=False)
            name, chunk = f"{name} (continued)", []
        chunk.append(line[:FIELD_MAX])
    if chunk:
        embed.add_field(name=name, value="\n".join(chunk), inline=False)


def render_submitted(info: RequestInfo, *, again: bool = False) -> list[discord.Embed]:
    head = discord.Embed(
        title=f"Transfer request #{info.id} for {info.repo_full_name}"
        + (" was already submitted" if again else " submitted"),
        description=f"**Next:** {info.next_step}",
        colour=discord.Colour.blurple(),
    )
    if info.report_error:
        limited = "rate limit" in info.report_error  # GitHub's own words: a wait, not an outage
        head.add_field(
            name="Checks postponed",
            value=("GitHub is rate limiting the bot right now, so the checks wait a few minutes."
                   if limited else "GitHub or PyPI could not answer right now.")
            + " Your request is saved; the bot retries the checks automatically and the maintainers see the result.",
            inline=False,
        )
    embeds = [head]
    if info.report is not None:
        embeds.append(render_report(info.report))
    return embeds


def render_repo_missing(info: RequestInfo) -> discord.Embed:
    repo = discord.utils.escape_markdown(info.repo_full_name)
    return discord.Embed(
        title="No such repository on GitHub",
        description=(
            f"GitHub has no public repository **{repo}**: it may be misspelled or private. Nothing was sent to "
            "the maintainers and this request is withdrawn. Press **Start again** to correct the form."
        ),
        colour=discord.Colour.orange(),
    )


EMBED_TOTAL = 6000  # Discord's limit for all text in a message's embeds
METHODS = {
    "github-owner": "GitHub sign-in as the repository's owner",
    "github-org-admin": "GitHub sign-in as an admin of the organisation's repository",
    "repo-topic": "repository topic: someone with maintain rights on the repository",
    "repo-topic-maintain": "repository topic: maintain access to the organisation's repository (not ownership)",
    "manual": "checked by a maintainer",
}


def render_status(entries: list[StatusEntry], *, limit: int = 10) -> discord.Embed:
    """One field per request (two once it has a checklist), newest first, within Discord's limits:
    what does not fit is counted in the footer rather than cut mid-sentence."""
    if not entries:
        return discord.Embed(
            title="Your transfer requests",
            description="You have no transfer requests. Start one with `/eco transfer`.",
            colour=discord.Colour.blurple(),
        )
    embed = discord.Embed(title="Your transfer requests", colour=discord.Colour.blurple())
    budget = EMBED_TOTAL - 200  # room for the footer
    shown = 0
    for entry in entries[:limit]:
        fields = _status_fields(entry)
        size = sum(len(name) + len(value) for name, value in fields)
        if len(embed.fields) + len(fields) > 25 or len(embed) + size > budget:
            break
        for name, value in fields:
            embed.add_field(name=name, value=value, inline=False)
        shown += 1
    if len(entries) > shown:
        embed.set_footer(text=f"{len(entries) - shown} older request(s) not shown.")
    return embed


def _status_fields(entry: StatusEntry) -> list[tuple[str, str]]:
    info = entry.request
    name = f"#{info.id} {info.repo_full_name}: {'draft expired' if info.expired else info.state_label}"[:256]
    fields = [(name, _status_value(entry))]
    if entry.checklist:
        done = sum(line.done for line in entry.checklist)
        lines = [_checklist_line(line) for line in entry.checklist]
        fields.append((f"#{info.id} checklist ({done}/{len(entry.checklist)} done)", _clip_lines(lines)))
    return fields


def _checklist_line(line: ChecklistLine) -> str:
    if line.done:
        by = " by a maintainer" if line.ticked_by_maintainer else ""
        return f"☑️ {esc(line.title, 200)}: done {ts(line.done_at)}{by}"
    how = "" if line.automatic else " (a maintainer ticks this)"
    return f"⬜ {esc(line.title, 200)}{how}"


def _clip_lines(lines: list[str], limit: int = FIELD_MAX) -> str:
    """Whole lines up to `limit` characters, then a count of what was left out."""
    out: list[str] = []
    for n, line in enumerate(lines):
        rest = f"\n… and {len(lines) - n} more"
        if len("\n".join([*out, line])) + (len(rest) if n < len(lines) - 1 else 0) > limit:
            return "\n".join([*out, rest.strip()])
        out.append(line)
    return "\n".join(out) or "—"


def verification_line(info: RequestInfo) -> str | None:
    if info.verified_at is not None:
        method = METHODS.get(info.verification_method or "", info.verification_method or "unknown method")
        who = f" as {esc(info.verified_github_login, 50)}" if info.verified_github_login else ""
        return f"✅ Ownership verified {ts(info.verified_at, 'R')}{who} ({esc(method, 120)})"
    if info.state in ("draft", "rejected", "withdrawn", "done"):
        return None
    if info.verification_note:
        return f"⚠️ {esc(info.verification_note, 300)}"
    return "⚠️ Ownership not verified yet"


def _status_value(entry: StatusEntry) -> str:
    info = entry.request
    if info.report is not None:
        counts = info.report.counts()
        checks = (
            f"Checks: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed · "
            f"verdict: **{info.report.verdict_label}**"
        )
    elif info.state == "draft":
        checks = "Checks: run when you submit"
    elif info.report_error:
        checks = "Checks: pending; GitHub or PyPI was unavailable, so they are retried automatically"
    else:
        checks = "Checks: pending (retried automatically)"
    times = f"Created {ts(info.created_at, 'R')} · updated {ts(info.updated_at, 'R')}"
    if info.submitted_at:
        times += f" · submitted {ts(info.submitted_at, 'R')}"
    if info.decided_at and info.state in ("approved", "transferring", "done", "rejected"):
        times += f" · {'rejected' if info.state == 'rejected' else 'approved'} {ts(info.decided_at, 'R')}"
    # The bot's own wording (bold and code marks meant), so clipped, not escaped.
    next_step = entry.next_step if len(entry.next_step) <= 400 else entry.next_step[:399] + "…"
    verified = verification_line(info)
    parts = [checks, *([verified] if verified else []), f"**Next:** {next_step}", times]
    return "\n".join(parts)[:FIELD_MAX]


def render_draft_expired(info: RequestInfo, days: float) -> discord.Embed:
    embed = discord.Embed(
        title=f"Your draft request #{info.id} for {info.repo_full_name} expired",
        description=f"Nobody changed it for {days:g} days, so the bot withdrew it and the repository is free for "
        "other requests. Press **Start again** to reopen the form with your answers filled in.",
        colour=discord.Colour.orange(),
    )
    _summary_fields(embed, info)
    return embed


def render_closed(info: RequestInfo) -> discord.Embed:
    """A button on an old message was pressed, but the request is closed."""
    state = "an expired draft" if info.expired else info.state_label
    return discord.Embed(
        title=f"Request #{info.id} for {info.repo_full_name} is {state}",
        description=info.next_step,
        colour=discord.Colour.dark_grey(),
    )


def render_withdraw_confirm(info: RequestInfo) -> discord.Embed:
    return discord.Embed(
        title=f"Withdraw request #{info.id} for {info.repo_full_name}?",
        description=f"It is {info.state_label}. Withdrawing closes it for good (you can start a new one later) and "
        "tells the maintainers.",
        colour=discord.Colour.orange(),
    )


def render_withdrawn(info: RequestInfo) -> discord.Embed:
    return discord.Embed(
        title=f"Request #{info.id} for {info.repo_full_name} withdrawn",
        description="It is closed. Run `/eco transfer` whenever you want to start again.",
        colour=discord.Colour.dark_grey(),
    )
