"""A strict fake of Slack on 127.0.0.1: Web API, Socket Mode and signed HTTP delivery.

Real slack_sdk / slack-bolt clients talk to it through `base_url` only. It checks
what real Slack checks (token kinds, channels, text and Block Kit limits) and
answers in Slack's shapes (HTTP 200 `{"ok": false, "error": …}`, 429 with
`Retry-After`), so a test failing here would fail against Slack too.

    fake = FakeSlack(); await fake.start()
    adapter = SlackAdapter(bot_token=fake.bot_token, api_base_url=fake.api_url, …)
    await fake.deliver_http(url, "events", fake.dm_event("U1", "run x"))
    call = await fake.wait_for_call("chat.postMessage")
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

__all__ = ["Call", "Delivery", "FakeSlack"]

_APP_METHODS = {"apps.connections.open"}
_SOCKET_TYPES = {"events": "events_api", "commands": "slash_commands", "actions": "interactive"}


@dataclass
class Call:
    """One Web API call as the fake saw it."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str = ""
    status: int = 200


@dataclass
class Delivery:
    """What the app answered to one HTTP delivery."""

    status: int
    body: str
    headers: Mapping[str, str]

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Fail(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _State:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    response_ids: set[str] = field(default_factory=set)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeSlack:
    """The fake server; start with `await start()`, stop with `await close()`."""

    def __init__(
        self,
        *,
        team_id: str = "T0HOME",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0FRONT",
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        signing_secret: str = "fake-signing-secret",
    ) -> None:
        self.team_id, self.bot_user_id, self.bot_id, self.app_id = (
            team_id,
            bot_user_id,
            bot_id,
            app_id,
        )
        self.bot_token, self.app_token, self.signing_secret = bot_token, app_token, signing_secret
        self.state = _State()
        self.calls: list[Call] = []
        self.acks: dict[str, Any] = {}
        self.envelopes: list[str] = []
        self.connections = 0
        self._counter = itertools.count(1)
        self._inject: dict[str, deque[tuple[str, Any]]] = defaultdict(deque)
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""
        self.add_user(bot_user_id, name="frontdoor")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=1 << 24)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close sockets, the client session and the server."""
        for ws in list(self._sockets):
            await ws.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """The `base_url` for `AsyncWebClient`."""
        return f"{self.base_url}/api/"

    def _next(self) -> int:
        return next(self._counter)

    def _ts(self) -> str:
        return f"{1_700_000_000 + self._next()}.{self._next():06d}"

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, check: Callable[[], Any], timeout: float) -> Any:
        async with asyncio.timeout(timeout), self._changed:
            while not (found := check()):
                await self._changed.wait()
            return found

    # ------------------------------------------------------------------ test API: state

    def add_user(self, user_id: str, *, team_id: str = "", name: str = "") -> None:
        """Register a person (of `team_id`, default the home team)."""
        self.state.users[user_id] = {
            "id": user_id,
            "team_id": team_id or self.team_id,
            "name": name or user_id.lower(),
            "is_bot": user_id == self.bot_user_id,
        }

    def add_channel(self, channel_id: str, *, members: tuple[str, ...] = ()) -> None:
        """Register a channel the bot is in, with these members."""
        self.state.channels[channel_id] = {
            "id": channel_id,
            "im": channel_id.startswith("D"),
            "members": {self.bot_user_id, *members},
        }

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel with `user_id`, created if needed."""
        channel_id = "D" + user_id
        if channel_id not in self.state.channels:
            self.add_channel(channel_id, members=(user_id,))
        return channel_id

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """A stored message."""
        return self.state.messages[(channel, ts)]

    def inject_429(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After`."""
        self._inject[method].extend([("429", retry_after)] * times)

    def inject_error(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        self._inject[method].extend([("error", error)] * times)

    def calls_of(self, method: str) -> list[Call]:
        """Every recorded call of `method`."""
        return [c for c in self.calls if c.method == method]

    async def wait_for_call(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5
    ) -> Call:
        """The first call of `method` (past or future) matching `predicate`."""

        def check() -> Call | None:
            for c in self.calls:
                if c.method == method and (predicate is None or predicate(c)):
                    return c
            return None

        result: Call = await self._wait(check, timeout)
        return result

    async def wait_for_response(self, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        """Wait until `count` bodies were posted to response URLs."""
        await self._wait(lambda: len(self.state.responses) >= count, timeout)
        return self.state.responses

    async def wait_for_response_text(self, needle: str, timeout: float = 5) -> dict[str, Any]:
        """The first body posted to a response URL whose text contains `needle`."""

        def check() -> dict[str, Any] | None:
            for item in self.state.responses:
                if needle in str(item["body"].get("text", "")):
                    return item
            return None

        found: dict[str, Any] = await self._wait(check, timeout)
        return found

    # ------------------------------------------------------------------ Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw and request.content_type == "application/json":
            params.update(json.loads(raw))
        elif raw:
            params.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        status, headers = 200, {}
        body: dict[str, Any] = {"ok": True}
        try:
            self._check_auth(method, token)
            injected = self._inject[method].popleft() if self._inject[method] else None
            if injected and injected[0] == "429":
                status, headers = 429, {"Retry-After": str(injected[1])}
                raise _Fail("ratelimited")
            if injected:
                raise _Fail(injected[1])
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise _Fail("unknown_method")
            body.update(handler(params))
        except _Fail as fail:
            body = {"ok": False, "error": fail.error, **fail.extra}
        self.calls.append(Call(method, params, body["ok"], body.get("error", ""), status))
        await self._notify()
        return web.json_response(body, status=status, headers=headers)

    def _check_auth(self, method: str, token: str) -> None:
        if not token:
            raise _Fail("not_authed")
        wanted, other = (
            (self.app_token, self.bot_token)
            if method in _APP_METHODS
            else (self.bot_token, self.app_token)
        )
        if token == other:
            raise _Fail("not_allowed_token_type")
        if not hmac.compare_digest(token, wanted):
            raise _Fail("invalid_auth")

    def _m_auth_test(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.test/",
            "team": "Fake Home",
            "user": "frontdoor",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.state.users.get(str(p.get("user", "")))
        if user is None:
            raise _Fail("user_not_found")
        return {
            "user": {**user, "real_name": user["name"], "profile": {"display_name": user["name"]}}
        }

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = str(p.get("users", "")).split(",")
        if len(users) != 1 or users[0] not in self.state.users:
            raise _Fail("user_not_found")
        return {"channel": {"id": self.dm_channel(users[0])}}

    def _channel_of(self, p: dict[str, Any], key: str = "channel") -> dict[str, Any]:
        channel = self.state.channels.get(str(p.get(key, "")))
        if channel is None:
            raise _Fail("channel_not_found")
        return channel

    def _check_message(self, p: dict[str, Any]) -> tuple[str, list[Any] | None]:
        text = p.get("text") or ""
        blocks = p.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not text and not blocks:
            raise _Fail("no_text")
        if len(text) > 40_000:
            raise _Fail("msg_too_long")
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                raise _Fail(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
            if len(json.dumps(blocks)) > 13_000:
                raise _Fail("msg_blocks_too_long")
        return text, blocks

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_of(p)
        text, blocks = self._check_message(p)
        ts = self._ts()
        msg = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": text,
            "blocks": blocks or [],
            "ts": ts,
        }
        self.state.messages[(channel["id"], ts)] = msg
        return {"channel": channel["id"], "ts": ts, "message": msg}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_of(p)
        msg = self.state.messages.get((channel["id"], str(p.get("ts", ""))))
        if msg is None:
            raise _Fail("message_not_found")
        if msg.get("bot_id") != self.bot_id:
            raise _Fail("cant_update_message")
        text, blocks = self._check_message(p)
        msg["text"] = text
        if blocks is not None:  # strictest reading: omitted blocks are kept
            msg["blocks"] = blocks
        return {"channel": channel["id"], "ts": msg["ts"], "text": text}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_of(p)
        user = str(p.get("user", ""))
        if user not in self.state.users:
            raise _Fail("user_not_found")
        if user not in channel["members"]:
            raise _Fail("user_not_in_channel")
        text, blocks = self._check_message(p)
        ts = self._ts()
        self.state.ephemerals.append(
            {"channel": channel["id"], "user": user, "text": text, "blocks": blocks, "ts": ts}
        )
        return {"message_ts": ts}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(p.get("filename", "")), str(p.get("length", ""))
        if not filename or not length.isdigit():
            raise _Fail("invalid_arguments")
        file_id = f"F{self._next():08d}"
        self.state.files[file_id] = {"id": file_id, "name": filename, "length": int(length)}
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        entries = p.get("files")
        entries = json.loads(entries) if isinstance(entries, str) else entries
        if not isinstance(entries, list) or not entries:
            raise _Fail("invalid_arguments")
        channel = self._channel_of(p, "channel_id") if p.get("channel_id") else None
        done = []
        for entry in entries:
            stored = self.state.files.get(str(entry.get("id")))
            if stored is None or len(stored.get("content", b"")) != stored["length"]:
                raise _Fail("file_not_found")
            stored.update(title=entry.get("title", ""), channel=channel and channel["id"])
            stored["comment"] = p.get("initial_comment", "")
            done.append({"id": stored["id"], "name": stored["name"], "title": stored["title"]})
        return {"files": done}

    def _m_apps_connections_open(self, _p: dict[str, Any]) -> dict[str, Any]:
        ticket = f"ticket-{self._next()}"
        self._tickets.add(ticket)
        return {"url": f"ws://{self.base_url.removeprefix('http://')}/link/?ticket={ticket}"}

    async def _upload(self, request: web.Request) -> web.Response:
        stored = self.state.files.get(request.match_info["file_id"])
        if stored is None:
            return web.Response(status=404, text="not found")
        stored["content"] = await request.read()
        return web.Response(text=f"OK - {len(stored['content'])}")

    async def _response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        if rid not in self.state.response_ids:
            return web.Response(status=404, text="no_active_hooks")
        body = await request.json()
        try:
            self._check_message(body)
        except _Fail as fail:
            return web.Response(status=400, text=fail.error)
        self.state.responses.append({"id": rid, "body": body})
        await self._notify()
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Socket Mode

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": self.app_id}}
        await ws.send_json(hello)
        await self._notify()
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if isinstance(data, dict) and "envelope_id" in data:
                        self.acks[data["envelope_id"]] = data.get("payload")
                        await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws

    async def wait_connections(self, count: int, timeout: float = 5) -> None:
        """Wait until `count` Socket Mode connections were made in total and one is open."""
        await self._wait(lambda: self.connections >= count and bool(self._sockets), timeout)

    async def send_envelope(
        self,
        envelope_type: str,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int | None = None,
        timeout: float = 5,
    ) -> str:
        """Send one envelope on the open connection; return its `envelope_id`."""
        await self._wait(lambda: bool(self._sockets), timeout)
        envelope_id = f"env-{self._next()}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": dict(payload),
            "accepts_response_payload": envelope_type != "events_api",
        }
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await self._sockets[-1].send_json(envelope)
        self.envelopes.append(envelope_id)
        return envelope_id

    def unacked(self) -> list[str]:
        """Envelopes sent but never acknowledged (Slack would redeliver them)."""
        return [e for e in self.envelopes if e not in self.acks]

    async def wait_ack(self, envelope_id: str, timeout: float = 3) -> Any:
        """The ack payload (None when the ack had none); TimeoutError if never acked."""
        await self._wait(lambda: envelope_id in self.acks, timeout)
        return self.acks[envelope_id]

    async def send_disconnect(self) -> None:
        """Ask the client to reconnect, as Slack does before rotating a connection."""
        await self._wait(lambda: bool(self._sockets), 5)
        await self._sockets[-1].send_json(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}}
        )

    # ------------------------------------------------------------------ builders

    def _team_of(self, user_id: str) -> str:
        return str(self.state.users.get(user_id, {}).get("team_id", self.team_id))

    @staticmethod
    def _escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def event_callback(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Wrap an event as the Events API sends it, with a fresh `event_id`."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "type": "event_callback",
            "event_id": f"Ev{self._next():010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": self.team_id, "user_id": self.bot_user_id, "is_bot": True}
            ],
            "event": dict(event),
        }

    def dm_event(self, user_id: str, text: str) -> dict[str, Any]:
        """A DM from `user_id` to the bot (text escaped as Slack does)."""
        channel, ts, team = self.dm_channel(user_id), self._ts(), self._team_of(user_id)
        return self.event_callback(
            {
                "type": "message",
                "channel": channel,
                "user": user_id,
                "text": self._escape(text),
                "ts": ts,
                "event_ts": ts,
                "team": team,
                "user_team": team,
                "channel_type": "im",
            }
        )

    def mention_event(self, user_id: str, channel: str, text: str) -> dict[str, Any]:
        """An `app_mention` of the bot by `user_id` in `channel`."""
        ts, team = self._ts(), self._team_of(user_id)
        return self.event_callback(
            {
                "type": "app_mention",
                "channel": channel,
                "user": user_id,
                "text": f"<@{self.bot_user_id}> {self._escape(text)}",
                "ts": ts,
                "event_ts": ts,
                "team": team,
                "user_team": team,
            }
        )

    def echo_event(self, channel: str, ts: str) -> dict[str, Any]:
        """The `message` event Slack sends for a message the bot itself posted."""
        msg = self.message(channel, ts)
        event = {**msg, "channel": channel, "event_ts": ts, "channel_type": "im"}
        return self.event_callback(event)

    def slash_command(
        self, user_id: str, text: str, *, channel: str = "C0GENERAL", command: str = "/frontdoor"
    ) -> dict[str, str]:
        """A slash command form as Slack posts it, with a live `response_url`."""
        rid = f"R{self._next():08d}"
        self.state.response_ids.add(rid)
        return {
            "token": "legacy-verification-token",
            "team_id": self._team_of(user_id),
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user_id,
            "user_name": self.state.users.get(user_id, {}).get("name", user_id),
            "command": command,
            "text": self._escape(text),
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self.base_url}/response/{rid}",
            "trigger_id": f"{self._next()}.{self._next()}.trigger",
        }

    def block_action(
        self, user_id: str, channel: str, ts: str, action_id: str, *, value: Any = None
    ) -> dict[str, Any]:
        """A `block_actions` payload for pressing a button that exists on a stored message."""
        msg = self.message(channel, ts)
        found = [
            (block, el)
            for block in msg["blocks"]
            if block.get("type") == "actions"
            for el in block.get("elements", [])
            if el.get("action_id") == action_id
        ]
        assert found, f"no button {action_id} on message {ts}"
        block, button = found[0]
        rid = f"R{self._next():08d}"
        self.state.response_ids.add(rid)
        user = self.state.users.get(user_id, {"id": user_id, "name": user_id})
        return {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user["name"],
                "name": user["name"],
                "team_id": self._team_of(user_id),
            },
            "api_app_id": self.app_id,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{self._next()}.{self._next()}.trigger",
            "team": {"id": self.team_id, "domain": "fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "channel"},
            "message": msg,
            "response_url": f"{self.base_url}/response/{rid}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block.get("block_id", ""),
                    "text": button["text"],
                    "value": button.get("value") if value is None else value,
                    "style": button.get("style", ""),
                    "type": "button",
                    "action_ts": f"{int(time.time())}.{self._next():06d}",
                }
            ],
        }

    # ------------------------------------------------------------------ delivery

    def sign(self, body: bytes, ts: str, secret: str | None = None) -> str:
        """Slack's `v0=` signature of exactly these bytes."""
        key = (self.signing_secret if secret is None else secret).encode()
        base = b"v0:" + ts.encode() + b":" + body
        return "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()

    @staticmethod
    def encode(kind: str, payload: Mapping[str, Any]) -> tuple[bytes, str]:
        """The body bytes and content type Slack uses for `kind`."""
        if kind == "events":
            return json.dumps(payload).encode(), "application/json"
        if kind == "commands":
            return urlencode(payload).encode(), "application/x-www-form-urlencoded"
        if kind == "actions":
            form = urlencode({"payload": json.dumps(payload)})
            return form.encode(), "application/x-www-form-urlencoded"
        raise ValueError(kind)

    async def deliver_http(
        self,
        url: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        ts: int | None = None,
        secret: str | None = None,
        signed: bool = True,
        body: bytes | None = None,
        timeout: float = 3,
    ) -> Delivery:
        """POST one signed delivery as Slack would; the answer must come within `timeout`."""
        assert self._session is not None
        raw, content_type = self.encode(kind, payload)
        raw = raw if body is None else body
        stamp = str(int(time.time()) if ts is None else ts)
        headers = {"Content-Type": content_type}
        if signed:
            headers["X-Slack-Request-Timestamp"] = stamp
            headers["X-Slack-Signature"] = self.sign(raw, stamp, secret)
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        async with self._session.post(
            url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            return Delivery(resp.status, await resp.text(), dict(resp.headers))

    async def deliver_socket(
        self, kind: str, payload: Mapping[str, Any], *, retry_num: int | None = None
    ) -> str:
        """Send `payload` as a Socket Mode envelope of `kind`; return the envelope id."""
        return await self.send_envelope(_SOCKET_TYPES[kind], payload, retry_attempt=retry_num)


# ---------------------------------------------------------------------- Block Kit limits


def _too_long(value: Any, limit: int, pointer: str) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"must be a non-empty string [json-pointer:{pointer}]"]
    if len(value) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}]"]
    return []


def _text_obj(obj: Any, limit: int, pointer: str, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"must be a text object of type {'/'.join(kinds)} [json-pointer:{pointer}]"]
    return _too_long(obj.get("text"), limit, pointer + "/text")


def _button(el: Any, ptr: str, seen: set[str]) -> list[str]:
    if not isinstance(el, dict) or el.get("type") != "button":
        return [f"unsupported element type [json-pointer:{ptr}]"]
    errors = _text_obj(el.get("text"), 75, ptr + "/text", ("plain_text",))
    action_id = el.get("action_id", "")
    errors += _too_long(action_id, 255, ptr + "/action_id") if action_id else []
    if action_id in seen:
        errors.append(f"action_id must be unique [json-pointer:{ptr}/action_id]")
    seen.add(action_id)
    if "value" in el:
        errors += _too_long(el["value"], 2000, ptr + "/value")
    if el.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be primary or danger [json-pointer:{ptr}/style]")
    return errors


def validate_blocks(blocks: Any) -> list[str]:
    """Slack-style `invalid_blocks` messages for `blocks` (empty when valid)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    if len(blocks) > 50:
        return ["must provide no more than 50 items [json-pointer:/blocks]"]
    errors: list[str] = []
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"/blocks/{i}"
        kind = block.get("type") if isinstance(block, dict) else None
        if "block_id" in block:
            errors += _too_long(block["block_id"], 255, ptr + "/block_id")
            if block["block_id"] in block_ids:
                errors.append(f"block_id must be unique [json-pointer:{ptr}/block_id]")
            block_ids.add(block["block_id"])
        if kind == "section":
            fields = block.get("fields")
            if "text" in block or not fields:
                errors += _text_obj(
                    block.get("text"), 3000, ptr + "/text", ("mrkdwn", "plain_text")
                )
            for j, fld in enumerate(fields or []):
                errors += _text_obj(fld, 2000, f"{ptr}/fields/{j}", ("mrkdwn", "plain_text"))
            if fields and len(fields) > 10:
                errors.append(f"must provide no more than 10 items [json-pointer:{ptr}/fields]")
        elif kind == "header":
            errors += _text_obj(block.get("text"), 150, ptr + "/text", ("plain_text",))
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                errors.append(f"must provide 1 to 25 items [json-pointer:{ptr}/elements]")
            for j, el in enumerate(elements):
                errors += _button(el, f"{ptr}/elements/{j}", action_ids)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                errors.append(f"must provide 1 to 10 items [json-pointer:{ptr}/elements]")
            for j, el in enumerate(elements):
                errors += _text_obj(el, 3000, f"{ptr}/elements/{j}", ("mrkdwn", "plain_text"))
        elif kind != "divider":
            errors.append(f"unsupported block type [json-pointer:{ptr}/type]")
    return errors
