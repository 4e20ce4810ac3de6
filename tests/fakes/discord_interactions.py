"""Interactions in the fake Discord: building them like Discord does, and the callback/webhook API.

Test side: `slash`, `autocomplete`, `click`, `submit_modal`, `message_command`, `user_command`
dispatch INTERACTION_CREATE and return a `FakeInteraction` that records how the bot answered.
Bot side: POST /interactions/{id}/{token}/callback (3 s deadline, one acknowledgement) and the
followup webhook /webhooks/{application_id}/{token} (token valid 15 minutes).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_rest import FILES, PAYLOAD, ApiError, _int, json_response, no_content
from tests.fakes.discord_validation import validate_autocomplete_choices, validate_message_body, validate_modal
from tests.fakes.discord_world import (
    EPHEMERAL,
    LOADING,
    FakeChannel,
    FakeMessage,
    Perm,
    snowflake_time,
    walk_components,
)

if TYPE_CHECKING:
    from tests.fakes.discord import FakeDiscord


@dataclass(frozen=True)
class UserOption:
    id: int


@dataclass(frozen=True)
class RoleOption:
    id: int


@dataclass(frozen=True)
class ChannelOption:
    id: int


@dataclass
class CallbackRecord:
    type: int
    data: dict[str, Any] | None
    latency: float
    status: int


# Callback types Discord accepts per interaction type (1 ping, 2 command, 3 component, 4 autocomplete,
# 5 modal submit). A modal can't answer a modal submit.
_ALLOWED_CALLBACKS = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
_SELECT_TYPES = (3, 5, 6, 7, 8)


class FakeInteraction:
    """One interaction the fake dispatched, and everything the bot did to answer it."""

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], source: FakeMessage | None) -> None:
        self.fake = fake
        self.payload = payload
        self.message = source  # the message a component sits on (click / modal from a component)
        self.dispatched_at = asyncio.get_running_loop().time()
        self.created_on_clock = fake.clock()  # the token's 15 minutes run on the clock the test controls
        self.deprecated_followup = False  # answered a deferral with a followup instead of @original
        self.callbacks: list[CallbackRecord] = []
        self.rejected_callbacks: list[CallbackRecord] = []
        self.modal: dict[str, Any] | None = None
        self.choices: list[dict[str, Any]] | None = None
        self.response_message: FakeMessage | None = None
        self.followups: list[FakeMessage] = []

    id = property(lambda self: int(self.payload["id"]))
    token = property(lambda self: self.payload["token"])
    type = property(lambda self: int(self.payload["type"]))
    channel_id = property(lambda self: int(self.payload["channel_id"]))
    guild_id = property(lambda self: int(self.payload["guild_id"]) if self.payload.get("guild_id") else None)

    @property
    def user_id(self) -> int:
        user = self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]
        return int(user["id"])

    @property
    def created_at(self) -> datetime:
        return snowflake_time(self.id)

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatch to the first accepted callback (None if never acknowledged)."""
        return self.callbacks[0].latency if self.callbacks else None

    @property
    def ephemeral(self) -> bool:
        return bool(self.response_message and self.response_message.ephemeral)

    async def wait_ack(self, timeout: float = 5.0) -> CallbackRecord:
        return await self.fake._wait_until(lambda: self.callbacks[0] if self.callbacks else None,
                                           timeout, f"acknowledgement of interaction {self.id}")

    def messages(self) -> list[FakeMessage]:
        """Response (once no longer loading) and followups, oldest first, deleted ones left out."""
        found = [self.response_message] if self.response_message and not self.response_message.loading else []
        return [m for m in found + self.followups if not m.deleted]

    async def wait_message(self, timeout: float = 5.0,
                           predicate: Callable[[FakeMessage], bool] | None = None) -> FakeMessage:
        """First response/followup (edits re-checked) that matches the predicate."""
        def find() -> FakeMessage | None:
            return next((m for m in self.messages() if predicate is None or predicate(m)), None)

        return await self.fake._wait_until(find, timeout, f"message for interaction {self.id}")

    def buttons(self) -> list[tuple[str | None, str | None, bool]]:
        msg = self.response_message or self.message
        return msg.buttons() if msg else []

    def text(self) -> str:
        return "\n".join(m.text() for m in self.messages())

    def __repr__(self) -> str:
        return f"<FakeInteraction id={self.id} type={self.type} callbacks={[c.type for c in self.callbacks]}>"


class InteractionMixin:
    def _init_interactions(self: FakeDiscord, ack_deadline: float, token_lifetime: float) -> None:
        self.ack_deadline = ack_deadline
        self.token_lifetime = token_lifetime
        self.interactions: dict[int, FakeInteraction] = {}
        self.deprecated_uses: list[str] = []
        self._interactions_by_token: dict[str, FakeInteraction] = {}

    @staticmethod
    def user_option(user_id: int) -> UserOption:
        return UserOption(user_id)

    @staticmethod
    def role_option(role_id: int) -> RoleOption:
        return RoleOption(role_id)

    @staticmethod
    def channel_option(channel_id: int) -> ChannelOption:
        return ChannelOption(channel_id)

    # -- test-side actions -------------------------------------------------------------------

    async def slash(self: FakeDiscord, user_id: int, name: str, options: dict[str, Any] | None = None, *,
                    channel_id: int | None = None, guild_id: int | None = None,
                    command_guild_id: int | None = None, locale: str = "en-US") -> FakeInteraction:
        """A user runs `/name` ("eco transfer" = command eco, subcommand transfer).

        The command id, scope and option types come from the synced commands when present;
        otherwise types follow the Python values and the command is global unless
        `command_guild_id` names the guild it was registered in.
        """
        channel = self._interaction_channel(channel_id, guild_id)
        data = self._command_data(name, options or {}, channel, command_guild_id, focused=None)
        return await self._dispatch_interaction(2, user_id, channel, data, locale=locale)

    async def autocomplete(self: FakeDiscord, user_id: int, name: str, *, focused: str, value: str = "",
                           options: dict[str, Any] | None = None, channel_id: int | None = None,
                           guild_id: int | None = None, command_guild_id: int | None = None,
                           locale: str = "en-US") -> FakeInteraction:
        """A user types `value` into option `focused`; the bot's choices land in `.choices`."""
        channel = self._interaction_channel(channel_id, guild_id)
        data = self._command_data(name, {**(options or {}), focused: value}, channel, command_guild_id,
                                  focused=focused)
        return await self._dispatch_interaction(4, user_id, channel, data, locale=locale)

    async def message_command(self: FakeDiscord, user_id: int, name: str, message: FakeMessage | int, *,
                              command_guild_id: int | None = None) -> FakeInteraction:
        """A user runs a message context-menu command on a message."""
        msg = self.get_message(int(getattr(message, "id", message)))
        channel = self.channels[msg.channel_id]
        data = self._context_data(name, 3, channel, command_guild_id, str(msg.id))
        data["resolved"] = {"messages": {str(msg.id): msg.payload(self.bot_user.id)}}
        return await self._dispatch_interaction(2, user_id, channel, data)

    async def user_command(self: FakeDiscord, user_id: int, name: str, target_id: int, *,
                           channel_id: int | None = None, guild_id: int | None = None,
                           command_guild_id: int | None = None) -> FakeInteraction:
        channel = self._interaction_channel(channel_id, guild_id)
        data = self._context_data(name, 2, channel, command_guild_id, str(target_id))
        resolved: dict[str, Any] = {}
        self._resolve(6, UserOption(target_id), channel, resolved)
        data["resolved"] = resolved
        return await self._dispatch_interaction(2, user_id, channel, data)

    async def click(self: FakeDiscord, user_id: int, message: FakeMessage | int, custom_id: str, *,
                    channel_id: int | None = None, values: list[Any] | None = None) -> FakeInteraction:
        """A user presses a button (or picks `values` in a select) on a message, ephemeral ones too."""
        msg = self.get_message(int(getattr(message, "id", message)))
        comp = next((c for c in walk_components(msg.components) if c.get("custom_id") == custom_id), None)
        if comp is None:
            ids = [c.get("custom_id") for c in walk_components(msg.components) if c.get("custom_id")]
            raise LookupError(f"message {msg.id} has no component {custom_id!r} (has {ids})")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled: a user cannot use it")
        if msg.deleted:
            raise ValueError(f"message {msg.id} was deleted")
        channel = self.channels[channel_id or msg.channel_id]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] in _SELECT_TYPES:
            data["values"], resolved = self._select_values(comp, values or [], channel)
            if resolved:
                data["resolved"] = resolved
        return await self._dispatch_interaction(3, user_id, channel, data, source=msg)

    async def submit_modal(self: FakeDiscord, user_id: int, interaction: FakeInteraction,
                           values: dict[str, Any]) -> FakeInteraction:
        """A user fills in and submits the modal the bot answered `interaction` with.

        values: text inputs/radio groups take str, checkboxes bool, selects/checkbox groups lists.
        Inputs left out keep their default value; a required one left empty raises ValueError.
        """
        modal = interaction.modal
        if modal is None:
            raise ValueError(f"interaction {interaction.id} was not answered with a modal")
        known = {c["custom_id"] for c in walk_components(modal["components"]) if c.get("custom_id")}
        unknown = set(values) - known
        if unknown:
            raise LookupError(f"modal {modal['custom_id']!r} has no inputs {sorted(unknown)} (has {sorted(known)})")
        channel = self.channels[interaction.channel_id]
        data = {"custom_id": modal["custom_id"],
                "components": [_submitted(c, values) for c in modal["components"]]}
        return await self._dispatch_interaction(5, user_id, channel, data, source=interaction.message)

    # -- building ----------------------------------------------------------------------------

    def _interaction_channel(self: FakeDiscord, channel_id: int | None, guild_id: int | None) -> FakeChannel:
        if channel_id is not None:
            return self.channels[channel_id]
        guilds = [self.guilds[guild_id]] if guild_id is not None else list(self.guilds.values())
        for guild in guilds:
            for channel in guild.channels.values():
                if channel.type == 0:
                    return channel
        raise LookupError("no text channel to run the interaction in: pass channel_id")

    def _find_command(self: FakeDiscord, name: str, kind: int, channel: FakeChannel,
                      command_guild_id: int | None) -> tuple[dict[str, Any] | None, int | None]:
        scopes = [command_guild_id] if command_guild_id is not None else [channel.guild_id, None]
        for scope in scopes:
            for command in self.commands.get(scope, {}).values():
                if command["name"] == name and int(command.get("type", 1)) == kind:
                    return command, scope
        return None, command_guild_id

    def _context_data(self: FakeDiscord, name: str, kind: int, channel: FakeChannel,
                      command_guild_id: int | None, target_id: str) -> dict[str, Any]:
        command, scope = self._find_command(name, kind, channel, command_guild_id)
        command_id = int(command["id"]) if command else self._command_ids.setdefault((scope, name, kind),
                                                                                       self.snowflake())
        data = {"id": str(command_id), "name": name, "type": kind, "target_id": target_id}
        if scope is not None:
            data["guild_id"] = str(scope)
        return data

    def _command_data(self: FakeDiscord, name: str, given: dict[str, Any], channel: FakeChannel,
                      command_guild_id: int | None, focused: str | None) -> dict[str, Any]:
        root, *path = name.split()
        if len(path) > 2:
            raise ValueError(f"{name!r}: at most a group and a subcommand")
        command, scope = self._find_command(root, 1, channel, command_guild_id)
        command_id = int(command["id"]) if command else self._command_ids.setdefault((scope, root, 1),
                                                                                       self.snowflake())
        schema: list[dict[str, Any]] | None = command.get("options", []) if command else None
        resolved: dict[str, Any] = {}
        for part in path:
            if schema is not None:
                spec = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
                if spec is None:
                    raise LookupError(f"/{root} has no subcommand {part!r}")
                schema = spec.get("options", [])
        leaf = self._build_options(schema, given, channel, resolved, focused)
        for depth, part in reversed(list(enumerate(path))):
            leaf = [{"name": part, "type": 2 if depth < len(path) - 1 else 1, "options": leaf}]
        data: dict[str, Any] = {"id": str(command_id), "name": root, "type": 1, "options": leaf}
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return data

    def _build_options(self: FakeDiscord, schema: list[dict[str, Any]] | None, given: dict[str, Any],
                       channel: FakeChannel, resolved: dict[str, Any], focused: str | None) -> list[dict[str, Any]]:
        specs = {o["name"]: o for o in schema or []}
        options = []
        for name, value in given.items():
            spec = specs.get(name)
            if schema is not None and spec is None:
                raise LookupError(f"command has no option {name!r} (has {sorted(specs)})")
            kind = int(spec["type"]) if spec else _infer_type(value)
            option: dict[str, Any] = {"name": name, "type": kind}
            if name == focused:
                option.update(value=str(value), focused=True)  # autocomplete sends the raw text
            else:
                option["value"] = self._resolve(kind, value, channel, resolved)
                choices = (spec or {}).get("choices")
                if choices and option["value"] not in [c["value"] for c in choices]:
                    raise ValueError(f"{value!r} is not a choice of option {name!r}")
            options.append(option)
        if focused is None:
            missing = [n for n, s in specs.items() if s.get("required") and n not in given]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        return options

    def _resolve(self: FakeDiscord, kind: int, value: Any, channel: FakeChannel,
                 resolved: dict[str, Any]) -> Any:
        """Option value as Discord sends it, adding users/members/roles/channels to `resolved`."""
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        if kind == 9:
            kind = 8 if isinstance(value, RoleOption) else 6
        if kind == 6:
            user_id = int(getattr(value, "id", value))
            resolved.setdefault("users", {})[str(user_id)] = self.users[user_id].payload()
            if guild is not None and user_id in guild.members:
                member = guild.members[user_id].payload(
                    with_user=False, permissions=guild.channel_permissions(user_id, channel.id))
                resolved.setdefault("members", {})[str(user_id)] = member
            return str(user_id)
        if kind == 8:
            role_id = int(getattr(value, "id", value))
            resolved.setdefault("roles", {})[str(role_id)] = guild.roles[role_id].payload()  # type: ignore[union-attr]
            return str(role_id)
        if kind == 7:
            target = self.channels[int(getattr(value, "id", value))]
            data = target.payload()
            data["permissions"] = str(self.bot_permissions(target.id))
            resolved.setdefault("channels", {})[str(target.id)] = data
            return str(target.id)
        if kind == 4:
            return int(value)
        if kind == 10:
            return float(value)
        if kind == 5:
            return bool(value)
        return str(value)

    def _select_values(self: FakeDiscord, comp: dict[str, Any], values: list[Any],
                       channel: FakeChannel) -> tuple[list[str], dict[str, Any]]:
        low, high = int(comp.get("min_values", 1)), int(comp.get("max_values", 1))
        if not low <= len(values) <= high:
            raise ValueError(f"select {comp['custom_id']!r} takes {low}..{high} values, got {len(values)}")
        resolved: dict[str, Any] = {}
        if comp["type"] == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValueError(f"{bad} are not options of select {comp['custom_id']!r}")
            return [str(v) for v in values], resolved
        kind = {5: 6, 6: 8, 7: 9, 8: 7}[comp["type"]]
        return [self._resolve(kind, v, channel, resolved) for v in values], resolved

    async def _dispatch_interaction(self: FakeDiscord, itype: int, user_id: int, channel: FakeChannel,
                                    data: dict[str, Any], *, source: FakeMessage | None = None,
                                    locale: str = "en-US") -> FakeInteraction:
        if self._session is None:
            raise RuntimeError("the bot has not identified with the fake gateway yet")
        interaction_id = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(interaction_id), "application_id": str(self.application_id), "type": itype,
            "data": data, "token": f"fake-{interaction_id}-{secrets.token_urlsafe(24)}", "version": 1,
            "locale": locale, "entitlements": [], "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024, "channel_id": str(channel.id),
            "app_permissions": str(self.bot_permissions(channel.id)),
        }
        user = self.users[user_id]
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            if user_id not in guild.members:
                raise LookupError(f"user {user_id} is not a member of guild {guild.id}")
            perms = guild.channel_permissions(user_id, channel.id)
            if channel.type == 12 and not perms & Perm.VIEW_CHANNEL:
                raise ApiError(403, 50001)  # a private thread the user can't see: nothing there to use
            payload.update({
                "guild_id": str(guild.id), "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US", "member": guild.members[user_id].payload(permissions=perms),
                "authorizing_integration_owners": {"0": str(guild.id)}, "context": 0,
                "channel": {**channel.payload(), "permissions": str(perms)},
            })
        else:
            payload.update({"user": user.payload(), "authorizing_integration_owners": {"0": "0"},
                            "context": 1, "channel": channel.payload()})
        if source is not None:
            payload["message"] = source.payload(self.bot_user.id)
        interaction = FakeInteraction(self, payload, source)
        self.interactions[interaction_id] = interaction
        self._interactions_by_token[interaction.token] = interaction
        self.dispatch("INTERACTION_CREATE", payload)
        await asyncio.sleep(0)
        return interaction

    # -- bot-side REST: callback -------------------------------------------------------------

    async def _callback(self: FakeDiscord, request: web.Request) -> web.Response:
        interaction = self.interactions.get(_int(request.match_info["interaction_id"], 10062))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise ApiError(404, 10062)
        body = request[PAYLOAD]
        ctype, data = int(body.get("type", 0)), body.get("data") or {}
        latency = asyncio.get_running_loop().time() - interaction.dispatched_at
        try:
            message = self._apply_callback(interaction, ctype, data, request[FILES], latency)
        except ApiError as exc:
            interaction.rejected_callbacks.append(CallbackRecord(ctype, data, latency, exc.status))
            raise
        interaction.callbacks.append(CallbackRecord(ctype, data, latency, 200))
        self._notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        info: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type,
                                "response_message_loading": ctype == 5,
                                "response_message_ephemeral": bool(message and message.ephemeral)}
        result: dict[str, Any] = {"interaction": info}
        if message is not None:
            info["response_message_id"] = str(message.id)
            result["resource"] = {"type": ctype, "message": message.payload(self.bot_user.id)}
        return json_response(result)

    def _apply_callback(self: FakeDiscord, interaction: FakeInteraction, ctype: int, data: dict[str, Any],
                        files: list[dict[str, Any]], latency: float) -> FakeMessage | None:
        if interaction.callbacks:
            raise ApiError(400, 40060)
        if latency > self.ack_deadline or self._token_expired(interaction):
            raise ApiError(404, 10062)
        if ctype not in _ALLOWED_CALLBACKS[interaction.type]:
            raise ApiError(400, 50035, f"Invalid Form Body: type: callback {ctype} is not valid for "
                                       f"interaction type {interaction.type}")
        if ctype in (6, 7) and interaction.message is None:
            raise ApiError(400, 50035, "Invalid Form Body: type: no message to update")
        if ctype == 4:
            msg = self._interaction_message(interaction, data, files)
            interaction.response_message = msg
            return msg
        if ctype == 5:
            body = {"flags": LOADING | (int(data.get("flags") or 0) & EPHEMERAL)}
            msg = self._interaction_message(interaction, body, [], loading=True)
            interaction.response_message = msg
            return msg
        if ctype == 7:
            msg = interaction.message
            assert msg is not None
            from tests.fakes.discord_rest_routes import _validate_edit

            _validate_edit(msg, data)
            self.edit_message(msg, data)
            interaction.response_message = msg
            return msg
        if ctype == 8:
            choices = data.get("choices", [])
            if len(choices) > 25:
                raise ApiError(400, 50035, "Invalid Form Body: data.choices: Must be 25 or fewer in length.")
            validate_autocomplete_choices(choices)  # names 1-100, string values <= 100 (source there)
            interaction.choices = choices
        if ctype == 9:
            validate_modal(data)
            interaction.modal = data
        return None

    def _interaction_message(self: FakeDiscord, interaction: FakeInteraction, body: dict[str, Any],
                             files: list[dict[str, Any]], *, loading: bool = False) -> FakeMessage:
        validate_message_body(body, files, loading=loading)
        user = self.users[interaction.user_id]
        data = interaction.payload["data"]
        metadata: dict[str, Any] = {
            "id": str(interaction.id), "type": interaction.type, "user": user.payload(),
            "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
        }
        if interaction.type == 2:
            metadata["name"] = data["name"]
        extra = {"webhook_id": str(self.application_id), "application_id": str(self.application_id),
                 "interaction_metadata": metadata}
        msg_type = 20 if interaction.type in (2, 4) and data.get("type", 1) == 1 else (
            23 if interaction.type == 2 else 0)
        channel = self.channels[interaction.channel_id]
        attachments = [self.attachment_payload(f) for f in files]
        return self.store_message(channel, self.bot_user, body, msg_type=msg_type, extra=extra,
                                  attachments=attachments)

    # -- bot-side REST: followup webhook -----------------------------------------------------

    def _webhook_interaction(self: FakeDiscord, request: web.Request) -> FakeInteraction:
        interaction = self._interactions_by_token.get(request.match_info["token"])
        app_ok = request.match_info["app_id"] == str(self.application_id)
        if interaction is None or not app_ok or not interaction.callbacks:
            raise ApiError(404, 10015)
        if asyncio.get_running_loop().time() - interaction.dispatched_at > self.token_lifetime \
                or self._token_expired(interaction):
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _token_expired(self: FakeDiscord, interaction: FakeInteraction) -> bool:
        """Interaction tokens are valid for 15 minutes ("Interaction `tokens` are valid for **15 minutes**":
        developers/interactions/receiving-and-responding.mdx in discord/discord-api-docs), measured on
        `fake.clock` so a test can move past them; then callbacks answer 10062 (Unknown interaction) and
        the followup webhook 401/50027 (Invalid Webhook Token)."""
        return (self.clock() - interaction.created_on_clock).total_seconds() > self.token_lifetime

    async def _webhook_execute(self: FakeDiscord, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        body, files = request[PAYLOAD], request[FILES]
        original = interaction.response_message
        if original is not None and original.loading:
            # Discord: the first followup after a deferral resolves the loading message, keeping
            # the deferral's ephemeral flag (discord-api-docs #2742). Still accepted, but documented as
            # deprecated ("This behavior is deprecated, and you should use the Edit Original Interaction
            # Response endpoint in this case instead": Create Followup Message in
            # developers/interactions/receiving-and-responding.mdx): recorded so tests can assert none.
            interaction.deprecated_followup = True
            self.deprecated_uses.append(f"followup answered the deferral of interaction {interaction.id}")
            msg = self._resolve_loading(original, body, files)
        else:
            msg = self._interaction_message(interaction, body, files)
            interaction.followups.append(msg)
        self._notify()
        return json_response(msg.payload(self.bot_user.id))

    def _resolve_loading(self: FakeDiscord, msg: FakeMessage, body: dict[str, Any],
                         files: list[dict[str, Any]]) -> FakeMessage:
        validate_message_body(body, files)
        msg.data["flags"] = msg.flags & ~LOADING
        msg.data["attachments"] = [self.attachment_payload(f) for f in files]
        return self.edit_message(msg, {k: v for k, v in body.items() if k != "flags"})

    async def _webhook_message(self: FakeDiscord, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        target = request.match_info["message_id"]
        if target == "@original":
            msg = interaction.response_message
            if msg is None and interaction.callbacks[0].type in (6, 7):
                msg = interaction.message  # after a deferred update, @original is the component's message
        else:
            wanted = _int(target, 10008)
            msg = next((m for m in [interaction.response_message, *interaction.followups]
                        if m is not None and m.id == wanted), None)
        if msg is None or msg.deleted:
            raise ApiError(404, 10008)
        if request.method == "GET":
            return json_response(msg.payload(self.bot_user.id))
        if request.method == "DELETE":
            self.delete_message(msg.channel_id, msg.id)
            return no_content()
        body = request[PAYLOAD]
        if msg.loading:
            msg = self._resolve_loading(msg, body, request[FILES])
        else:
            from tests.fakes.discord_rest_routes import _validate_edit

            _validate_edit(msg, body)
            self.edit_message(msg, body)
        if target == "@original":
            interaction.response_message = msg
        return json_response(msg.payload(self.bot_user.id))


def _infer_type(value: Any) -> int:
    if isinstance(value, UserOption):
        return 6
    if isinstance(value, RoleOption):
        return 8
    if isinstance(value, ChannelOption):
        return 7
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _submitted(comp: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The modal-submit shape of one component of the modal the bot sent (ui/modal.py `_refresh`)."""
    kind = comp["type"]
    out: dict[str, Any] = {"type": kind}
    if comp.get("id") is not None:
        out["id"] = comp["id"]
    if kind == 1:
        out["components"] = [_submitted(c, values) for c in comp.get("components", [])]
        return out
    if kind == 18:
        out["component"] = _submitted(comp["component"], values)
        return out
    custom_id = comp.get("custom_id")
    if custom_id is None:
        return out  # text displays and the like carry no value
    out["custom_id"] = custom_id
    if kind == 4:
        text = str(values.get(custom_id, comp.get("value") or ""))
        if comp.get("required", True) and not text:
            raise ValueError(f"text input {custom_id!r} is required")
        if text and not int(comp.get("min_length") or 0) <= len(text) <= int(comp.get("max_length") or 4000):
            raise ValueError(f"text input {custom_id!r}: length {len(text)} outside its limits")
        out["value"] = text
    elif kind in (21, 23):
        out["value"] = values.get(custom_id, False if kind == 23 else None)
    else:
        out["values"] = [str(v) for v in values.get(custom_id, [])]
    return out
