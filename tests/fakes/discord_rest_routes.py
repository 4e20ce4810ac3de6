"""Route handlers of the fake Discord REST API (users, guilds, channels, messages, reactions,
threads, application commands). Interaction callbacks and webhooks live in discord_interactions.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_rest import FILES, PAYLOAD, ApiError, _int, json_response, no_content
from tests.fakes.discord_validation import validate_command, validate_command_list
from tests.fakes.discord_world import FakeChannel, FakeMessage, Perm, parse_emoji

NONCE_MAX = 25  # Create Message `nonce`: "max 25 characters" (developers/resources/message.mdx)
NONCE_WINDOW = 120.0  # enforce_nonce: "uniqueness in the past few minutes" (same file): 2 minutes here

if TYPE_CHECKING:
    from tests.fakes.discord import FakeDiscord

Handler = Any


class _Routes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- identity and gateway ----------------------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        return json_response({**self.fake.bot_user.payload(), "verified": True, "mfa_enabled": False,
                              "locale": "en-US", "email": None})

    async def user(self, request: web.Request) -> web.Response:
        user = self.fake.users.get(_int(request.match_info["user_id"], 10013))
        if user is None:
            raise ApiError(404, 10013)
        return json_response(user.payload())

    async def application(self, request: web.Request) -> web.Response:
        fake = self.fake
        return json_response({
            "id": str(fake.application_id), "name": fake.bot_user.username, "description": "", "icon": None,
            "bot_public": False, "bot_require_code_grant": False, "owner": fake.owner.payload(),
            "verify_key": "0" * 64, "flags": fake.application_flags, "team": None,
            "bot": fake.bot_user.payload(), "summary": "", "rpc_origins": [], "redirect_uris": [],
            "interactions_endpoint_url": None, "approximate_guild_count": len(fake.guilds),
        })

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 1000 - self.fake.identify_count, "reset_after": 86_400_000,
            "max_concurrency": 1}})

    # -- DMs ---------------------------------------------------------------------------------

    async def create_dm(self, request: web.Request) -> web.Response:
        user_id = _int(str(request[PAYLOAD].get("recipient_id", "")), 10013)
        if user_id not in self.fake.users:
            raise ApiError(400, 50035, "Invalid Form Body: recipient_id: Unknown user")
        self._count_dm_open()
        return json_response(self.fake.dm_channel(user_id).payload())

    def _count_dm_open(self) -> None:
        """40003 past `fake.dm_open_limit` openings in its window (see _init_rest); refusals don't count."""
        limit = self.fake.dm_open_limit
        now = time.monotonic()
        if limit is not None:
            count, seconds = limit
            self.fake.dm_opens = [t for t in self.fake.dm_opens if now - t < seconds]
            if len(self.fake.dm_opens) >= count:
                raise ApiError(400, 40003)
        self.fake.dm_opens.append(now)

    # -- guilds ------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> Any:
        guild = self.fake.guilds.get(_int(request.match_info["guild_id"], 10004))
        if guild is None:
            raise ApiError(404, 10004)
        return guild

    async def guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        data = {"id": str(guild.id), "name": guild.name, "icon": None, "owner_id": str(guild.owner_id),
                "roles": [r.payload() for r in guild.roles.values()], "emojis": [], "stickers": [],
                "features": [], "preferred_locale": "en-US", "verification_level": 0, "mfa_level": 0,
                "premium_tier": 0, "nsfw_level": 0, "default_message_notifications": 1,
                "explicit_content_filter": 0, "afk_timeout": 300, "system_channel_id": None}
        if request.query.get("with_counts") in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return json_response(data)

    async def guild_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = guild.members.get(_int(request.match_info["user_id"], 10007))
        if member is None:
            raise ApiError(404, 10007)
        return json_response(member.payload())

    async def guild_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        limit = min(int(request.query.get("limit", 1)), 1000)
        after = int(request.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return json_response([m.payload() for m in members[:limit]])

    async def guild_roles(self, request: web.Request) -> web.Response:
        return json_response([r.payload() for r in self._guild(request).roles.values()])

    async def guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response([c.payload() for c in guild.channels.values() if not c.is_thread])

    async def active_threads(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        threads = [c for c in guild.channels.values() if c.is_thread and not c.archived]
        return json_response({"threads": [t.payload() for t in threads], "members": []})

    async def member_role(self, request: web.Request) -> web.Response:
        fake, guild = self.fake, self._guild(request)
        member = guild.members.get(_int(request.match_info["user_id"], 10007))
        role_id = _int(request.match_info["role_id"], 10011)
        if member is None:
            raise ApiError(404, 10007)
        if role_id not in guild.roles:
            raise ApiError(404, 10011)
        if fake.enforce_permissions and not guild.base_permissions(fake.bot_user.id) & Perm.MANAGE_ROLES:
            raise ApiError(403, 50013)
        roles = [r for r in member.roles if r != role_id]
        if request.method == "PUT":
            roles.append(role_id)
        fake.set_member_roles(guild.id, member.user.id, roles)
        return no_content()

    # -- channels and threads ----------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.fake.channel_or_404(request.match_info["channel_id"]).payload())

    async def patch_channel(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = fake.channel_or_404(request.match_info["channel_id"])
        body = request[PAYLOAD]
        if channel.is_thread:
            is_owner = channel.owner_id == fake.bot_user.id
            if not is_owner:
                fake.require(channel, Perm.MANAGE_THREADS)
            _check_auto_archive(body)
            for key in ("name", "archived", "locked", "invitable", "auto_archive_duration"):
                if key in body:
                    setattr(channel, key, body[key])
            fake.dispatch("THREAD_UPDATE", channel.payload())
        else:
            fake.require(channel, Perm.MANAGE_CHANNELS)
            for key in ("name", "topic", "position"):
                if key in body:
                    setattr(channel, key, body[key])
            if "permission_overwrites" in body:
                channel.overwrites = [
                    {"id": int(o["id"]), "type": int(o.get("type", 0)), "allow": int(o.get("allow", 0)),
                     "deny": int(o.get("deny", 0))} for o in body["permission_overwrites"]]
            fake.dispatch("CHANNEL_UPDATE", channel.payload())
        return json_response(channel.payload())

    def _new_thread(self, parent: FakeChannel, thread_id: int, body: dict[str, Any], kind: int) -> FakeChannel:
        fake = self.fake
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise ApiError(400, 50035, "Invalid Form Body: name: Must be between 1 and 100 in length.")
        if parent.type not in (0, 5, 15):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        fake.require(parent, Perm.CREATE_PRIVATE_THREADS if kind == 12 else Perm.CREATE_PUBLIC_THREADS)
        _check_auto_archive(body)
        thread = FakeChannel(thread_id, kind, name, parent.guild_id, parent.id, owner_id=fake.bot_user.id,
                             invitable=bool(body.get("invitable", True)),
                             auto_archive_duration=int(body.get("auto_archive_duration") or 1440))
        thread.thread_members.add(fake.bot_user.id)
        fake.guilds[parent.guild_id].channels[thread.id] = fake.channels[thread.id] = thread  # type: ignore[index]
        fake.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    async def create_thread(self, request: web.Request) -> web.Response:
        fake = self.fake
        parent = fake.channel_or_404(request.match_info["channel_id"])
        body = request[PAYLOAD]
        kind = int(body.get("type") or 12)
        thread = self._new_thread(parent, fake.snowflake(), body, kind)
        if parent.type == 15:  # forum posts start with a message
            fake.create_bot_message(thread, body.get("message") or {}, request[FILES])
        return json_response(thread.payload(), 201)

    async def thread_from_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        parent = fake.channel_or_404(request.match_info["channel_id"])
        msg = fake.message_or_404(parent, request.match_info["message_id"])
        if msg.id in fake.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        # Discord gives a thread started from a message the message's id.
        thread = self._new_thread(parent, msg.id, request[PAYLOAD], 11 if parent.type == 0 else 10)
        msg.data["thread"] = thread.payload()
        return json_response(thread.payload(), 201)

    async def thread_member(self, request: web.Request) -> web.Response:
        fake = self.fake
        thread = fake.channel_or_404(request.match_info["channel_id"])
        if not thread.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        raw_user = request.match_info["user_id"]
        user_id = fake.bot_user.id if raw_user == "@me" else _int(raw_user, 10013)
        if request.method == "PUT":
            if user_id not in fake.users:
                raise ApiError(404, 10013)
            if thread.archived:
                raise ApiError(400, 50083)
            # Add Thread Member "requires the ability to send messages in the thread" (so the bot must see
            # it: a member or a moderator), and on a private thread `invitable` false means only moderators
            # (Manage Threads) may add others, the thread's creator included:
            # https://github.com/discord/discord-api-docs/blob/main/developers/resources/channel.mdx
            # (Add Thread Member; thread metadata `invitable`: "whether non-moderators can add other
            # non-moderators to a thread; only available on private threads").
            if user_id != fake.bot_user.id:
                fake.require(thread, Perm.SEND_MESSAGES_IN_THREADS)
                if thread.type == 12 and not thread.invitable:
                    fake.require(thread, Perm.MANAGE_THREADS)
            thread.thread_members.add(user_id)
        else:
            if user_id != fake.bot_user.id:
                fake.require(thread, Perm.MANAGE_THREADS)
            thread.thread_members.discard(user_id)
        fake._notify()
        return no_content()

    async def thread_members(self, request: web.Request) -> web.Response:
        thread = self.fake.channel_or_404(request.match_info["channel_id"])
        return json_response([
            {"id": str(thread.id), "user_id": str(u), "join_timestamp": thread.created_at.isoformat(), "flags": 0}
            for u in sorted(thread.thread_members)])

    async def typing(self, request: web.Request) -> web.Response:
        self.fake.channel_or_404(request.match_info["channel_id"])
        return no_content()

    # -- messages ----------------------------------------------------------------------------

    async def post_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = fake.channel_or_404(request.match_info["channel_id"])
        body = request[PAYLOAD]
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > NONCE_MAX:
            raise ApiError(400, 50035, "Invalid Form Body: nonce: Must be 25 or fewer in length.")
        key = (fake.bot_user.id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            # Create Message (developers/resources/message.mdx in discord/discord-api-docs): `nonce` is
            # "max 25 characters"; with `enforce_nonce` "it will be checked for uniqueness in the past few
            # minutes. If another message was created by the same author with the same nonce, that message
            # will be returned and no new message will be created." The fake keeps NONCE_WINDOW (2 minutes).
            seen = fake.nonces.get(key)
            earlier = fake.messages.get(seen[1]) if seen else None
            if seen and earlier is not None and time.monotonic() - seen[0] < NONCE_WINDOW:
                fake.nonce_replays.append(earlier.id)
                return json_response(fake._view(earlier, gateway=False))
        msg = fake.create_bot_message(channel, body, request[FILES])
        if nonce is not None:
            fake.nonces[key] = (time.monotonic(), msg.id)
        return json_response(fake._view(msg, gateway=False))

    async def list_messages(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = fake.channel_or_404(request.match_info["channel_id"])
        fake.require(channel, Perm.READ_MESSAGE_HISTORY)
        limit = min(int(request.query.get("limit", 50)), 100)
        msgs = fake.messages_in(channel.id)
        if "before" in request.query:
            msgs = [m for m in msgs if m.id < int(request.query["before"])]
        if "after" in request.query:
            msgs = [m for m in msgs if m.id > int(request.query["after"])][:limit]
        if "around" in request.query:
            around = int(request.query["around"])
            older = [m for m in msgs if m.id <= around][-(limit // 2 + 1):]
            msgs = older + [m for m in msgs if m.id > around][: limit - len(older)]
        msgs = list(reversed(msgs))[:limit]  # newest first, like Discord
        return json_response([fake._view(m, gateway=False) for m in msgs])

    async def get_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = fake.channel_or_404(request.match_info["channel_id"])
        fake.require(channel, Perm.READ_MESSAGE_HISTORY)
        msg = fake.message_or_404(channel, request.match_info["message_id"])
        return json_response(fake._view(msg, gateway=False))

    async def patch_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = fake.channel_or_404(request.match_info["channel_id"])
        msg = fake.message_or_404(channel, request.match_info["message_id"])
        body = request[PAYLOAD]
        if msg.author_id != fake.bot_user.id:
            if set(body) - {"flags"}:
                raise ApiError(403, 50005)
            fake.require(channel, Perm.MANAGE_MESSAGES)
        _validate_edit(msg, body)
        fake.edit_message(msg, body)
        return json_response(fake._view(msg, gateway=False))

    async def delete_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = fake.channel_or_404(request.match_info["channel_id"])
        msg = fake.message_or_404(channel, request.match_info["message_id"])
        if msg.author_id != fake.bot_user.id:
            fake.require(channel, Perm.MANAGE_MESSAGES)
        fake.delete_message(channel.id, msg.id)
        return no_content()

    # -- reactions ---------------------------------------------------------------------------

    def _reaction_target(self, request: web.Request) -> tuple[FakeChannel, FakeMessage]:
        channel = self.fake.channel_or_404(request.match_info["channel_id"])
        return channel, self.fake.message_or_404(channel, request.match_info["message_id"])

    async def add_own_reaction(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel, msg = self._reaction_target(request)
        key, emoji = parse_emoji(request.match_info["emoji"])
        if not key or (emoji["id"] is None and not _looks_like_emoji(key)):
            raise ApiError(400, 10014)
        if key not in msg.reactions:
            fake.require(channel, Perm.ADD_REACTIONS | Perm.READ_MESSAGE_HISTORY)
        fake.add_reaction(msg, fake.bot_user.id, key)
        return no_content()

    async def delete_user_reaction(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel, msg = self._reaction_target(request)
        raw_user = request.match_info["user_id"]
        user_id = fake.bot_user.id if raw_user == "@me" else _int(raw_user, 10013)
        if user_id != fake.bot_user.id:
            fake.require(channel, Perm.MANAGE_MESSAGES)
        fake.remove_reaction(msg, user_id, request.match_info["emoji"])
        return no_content()

    async def list_reaction_users(self, request: web.Request) -> web.Response:
        fake = self.fake
        _, msg = self._reaction_target(request)
        key, _ = parse_emoji(request.match_info["emoji"])
        limit = max(1, min(int(request.query.get("limit", 25)), 100))
        after = int(request.query.get("after", 0))
        if request.query.get("type", "0") != "0":
            return json_response([])  # no burst (super) reactions in the fake
        users = sorted(u for u in msg.reactions.get(key, ()) if u > after)[:limit]
        return json_response([fake.users[u].payload() for u in users])

    async def clear_reactions(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel, msg = self._reaction_target(request)
        fake.require(channel, Perm.MANAGE_MESSAGES)
        emoji = request.match_info.get("emoji")
        data: dict[str, Any] = {"channel_id": str(channel.id), "message_id": str(msg.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        if emoji is None:
            msg.reactions.clear()
            fake.dispatch("MESSAGE_REACTION_REMOVE_ALL", data)
        else:
            key, emoji_payload = parse_emoji(emoji)
            msg.reactions.pop(key, None)
            fake.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", {**data, "emoji": emoji_payload})
        fake._notify()
        return no_content()

    # -- application commands ----------------------------------------------------------------

    def _check_app(self, request: web.Request) -> int | None:
        if _int(request.match_info["app_id"], 10002) != self.fake.application_id:
            raise ApiError(403, 50001)
        guild_id = request.match_info.get("guild_id")
        if guild_id is not None and _int(guild_id, 10004) not in self.fake.guilds:
            raise ApiError(403, 50001)
        return int(guild_id) if guild_id is not None else None

    async def list_commands(self, request: web.Request) -> web.Response:
        return json_response(self.fake.commands_in(self._check_app(request)))

    async def put_commands(self, request: web.Request) -> web.Response:
        fake = self.fake
        guild_id = self._check_app(request)
        payloads = request[PAYLOAD]
        if not isinstance(payloads, list) or len(payloads) > 100:
            raise ApiError(400, 50035, "Invalid Form Body: Must be 100 or fewer in length.")
        names = [(p.get("name"), int(p.get("type", 1))) for p in payloads]
        if len(set(names)) != len(names):
            raise ApiError(400, 50035, "Invalid Form Body: Application command names must be unique")
        validate_command_list(payloads)  # names, descriptions, option/choice counts, sizes: see the source there
        fake.sync_calls += 1
        fake.sync_log.append((guild_id, [str(p.get("name")) for p in payloads]))
        return json_response(fake.remember_commands(guild_id, payloads, replace=True))

    async def post_command(self, request: web.Request) -> web.Response:
        guild_id = self._check_app(request)
        validate_command(request[PAYLOAD])
        return json_response(self.fake.remember_commands(guild_id, [request[PAYLOAD]], replace=False)[0], 201)

    async def command(self, request: web.Request) -> web.Response:
        fake = self.fake
        guild_id = self._check_app(request)
        store = fake.commands.get(guild_id, {})
        command_id = _int(request.match_info["command_id"], 10063)
        if command_id not in store:
            raise ApiError(404, 10063)
        if request.method == "DELETE":
            del store[command_id]
            return no_content()
        if request.method == "PATCH":
            validate_command({**store[command_id], **request[PAYLOAD]})
            store[command_id].update(request[PAYLOAD])
        return json_response(store[command_id])

    async def command_permissions(self, request: web.Request) -> web.Response:
        self._check_app(request)
        return json_response([])


def _looks_like_emoji(text: str) -> bool:
    # Unicode emoji are non-ASCII; a bare word like "thumbsup" is what Discord rejects with 10014.
    return any(ord(ch) > 0x2000 for ch in text) or text in {"#️⃣", "*️⃣"}


def _validate_edit(msg: FakeMessage, body: dict[str, Any]) -> None:
    from tests.fakes.discord_validation import validate_message_body

    merged = {k: body.get(k, msg.data.get(k)) for k in ("content", "embeds", "components", "flags")}
    validate_message_body(merged, [], loading=True)


def route_table(fake: FakeDiscord) -> list[tuple[str, str, Handler]]:
    r = _Routes(fake)
    i = fake  # interaction and webhook handlers live on the fake (InteractionMixin)
    cmds = "/applications/{app_id}/commands"
    gcmds = "/applications/{app_id}/guilds/{guild_id}/commands"
    msg = "/channels/{channel_id}/messages/{message_id}"
    react = msg + "/reactions/{emoji}"
    hook = "/webhooks/{app_id}/{token}"
    return [
        ("GET", "/users/@me", r.me),
        ("GET", "/users/{user_id}", r.user),
        ("POST", "/users/@me/channels", r.create_dm),
        ("GET", "/oauth2/applications/@me", r.application),
        ("GET", "/applications/@me", r.application),
        ("GET", "/gateway", r.gateway),
        ("GET", "/gateway/bot", r.gateway_bot),
        ("GET", "/guilds/{guild_id}", r.guild),
        ("GET", "/guilds/{guild_id}/members", r.guild_members),
        ("GET", "/guilds/{guild_id}/members/{user_id}", r.guild_member),
        ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", r.member_role),
        ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", r.member_role),
        ("GET", "/guilds/{guild_id}/roles", r.guild_roles),
        ("GET", "/guilds/{guild_id}/channels", r.guild_channels),
        ("GET", "/guilds/{guild_id}/threads/active", r.active_threads),
        ("GET", "/channels/{channel_id}", r.get_channel),
        ("PATCH", "/channels/{channel_id}", r.patch_channel),
        ("POST", "/channels/{channel_id}/typing", r.typing),
        ("POST", "/channels/{channel_id}/threads", r.create_thread),
        ("POST", msg + "/threads", r.thread_from_message),
        ("GET", "/channels/{channel_id}/thread-members", r.thread_members),
        ("PUT", "/channels/{channel_id}/thread-members/{user_id}", r.thread_member),
        ("DELETE", "/channels/{channel_id}/thread-members/{user_id}", r.thread_member),
        ("POST", "/channels/{channel_id}/messages", r.post_message),
        ("GET", "/channels/{channel_id}/messages", r.list_messages),
        ("GET", msg, r.get_message),
        ("PATCH", msg, r.patch_message),
        ("DELETE", msg, r.delete_message),
        ("PUT", react + "/@me", r.add_own_reaction),
        ("DELETE", react + "/{user_id}", r.delete_user_reaction),
        ("GET", react, r.list_reaction_users),
        ("DELETE", react, r.clear_reactions),
        ("DELETE", msg + "/reactions", r.clear_reactions),
        ("GET", cmds, r.list_commands),
        ("PUT", cmds, r.put_commands),
        ("POST", cmds, r.post_command),
        ("GET", cmds + "/{command_id}", r.command),
        ("PATCH", cmds + "/{command_id}", r.command),
        ("DELETE", cmds + "/{command_id}", r.command),
        ("GET", gcmds, r.list_commands),
        ("PUT", gcmds, r.put_commands),
        ("POST", gcmds, r.post_command),
        ("GET", gcmds + "/permissions", r.command_permissions),
        ("GET", gcmds + "/{command_id}", r.command),
        ("PATCH", gcmds + "/{command_id}", r.command),
        ("DELETE", gcmds + "/{command_id}", r.command),
        ("POST", "/interactions/{interaction_id}/{token}/callback", i._callback),
        ("POST", hook, i._webhook_execute),
        ("GET", hook + "/messages/{message_id}", i._webhook_message),
        ("PATCH", hook + "/messages/{message_id}", i._webhook_message),
        ("DELETE", hook + "/messages/{message_id}", i._webhook_message),
    ]


# https://github.com/discord/discord-api-docs/blob/main/developers/resources/channel.mdx (thread metadata,
# Start Thread, Modify Channel): auto_archive_duration "can be set to: 60, 1440, 4320, 10080".
AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)


def _check_auto_archive(body: dict[str, Any]) -> None:
    value = body.get("auto_archive_duration")
    if value is not None and value not in AUTO_ARCHIVE_DURATIONS:
        raise ApiError(400, 50035, "Invalid Form Body: auto_archive_duration: Value must be one of "
                                   f"{AUTO_ARCHIVE_DURATIONS}.")
