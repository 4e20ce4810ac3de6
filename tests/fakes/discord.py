"""Loopback fake Discord (REST API v10 + gateway) that the real discord.py 2.7 client logs into.

Usage::

    fake = FakeDiscord()
    fake.add_guild(GUILD, "Pallets")
    fake.add_channel(GUILD, CHANNEL, "pallets-eco")
    await fake.start()
    with patch_discord_urls(fake):
        async with bot:
            asyncio.create_task(bot.start(fake.token))
            await fake.wait_until_connected()
            ...
    await fake.close()

World building is synchronous and works before or after the bot connects (after, it dispatches
the gateway events Discord would). Test-side user actions (`slash`, `click`, `send_message`,
`react`, ...) are coroutines returning objects to inspect. Every REST call is recorded in `calls`;
unknown routes land in `unknown_routes` (tests should assert it stays empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.discord_gateway import MESSAGE_CONTENT, GatewayMixin, GatewaySession
from tests.fakes.discord_interactions import (
    ChannelOption,
    FakeInteraction,
    InteractionMixin,
    RoleOption,
    UserOption,
)
from tests.fakes.discord_rest import ApiError, CallRecord, Fault, RestMixin
from tests.fakes.discord_world import (
    CHANNEL_PINNED_MESSAGE,
    EPHEMERAL,
    REPLYABLE_TYPES,
    THREAD_CREATED,
    USER_JOIN,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Perm,
    SnowflakeFactory,
    now,
    parse_emoji,
    resolve_pings,
)

__all__ = [
    "ApiError", "CallRecord", "ChannelOption", "FakeChannel", "FakeDiscord", "FakeGuild",
    "FakeInteraction", "FakeMember", "FakeMessage", "FakeRole", "FakeUser", "Fault", "Perm",
    "RoleOption", "UserOption", "patch_discord_urls",
]

# Application flags: GATEWAY_MESSAGE_CONTENT (approved) and ..._LIMITED (unverified bots), likewise for
# presences and members. The _LIMITED flag is what the portal's "Privileged Gateway Intents" toggle sets:
# https://github.com/discord/discord-api-docs/blob/main/developers/resources/application.mdx#application-object-application-flags
_FLAG_PRESENCE = (1 << 12) | (1 << 13)
_FLAG_GUILD_MEMBERS = (1 << 14) | (1 << 15)
_FLAG_MESSAGE_CONTENT = (1 << 18) | (1 << 19)


class FakeDiscord(GatewayMixin, RestMixin, InteractionMixin):
    def __init__(
        self,
        *,
        token: str = "fake-token",
        bot_id: int = 1_100_000_000_000_000_001,
        application_id: int | None = None,
        bot_name: str = "EcoBot",
        owner_id: int = 1_100_000_000_000_000_002,
        message_content_intent_granted: bool = True,
        members_intent_granted: bool = True,
        presences_intent_granted: bool = True,
        heartbeat_interval_ms: int = 41_250,
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        enforce_permissions: bool = True,
    ) -> None:
        self.token = token
        self.bot_user = FakeUser(bot_id, bot_name, bot=True)
        self.application_id = application_id or bot_id
        self.owner = FakeUser(owner_id, "app-owner")
        self.message_content_intent_granted = message_content_intent_granted
        self.members_intent_granted = members_intent_granted
        self.presences_intent_granted = presences_intent_granted
        self.enforce_permissions = enforce_permissions
        self.snowflake = SnowflakeFactory()
        self.users: dict[int, FakeUser] = {bot_id: self.bot_user, owner_id: self.owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        # What "now" is for interaction-token expiry; a test points it at its own clock (Harness: FakeClock).
        self.clock: Callable[[], datetime] = now
        self.dispatched: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._init_gateway(heartbeat_interval_ms)
        self._init_rest()
        self._init_interactions(ack_deadline, token_lifetime)

    # -- server lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        self._add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await self._conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    @property
    def application_flags(self) -> int:
        return (
            (_FLAG_MESSAGE_CONTENT if self.message_content_intent_granted else 0)
            | (_FLAG_GUILD_MEMBERS if self.members_intent_granted else 0)
            | (_FLAG_PRESENCE if self.presences_intent_granted else 0)
        )

    def disallowed_intents(self, intents: int) -> int:
        """Privileged intent bits in `intents` the application may not use (IDENTIFY then closes 4014)."""
        allowed = {1: self.members_intent_granted, 8: self.presences_intent_granted,
                   MESSAGE_CONTENT: self.message_content_intent_granted}
        return sum(1 << bit for bit, ok in allowed.items() if not ok and intents & (1 << bit))

    # -- world building ----------------------------------------------------------------------

    def add_user(self, user_id: int, username: str, *, bot: bool = False, dms_closed: bool = False) -> FakeUser:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = FakeUser(user_id, username, bot=bot, dms_closed=dms_closed)
        else:
            user.username, user.bot, user.dms_closed = username, bot, dms_closed
        return user

    def add_guild(self, guild_id: int, name: str, *, owner_id: int | None = None) -> FakeGuild:
        """A guild with its @everyone role (Discord's default permissions) and the bot as member."""
        owner = owner_id or self.owner.id
        guild = self.guilds[guild_id] = FakeGuild(guild_id, name, owner)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", Perm.DEFAULT_EVERYONE, position=0)
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, guild_id)
        if owner in self.users:
            guild.members.setdefault(owner, FakeMember(self.users[owner], guild_id))
        if self._session is not None:
            self.dispatch("GUILD_CREATE", self._guild_create_payload(guild, self._session))
        return guild

    def add_role(self, guild_id: int, role_id: int, name: str, permissions: int = 0, *,
                 mentionable: bool = False) -> FakeRole:
        guild = self.guilds[guild_id]
        position = max((r.position for r in guild.roles.values()), default=0) + 1
        role = guild.roles[role_id] = FakeRole(role_id, name, permissions, position, mentionable)
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role.payload()})
        return role

    def add_channel(self, guild_id: int, channel_id: int, name: str, type: int = 0,
                    parent_id: int | None = None, overwrites: list[dict[str, Any]] | None = None,
                    *, topic: str | None = None, owner_id: int | None = None) -> FakeChannel:
        """A guild channel (0 text, 2 voice, 4 category, 5 news, 15 forum) or thread (11/12).

        overwrites: [{"id": role_or_user_id, "type": 0 role | 1 member, "allow": int, "deny": int}].
        """
        guild = self.guilds[guild_id]
        channel = FakeChannel(channel_id, type, name, guild_id, parent_id, len(guild.channels),
                              list(overwrites or []), topic=topic,
                              owner_id=owner_id or (self.bot_user.id if type in (10, 11, 12) else None))
        guild.channels[channel_id] = self.channels[channel_id] = channel
        if channel.is_thread:
            self.dispatch("THREAD_CREATE", {**channel.payload(), "newly_created": True})
        else:
            self.dispatch("CHANNEL_CREATE", channel.payload())
        return channel

    def add_member(self, guild_id: int, user_id: int, username: str, roles: tuple[int, ...] | list[int] = (),
                   bot: bool = False, dms_closed: bool = False, joined_at: datetime | None = None) -> FakeMember:
        """A member joins. With a system channel set, Discord posts its join notice (a USER_JOIN
        system message, type 7, authored by the new member, empty content) there, and it reaches the
        bot as MESSAGE_CREATE like any message. Giving `joined_at` back-dates a member who joined
        before the test (no notice is posted now)."""
        user = self.add_user(user_id, username, bot=bot, dms_closed=dms_closed)
        member = FakeMember(user, guild_id, list(roles), **({"joined_at": joined_at} if joined_at else {}))
        guild = self.guilds[guild_id]
        guild.members[user_id] = member
        self.dispatch("GUILD_MEMBER_ADD", {"guild_id": str(guild_id), **member.payload()})
        if guild.system_channel_id is not None and joined_at is None:
            self.store_message(self.channels[guild.system_channel_id], user, {"content": ""}, msg_type=USER_JOIN)
        return member

    def set_system_channel(self, guild_id: int, channel_id: int | None) -> None:
        """The server's system channel (Server Settings > Overview > System Messages Channel)."""
        guild = self.guilds[guild_id]
        guild.system_channel_id = channel_id
        if self._session is not None:
            payload = self._guild_create_payload(guild, self._session)
            for key in ("channels", "threads", "members", "voice_states", "presences"):
                payload.pop(key)
            self.dispatch("GUILD_UPDATE", payload)

    def add_members(self, guild_id: int, members: list[tuple[int, str]], roles: tuple[int, ...] = ()) -> None:
        """Bulk add without per-member events (for 10,000-member guilds built before login)."""
        guild = self.guilds[guild_id]
        for user_id, username in members:
            user = self.users.setdefault(user_id, FakeUser(user_id, username))
            guild.members[user_id] = FakeMember(user, guild_id, list(roles))

    def set_member_roles(self, guild_id: int, user_id: int, roles: list[int] | tuple[int, ...]) -> None:
        member = self.guilds[guild_id].members[user_id]
        member.roles = list(roles)
        self._dispatch_member_update(member)

    def set_bot_permissions(self, guild_id: int, permissions: int) -> FakeRole:
        """Give the bot exactly these guild permissions through its managed role.

        @everyone's permissions still add up (as in Discord): lower them with
        `set_everyone_permissions` to test missing permissions.
        """
        guild = self.guilds[guild_id]
        role = next((r for r in guild.roles.values() if r.managed_by_bot == self.bot_user.id), None)
        if role is None:
            role = self.add_role(guild_id, self.snowflake(), self.bot_user.username, permissions)
            role.managed_by_bot = self.bot_user.id
        else:
            role.permissions = permissions
            self.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.payload()})
        member = guild.members[self.bot_user.id]
        if role.id not in member.roles:
            member.roles.append(role.id)
            self._dispatch_member_update(member)
        return role

    def set_everyone_permissions(self, guild_id: int, permissions: int) -> None:
        role = self.guilds[guild_id].roles[guild_id]
        role.permissions = permissions
        self.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.payload()})

    def dm_channel(self, user_id: int) -> FakeChannel:
        """The bot's DM channel with a user (created on first use, like POST /users/@me/channels)."""
        for channel in self.channels.values():
            if channel.is_dm and channel.recipient and channel.recipient.id == user_id:
                return channel
        channel = FakeChannel(self.snowflake(), 1, recipient=self.users[user_id])
        self.channels[channel.id] = channel
        return channel

    def can_view(self, user_id: int, channel_id: int) -> bool:
        """Whether a user sees a channel (private threads: members and Manage Threads holders only)."""
        return bool(self.permissions_of(user_id, channel_id) & Perm.VIEW_CHANNEL)

    def visible_texts(self, user_id: int, channel_id: int) -> list[str]:
        """What a user can read in a channel: its messages if they may view it, otherwise nothing."""
        if not self.can_view(user_id, channel_id):
            return []
        return [m.text() for m in self.messages_in(channel_id)]

    def bot_permissions(self, channel_id: int) -> int:
        return self.permissions_of(self.bot_user.id, channel_id)

    def permissions_of(self, user_id: int, channel_id: int) -> int:
        channel = self.channels[channel_id]
        if channel.guild_id is None:
            return Perm.DEFAULT_EVERYONE & ~(Perm.MANAGE_MESSAGES)
        return self.guilds[channel.guild_id].channel_permissions(user_id, channel_id)

    def _dispatch_member_update(self, member: FakeMember) -> None:
        self.dispatch("GUILD_MEMBER_UPDATE", {"guild_id": str(member.guild_id), **member.payload()})

    def _guild_create_payload(self, guild: FakeGuild, session: GatewaySession) -> dict[str, Any]:
        large = len(guild.members) > session.large_threshold
        if session.has_intent(1) and not large:
            members = list(guild.members.values())
        else:  # Discord sends only the bot itself when the guild is large or without GUILD_MEMBERS
            members = [guild.members[self.bot_user.id]]
        channels = [c for c in guild.channels.values() if not c.is_thread]
        threads = [c for c in guild.channels.values() if c.is_thread and not c.archived]
        return {
            "id": str(guild.id), "name": guild.name, "icon": None, "splash": None, "banner": None,
            "owner_id": str(guild.owner_id), "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 1, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "premium_tier": 0, "preferred_locale": "en-US", "features": [],
            "system_channel_id": str(guild.system_channel_id) if guild.system_channel_id else None,
            "rules_channel_id": None, "description": None,
            "roles": [r.payload() for r in guild.roles.values()], "emojis": [], "stickers": [],
            "channels": [c.payload() for c in channels], "threads": [t.payload() for t in threads],
            "members": [m.payload() for m in members], "member_count": len(guild.members),
            "large": large, "unavailable": False, "joined_at": now().isoformat(),
            "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [], "premium_subscription_count": 0,
        }

    # -- messages ----------------------------------------------------------------------------

    def messages_in(self, channel_id: int, *, include_ephemeral: bool = False) -> list[FakeMessage]:
        """Live (not deleted) messages of a channel, oldest first."""
        return sorted(
            (m for m in self.messages.values()
             if m.channel_id == channel_id and not m.deleted and (include_ephemeral or not m.ephemeral)),
            key=lambda m: m.id,
        )

    def get_message(self, message_id: int) -> FakeMessage:
        return self.messages[int(message_id)]

    async def wait_for_message(
        self, channel_id: int | None = None, predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 5.0, *, after_id: int | None = None, include_ephemeral: bool = True,
    ) -> FakeMessage:
        """First stored message (existing or future, edits re-checked) that matches, oldest first.

        Pass `after_id` (e.g. the id of the message that triggered the bot) to skip older ones.
        """
        def find() -> FakeMessage | None:
            for msg in sorted(self.messages.values(), key=lambda m: m.id):
                if msg.deleted or (after_id is not None and msg.id <= after_id):
                    continue
                if channel_id is not None and msg.channel_id != channel_id:
                    continue
                if (include_ephemeral or not msg.ephemeral) and (predicate is None or predicate(msg)):
                    return msg
            return None

        return await self._wait_until(find, timeout, "message")

    async def _wait_until(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while (found := find()) is None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no matching {what} within {timeout}s")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return found

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _can_read_content(self, msg: FakeMessage, *, gateway: bool) -> bool:
        if msg.author_id == self.bot_user.id or msg.guild_id is None:
            return True
        if self.bot_user.id in msg.mention_ids:
            return True
        granted = self.message_content_intent_granted
        if gateway:
            return granted and self._session is not None and self._session.has_intent(MESSAGE_CONTENT)
        return granted

    def _view(self, msg: FakeMessage, *, gateway: bool) -> dict[str, Any]:
        """The payload as the bot may see it (content emptied without the Message Content intent)."""
        data = msg.payload(self.bot_user.id)
        if not self._can_read_content(msg, gateway=gateway):
            data.update(content="", embeds=[], attachments=[], components=[])
            data.pop("poll", None)
        return data

    def _dispatch_message(self, event: str, msg: FakeMessage) -> None:
        if msg.ephemeral:
            return  # ephemeral messages never reach the gateway
        data = self._view(msg, gateway=True)
        channel = self.channels.get(msg.channel_id)
        if channel is not None and channel.guild_id is not None:
            member = self.guilds[channel.guild_id].members.get(msg.author_id)
            if member is not None and not msg.get("webhook_id"):
                data["member"] = member.payload(with_user=False)
        self.dispatch(event, data)

    def store_message(
        self, channel: FakeChannel, author: FakeUser, body: dict[str, Any], *, msg_type: int = 0,
        extra: dict[str, Any] | None = None, attachments: list[dict[str, Any]] | None = None,
        dispatch: bool = True,
    ) -> FakeMessage:
        """Create a message from a Discord-shaped create body (content, embeds, components, ...)."""
        message_id = self.snowflake()
        flags = int(body.get("flags") or 0)
        data: dict[str, Any] = {
            "id": str(message_id), "channel_id": str(channel.id), "author": author.payload(),
            "content": body.get("content") or "", "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []), "attachments": attachments or [],
            "timestamp": now().isoformat(), "edited_timestamp": None, "type": msg_type,
            "pinned": False, "tts": bool(body.get("tts")), "flags": flags, "sticker_items": [],
        }
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        if body.get("nonce") is not None:
            data["nonce"] = body["nonce"]
        if body.get("poll"):
            data["poll"] = _poll_payload(body["poll"])
        replied_user = None
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            ref = self.messages.get(int(reference["message_id"]))
            if ref is None and reference.get("fail_if_not_exists", True):
                raise ApiError(400, 50035, "Invalid Form Body: Unknown message")
            if ref is not None and int(ref.get("type") or 0) not in REPLYABLE_TYPES:
                # "The referenced message must exist and cannot be a system message" (Create Message,
                # developers/resources/message.mdx). The docs give no code for it; Discord answers
                # 400 / 50035 with "In message_reference: Cannot reply to a system message" (seen in
                # public bug reports quoting the API's answer).
                raise ApiError(400, 50035, "Invalid Form Body: In message_reference: Cannot reply to a system message",
                               errors={"message_reference": {"_errors": [{
                                   "code": "REPLIES_CANNOT_REPLY_TO_SYSTEM_MESSAGE",
                                   "message": "Cannot reply to a system message"}]}})
            data["message_reference"] = {"type": 0, "message_id": str(reference["message_id"]),
                                         "channel_id": str(reference.get("channel_id") or channel.id)}
            if channel.guild_id is not None:
                data["message_reference"]["guild_id"] = str(channel.guild_id)
            data["referenced_message"] = ref.payload(self.bot_user.id) if ref else None
            replied_user = ref.author_id if ref else None
            data["type"] = 19 if msg_type == 0 else msg_type
        data.update(extra or {})
        msg = FakeMessage(data, allowed_mentions=body.get("allowed_mentions"))
        self._apply_pings(msg, author, replied_user)
        self.messages[message_id] = msg
        if channel.is_thread:
            channel.message_count += 1
        if dispatch:
            self._dispatch_message("MESSAGE_CREATE", msg)
        self._notify()
        return msg

    def edit_message(self, msg: FakeMessage, body: dict[str, Any], *, dispatch: bool = True) -> FakeMessage:
        msg.edits.append(dict(msg.data))
        for key in ("content", "embeds", "components"):
            if key in body:
                msg.data[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS and IS_COMPONENTS_V2 can change; ephemeral/loading stay as they are.
            keep = msg.flags & (EPHEMERAL | (1 << 7))
            msg.data["flags"] = keep | (int(body["flags"]) & ((1 << 2) | (1 << 15)))
        if "attachments" in body and body["attachments"] is not None:
            kept = {str(a.get("id")) for a in body["attachments"]}
            msg.data["attachments"] = [a for a in msg.data.get("attachments", []) if a["id"] in kept]
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        msg.data["edited_timestamp"] = now().isoformat()
        self._apply_pings(msg, self.users[msg.author_id], None)
        if dispatch:
            self._dispatch_message("MESSAGE_UPDATE", msg)
        self._notify()
        return msg

    def _apply_pings(self, msg: FakeMessage, author: FakeUser, replied_user: int | None) -> None:
        channel = self.channels.get(msg.channel_id)
        guild = self.guilds.get(channel.guild_id) if channel and channel.guild_id else None
        can_everyone = bool(guild and guild.channel_permissions(author.id, channel.id) & Perm.MENTION_EVERYONE)
        mentionable = {r.id for r in guild.roles.values() if r.mentionable} if guild else set()
        users, roles, everyone = resolve_pings(
            msg.content, msg.allowed_mentions, can_mention_everyone=can_everyone,
            mentionable_roles=mentionable, replied_user_id=replied_user,
        )
        msg.data["mentions"] = [self.users[u].payload() for u in users if u in self.users]
        msg.data["mention_roles"] = [str(r) for r in roles if guild and r in guild.roles]
        msg.data["mention_everyone"] = everyone

    # -- test-side user actions --------------------------------------------------------------

    async def send_message(
        self, user_id: int, channel_id: int, content: str, *, mentions: tuple[int, ...] | list[int] = (),
        reference_message_id: int | None = None, embeds: list[dict[str, Any]] | None = None,
    ) -> FakeMessage:
        """A user posts a message; MESSAGE_CREATE reaches the bot (content subject to the intent)."""
        channel = self.channels[channel_id]
        if channel.type == 12 and not self.can_view(user_id, channel_id):
            raise ApiError(403, 50001)  # a private thread they were not added to: Discord shows them nothing
        body: dict[str, Any] = {"content": content, "embeds": embeds or []}
        if reference_message_id is not None:
            body["message_reference"] = {"message_id": reference_message_id, "channel_id": channel_id}
        msg = self.store_message(channel, self.users[user_id], body, dispatch=False)
        extra = [self.users[u].payload() for u in mentions if u not in msg.mention_ids]
        msg.data["mentions"] = msg.data["mentions"] + extra
        self._dispatch_message("MESSAGE_CREATE", msg)
        await asyncio.sleep(0)
        return msg

    async def create_thread_as_user(self, user_id: int, parent_id: int, name: str, *,
                                    message: FakeMessage | int | None = None, private: bool = False,
                                    ) -> FakeChannel:
        """A member starts a thread, from `message` (always public, the thread takes the message's id) or
        without one. From a message, Discord also posts a THREAD_CREATED system message (type 18) in the
        parent channel: authored by the member, content = the thread's name, message_reference -> the
        thread. "It is currently only sent in one case: when a PUBLIC_THREAD is created from an older
        message" (https://github.com/discord/discord-api-docs/blob/main/developers/topics/threads.mdx),
        so a thread started without a message gets no notice here."""
        parent = self.channels[parent_id]
        assert parent.guild_id is not None
        if message is not None:
            starter = self.get_message(int(getattr(message, "id", message)))
            thread = self.add_channel(parent.guild_id, starter.id, name, type=11, parent_id=parent_id,
                                      owner_id=user_id)
            starter.data["thread"] = thread.payload()
        else:
            thread = self.add_channel(parent.guild_id, self.snowflake(), name, type=12 if private else 11,
                                      parent_id=parent_id, owner_id=user_id)
        thread.thread_members.add(user_id)
        if message is not None:
            self.store_message(parent, self.users[user_id], {"content": name}, msg_type=THREAD_CREATED,
                               extra={"message_reference": {"type": 0, "channel_id": str(thread.id),
                                                            "guild_id": str(parent.guild_id)}})
        await asyncio.sleep(0)
        return thread

    async def pin_as_user(self, user_id: int, message: FakeMessage | int) -> FakeMessage:
        """A member pins a message: Discord posts a CHANNEL_PINNED_MESSAGE system message (type 6, empty
        content, authored by whoever pinned, message_reference -> the pinned message) in that channel.
        https://github.com/discord/discord-api-docs/blob/main/developers/resources/message.mdx
        ("Pin messages" under Message Reference Content Attribution)."""
        pinned = self.get_message(int(getattr(message, "id", message)))
        pinned.data["pinned"] = True
        channel = self.channels[pinned.channel_id]
        reference = {"type": 0, "message_id": str(pinned.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            reference["guild_id"] = str(channel.guild_id)
        notice = self.store_message(channel, self.users[user_id], {"content": ""}, msg_type=CHANNEL_PINNED_MESSAGE,
                                    extra={"message_reference": reference})
        await asyncio.sleep(0)
        return notice

    async def react(self, user_id: int, message: FakeMessage | int, emoji: str) -> bool:
        """A user adds a reaction. Returns False (and dispatches nothing) if it was already there."""
        return self.add_reaction(self.get_message(int(getattr(message, "id", message))), user_id, emoji)

    async def unreact(self, user_id: int, message: FakeMessage | int, emoji: str) -> bool:
        return self.remove_reaction(self.get_message(int(getattr(message, "id", message))), user_id, emoji)

    def add_reaction(self, msg: FakeMessage, user_id: int, emoji: str) -> bool:
        key, emoji_payload = parse_emoji(emoji)
        users = msg.reactions.setdefault(key, set())
        msg.reaction_emojis.setdefault(key, emoji_payload)
        if user_id in users:
            return False
        users.add(user_id)
        data = self._reaction_event(msg, user_id, emoji_payload)
        data["message_author_id"] = str(msg.author_id)
        if msg.guild_id is not None:
            member = self.guilds[msg.guild_id].members.get(user_id)
            if member is not None:
                data["member"] = member.payload()
        self.dispatch("MESSAGE_REACTION_ADD", data)
        self._notify()
        return True

    def remove_reaction(self, msg: FakeMessage, user_id: int, emoji: str) -> bool:
        key, emoji_payload = parse_emoji(emoji)
        users = msg.reactions.get(key, set())
        if user_id not in users:
            return False
        users.discard(user_id)
        if not users:
            msg.reactions.pop(key, None)
        # Like Discord, REACTION_REMOVE carries no member: bots look roles up themselves.
        self.dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(msg, user_id, emoji_payload))
        self._notify()
        return True

    def _reaction_event(self, msg: FakeMessage, user_id: int, emoji: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user_id": str(user_id), "channel_id": str(msg.channel_id), "message_id": str(msg.id),
            "emoji": emoji, "type": 0, "burst": False, "burst_colors": [],
        }
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        return data

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """A user or moderator deletes a message: MESSAGE_DELETE."""
        msg = self.messages[message_id]
        msg.deleted = True
        data: dict[str, Any] = {"id": str(message_id), "channel_id": str(channel_id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        if not msg.ephemeral:
            self.dispatch("MESSAGE_DELETE", data)
        self._notify()


def _poll_payload(poll: dict[str, Any]) -> dict[str, Any]:
    answers = [{"answer_id": i + 1, "poll_media": a.get("poll_media", {})}
               for i, a in enumerate(poll.get("answers", []))]
    expiry = time.time() + 3600 * int(poll.get("duration", 24))
    return {"question": poll.get("question", {}), "answers": answers,
            "expiry": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(expiry)),
            "allow_multiselect": bool(poll.get("allow_multiselect")), "layout_type": 1,
            "results": {"is_finalized": False, "answer_counts": []}}


@contextlib.contextmanager
def patch_discord_urls(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake; undone on exit."""
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def raw_request(fake: FakeDiscord, method: str, path: str, *, json: Any = None,
                      auth: bool = True) -> tuple[int, Any]:
    """Call the fake's REST API directly (for tests of the fake itself)."""
    headers = {"Authorization": f"Bot {fake.token}"} if auth else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, fake.api_base + path, json=json, headers=headers) as resp:
            body = await resp.json(content_type=None) if resp.status != 204 else None
            return resp.status, body
