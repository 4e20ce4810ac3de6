"""The one-shot commands: `check`, `sync`, `eligibility`. Each prints a short result and returns an
exit code; none of them starts the gateway connection except `sync`, which only needs REST."""

from __future__ import annotations

import asyncio
import logging
import re
import sys

import aiohttp
import discord

from bot.config import Settings
from bot.errors import DomainError
from bot.runner import build_deps, point_discord_at
from bot.services.checkup import (
    MENTION_EVERYONE,
    CheckLine,
    channel_permissions,
    message_content_line,
    missing_permissions,
    role_ping_line,
)
from bot.services.github_budget import no_token_cost

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_SECONDS = 20.0
CHECK_TIMEOUT_SECONDS = 60.0


# Control characters (terminal escape sequences among them) from outside data never reach the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _out(line: str) -> None:
    sys.stdout.write(_CONTROL.sub("\ufffd", line) + "\n")


async def check(settings: Settings) -> int:
    lines = [CheckLine(True, "config file is valid")]
    token = settings.secrets.discord_token
    if not token:
        lines.append(CheckLine(False, "DISCORD_TOKEN is not set: export it to check ids and permissions"))
    else:
        try:
            lines.extend(await asyncio.wait_for(_check_discord(settings, token), CHECK_TIMEOUT_SECONDS))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # No network, DNS failure, a proxy in the way: one line, not discord.py's traceback.
            reason = _short_reason(exc)
            lines.append(CheckLine(False, f"cannot reach Discord ({reason}): check the network and try again"))
        except discord.HTTPException as exc:
            lines.append(CheckLine(False, f"Discord answered {exc.status} (code {exc.code}): try again later"))
    for name, value in (("GITHUB_TOKEN", settings.secrets.github_token),):
        lines.append(CheckLine(bool(value), f"{name} is set" if value else no_token_cost(settings)))
    for line in lines:
        _out(line.render())
    missing = [line for line in lines if not line.ok]
    _out("all good" if not missing else f"{len(missing)} thing(s) to fix")
    return 1 if missing else 0


def _short_reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0].strip() if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


async def _check_discord(settings: Settings, token: str) -> list[CheckLine]:
    point_discord_at(settings)
    d = settings.discord
    lines: list[CheckLine] = []
    client = discord.Client(intents=discord.Intents.none())
    try:
        try:
            await asyncio.wait_for(client.login(token), LOGIN_TIMEOUT_SECONDS)
        except discord.LoginFailure:
            return [CheckLine(False, "Discord rejected DISCORD_TOKEN")]
        http = client.http
        me = client.user
        assert me is not None
        lines.append(CheckLine(True, f"logged in as {me.name} ({me.id})"))
        # login() read GET /oauth2/applications/@me: its flags say whether the portal toggle is on.
        lines.append(message_content_line(d.message_content, client.application_flags.value))
        try:
            guild = await http.get_guild(d.guild_id)
        except discord.HTTPException:
            return [*lines, CheckLine(False, f"guild {d.guild_id} not found, or the bot is not in it")]
        lines.append(CheckLine(True, f"guild {guild['name']} found"))
        roles = {int(r["id"]): int(r["permissions"]) for r in guild["roles"]}
        for rid in d.maintainer_role_ids:
            lines.append(CheckLine(rid in roles, f"maintainer role {rid} {'exists' if rid in roles else 'NOT found'}"))
        member = await http.get_member(d.guild_id, me.id)
        member_roles = [int(r) for r in member.get("roles", [])]
        mention_everyone = await _may_mention_everyone(http, d.guild_id, d.review_channel_id, me.id,
                                                       member_roles, roles)
        by_id = {int(r["id"]): r for r in guild["roles"]}
        for rid in d.maintainer_role_ids:
            if rid in by_id:
                role = by_id[rid]
                lines.append(role_ping_line(rid, str(role.get("name", rid)), bool(role.get("mentionable")),
                                            mention_everyone))
        channels = {
            "eco_channel_id": d.eco_channel_id,
            "review_channel_id": d.review_channel_id,
            "announce_channel_id": d.announce_channel,
        }
        for key, cid in channels.items():
            try:
                channel = await http.get_channel(cid)
            except discord.HTTPException:
                lines.append(CheckLine(False, f"discord.{key} {cid}: channel not found or not visible"))
                continue
            if str(channel.get("guild_id")) != str(d.guild_id):
                lines.append(CheckLine(False, f"discord.{key} {cid}: channel is not in guild {d.guild_id}"))
                continue
            perms = channel_permissions(
                guild_id=d.guild_id,
                member_id=me.id,
                member_role_ids=member_roles,
                roles=roles,
                overwrites=channel.get("permission_overwrites", []),
            )
            missing = missing_permissions(perms)
            name = channel.get("name", cid)
            if missing:
                lines.append(CheckLine(False, f"#{name} ({key}): missing {', '.join(missing)}"))
            else:
                lines.append(CheckLine(True, f"#{name} ({key}): all permissions present"))
    finally:
        await client.close()
    return lines


async def _may_mention_everyone(http, guild_id: int, channel_id: int, me: int, member_roles: list[int],
                                roles: dict[int, int]) -> bool:
    """Mention Everyone where nudges are posted (threads of the review channel take its permissions)."""
    try:
        channel = await http.get_channel(channel_id)
    except discord.HTTPException:
        overwrites = []
    else:
        overwrites = channel.get("permission_overwrites", [])
    perms = channel_permissions(guild_id=guild_id, member_id=me, member_role_ids=member_roles, roles=roles,
                                overwrites=overwrites)
    return bool(perms & MENTION_EVERYONE)


async def sync_commands(settings: Settings) -> int:
    from bot.app import EcoBot

    point_discord_at(settings)
    async with build_deps(settings, start_background_tasks=False) as deps:
        bot = EcoBot(deps, sync_on_start=False)
        # login() runs setup_hook (loads the extensions); then sync unconditionally.
        async with bot:
            await bot.login(settings.secrets.discord_token)
            await bot.sync_commands(force=True)
    _out("command tree synced")
    return 0


async def eligibility(settings: Settings, repository: str, pypi_project: str | None) -> int:
    from bot.services.eligibility import EligibilityService, render_report_text
    from bot.services.repo_ref import parse_repo_ref

    try:
        ref = parse_repo_ref(repository)
        async with build_deps(settings, start_background_tasks=False) as deps:
            service = EligibilityService(deps.github, deps.pypi, settings)
            report = await service.evaluate(ref.owner, ref.name, pypi_project=pypi_project)
    except DomainError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    _out(render_report_text(report))
    return 0
