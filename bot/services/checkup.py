"""Pure logic behind `python -m bot check`: which configured ids exist and which permissions the bot
lacks in each configured channel (computed the way Discord does: base role permissions, then
@everyone, role and member overwrites)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ADMINISTRATOR = 1 << 3
MENTION_EVERYONE = 1 << 17
# Application flags GATEWAY_MESSAGE_CONTENT (approved, 100+ servers) and GATEWAY_MESSAGE_CONTENT_LIMITED
# (the Developer Portal toggle, under 100 servers): Discord API docs, "Application Flags".
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)

# Permission bits (Discord API docs, "Permissions").
NEEDED: dict[str, int] = {
    "View Channel": 1 << 10,
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
    "Add Reactions": 1 << 6,
    "Manage Messages": 1 << 13,
    "Read Message History": 1 << 16,
    "Create Public Threads": 1 << 35,  # the review card's discussion thread, the digest thread
    "Create Private Threads": 1 << 36,  # verification and requester threads
    "Send Messages in Threads": 1 << 38,
}


@dataclass(frozen=True)
class CheckLine:
    ok: bool
    text: str
    # Works, but not as well as it could (e.g. role pings that won't notify): shown, never fails `check`.
    warning: bool = False

    def render(self) -> str:
        return f"[{'!' if self.warning else 'x' if self.ok else ' '}] {self.text}"


def channel_permissions(
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    roles: Mapping[int, int],
    overwrites: Iterable[Mapping[str, Any]],
) -> int:
    role_ids = set(member_role_ids)
    perms = roles.get(guild_id, 0)
    for rid in role_ids:
        perms |= roles.get(rid, 0)
    if perms & ADMINISTRATOR:
        return ~0
    by_id = {int(o["id"]): o for o in overwrites}
    everyone = by_id.get(guild_id)
    if everyone:
        perms = (perms & ~int(everyone.get("deny", 0))) | int(everyone.get("allow", 0))
    allow = deny = 0
    for rid in role_ids:
        o = by_id.get(rid)
        if o and int(o.get("type", 0)) == 0:
            allow |= int(o.get("allow", 0))
            deny |= int(o.get("deny", 0))
    perms = (perms & ~deny) | allow
    member = by_id.get(member_id)
    if member and int(member.get("type", 1)) == 1:
        perms = (perms & ~int(member.get("deny", 0))) | int(member.get("allow", 0))
    return perms


def missing_permissions(perms: int, wanted: Mapping[str, int] = NEEDED) -> list[str]:
    return [name for name, bit in wanted.items() if not perms & bit]


def message_content_line(requested: bool, application_flags: int) -> CheckLine:
    """Whether `discord.message_content = true` will connect: without the portal toggle Discord closes
    the gateway with 4014."""
    enabled = bool(application_flags & MESSAGE_CONTENT_FLAGS)
    if not requested:
        state = "on" if enabled else "off"
        return CheckLine(True, f"message content not requested (discord.message_content = false, toggle {state})")
    if enabled:
        return CheckLine(True, "Message Content Intent is enabled for the application")
    return CheckLine(
        False,
        "discord.message_content = true, but the Message Content Intent is off: turn it on in the Developer "
        "Portal (Bot > Privileged Gateway Intents) or set discord.message_content = false",
    )


def role_ping_line(role_id: int, name: str, mentionable: bool, mention_everyone: bool) -> CheckLine:
    """Nudges mention the maintainer roles; Discord only notifies a role that is mentionable, or when the
    bot has Mention Everyone."""
    if mentionable:
        return CheckLine(True, f"maintainer role @{name} ({role_id}) is mentionable: nudges ping it")
    if mention_everyone:
        return CheckLine(True, f"maintainer role @{name} ({role_id}): nudges ping it (the bot has Mention Everyone)")
    return CheckLine(
        True,
        f"maintainer role @{name} ({role_id}) is not mentionable and the bot lacks Mention Everyone: nudges "
        "will show the role without notifying anyone (make the role mentionable, or grant Mention Everyone "
        "in the review channel)",
        warning=True,
    )
