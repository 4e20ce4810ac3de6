"""World model of the fake Discord: users, guilds, roles, channels, members and messages.

Each object renders the JSON payload the real API sends, complete enough for discord.py 2.7
to build its models from it. Permission arithmetic follows Discord's documented algorithm.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

DISCORD_EPOCH_MS = 1420070400000


class Perm:
    """Permission bits the fake checks or hands out (Discord's values)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 53) - 1
    # What a fresh guild's @everyone role gets, close to Discord's defaults.
    DEFAULT_EVERYONE = (
        CREATE_INSTANT_INVITE | ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
        | READ_MESSAGE_HISTORY | USE_EXTERNAL_EMOJIS | CHANGE_NICKNAME | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS | CREATE_PRIVATE_THREADS | SEND_MESSAGES_IN_THREADS
    )


THREAD_TYPES = (10, 11, 12)
# Message types a reply may reference; every other type is a system message (member join, pin notice,
# thread created, boosts ...). "The referenced message must exist and cannot be a system message":
# https://github.com/discord/discord-api-docs/blob/main/developers/resources/message.mdx#create-message
# (message types table in the same file). discord.py's Message.is_system() draws the same line.
REPLYABLE_TYPES = frozenset({0, 19, 20, 21, 23})
USER_JOIN, CHANNEL_PINNED_MESSAGE, THREAD_CREATED = 7, 6, 18
EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15


def iso(dt: datetime) -> str:
    return dt.isoformat()


def now() -> datetime:
    return datetime.now(UTC)


def snowflake_time(snowflake: int) -> datetime:
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


class SnowflakeFactory:
    """Time-ordered, unique ids like Discord's (so `created_at` of everything is "now")."""

    def __init__(self) -> None:
        self._last = 0
        self._increment = itertools.count()

    def __call__(self) -> int:
        stamp = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (stamp << 22) | (next(self._increment) & 0xFFF)
        self._last = value = max(value, self._last + 1)
        return value


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    dms_closed: bool = False
    global_name: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "username": self.username, "discriminator": "0",
            "global_name": self.global_name, "avatar": None, "bot": self.bot, "system": False,
            "public_flags": 0, "flags": 0, "banner": None, "accent_color": None,
        }


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed_by_bot: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id), "name": self.name, "permissions": str(self.permissions),
            "position": self.position, "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False, "icon": None, "unicode_emoji": None, "managed": self.managed_by_bot is not None,
            "mentionable": self.mentionable, "flags": 0,
        }
        if self.managed_by_bot is not None:
            data["tags"] = {"bot_id": str(self.managed_by_bot)}
        return data


@dataclass
class FakeChannel:
    id: int
    type: int
    name: str = ""
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    topic: str | None = None
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    thread_members: set[int] = field(default_factory=set)
    recipient: FakeUser | None = None
    message_count: int = 0
    created_at: datetime = field(default_factory=now)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == 1

    def payload(self) -> dict[str, Any]:
        if self.is_dm:
            assert self.recipient is not None
            return {"id": str(self.id), "type": 1, "recipients": [self.recipient.payload()],
                    "last_message_id": None, "flags": 0}
        data: dict[str, Any] = {
            "id": str(self.id), "guild_id": str(self.guild_id), "type": self.type, "name": self.name,
            "parent_id": str(self.parent_id) if self.parent_id else None, "last_message_id": None,
            "rate_limit_per_user": 0, "flags": 0, "nsfw": False,
        }
        if self.is_thread:
            data.update({
                "owner_id": str(self.owner_id), "message_count": self.message_count,
                "total_message_sent": self.message_count, "member_count": len(self.thread_members),
                "thread_metadata": {
                    "archived": self.archived, "locked": self.locked, "invitable": self.invitable,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.created_at), "create_timestamp": iso(self.created_at),
                },
            })
            return data
        data.update({
            "position": self.position, "topic": self.topic,
            "permission_overwrites": [
                {"id": str(o["id"]), "type": o.get("type", 0), "allow": str(o.get("allow", 0)),
                 "deny": str(o.get("deny", 0))} for o in self.overwrites
            ],
        })
        if self.type in (2, 13):
            data.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        if self.type in (15, 16):
            data.update({"available_tags": [], "default_reaction_emoji": None, "default_sort_order": None,
                         "default_forum_layout": 0, "default_thread_rate_limit_per_user": 0})
        return data


@dataclass
class FakeMember:
    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    joined_at: datetime = field(default_factory=now)
    nick: str | None = None

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles], "joined_at": iso(self.joined_at), "nick": self.nick,
            "avatar": None, "banner": None, "premium_since": None, "deaf": False, "mute": False,
            "pending": False, "flags": 0, "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    # Where Discord posts member-join notices (USER_JOIN messages); None: the server turned them off.
    system_channel_id: int | None = None

    def base_permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return Perm.ALL
        member = self.members.get(user_id)
        perms = self.roles[self.id].permissions
        for role_id in member.roles if member else ():
            role = self.roles.get(role_id)
            perms |= role.permissions if role else 0
        return Perm.ALL if perms & Perm.ADMINISTRATOR else perms

    def channel_permissions(self, user_id: int, channel_id: int) -> int:
        """Discord's algorithm: base, then @everyone, role and member overwrites of the channel."""
        perms = self.base_permissions(user_id)
        if perms & Perm.ADMINISTRATOR or user_id == self.owner_id:
            return Perm.ALL
        channel = self.channels.get(channel_id)
        # A private thread is visible only to its members and to moderators (Manage Threads):
        # https://github.com/discord/discord-api-docs/blob/main/developers/topics/threads.mdx
        # ("You must be invited to the thread to be able to view or participate in it, or be a
        # moderator (MANAGE_THREADS permission)").
        if channel is not None and channel.type == 12 and user_id not in channel.thread_members:
            moderator = channel.parent_id and self.channel_permissions(user_id, channel.parent_id) & Perm.MANAGE_THREADS
            if not moderator:
                return 0
        if channel is not None and channel.is_thread and channel.parent_id:
            channel = self.channels.get(channel.parent_id)
        if channel is None:
            return perms
        member = self.members.get(user_id)
        member_roles = set(member.roles) if member else set()
        by_id = {int(o["id"]): o for o in channel.overwrites}
        everyone = by_id.get(self.id)
        if everyone:
            perms = (perms & ~int(everyone.get("deny", 0))) | int(everyone.get("allow", 0))
        allow = deny = 0
        for overwrite_id, o in by_id.items():
            if o.get("type", 0) == 0 and overwrite_id in member_roles:
                allow |= int(o.get("allow", 0))
                deny |= int(o.get("deny", 0))
        perms = (perms & ~deny) | allow
        own = by_id.get(user_id)
        if own and own.get("type", 0) == 1:
            perms = (perms & ~int(own.get("deny", 0))) | int(own.get("allow", 0))
        return perms if perms & Perm.VIEW_CHANNEL else 0


def parse_emoji(raw: str) -> tuple[str, dict[str, Any]]:
    """Normalise '👍', 'name:id', ':name:id', '<:name:id>' and 'a:name:id' to (key, emoji payload)."""
    text = unquote(raw).strip("<>")
    animated = text.startswith("a:")
    text = text.removeprefix("a:").removeprefix(":")
    match = re.fullmatch(r"([\w~-]+):(\d+)", text)
    if match:
        name, emoji_id = match.groups()
        return f"{name}:{emoji_id}", {"id": emoji_id, "name": name, "animated": animated}
    return text, {"id": None, "name": text}


def _embed_text(embed: dict[str, Any]) -> list[str]:
    parts = [embed.get("title") or "", embed.get("description") or ""]
    for fld in embed.get("fields", []):
        parts += [fld.get("name") or "", fld.get("value") or ""]
    parts.append((embed.get("footer") or {}).get("text") or "")
    parts.append((embed.get("author") or {}).get("name") or "")
    return [p for p in parts if p]


def walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component, depth first, through action rows, labels, sections and containers."""
    found: list[dict[str, Any]] = []
    for comp in components or []:
        found.append(comp)
        found += walk_components(comp.get("components", []))
        if isinstance(comp.get("component"), dict):
            found += walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            found += walk_components([comp["accessory"]])
    return found


def components_text(components: list[dict[str, Any]]) -> list[str]:
    """Visible text of v2 components (text displays) for `text()`."""
    return [c["content"] for c in walk_components(components) if c.get("type") == 10 and c.get("content")]


class FakeMessage:
    """A message as the fake stores it. Dict-like over its payload, plus test helpers."""

    def __init__(self, data: dict[str, Any], *, allowed_mentions: dict[str, Any] | None = None) -> None:
        self.data = data
        self.allowed_mentions = allowed_mentions
        self.reactions: dict[str, set[int]] = {}
        self.reaction_emojis: dict[str, dict[str, Any]] = {}
        self.edits: list[dict[str, Any]] = []
        self.deleted = False
        self.attachments_bytes: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __repr__(self) -> str:
        return f"<FakeMessage id={self.id} channel={self.channel_id} content={self.content!r}>"

    id = property(lambda self: int(self.data["id"]))
    channel_id = property(lambda self: int(self.data["channel_id"]))
    guild_id = property(lambda self: int(self.data["guild_id"]) if self.data.get("guild_id") else None)
    author_id = property(lambda self: int(self.data["author"]["id"]))
    content = property(lambda self: self.data.get("content") or "")
    embeds = property(lambda self: self.data.get("embeds") or [])
    components = property(lambda self: self.data.get("components") or [])
    flags = property(lambda self: int(self.data.get("flags") or 0))
    ephemeral = property(lambda self: bool(self.flags & EPHEMERAL))
    loading = property(lambda self: bool(self.flags & LOADING))
    mention_ids = property(lambda self: {int(u["id"]) for u in self.data.get("mentions", [])})
    mention_role_ids = property(lambda self: {int(r) for r in self.data.get("mention_roles", [])})
    mention_everyone = property(lambda self: bool(self.data.get("mention_everyone")))

    def text(self) -> str:
        parts = [self.content]
        for embed in self.embeds:
            parts += _embed_text(embed)
        parts += components_text(self.components)
        return "\n".join(p for p in parts if p)

    def buttons(self) -> list[tuple[str | None, str | None, bool]]:
        """(custom_id, label, disabled) of every button, link buttons with custom_id None."""
        return [(c.get("custom_id"), c.get("label"), bool(c.get("disabled")))
                for c in walk_components(self.components) if c.get("type") == 2]

    def reactions_payload(self, viewer_id: int) -> list[dict[str, Any]]:
        return [
            {"emoji": self.reaction_emojis[key], "count": len(users), "me": viewer_id in users,
             "me_burst": False, "burst_me": False, "burst_colors": [],
             "count_details": {"burst": 0, "normal": len(users)}}
            for key, users in self.reactions.items() if users
        ]

    def payload(self, viewer_id: int) -> dict[str, Any]:
        data = dict(self.data)
        reactions = self.reactions_payload(viewer_id)
        if reactions:
            data["reactions"] = reactions
        return data


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def resolve_pings(
    content: str, allowed: dict[str, Any] | None, *, can_mention_everyone: bool,
    mentionable_roles: set[int], replied_user_id: int | None,
) -> tuple[list[int], list[int], bool]:
    """Who a message really notifies: (user ids, role ids, @everyone) after allowed_mentions.

    Without allowed_mentions Discord parses everything in the content.
    """
    parse = set(allowed.get("parse", [])) if allowed is not None else {"users", "roles", "everyone"}
    allowed_users = {int(u) for u in (allowed or {}).get("users", [])}
    allowed_roles = {int(r) for r in (allowed or {}).get("roles", [])}
    users = [int(u) for u in _USER_MENTION.findall(content or "")]
    users = [u for u in dict.fromkeys(users) if "users" in parse or u in allowed_users]
    if replied_user_id is not None and (allowed is None or allowed.get("replied_user", False)):
        if replied_user_id not in users:
            users.append(replied_user_id)
    roles = [int(r) for r in _ROLE_MENTION.findall(content or "")]
    roles = [r for r in dict.fromkeys(roles) if ("roles" in parse or r in allowed_roles)
             and (r in mentionable_roles or can_mention_everyone)]
    everyone = ("@everyone" in (content or "") or "@here" in (content or "")) and "everyone" in parse
    return users, roles, everyone and can_mention_everyone
