"""A strict fake of the Telegram Bot API on 127.0.0.1, for driving python-telegram-bot in tests.

It answers `* /bot{token}/{method}` like Telegram does (method names case-insensitive,
parameters from the query string, urlencoded, multipart or JSON bodies, HTTP status set
so that PTB picks the right exception) and is at least as strict as the real server:
text length, HTML entities, callback_data size, "message is not modified", callback
queries answered once and in time, DMs to users who never started the bot or blocked it.

Tests drive it with `add_user`, `add_group`, `user_sends`, `user_presses`,
`push_update`/`redeliver`, `inject_error`/`inject_429`, and read `calls`,
`wait_for_call` and `messages_to`. Updates are served by long-polled getUpdates or,
once setWebhook is called, POSTed to the webhook (kept until it answers 2xx).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["ApiCall", "FakeTelegram", "StoredMessage"]

_REDELIVERY = "__redelivery"  # marks a one-shot duplicate that ignores the poll offset
TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,64}$")
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time"}
JSON_FIELDS = {
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "drop_pending_updates",
    "show_alert",
    "max_connections",
}
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and "
    "reply markup are exactly the same as a current content and reply markup "
    "of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """An error answer of the fake API."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


@dataclass(slots=True)
class ApiCall:
    """One request the fake received: lowercased method, merged params, answer status."""

    method: str
    params: dict[str, Any]
    status: int = 200


@dataclass(slots=True)
class StoredMessage:
    """A message in a chat: `text` as shown, `html` as sent, keyboard and document if any."""

    chat: dict[str, Any]
    message_id: int
    sender: dict[str, Any]
    text: str = ""
    html: str = ""
    reply_markup: dict[str, Any] | None = None
    document_name: str = ""
    document: bytes = b""
    reply_to: StoredMessage | None = None
    date: int = field(default_factory=lambda: int(time.time()))

    @property
    def chat_id(self) -> int:
        """The chat this message is in."""
        return int(self.chat["id"])

    def callback_datas(self) -> list[str]:
        """Every callback_data on this message's inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]

    def to_json(self) -> dict[str, Any]:
        """The Bot API `Message` object."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.document_name:
            out["document"] = {
                "file_id": f"doc{self.message_id}",
                "file_unique_id": f"u{self.message_id}",
                "file_name": self.document_name,
                "file_size": len(self.document),
            }
            if self.text:
                out["caption"] = self.text
        else:
            out["text"] = self.text
            ents = _command_and_mention_entities(self.text)
            if ents and not self.sender.get("is_bot"):
                out["entities"] = ents
        if self.reply_markup:
            out["reply_markup"] = self.reply_markup
        if self.reply_to is not None:
            out["reply_to_message"] = self.reply_to.to_json()
        return out


def _command_and_mention_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram would attach: a leading /command and @mentions."""
    ents = []
    m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if m:
        ents.append({"type": "bot_command", "offset": 0, "length": m.end()})
    for m in re.finditer(r"(?<![\w/@])@[A-Za-z0-9_]{3,}", text):
        ents.append({"type": "mention", "offset": m.start(), "length": m.end() - m.start()})
    return ents


class _HtmlChecker(HTMLParser):
    """Telegram's HTML subset: known tags, balanced, no bare `<` `>` `&`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.visible: list[str] = []
        self.error = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'can\'t find end tag corresponding to start tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data or "&" in data:
            self.error = self.error or "unexpected character"
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self.error = self.error or f'unsupported HTML entity "&{name};"'
        self.visible.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name, ""))

    def handle_charref(self, name: str) -> None:
        self.visible.append("?")


def _parse_html(source: str) -> str:
    """The visible text of Telegram HTML, or ApiError "can't parse entities"."""
    # A bare '&' not starting an entity, or '<' not starting a tag, is an error in Telegram.
    if re.search(r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)", source) or re.search(
        r"<(?![a-zA-Z/])", source
    ):
        raise ApiError(400, "Bad Request: can't parse entities: unexpected character")
    checker = _HtmlChecker()
    checker.feed(source)
    checker.close()
    if checker.rawdata:  # an unterminated tag left in the buffer
        checker.error = checker.error or "unclosed tag"
    if checker.stack and not checker.error:
        checker.error = f'can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    if checker.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {checker.error}")
    return "".join(checker.visible)


class FakeTelegram:
    """The fake server and its state. `async with FakeTelegram() as tg:` binds 127.0.0.1:0."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-token_abcdefghijklmnopqrstuv",
        bot_username: str = "frontdoor_bot",
        callback_window: float = 15.0,
    ) -> None:
        self.token, self.bot_id = token, int(token.split(":")[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Frontdoor",
            "username": bot_username,
        }
        self.callback_window = callback_window
        self.users: dict[int, dict[str, Any]] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.updates: list[dict[str, Any]] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.webhook: dict[str, str] = {}
        self.webhook_deliveries: list[tuple[int, int]] = []
        self.calls: list[ApiCall] = []
        self._next_update = 1000
        self._next_message: dict[int, int] = {}
        self._next_query = 1
        self._injected: dict[str, list[ApiError]] = {}
        self._cond = asyncio.Condition()
        self._notes: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Event | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._route)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_delivery()
        assert self._runner is not None
        await self._runner.cleanup()

    # ---- test API -------------------------------------------------------------------------

    def add_user(
        self,
        uid: int,
        first_name: str = "User",
        username: str | None = None,
        *,
        started: bool = True,
        blocked: bool = False,
    ) -> dict[str, Any]:
        """A person; `started` means they have opened a DM with the bot."""
        user: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        self.users[uid] = user
        self.chats[uid] = {
            "id": uid,
            "type": "private",
            "first_name": first_name,
            **({"username": username} if username else {}),
        }
        (self.started.add if started else self.started.discard)(uid)
        (self.blocked.add if blocked else self.blocked.discard)(uid)
        return user

    def add_group(self, chat_id: int, title: str = "Ops", kind: str = "supergroup") -> None:
        """A group chat the bot is a member of (ids are negative)."""
        self.chats[chat_id] = {"id": chat_id, "type": kind, "title": title}

    def user_sends(
        self, uid: int, text: str, chat: int | None = None, reply_to: int | None = None
    ) -> int:
        """The user writes `text` (in their DM, or in group `chat`); returns the update id."""
        chat_id = uid if chat is None else chat
        if chat is None:
            self.started.add(uid)
        parent = self.messages[(chat_id, reply_to)] if reply_to is not None else None
        msg = self._store(chat_id, self.users[uid], text=text, html=text, reply_to=parent)
        return self.push_update({"message": msg.to_json()})

    def bot_posted(
        self, chat: int, text: str, reply_markup: dict[str, Any] | None = None
    ) -> StoredMessage:
        """A message the bot posted earlier (set up without going through the API)."""
        return self._store(chat, self.bot_user, text=text, html=text, reply_markup=reply_markup)

    def user_presses(
        self, uid: int, chat: int, message_id: int, data: str, *, require_button: bool = True
    ) -> int:
        """The user taps a button of a stored message; returns the update id."""
        msg = self.messages[(chat, message_id)]
        if require_button:
            assert data in msg.callback_datas(), "no such button on that message"
        qid = str(self._next_query)
        self._next_query += 1
        self.callback_queries[qid] = {
            "answered": False,
            "created": time.monotonic(),
            "user": uid,
            "late": False,
        }
        return self.push_update(
            {
                "callback_query": {
                    "id": qid,
                    "from": self.users[uid],
                    "message": msg.to_json(),
                    "chat_instance": f"ci{chat}",
                    "data": data,
                }
            }
        )

    def push_update(self, raw: Mapping[str, Any]) -> int:
        """Queue a raw update (an `update_id` is assigned when absent); returns its id."""
        upd = dict(raw)
        if "update_id" not in upd:
            upd["update_id"] = self._next_update
            self._next_update += 1
        self.history[upd["update_id"]] = copy.deepcopy(upd)
        self.updates.append(upd)
        self._notify()
        return int(upd["update_id"])

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again with the same id (as after a lost confirmation), once."""
        self.updates.append({**copy.deepcopy(self.history[update_id]), _REDELIVERY: True})
        self._notify()

    def inject_error(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail with this answer."""
        errs = self._injected.setdefault(method.lower(), [])
        errs.extend(ApiError(status, description, parameters) for _ in range(times))

    def inject_429(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        """Make the next `times` calls of `method` hit flood control."""
        self.inject_error(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            times=times,
            parameters={"retry_after": retry_after},
        )

    def expire_callback(self, query_id: str) -> None:
        """Let a callback query's answer window pass."""
        self.callback_queries[query_id]["late"] = True

    def messages_to(self, chat_id: int) -> list[StoredMessage]:
        """The bot's messages in a chat, oldest first."""
        return [
            m
            for (c, _), m in sorted(self.messages.items())
            if c == chat_id and m.sender.get("id") == self.bot_id
        ]

    def calls_of(self, method: str) -> list[ApiCall]:
        """Logged calls of one method."""
        return [c for c in self.calls if c.method == method.lower()]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5,
        since: int = 0,
    ) -> ApiCall:
        """The first logged call (from index `since`) of `method` matching `predicate`."""

        def find() -> ApiCall | None:
            for c in self.calls[since:]:
                if c.method == method.lower() and (predicate is None or predicate(c.params)):
                    return c
            return None

        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: find() is not None), timeout)
        found = find()
        assert found is not None
        return found

    async def wait_until(self, pred: Callable[[], bool], timeout: float = 5) -> None:
        """Wait until `pred()` holds, re-checked whenever the fake's state changes."""
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(pred), timeout)

    def unanswered_callbacks(self) -> list[str]:
        """Callback query ids nobody answered."""
        return [q for q, s in self.callback_queries.items() if not s["answered"]]

    # ---- internals -----------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every waiter on the condition (callable from synchronous test code)."""

        async def note() -> None:
            async with self._cond:
                self._cond.notify_all()

        task = asyncio.get_running_loop().create_task(note())
        self._notes.add(task)
        task.add_done_callback(self._notes.discard)

    def _store(self, chat_id: int, sender: dict[str, Any], **kw: Any) -> StoredMessage:
        mid = self._next_message.get(chat_id, 1)
        self._next_message[chat_id] = mid + 1
        msg = StoredMessage(chat=self.chats[chat_id], message_id=mid, sender=sender, **kw)
        self.messages[(chat_id, mid)] = msg
        return msg

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif ctype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            files: dict[str, tuple[str, bytes]] = {}
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = (value.filename, value.file.read())
                else:
                    params[key] = value
            for key, value in list(params.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    params[key] = files.pop(value.removeprefix("attach://"))
            params.update(files)
        for key, value in list(params.items()):
            if isinstance(value, str) and key in INT_FIELDS and re.fullmatch(r"-?\d+", value):
                params[key] = int(value)
            elif isinstance(value, str) and key in JSON_FIELDS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
        return params

    async def _route(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"].lower()
        if not TOKEN_RE.match(token):
            return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if token != self.token:
            return self._answer(
                401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        call = ApiCall(method=method, params={})
        self.calls.append(call)
        try:
            call.params = await self._params(request)
            self._notify()
            if self._injected.get(method):
                raise self._injected[method].pop(0)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(call.params)
        except ApiError as err:
            call.status = err.status
            body: dict[str, Any] = {
                "ok": False,
                "error_code": err.status,
                "description": err.description,
            }
            if err.parameters:
                body["parameters"] = err.parameters
            self._notify()
            return self._answer(err.status, body)
        self._notify()
        return self._answer(200, {"ok": True, "result": result})

    @staticmethod
    def _answer(status: int, body: dict[str, Any]) -> web.Response:
        return web.json_response(body, status=status)

    def _chat_for_send(self, chat_id: Any) -> int:
        if not isinstance(chat_id, int) or chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        if self.chats[chat_id]["type"] == "private":
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat_id not in self.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat_id

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button")
        for button in (b for r in rows for b in r):
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return {"inline_keyboard": rows}

    @staticmethod
    def _render_text(params: dict[str, Any], key: str = "text", limit: int = 4096) -> str:
        source = str(params.get(key, ""))
        mode = str(params.get("parse_mode", "")).lower()
        visible = _parse_html(source) if mode == "html" else source
        if mode not in {"", "html"}:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {mode}")
        if key == "text" and not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(visible) > limit:
            raise ApiError(
                400,
                "Bad Request: message is too long"
                if key == "text"
                else "Bad Request: message caption is too long",
            )
        return visible

    # ---- Bot API methods ------------------------------------------------------------------

    async def _m_getme(self, p: dict[str, Any]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, p: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        offset, limit = int(p.get("offset", 0)), int(p.get("limit", 100))
        allowed = p.get("allowed_updates") or []
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset or _REDELIVERY in u]
        if self._poller is not None:
            self._poller.set()  # the newer request wins; the older one gets 409
            self._notify()
        me = self._poller = asyncio.Event()

        def ready() -> list[dict[str, Any]]:
            return [
                u
                for u in self.updates
                if (u["update_id"] >= offset or _REDELIVERY in u)
                and (not allowed or any(k in u for k in allowed))
            ][:limit]

        try:
            async with self._cond:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._cond.wait_for(lambda: bool(ready()) or me.is_set()),
                        float(p.get("timeout", 0)),
                    )
            if me.is_set():
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make "
                    "sure that only one bot instance is running",
                )
            batch = ready()
            self.updates = [
                u for u in self.updates if not any(u is b for b in batch) or _REDELIVERY not in u
            ]
            return [{k: v for k, v in u.items() if k != _REDELIVERY} for u in batch]
        finally:
            if self._poller is me:
                self._poller = None

    async def _m_deletewebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = {}
        await self._stop_delivery()
        if p.get("drop_pending_updates") is True:
            self.updates.clear()
        return True

    async def _m_setwebhook(self, p: dict[str, Any]) -> Any:
        url, secret = str(p.get("url", "")), p.get("secret_token")
        if secret is not None and not SECRET_RE.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        await self._stop_delivery()
        self.webhook = {"url": url, "secret": str(secret or "")} if url else {}
        if p.get("drop_pending_updates") is True:
            self.updates.clear()
        if url:
            self._deliverer = asyncio.get_running_loop().create_task(self._deliver())
        return True

    async def _m_getwebhookinfo(self, p: dict[str, Any]) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _m_setmycommands(self, p: dict[str, Any]) -> Any:
        commands, scope = p.get("commands"), p.get("scope") or {"type": "default"}
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be an array")
        for c in commands:
            if not COMMAND_RE.match(str(c.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = str(scope.get("type"))
        if key == "chat":
            if scope.get("chat_id") not in self.chats:
                raise ApiError(400, "Bad Request: chat not found")
            key = f"chat:{scope['chat_id']}"
        self.commands[key] = commands
        return True

    async def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        chat_id = self._chat_for_send(p.get("chat_id"))
        visible = self._render_text(p)
        markup = self._check_markup(p.get("reply_markup"))
        msg = self._store(
            chat_id, self.bot_user, text=visible, html=str(p["text"]), reply_markup=markup
        )
        return msg.to_json()

    async def _m_senddocument(self, p: dict[str, Any]) -> Any:
        chat_id = self._chat_for_send(p.get("chat_id"))
        doc = p.get("document")
        if not isinstance(doc, tuple):
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = self._render_text(p, "caption", 1024) if p.get("caption") else ""
        msg = self._store(
            chat_id,
            self.bot_user,
            text=caption,
            html=str(p.get("caption", "")),
            document_name=doc[0],
            document=doc[1],
            reply_markup=self._check_markup(p.get("reply_markup")),
        )
        return msg.to_json()

    async def _m_editmessagetext(self, p: dict[str, Any]) -> Any:
        key = (p.get("chat_id"), p.get("message_id"))
        msg = self.messages.get(key)  # type: ignore[arg-type]
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg.sender.get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        visible = self._render_text(p)
        markup = self._check_markup(p.get("reply_markup"))
        if str(p["text"]) == msg.html and markup == msg.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        msg.text, msg.html, msg.reply_markup = visible, str(p["text"]), markup
        return msg.to_json()

    async def _m_answercallbackquery(self, p: dict[str, Any]) -> Any:
        query = self.callback_queries.get(str(p.get("callback_query_id")))
        if (
            query is None
            or query["answered"]
            or query["late"]
            or (time.monotonic() - query["created"] > self.callback_window)
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        if len(str(p.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query["answered"] = True
        return True

    # ---- webhook delivery -----------------------------------------------------------------

    async def _stop_delivery(self) -> None:
        task, self._deliverer = self._deliverer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self) -> None:
        """POST queued updates one by one; drop each only after a 2xx answer."""
        async with aiohttp.ClientSession() as session:
            while True:
                async with self._cond:
                    await self._cond.wait_for(lambda: bool(self.updates))
                update = self.updates[0]
                headers = {"Content-Type": "application/json"}
                if self.webhook.get("secret"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret"]
                try:
                    body = json.dumps({k: v for k, v in update.items() if k != _REDELIVERY})
                    async with session.post(
                        self.webhook["url"], data=body, headers=headers
                    ) as resp:
                        status = resp.status
                except aiohttp.ClientError:
                    status = 0
                self.webhook_deliveries.append((update["update_id"], status))
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError):
                        self.updates.remove(update)
                    self._notify()
                else:  # Telegram retries later; a short pause, then try again
                    self._notify()
                    await asyncio.sleep(0.05)
