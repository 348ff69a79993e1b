"""The webhook endpoint Telegram POSTs updates to: verify, cap, parse, hand over.

A request is accepted only when it is a POST to the configured path carrying the
`X-Telegram-Bot-Api-Secret-Token` we registered (compared in constant time), with a
Content-Type of exactly `application/json` and a body within the size cap. Anything
else is refused (403, 405 or 413; 400 for a body that is not a JSON object) and
reported through `on_security_event("telegram_webhook_rejected", ...)` with the
reason, status and remote address only: no secret, no body. The bot counts these
per source and minute (a flood costs a counter, not an audit row or a log line
each). Every answer carries defensive headers.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["SECURITY_HEADERS", "SecurityHook", "TelegramWebhook", "WebhookServer"]

_log = logging.getLogger(__name__)
SecurityHook = Callable[[str, Mapping[str, object]], Awaitable[None]]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramWebhook:
    """Where to listen and what to register with setWebhook.

    `public_url` is the HTTPS address Telegram posts to (behind a proxy, say); when
    empty, the bound local address is registered (only useful against a fake server).
    """

    secret_token: str
    listen_host: str = "127.0.0.1"
    port: int = 8443
    path: str = "/telegram/webhook"
    public_url: str = ""
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if not _SECRET_RE.fullmatch(self.secret_token):
            raise ValueError("webhook secret_token must be 1-256 characters of [A-Za-z0-9_-]")
        if not self.path.startswith("/"):
            raise ValueError("webhook path must start with '/'")
        if self.max_body_bytes < 1:
            raise ValueError("webhook max_body_bytes must be positive")

    def __repr__(self) -> str:
        return f"TelegramWebhook(listen={self.listen_host}:{self.port}{self.path}, secret=***)"


class WebhookServer:
    """An aiohttp site serving one route; `on_update` gets each accepted update as a dict."""

    def __init__(
        self,
        config: TelegramWebhook,
        *,
        on_update: Callable[[dict[str, Any]], Awaitable[None]],
        on_security_event: SecurityHook | None,
    ) -> None:
        self._config = config
        self._on_update = on_update
        self._on_security_event = on_security_event
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Bind and serve; return the URL to register with setWebhook."""
        app = web.Application(client_max_size=self._config.max_body_bytes + 1)
        app.router.add_route("*", self._config.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.listen_host, self._config.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = self._config.public_url or f"http://{host}:{port}{self._config.path}"
        return self.url

    async def stop(self) -> None:
        """Stop accepting requests."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        details = {"reason": reason, "status": status, "remote": request.remote or ""}
        _log.debug("telegram webhook refused a request: %s (%d)", reason, status)
        if self._on_security_event is not None:
            try:
                await self._on_security_event("telegram_webhook_rejected", details)
            except Exception:  # noqa: BLE001 - the refusal stands whatever the hook does
                _log.exception("security event hook failed")
        return web.json_response({"ok": False}, status=status, headers=SECURITY_HEADERS)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return await self._refuse(request, 405, "method")
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._config.secret_token.encode()):
            return await self._refuse(request, 403, "secret_missing" if not given else "secret")
        if request.headers.get("Content-Type", "") != "application/json":
            return await self._refuse(request, 403, "content_type")
        limit = self._config.max_body_bytes
        if (request.content_length or 0) > limit:
            return await self._refuse(request, 413, "too_large")
        body = await request.content.read(limit + 1)
        if len(body) > limit:
            return await self._refuse(request, 413, "too_large")
        try:
            data = json.loads(body)
        except ValueError:
            return await self._refuse(request, 400, "bad_json")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return await self._refuse(request, 400, "bad_update")
        await self._on_update(data)
        return web.json_response({"ok": True}, headers=SECURITY_HEADERS)
