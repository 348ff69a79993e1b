"""The Slack front: a slack-bolt `AsyncApp` in Socket Mode or behind a signed HTTP endpoint.

Lifecycle and wiring only: payload conversion lives in `convert.py`, Block Kit in
`cards.py`, the signed HTTP endpoint in `endpoint.py`, posting in `sender.py`.
Every event is acknowledged first and handled after, in a task of its own, so
Slack's 3-second rule holds whatever the bot does. Errors of slack_sdk and aiohttp
become `PlatformError` at this boundary (with `retry_after` on HTTP 429, once the
SDK's own rate-limit retries are used up).

    serve(handler)  auth.test -> listen (Socket Mode or aiohttp) -> Inbound -> handler task
    send(outcome)   chat.postMessage / postEphemeral / update, response_url, files_upload_v2
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import Handler, PlatformError
from adapters.slack import convert
from adapters.slack.endpoint import SignedEndpoint
from adapters.slack.names import DisplayNames
from adapters.slack.sender import Sender, platform_error
from bot.types import Inbound, MessageRef, Outcome

__all__ = ["SecurityHook", "SlackAdapter"]

log = logging.getLogger(__name__)

SecurityHook = Callable[[str, Mapping[str, object]], Awaitable[None]]


class SlackAdapter:
    """Slack front implementing `adapters.base.Adapter`."""

    platform = "slack"

    def __init__(
        self,
        *,
        bot_token: str,
        mode: Literal["socket", "http"] = "socket",
        app_token: str = "",
        signing_secret: str = "",
        api_base_url: str = "https://slack.com/api/",
        http_host: str = "127.0.0.1",
        http_port: int = 3000,
        http_path: str = "/slack/events",
        command: str = "/frontdoor",
        max_body_bytes: int = 1 << 20,
        on_security_event: SecurityHook | None = None,
        max_retries: int = 3,
    ) -> None:
        if not bot_token.startswith("xoxb-"):
            raise ValueError("platforms.slack.bot_token must be a bot token (xoxb-…)")
        if mode == "socket" and not app_token.startswith("xapp-"):
            raise ValueError("platforms.slack.app_token must be an app-level token (xapp-…)")
        if mode == "http" and not signing_secret:
            raise ValueError("platforms.slack.signing_secret is required in http mode")
        if mode not in ("socket", "http"):
            raise ValueError("platforms.slack.mode must be 'socket' or 'http'")
        if not command.startswith("/"):
            raise ValueError("platforms.slack.command must start with '/'")
        self.mode = mode
        self.http_port = http_port
        self._app_token = app_token
        self._signing_secret = signing_secret
        self._http_host = http_host
        self._http_path = http_path
        self._command = command
        self._max_body = max_body_bytes
        self._on_security_event = on_security_event
        self._retry_handlers = [
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ]
        self.client = AsyncWebClient(
            token=bot_token, base_url=api_base_url, retry_handlers=list(self._retry_handlers)
        )
        self._app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or None,
            process_before_response=False,
            request_verification_enabled=mode == "http",
            raise_error_for_unhandled_request=False,
            # Bolt and the Socket Mode client log payloads at DEBUG; keep them under our name.
            logger=logging.getLogger("adapters.slack.bolt"),
        )
        self._handler: Handler | None = None
        self._ws: convert.Workspace | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._names = DisplayNames(self.client)
        self._sender = Sender(
            self.client, retry_handlers=self._retry_handlers, api_base_url=api_base_url
        )
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self._register()

    # ---------------------------------------------------------------- listeners

    def _register(self) -> None:
        self._app.event("message")(self._on_event)
        self._app.event("app_mention")(self._on_event)
        self._app.command(self._command)(self._on_command)
        self._app.action(re.compile(r".*"))(self._on_action)

    async def _on_event(self, body: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        inbound = convert.event_to_inbound(body, ws=ws, received_at=datetime.now(UTC))
        if inbound is not None:
            self._dispatch(inbound)

    async def _on_command(self, body: dict[str, Any], ack: Callable[[], Awaitable[Any]]) -> None:
        await ack()
        ws = self._ws
        if ws is None:
            return
        inbound = convert.command_to_inbound(body, ws=ws, received_at=datetime.now(UTC))
        if inbound is not None:
            self._dispatch(inbound)

    async def _on_action(self, body: dict[str, Any], ack: Callable[[], Awaitable[Any]]) -> None:
        await ack()
        ws = self._ws
        if ws is None:
            return
        result = convert.action_to_inbound(body, ws=ws, received_at=datetime.now(UTC))
        if isinstance(result, convert.Refusal):
            await self._security(
                "slack_button_refused", {"reason": result.reason, **result.details}
            )
            return
        self._dispatch(result)

    def _dispatch(self, inbound: Inbound) -> None:
        # Even while stopping: the event was acknowledged, so Slack will not send it again.
        handler = self._handler
        if handler is not None:
            self._spawn(self._run_handler(handler, inbound))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, handler: Handler, inbound: Inbound) -> None:
        try:
            await handler(await self._names(inbound))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("slack handler failed for %s", inbound.event_id)

    async def _security(self, kind: str, details: Mapping[str, object]) -> None:
        log.warning("slack security event %s %s", kind, dict(details))
        if self._on_security_event is None:
            return
        try:
            await self._on_security_event(kind, details)
        except Exception:
            log.exception("security event hook failed for %s", kind)

    # ---------------------------------------------------------------- lifecycle

    async def serve(self, handler: Handler) -> None:
        """Connect, pass each event to `handler` in its own task, and return after `stop()`.

        Raises `PlatformError` when the tokens are refused. One adapter serves once:
        build a new one to serve again.
        """
        self._handler = handler
        self._ws = await self._whoami()
        socket: AsyncSocketModeHandler | None = None
        endpoint: SignedEndpoint | None = None
        try:
            if self.mode == "socket":
                await self._check_app_token()
                socket = AsyncSocketModeHandler(self._app, self._app_token)
                try:
                    await socket.connect_async()  # type: ignore[no-untyped-call]
                except (SlackClientError, aiohttp.ClientError, OSError) as exc:
                    raise PlatformError(
                        f"slack socket mode connect failed: {type(exc).__name__}", platform="slack"
                    ) from exc
            else:
                endpoint = SignedEndpoint(
                    app=self._app,
                    signing_secret=self._signing_secret,
                    host=self._http_host,
                    port=self.http_port,
                    path=self._http_path,
                    max_body_bytes=self._max_body,
                    on_rejected=self._signature_rejected,
                )
                await endpoint.start()
                self.http_port = endpoint.port
            self.ready.set()
            await self._stopping.wait()
        finally:
            if socket is not None:
                await socket.close_async()  # type: ignore[no-untyped-call]
            if endpoint is not None:
                await endpoint.close()
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            self.ready.clear()

    async def _check_app_token(self) -> None:
        # The SDK retries a refused app token forever; a revoked token must fail loudly instead.
        try:
            await self.client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as exc:
            if exc.response.status_code != 429:
                raise platform_error("apps.connections.open", exc) from exc
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            log.warning("slack socket mode pre-check failed (%s); connecting anyway", exc)

    async def _signature_rejected(self, details: Mapping[str, object]) -> None:
        await self._security("slack_signature_rejected", details)

    async def stop(self) -> None:
        """Stop receiving; `serve` returns once in-flight handler calls are done."""
        self._stopping.set()

    async def _whoami(self) -> convert.Workspace:
        try:
            auth = await self.client.auth_test()
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            raise platform_error("auth.test", exc) from exc
        team = auth.get("team_id")
        user = auth.get("user_id")
        bot = auth.get("bot_id")
        if not (isinstance(team, str) and isinstance(user, str) and team and user):
            raise PlatformError("slack auth.test returned no team or user id", platform="slack")
        return convert.Workspace(
            team_id=team, bot_user_id=user, bot_id=bot if isinstance(bot, str) else ""
        )

    # ---------------------------------------------------------------- sending

    async def send(self, outcome: Outcome) -> MessageRef | None:
        """Post (or edit) one outcome; return the reference of the first message posted."""
        team = self._ws.team_id if self._ws is not None else outcome.to.tenant
        return await self._sender.send(outcome, team=team)
