"""The Telegram adapter: python-telegram-bot lifecycle and wiring, nothing else.

`serve` initializes PTB (getMe), sets the command menus, then receives updates by
long polling or through our own webhook route, converts each (`convert.py`) and awaits
the bot's handler, concurrently. `send` posts an `Outcome` (rendered by `convert.py`
and `cards.py`) and returns a `MessageRef`. PTB exceptions stop here and become
`PlatformError`:

    RetryAfter (after AIORateLimiter's retries)  -> PlatformError(retry_after=seconds)
    NetworkError other than BadRequest/TimedOut  -> retried up to max_retries, then PlatformError
    BadRequest, Forbidden, TimedOut, others      -> PlatformError at once
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, TypeHandler

from adapters.base import Handler, PlatformError
from adapters.telegram.convert import (
    PLATFORM,
    TENANT,
    BotIdentity,
    DocumentCall,
    Refused,
    TextCall,
    render_edit,
    render_outcome,
    targets,
    update_to_inbound,
)
from adapters.telegram.webhook import SecurityHook, TelegramWebhook, WebhookServer
from bot.types import MessageRef, Outcome

__all__ = ["TelegramAdapter", "TelegramWebhook"]

# Opt in to PTB's future behaviour (timedelta durations): otherwise every RetryAfter
# emits a deprecation warning, which the test suite turns into an error.
os.environ.setdefault("PTB_TIMEDELTA", "true")

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_ALLOWED_UPDATES = ["message", "callback_query"]
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class _Forbidden(PlatformError):
    """Telegram refused the chat (blocked, never started): a private reply may fall back."""


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramAdapter:
    """Telegram front on python-telegram-bot 22 (polling or webhook)."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        token: str,
        api_base_url: str = "https://api.telegram.org",
        mode: Literal["polling", "webhook"] = "polling",
        webhook: TelegramWebhook | None = None,
        commands: Sequence[tuple[str, str]] = (),
        admin_commands: Sequence[tuple[str, str]] = (),
        admin_user_ids: Sequence[int] = (),
        on_security_event: SecurityHook | None = None,
        poll_timeout: float = 10,
        max_retries: int = 3,
    ) -> None:
        if mode == "webhook" and webhook is None:
            raise ValueError("telegram webhook mode needs a webhook configuration")
        if not token:
            raise ValueError("telegram token is empty")
        self._token = token
        self._base = api_base_url.rstrip("/")
        self._mode = mode
        self._webhook = webhook
        self._commands = tuple(commands)
        self._admin_commands = tuple(admin_commands)
        self._admin_ids = tuple(admin_user_ids)
        self._on_security_event = on_security_event
        self._poll_timeout = poll_timeout
        self._max_retries = max_retries
        self._app: AnyApplication | None = None
        self._init_lock = asyncio.Lock()
        self._handler: Handler | None = None
        self._me: BotIdentity | None = None
        self._server: WebhookServer | None = None
        self._stop = asyncio.Event()
        self.started = asyncio.Event()

    def __repr__(self) -> str:
        return f"TelegramAdapter(mode={self._mode!r}, base={self._base!r}, token=***)"

    @property
    def webhook_url(self) -> str:
        """The URL registered with setWebhook (empty before `serve` has started it)."""
        return self._server.url if self._server is not None else ""

    # ---- lifecycle -----------------------------------------------------------------------

    def _application(self) -> AnyApplication:
        if self._app is None:
            builder = (
                ApplicationBuilder()
                .token(self._token)
                .base_url(f"{self._base}/bot")
                .base_file_url(f"{self._base}/file/bot")
                .rate_limiter(AIORateLimiter(max_retries=self._max_retries))
                .concurrent_updates(True)
                .job_queue(None)
            )
            if self._mode == "webhook":
                builder = builder.updater(None)
            app: AnyApplication = builder.build()
            app.add_handler(TypeHandler(Update, self._on_update))
            self._app = app
        return self._app

    async def _bot_ready(self) -> AnyApplication:
        """The Application, initialized once (getMe), so `send` works before `serve`."""
        app = self._application()
        async with self._init_lock:
            if self._me is None:
                try:
                    await self._api(app.initialize, "getMe")
                except PlatformError:
                    await app.bot.request.shutdown()  # close the connection getMe opened
                    raise
                bot = app.bot
                self._me = BotIdentity(id=bot.id, username=bot.username)
        return app

    async def serve(self, handler: Handler) -> None:
        """Receive updates and await `handler` for each until `stop()`; then wind down."""
        self._handler = handler
        app = await self._bot_ready()
        try:
            await self._set_commands(app)
            await app.start()
            if self._mode == "polling":
                assert app.updater is not None
                await app.updater.start_polling(
                    timeout=max(1, int(self._poll_timeout)),
                    allowed_updates=_ALLOWED_UPDATES,
                    drop_pending_updates=False,
                    error_callback=self._polling_error,
                )
            else:
                await self._start_webhook(app)
            self.started.set()
            await self._until_stopped(app)
        finally:
            await self._wind_down(app)

    async def _until_stopped(self, app: AnyApplication) -> None:
        """Wait for `stop()`; if long polling dies on its own (a revoked token), fail loudly instead.

        PTB ends its polling loop quietly on some errors (InvalidToken), which would leave
        the bot running but deaf; serving then raises, so the bot's owner sees it.
        """
        polling: asyncio.Task[Any] | None = getattr(app.updater, "_Updater__polling_task", None)
        if polling is None:
            await self._stop.wait()
            return
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({stopped, polling}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if self._stop.is_set():
            return
        problem = "ended"
        if polling.done() and not polling.cancelled() and polling.exception() is not None:
            problem = type(polling.exception()).__name__
        _log.error("telegram: polling stopped on its own (%s); the adapter stops too", problem)
        raise PlatformError(f"telegram polling stopped ({problem})", platform="telegram")

    async def stop(self) -> None:
        """Stop receiving; `serve` returns once in-flight handler calls are done."""
        self._stop.set()

    async def _wind_down(self, app: AnyApplication) -> None:
        if app.updater is not None and app.updater.running:
            with contextlib.suppress(TelegramError):
                await app.updater.stop()
        if self._server is not None:
            await self._server.stop()
        if app.running:
            await app.stop()  # waits for every update being processed
        await app.shutdown()
        self._me = None
        self.started.clear()
        self._stop.clear()

    async def _start_webhook(self, app: AnyApplication) -> None:
        assert self._webhook is not None
        secret = self._webhook.secret_token

        async def enqueue(data: dict[str, Any]) -> None:
            try:
                update = Update.de_json(data, app.bot)
            except (TypeError, KeyError, ValueError, AttributeError):
                # Authenticated but not understood: refusing would make Telegram resend it
                # forever, so report it and let it go.
                _log.error("telegram: dropped an unparseable update %s", data.get("update_id"))
                await self._report("telegram_update_unparseable", {"update_id": data["update_id"]})
                return
            await app.update_queue.put(update)

        self._server = WebhookServer(
            self._webhook, on_update=enqueue, on_security_event=self._on_security_event
        )
        url = await self._server.start()
        await self._api(
            lambda: app.bot.set_webhook(
                url, secret_token=secret, allowed_updates=_ALLOWED_UPDATES, max_connections=40
            ),
            "setWebhook",
        )

    async def _set_commands(self, app: AnyApplication) -> None:
        """User commands for everyone; user + admin commands in each admin's private chat."""
        everyone = [BotCommand(name, text) for name, text in self._commands]
        admins = everyone + [BotCommand(name, text) for name, text in self._admin_commands]
        try:
            await self._api(
                lambda: app.bot.set_my_commands(everyone, scope=BotCommandScopeDefault()),
                "setMyCommands",
            )
        except PlatformError as exc:
            _log.warning("telegram: could not set the command menu: %s", exc)
        for admin in self._admin_ids:
            try:
                await self._api(
                    lambda admin=admin: app.bot.set_my_commands(  # type: ignore[misc]
                        admins, scope=BotCommandScopeChat(chat_id=admin)
                    ),
                    "setMyCommands",
                )
            except PlatformError as exc:  # e.g. the admin has not opened a DM with the bot yet
                _log.warning("telegram: could not set an admin command menu: %s", exc)

    def _polling_error(self, exc: TelegramError) -> None:
        _log.warning("telegram polling error: %s", type(exc).__name__)

    # ---- inbound -------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: object) -> None:
        """Convert and hand over one update; a failing handler is logged, never fatal."""
        try:
            await self._dispatch(update)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad update must not stop the others
            _log.exception("telegram: handling update %s failed", update.update_id)

    async def _dispatch(self, update: Update) -> None:
        assert self._me is not None
        assert self._handler is not None
        query = update.callback_query
        if query is not None:  # answer at once, or the user's button keeps spinning
            try:
                await self._api(query.answer, "answerCallbackQuery")
            except PlatformError as exc:
                _log.warning("telegram: could not answer a button press: %s", exc)
        result = update_to_inbound(update, me=self._me, now=datetime.now(UTC))
        if isinstance(result, Refused):
            _log.warning("telegram: refused update %s: %s", update.update_id, result.event)
            await self._report(result.event, result.details)
            return
        if result is not None:
            await self._handler(result)

    async def _report(self, event: str, details: Mapping[str, object]) -> None:
        if self._on_security_event is not None:
            try:
                await self._on_security_event(event, details)
            except Exception:  # noqa: BLE001 - a failing hook must not hide the refusal
                _log.exception("telegram: security event hook failed")

    # ---- outbound ------------------------------------------------------------------------

    async def send(self, outcome: Outcome) -> MessageRef | None:
        """Post (or edit) one outcome; a private reply in a group falls back to the group."""
        app = await self._bot_ready()
        if outcome.edit is not None:  # the reference names the chat; `to` is not needed
            return await self._edit(app, outcome, outcome.edit)
        try:
            chats = targets(outcome.to)
        except ValueError as exc:
            raise PlatformError(f"telegram: bad address: {exc}", platform=PLATFORM) from None
        calls = render_outcome(outcome)
        if not calls:
            return None
        for index, chat_id in enumerate(chats):
            try:
                return await self._post(app, chat_id, calls)
            except _Forbidden:
                if index == len(chats) - 1:
                    raise
                _log.info("telegram: private reply could not be sent as a DM; using the chat")
        return None

    async def _post(
        self, app: AnyApplication, chat_id: int, calls: list[TextCall | DocumentCall]
    ) -> MessageRef:
        first: Message | None = None
        for call in calls:
            message = await self._api(lambda call=call: self._one(app, chat_id, call), "send")  # type: ignore[misc]
            first = first or message
        assert first is not None
        return MessageRef(
            platform=PLATFORM,
            tenant=TENANT,
            channel_id=str(first.chat.id),
            message_id=str(first.message_id),
        )

    @staticmethod
    async def _one(app: AnyApplication, chat_id: int, call: TextCall | DocumentCall) -> Message:
        bot = app.bot
        if isinstance(call, DocumentCall):
            sent: Message = await bot.send_document(
                chat_id, document=call.data, filename=call.file_name
            )
            return sent
        sent = await bot.send_message(
            chat_id,
            call.text,
            parse_mode=ParseMode.HTML,
            reply_markup=call.reply_markup,
            link_preview_options=_NO_PREVIEW,
        )
        return sent

    async def _edit(self, app: AnyApplication, outcome: Outcome, ref: MessageRef) -> MessageRef:
        call = render_edit(outcome)
        try:
            chat_id, message_id = int(ref.channel_id), int(ref.message_id)
        except ValueError:
            raise PlatformError("telegram: bad message reference", platform=PLATFORM) from None

        async def edit() -> None:
            try:
                await app.bot.edit_message_text(
                    call.text,
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=call.reply_markup,
                    link_preview_options=_NO_PREVIEW,
                )
            except BadRequest as exc:  # the card already shows this: that is success
                if "message is not modified" not in exc.message.lower():
                    raise

        await self._api(edit, "editMessageText")
        return ref

    def _clean(self, exc: TelegramError) -> str:
        """Telegram's description of an error, with the token masked should it appear."""
        return exc.message.replace(self._token, "***")

    async def _api(self, call: Callable[[], Awaitable[_T]], what: str) -> _T:
        """Run one Bot API call, retrying server errors, and map PTB errors to PlatformError."""
        attempt = 0
        while True:
            try:
                return await call()
            except RetryAfter as exc:  # AIORateLimiter already waited and retried
                raise PlatformError(
                    f"telegram {what}: rate limited",
                    platform=PLATFORM,
                    retry_after=_seconds(exc.retry_after),
                ) from None
            except BadRequest as exc:
                raise PlatformError(
                    f"telegram {what}: {self._clean(exc)}", platform=PLATFORM
                ) from None
            except Forbidden as exc:
                raise _Forbidden(
                    f"telegram {what}: {self._clean(exc)}", platform=PLATFORM
                ) from None
            except InvalidToken:  # PTB puts the token itself into this message: never pass it on
                raise PlatformError(
                    f"telegram {what}: the bot token was rejected", platform=PLATFORM
                ) from None
            except TimedOut:  # it may have gone through: resending could post twice
                raise PlatformError(f"telegram {what}: timed out", platform=PLATFORM) from None
            except NetworkError as exc:
                if attempt >= self._max_retries:
                    raise PlatformError(
                        f"telegram {what}: {self._clean(exc)}", platform=PLATFORM
                    ) from None
                attempt += 1
                await asyncio.sleep(0.2 * 2**attempt)  # back off before retrying a server error
            except TelegramError as exc:
                raise PlatformError(
                    f"telegram {what}: {self._clean(exc)}", platform=PLATFORM
                ) from None
