"""Gateway half of the fake Discord: one websocket session at a time, with RESUME replay.

Implements what discord.py 2.7's DiscordWebSocket speaks: HELLO, IDENTIFY → READY + GUILD_CREATE,
heartbeats, RESUME → replay + RESUMED, INVALID_SESSION, RECONNECT, REQUEST_GUILD_MEMBERS, and the
`compress=zlib-stream` transport compression discord.py always asks for when zstd is unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord import FakeDiscord

log = logging.getLogger(__name__)

# Intent bits per event: (bit for guild events, bit for DM events). None: always delivered.
_GUILDS, _MEMBERS, _GUILD_MESSAGES, _GUILD_REACTIONS = 0, 1, 9, 10
_DM_MESSAGES, _DM_REACTIONS, MESSAGE_CONTENT = 12, 13, 15
_EVENT_INTENTS: dict[str, tuple[int, int | None]] = {
    **{e: (_GUILDS, None) for e in (
        "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE",
        "GUILD_ROLE_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE", "THREAD_CREATE",
        "THREAD_UPDATE", "THREAD_DELETE", "THREAD_LIST_SYNC", "THREAD_MEMBER_UPDATE")},
    **{e: (_MEMBERS, None) for e in (
        "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "THREAD_MEMBERS_UPDATE")},
    **{e: (_GUILD_MESSAGES, _DM_MESSAGES) for e in (
        "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK")},
    **{e: (_GUILD_REACTIONS, _DM_REACTIONS) for e in (
        "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL",
        "MESSAGE_REACTION_REMOVE_EMOJI")},
}


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    shard: tuple[int, int] | None
    large_threshold: int
    seq: int = 0
    valid: bool = True
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5000))

    def has_intent(self, bit: int) -> bool:
        return bool(self.intents & (1 << bit))

    def sees_guild(self, guild_id: int) -> bool:
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        return (guild_id >> 22) % shard_count == shard_id


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    compressor: Any | None
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    async def write_loop(self) -> None:
        while (payload := await self.queue.get()) is not None:
            text = json.dumps(payload)
            if self.ws.closed:
                return
            try:
                if self.compressor is None:
                    await self.ws.send_str(text)
                else:
                    data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
            except (ConnectionResetError, RuntimeError):
                return


class GatewayMixin:
    """Gateway state and handlers, mixed into FakeDiscord (which owns the world)."""

    def _init_gateway(self: FakeDiscord, heartbeat_interval_ms: int) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.connections = 0
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self.identified_intents: list[int] = []
        self.disallowed_intent_closes = 0
        self.identify_payloads: list[dict[str, Any]] = []
        self.presence_updates: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self._session: GatewaySession | None = None
        self._conn: _Connection | None = None
        self._connected = asyncio.Event()
        self._gateway_open = asyncio.Event()
        self._gateway_open.set()

    # -- public test API ---------------------------------------------------------------------

    @property
    def intents(self: FakeDiscord) -> int | None:
        """Intents of the current session (None before the first IDENTIFY)."""
        return self._session.intents if self._session else None

    @property
    def is_connected(self: FakeDiscord) -> bool:
        return self._connected.is_set()

    async def wait_until_connected(self: FakeDiscord, timeout: float = 5.0) -> None:
        """Until a session is live (READY or RESUMED sent)."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def drop_connection(self: FakeDiscord, resumable: bool = True) -> None:
        """Close the bot's socket. resumable: close code 4000 (discord.py RESUMEs).

        Not resumable: send INVALID_SESSION d=false; discord.py then re-IDENTIFYs after
        `Client.before_identify_hook`, which sleeps 5 s unless the test bot overrides it.
        """
        conn = self._conn
        if conn is None:
            raise RuntimeError("the bot is not connected to the fake gateway")
        self._connected.clear()
        self._conn = None
        if resumable:
            await conn.ws.close(code=4000, message=b"fake drop")
        else:
            if conn.session is not None:
                conn.session.valid = False
            conn.send({"op": 9, "d": False, "s": None, "t": None})

    async def request_reconnect(self: FakeDiscord) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session; discord.py resumes."""
        if self._conn is None:
            raise RuntimeError("the bot is not connected to the fake gateway")
        self._connected.clear()
        self._conn.send({"op": 7, "d": None, "s": None, "t": None})

    @contextlib.asynccontextmanager
    async def gateway_paused(self: FakeDiscord) -> AsyncIterator[None]:
        """New gateway connections wait for HELLO inside this block (to queue events while down)."""
        self._gateway_open.clear()
        try:
            yield
        finally:
            self._gateway_open.set()

    def dispatch(self: FakeDiscord, event: str, data: dict[str, Any]) -> bool:
        """Send a DISPATCH to the bot if its intents cover it. Queued for RESUME while down.

        Returns whether the event entered the session (False: no session or filtered by intents).
        """
        session = self._session
        if session is None or not session.valid:
            return False
        bits = _EVENT_INTENTS.get(event)
        if bits is not None:
            bit = bits[0] if data.get("guild_id") or bits[1] is None else bits[1]
            if not session.has_intent(bit):
                return False
        if event == "GUILD_MEMBER_UPDATE" and not session.has_intent(_MEMBERS):
            # Without GUILD_MEMBERS, Discord still tells a bot about its own member updates.
            if int(data["user"]["id"]) != self.bot_user.id:
                return False
        if data.get("guild_id") and not session.sees_guild(int(data["guild_id"])):
            return False
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        self.dispatched.append(payload)
        if self._conn is not None and self._conn.session is session:
            self._conn.send(payload)
        return True

    # -- websocket handling ------------------------------------------------------------------

    async def _gateway_handler(self: FakeDiscord, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self.connections += 1
        self.gateway_queries.append(dict(request.query))
        compress = request.query.get("compress")
        compressor = zlib.compressobj() if compress == "zlib-stream" else None
        if compress not in (None, "zlib-stream"):
            await ws.close(code=4000, message=b"unsupported compression")
            return ws
        conn = _Connection(ws, compressor)
        writer = asyncio.create_task(conn.write_loop())
        try:
            await self._gateway_open.wait()
            conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": []},
                       "s": None, "t": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
        finally:
            if self._conn is conn:
                self._conn = None
                self._connected.clear()
            conn.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(writer, 1)
        return ws

    async def _on_gateway_message(self: FakeDiscord, conn: _Connection, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d")
        if op == 1:
            self.heartbeats += 1
            conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)
        elif op == 3:
            self.presence_updates.append(data)
        elif op == 8:
            self._request_members(data)
        elif op == 4:
            pass  # voice state: the bot has no voice features
        else:
            await conn.ws.close(code=4001, message=b"unknown opcode")

    async def _identify(self: FakeDiscord, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_count += 1
        self.identify_payloads.append(data)
        intents = int(data.get("intents", 0))
        self.identified_intents.append(intents)
        if self.disallowed_intents(intents):
            # A privileged intent not enabled in the Developer Portal (or not approved) closes the
            # connection with 4014 "Disallowed intent(s)", not to be reconnected:
            # https://github.com/discord/discord-api-docs/blob/main/developers/topics/opcodes-and-status-codes.mdx
            # (gateway close event codes) and developers/events/gateway.mdx#privileged-intents.
            self.disallowed_intent_closes += 1
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = tuple(data["shard"]) if data.get("shard") else None
        session = GatewaySession(uuid.uuid4().hex, intents, shard, int(data.get("large_threshold", 50)))
        self._session = session
        self._bind(conn, session)
        guilds = [g for g in self.guilds.values() if session.sees_guild(g.id)]
        ready = {
            "v": 10, "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id, "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [], "relationships": [], "presences": [], "guild_join_requests": [],
            "user_settings": {}, "geo_ordered_rtc_regions": [], "auth": {}, "_trace": [],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        self.dispatch("READY", ready)
        for guild in guilds:
            self.dispatch("GUILD_CREATE", self._guild_create_payload(guild, session))
        self._connected.set()

    async def _resume(self: FakeDiscord, conn: _Connection, data: dict[str, Any]) -> None:
        session = self._session
        if (session is None or not session.valid or data.get("session_id") != session.session_id
                or data.get("token") != self.token):
            conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        since = int(data.get("seq") or 0)
        missed = [p for p in session.log if p["s"] > since]
        self._bind(conn, session, replay=missed)
        self.dispatch("RESUMED", {"_trace": []})
        self._connected.set()

    def _bind(self: FakeDiscord, conn: _Connection, session: GatewaySession,
              replay: list[dict[str, Any]] = ()) -> None:
        # No await between replay and binding: an event dispatched meanwhile can't be lost or doubled.
        old = self._conn
        if old is not None and old is not conn:
            old.queue.put_nowait(None)
        for payload in replay:
            conn.send(payload)
        conn.session = session
        self._conn = conn

    def _request_members(self: FakeDiscord, data: dict[str, Any]) -> None:
        guild = self.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunks = [members[i:i + 1000] for i in range(0, len(members), 1000)] or [[]]
        for index, chunk in enumerate(chunks):
            payload = {"guild_id": str(guild.id), "members": [m.payload() for m in chunk],
                       "chunk_index": index, "chunk_count": len(chunks), "not_found": []}
            if data.get("nonce"):
                payload["nonce"] = data["nonce"]
            self.dispatch("GUILD_MEMBERS_CHUNK", payload)
