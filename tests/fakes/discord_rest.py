"""REST half of the fake Discord: recording, fault injection and the API v10 routes discord.py uses.

All answers carry `Content-Type: application/json` exactly (discord.py only parses that), and
errors have Discord's shape `{"code": ..., "message": ...}`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_validation import validate_message_body
from tests.fakes.discord_world import FakeChannel, FakeMessage, Perm

if TYPE_CHECKING:
    from tests.fakes.discord import FakeDiscord

_ERRORS = {
    0: "404: Not Found", 10003: "Unknown Channel", 10004: "Unknown Guild", 10007: "Unknown Member",
    10008: "Unknown Message", 10011: "Unknown Role", 10013: "Unknown User", 10014: "Unknown Emoji",
    10015: "Unknown Webhook", 10062: "Unknown interaction", 10063: "Unknown application command",
    40060: "Interaction has already been acknowledged.", 50001: "Missing Access",
    50005: "Cannot edit a message authored by another user", 50006: "Cannot send an empty message",
    40003: "You are opening direct messages too fast",
    50007: "Cannot send messages to this user", 50013: "Missing Permissions",
    50035: "Invalid Form Body", 50083: "Thread is archived",
    160002: "Cannot reply without permission to read message history",
}


def _request_key(name: str) -> Any:
    # Typed request keys (aiohttp >= 3.12) avoid NotAppKeyWarning; plain strings before that.
    factory = getattr(web, "RequestKey", None)
    return factory(name, object) if factory else name


PAYLOAD = _request_key("fake_discord_payload")
FILES = _request_key("fake_discord_files")
RECORD = _request_key("fake_discord_record")


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str | None = None,
                 errors: dict[str, Any] | None = None) -> None:
        super().__init__(message or _ERRORS.get(code, "error"))
        self.status, self.code, self.errors = status, code, errors
        self.message = message or _ERRORS.get(code, "error")

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            data["errors"] = self.errors
        return data


@dataclass
class CallRecord:
    index: int
    method: str
    path: str  # relative to /api/v10, e.g. "/channels/1/messages"
    json: Any
    query: dict[str, str]
    time: float
    had_auth: bool
    status: int | None = None
    files: list[str] = field(default_factory=list)
    response: Any = None


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int | None
    times: int
    retry_after: float | None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.hits < self.times and self.method in ("*", method) and bool(self.pattern.search(path))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Not web.json_response: it appends "; charset=utf-8", which discord.py does not treat as JSON.
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def no_content() -> web.Response:
    return web.Response(status=204)


def _int(value: str, code: int = 10003) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(404, code) from None


class RestMixin:
    def _init_rest(self: FakeDiscord) -> None:
        self.calls: list[CallRecord] = []
        self.unknown_routes: list[CallRecord] = []
        # Create Message with `enforce_nonce` (discord.py sends it with every nonce): (author, nonce) ->
        # (monotonic time, message id); `nonce_replays` lists the sends answered with the earlier message.
        self.nonces: dict[tuple[int, str], tuple[float, int]] = {}
        self.nonce_replays: list[int] = []
        self.faults: list[Fault] = []
        self.commands: dict[int | None, dict[int, dict[str, Any]]] = {}
        self.sync_calls = 0
        self.sync_log: list[tuple[int | None, list[str]]] = []
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        # Opening DMs too fast answers 400 with JSON code 40003 ("You are opening direct messages too
        # fast"), which is not a 429: https://github.com/discord/discord-api-docs/blob/main/developers/topics/
        # opcodes-and-status-codes.mdx#json-error-codes. Discord doesn't publish the rate; the fake
        # allows `count` openings (POST /users/@me/channels) per sliding `seconds`. None: no limit.
        self.dm_open_limit: tuple[int, float] | None = (10, 10.0)
        self.dm_opens: list[float] = []  # monotonic times of the openings that were allowed

    # -- public API --------------------------------------------------------------------------

    def fail(self: FakeDiscord, method: str, path_regex: str, status: int, *, code: int | None = None,
             times: int = 1, retry_after: float | None = None) -> Fault:
        """Answer the next `times` matching calls with an error (429 carries rate-limit headers)."""
        fault = Fault(method.upper(), re.compile(path_regex), status, code, times, retry_after)
        self.faults.append(fault)
        return fault

    def calls_to(self: FakeDiscord, method: str, path_regex: str) -> list[CallRecord]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method.upper() and pattern.search(c.path)]

    async def wait_for_call(self: FakeDiscord, method: str, path_regex: str, *, timeout: float = 5.0,
                            after_index: int | None = None) -> CallRecord:
        """First completed call matching method and regex (searched), optionally after an index."""
        pattern = re.compile(path_regex)

        def find() -> CallRecord | None:
            start = 0 if after_index is None else after_index + 1
            for call in self.calls[start:]:
                if call.status is not None and call.method == method.upper() and pattern.search(call.path):
                    return call
            return None

        return await self._wait_until(find, timeout, f"{method} {path_regex} call")

    def commands_in(self: FakeDiscord, guild_id: int | None = None) -> list[dict[str, Any]]:
        return list(self.commands.get(guild_id, {}).values())

    # -- middleware --------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self: FakeDiscord, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/v10/"):
            return await handler(request)
        path = request.path[len("/api/v10"):]
        record = CallRecord(len(self.calls), request.method, path, None, dict(request.query), time.monotonic(),
                            "Authorization" in request.headers)
        self.calls.append(record)
        request[RECORD] = record
        try:
            response = await self._handle(request, handler, record, path)
        except ApiError as exc:
            response = json_response(exc.body(), exc.status)
        record.status = response.status
        if isinstance(response, web.Response) and response.body is not None:
            try:
                record.response = json.loads(response.body)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                record.response = None
        self._notify()
        return response

    async def _handle(self: FakeDiscord, request: web.Request, handler: Any, record: CallRecord,
                      path: str) -> web.StreamResponse:
        record.json, files = await _read_body(request)
        record.files = [f["filename"] for f in files]
        request[PAYLOAD], request[FILES] = record.json or {}, files
        for fault in self.faults:
            if fault.matches(request.method, path):
                fault.hits += 1
                return _fault_response(fault)
        tokenless = path.startswith(("/interactions/", "/webhooks/")) or path == "/gateway"
        if not tokenless and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"code": 0, "message": "401: Unauthorized"}, 401)
        return await handler(request)

    # -- routes ------------------------------------------------------------------------------

    def _add_routes(self: FakeDiscord, app: web.Application) -> None:
        from tests.fakes.discord_rest_routes import route_table

        for method, pattern, handler in route_table(self):
            app.router.add_route(method, "/api/v10" + pattern, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)

    async def _unknown_route(self: FakeDiscord, request: web.Request) -> web.Response:
        record = request.get(RECORD)
        if record is None:  # outside /api/v10: not recorded by the middleware
            record = CallRecord(-1, request.method, request.path, None, dict(request.query), time.monotonic(),
                                "Authorization" in request.headers, status=404)
        self.unknown_routes.append(record)
        return json_response({"code": 0, "message": "404: Not Found"}, 404)

    # -- helpers shared by route handlers ----------------------------------------------------

    def channel_or_404(self: FakeDiscord, channel_id: str) -> FakeChannel:
        channel = self.channels.get(_int(channel_id))
        if channel is None:
            raise ApiError(404, 10003)
        return channel

    def message_or_404(self: FakeDiscord, channel: FakeChannel, message_id: str) -> FakeMessage:
        msg = self.messages.get(_int(message_id, 10008))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise ApiError(404, 10008)
        return msg

    def require(self: FakeDiscord, channel: FakeChannel, permission: int) -> None:
        """Raise 50013 (or 50001 without VIEW_CHANNEL) if the bot lacks a permission there."""
        if not self.enforce_permissions or channel.guild_id is None:
            return
        perms = self.bot_permissions(channel.id)
        if not perms & Perm.VIEW_CHANNEL:
            raise ApiError(403, 50001)
        if perms & permission != permission:
            raise ApiError(403, 50013)

    def create_bot_message(self: FakeDiscord, channel: FakeChannel, body: dict[str, Any],
                           files: list[dict[str, Any]], *, extra: dict[str, Any] | None = None,
                           msg_type: int = 0, check_permissions: bool = True) -> FakeMessage:
        validate_message_body(body, files)
        if channel.is_dm and channel.recipient is not None:
            if channel.recipient.dms_closed or channel.recipient.bot:
                raise ApiError(403, 50007)
        elif check_permissions:
            need = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
            self.require(channel, need | (Perm.ATTACH_FILES if files else 0))
            if (body.get("message_reference") or {}).get("type", 0) == 0 and body.get("message_reference"):
                # "When creating a message as a reply to another message, the current user must have the
                # READ_MESSAGE_HISTORY permission" (Create Message, developers/resources/message.mdx);
                # error 160002 in developers/topics/opcodes-and-status-codes.mdx, answered with 403.
                if self.enforce_permissions and not self.bot_permissions(channel.id) & Perm.READ_MESSAGE_HISTORY:
                    raise ApiError(403, 160002)
            if channel.is_thread and channel.archived:
                # "Sending a message will automatically unarchive the thread, unless the thread has been
                # locked by a moderator": developers/topics/threads.mdx in discord/discord-api-docs.
                if channel.locked and not self.bot_permissions(channel.id) & Perm.MANAGE_THREADS:
                    raise ApiError(400, 50083)
                channel.archived = False
                self.dispatch("THREAD_UPDATE", channel.payload())
        attachments = [self.attachment_payload(f) for f in files]
        msg = self.store_message(channel, self.bot_user, body, msg_type=msg_type, extra=extra,
                                 attachments=attachments)
        for f, a in zip(files, attachments, strict=True):
            msg.attachments_bytes[a["filename"]] = f["content"]
        return msg

    def attachment_payload(self: FakeDiscord, file: dict[str, Any]) -> dict[str, Any]:
        attachment_id = self.snowflake()
        url = f"{self.base_url}/attachments/{attachment_id}/{file['filename']}"
        return {"id": str(attachment_id), "filename": file["filename"], "size": len(file["content"]),
                "url": url, "proxy_url": url, "content_type": file.get("content_type"),
                "description": file.get("description")}

    def remember_commands(self: FakeDiscord, guild_id: int | None, payloads: list[dict[str, Any]],
                          *, replace: bool) -> list[dict[str, Any]]:
        store = self.commands.setdefault(guild_id, {})
        if replace:
            store.clear()
        stored = []
        for payload in payloads:
            kind = int(payload.get("type", 1))
            key = (guild_id, payload["name"], kind)
            # Discord keeps a command's id across bulk overwrites when name and type match.
            command_id = self._command_ids.setdefault(key, self.snowflake())
            data = {
                "description": "", "options": [], "default_member_permissions": None, "nsfw": False,
                "dm_permission": True, "contexts": None, "integration_types": [0], **payload,
                "id": str(command_id), "application_id": str(self.application_id), "type": kind,
                "version": str(self.snowflake()),
            }
            if guild_id is not None:
                data["guild_id"] = str(guild_id)
            store[command_id] = data
            stored.append(data)
        return stored


async def _read_body(request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
    """JSON body, or multipart `payload_json` plus files (how discord.py sends attachments)."""
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        form = await request.post()
        payload = json.loads(str(form["payload_json"])) if "payload_json" in form else {}
        files = [
            {"filename": value.filename, "content": value.file.read(), "content_type": value.content_type}
            for name, value in form.items() if name.startswith("files[") and hasattr(value, "file")
        ]
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def _fault_response(fault: Fault) -> web.Response:
    code = fault.code if fault.code is not None else 0
    if fault.status == 429:
        retry_after = fault.retry_after if fault.retry_after is not None else 0.05
        headers = {
            "Retry-After": f"{retry_after:.3f}", "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}", "X-RateLimit-Bucket": "fakebucket",
            "X-RateLimit-Scope": "user", "Via": "1.1 google",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False,
                "code": code}
        return json_response(body, 429, headers)
    message = _ERRORS.get(code, f"{fault.status}: fake failure")
    return json_response({"code": code, "message": message}, fault.status)

