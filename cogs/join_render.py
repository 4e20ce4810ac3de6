"""Pure rendering for `/eco join`: the join card, the messages to the person, status and queue lines.

Everything on the card comes from what the bot fetched from GitHub, except the "about" text, which is
shown quoted and made inert (bot.markdown.escape: no markdown, no links, no pings, bounded length).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

import discord

from bot.config import Settings
from bot.markdown import escape
from bot.services.join import CONTRIBUTING_URL, JoinCard, JoinInfo, JoinQueueEntry, ProofStart
from bot.services.review import APPROVE, LOOKING, REJECT

COLOURS = {
    "submitted": discord.Colour.light_grey(),
    "under_review": discord.Colour.blurple(),
    "approved": discord.Colour.green(),
    "done": discord.Colour.dark_green(),
    "rejected": discord.Colour.red(),
    "withdrawn": discord.Colour.dark_grey(),
}
FIELD_LIMIT = 1024


def _clip(text: str, limit: int = FIELD_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _projects(info: JoinInfo, org: str) -> str:
    if not info.projects:
        return f"The {escape(org, 39)} organisation in general"
    return ", ".join(escape(p, 100) for p in info.projects)


def _age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "unknown (GitHub didn't say)"
    days = max(0, (now - created).days)
    years, rest = divmod(days, 365)
    span = f"{years} year{'s' * (years != 1)}" if years else f"{days} day{'s' * (days != 1)}"
    warn = " ⚠️ a new account" if days < 90 else ""
    return f"created {created:%Y-%m-%d} ({span} old){warn}"


def _quote(text: str, limit: int) -> str:
    body = escape(text, limit) or "(empty)"
    return "\n".join("> " + line for line in body.split("\n"))


def _people(ids: tuple[int, ...]) -> str:
    return ", ".join(f"<@{u}>" for u in ids[:15]) + (f" and {len(ids) - 15} more" if len(ids) > 15 else "")


def render_card(card: JoinCard, settings: Settings, now: datetime) -> discord.Embed:
    info, web, org = card.info, settings.github.web_url, settings.github.org
    login = info.github_login or ""
    state = {"under_review": "waiting for votes", "submitted": "waiting for votes"}.get(info.state, info.label)
    embed = discord.Embed(
        title=f"Join request #{info.id}: {login}"[:256],
        url=f"{web}/{quote(login, safe='')}" if login else None,
        description=(f"<@{info.requester_id}> asks to join **{escape(org, 39)}** to help maintain.\n"
                     f"State: **{escape(state, 80)}**"),
        colour=COLOURS.get(info.state, discord.Colour.blurple()),
    )
    embed.add_field(name="GitHub account (proven by sign-in)",
                    value=f"[{escape(login, 39)}]({web}/{quote(login, safe='')})\n{_age(info.account_created_at, now)}",
                    inline=False)
    embed.add_field(name="Projects", value=_clip(_projects(info, org)), inline=False)
    embed.add_field(name=f"Already in {escape(org, 39)} (from GitHub)", value=_contributions(info), inline=False)
    embed.add_field(name="About them (their words, quoted)",
                    value=_clip(_quote(info.about, settings.join.about_max_chars)), inline=False)
    tally = card.tally
    votes = [f"{APPROVE} {len(tally.approvals)}/{card.approvals_required}"
             + (f": {_people(tally.approvals)}" if tally.approvals else "")]
    if tally.rejections:
        votes.append(f"{REJECT} {_people(tally.rejections)}")
    if tally.looking:
        votes.append(f"{LOOKING} {_people(tally.looking)}")
    embed.add_field(name="Votes", value=_clip("\n".join(votes)), inline=False)
    if info.state == "rejected" and info.decision_reason:
        embed.add_field(name="Reason", value=_clip(escape(info.decision_reason, 1000)), inline=False)
    if info.invitation_state:
        inv = f"{escape(info.invitation_state, 20)}"
        if info.invitation_error:
            inv += f": {escape(info.invitation_error, 300)}"
        if info.teams_note:
            # Built by the service from a configured slug and an already escaped GitHub message.
            inv += "\n" + info.teams_note[:600]
        embed.add_field(name="Invitation", value=_clip(inv), inline=False)
    embed.set_footer(text=f"Vote: {APPROVE} approve · {REJECT} reject (you'll be asked why) · {LOOKING} looking")
    return embed


def _contributions(info: JoinInfo) -> str:
    c = info.contributions
    if c is None:
        return escape(info.contributions_error, 200) if info.contributions_error else "Not read yet."
    least = "at least " if c.incomplete else ""
    lines = [f"Merged pull requests: {least}**{c.merged_prs}** · open pull requests: {least}**{c.open_prs}** · "
             f"issues opened: {least}**{c.issues}**"]
    for kind, title, url in c.links:
        lines.append(f"• {escape(kind, 20)}: [{escape(title, 80) or '(untitled)'}](<{quote(url, safe=':/#?=&')}>)")
    if len(lines) == 1 and not (c.merged_prs or c.open_prs or c.issues) and not c.incomplete:
        lines = ["Nothing yet in the organisation (pull requests or issues)."]
    if c.incomplete:
        lines.append("GitHub's search timed out, so these results are incomplete.")
    return _clip("\n".join(lines))


def render_asked(info: JoinInfo, device_available: bool, org: str) -> discord.Embed:
    text = (f"Your join request #{info.id} is saved: **{_projects(info, org)}**.\n\n"
            "The invitation goes to your GitHub account, so prove which one it is: press **Sign in with "
            "GitHub**, enter the code on github.com, and I read your login once (no repository rights are "
            "asked). Maintainers then see your request.")
    if not device_available:
        text = (f"Your join request #{info.id} is saved, but GitHub sign-in isn't configured on this bot, so your "
                "account can't be proven yet. A maintainer has been told; you can withdraw it with `/eco withdraw`.")
    return discord.Embed(title="Join pallets-eco", description=text, colour=discord.Colour.blurple())


def render_proof_start(start: ProofStart) -> discord.Embed:
    expires = discord.utils.format_dt(start.expires_at, "R")
    return discord.Embed(
        title="Sign in with GitHub",
        description=(f"1. Open {start.verification_uri}\n2. Enter the code **`{start.user_code}`** and approve.\n\n"
                     f"The code expires {expires}. I'll tell you here (or by DM) when GitHub answers."),
        colour=discord.Colour.blurple(),
    )


def next_steps(info: JoinInfo, settings: Settings, invitation_state: str | None) -> str:
    org, web = settings.github.org, settings.github.web_url
    where = settings.join.channels
    if invitation_state == "member":
        first = f"You are already a member of **{escape(org, 39)}** on GitHub."
    elif invitation_state in ("sent", "resent"):
        first = (f"1. Accept the invitation to **{escape(org, 39)}** at {web}/orgs/{quote(org, safe='')}/invitation "
                 "(GitHub invitations expire after 7 days).")
    else:
        first = (f"1. A maintainer will invite **{escape(info.github_login, 39)}** to **{escape(org, 39)}**; "
                 "accept the invitation when it arrives (it expires after 7 days).")
    talks = []
    for project in info.projects or ("*",):
        place = where.get(project) or where.get(project.lower()) or where.get("*")
        if place:
            label = "everything else" if project == "*" else escape(project, 100)
            talks.append(f"   • {label}: {escape(place, 200)}")
    lines = [f"🎉 Your request to join **{escape(org, 39)}** (#{info.id}) was approved. Next steps:", first,
             f"2. Read the contributing guide: {CONTRIBUTING_URL}"]
    if talks:
        lines.append("3. Where the maintainers talk:\n" + "\n".join(talks))
    return "\n".join(lines)


def rejection_message(info: JoinInfo, reason: str | None, retry_days: float) -> str:
    text = f"Your request to join pallets-eco (#{info.id}) was declined by the maintainers."
    text += f"\nTheir reason: {escape(reason, 1500)}" if reason else "\nNo reason was written down."
    return text + (f"\nYou may ask again in {retry_days:g} days; contributions are welcome meanwhile: "
                   f"{CONTRIBUTING_URL}")


def status_embed(entries: list[JoinInfo], org: str) -> discord.Embed:
    embed = discord.Embed(title="Your join requests", colour=discord.Colour.blurple())
    for info in entries:
        who = f" as **{escape(info.github_login, 39)}**" if info.github_login else ""
        embed.add_field(name=f"#{info.id} · {info.label}"[:256],
                        value=_clip(f"{_projects(info, org)}{who}"), inline=False)
    return embed


def render_queue(entries: list[JoinQueueEntry], room: int = 6000) -> discord.Embed:
    """The open join requests in at most `room` characters (title included): `/eco queue` sends it with the
    transfer queue, and Discord's 6,000 characters count every embed of a message together."""
    embed = discord.Embed(title="Join requests", colour=discord.Colour.blurple())
    if not entries:
        embed.description = "No open join requests."
        return embed
    budget = max(0, min(4000, room - len(embed.title or "") - 10))
    lines: list[str] = []
    used = 0
    for n, e in enumerate(entries):
        line = f"#{e.id} **{escape(e.login, 39) or '?'}** · {_days(e.age)} · {escape(e.waiting_for, 200)}"
        more = f"… and {len(entries) - n} more"
        if n >= 25 or used + len(line) + 1 + len(more) + 1 > budget:
            lines.append(more if lines else f"{len(entries)} open join requests")
            break
        lines.append(line)
        used += len(line) + 1
    embed.description = _clip("\n".join(lines), max(1, budget))
    return embed


def _days(age: timedelta) -> str:
    return f"{age.days}d" if age.days else f"{int(age.total_seconds() // 3600)}h"
