"""Slack HTTP mode: one signed aiohttp endpoint for events, interactivity and the slash command.

Each request is checked in this order, and fails closed:

    body larger than max_body_bytes          -> 413, never read in full
    no/stale/future timestamp, bad signature -> 401
    otherwise                                -> Bolt (verifies the signature again) -> its answer

Every refusal (413 and 401) is reported through `on_rejected` with its reason and the
remote address only (the bot counts them per source and minute: a flood costs a
counter, not an audit row each).

Bolt acknowledges before any listener work (`process_before_response=False`), so
answers stay within Slack's 3 seconds. Every answer carries the usual security headers.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

__all__ = ["SIGNATURE_WINDOW", "SignedEndpoint", "signature_problem"]

SIGNATURE_WINDOW = 300  # seconds either side of now, as Slack's own verifier
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Rejected = Callable[[Mapping[str, object]], Awaitable[None]]


def signature_problem(
    body: bytes, headers: Mapping[str, str], *, verifier: SignatureVerifier, now: float
) -> str | None:
    """Why a request is not verifiably from Slack (`unsigned`, `bad_timestamp`,
    `stale_timestamp`, `bad_signature`), or None when it is."""
    ts = headers.get("X-Slack-Request-Timestamp")
    sig = headers.get("X-Slack-Signature")
    if not ts or not sig:
        return "unsigned"
    try:
        stamp = int(ts)
    except ValueError:
        return "bad_timestamp"
    if abs(now - stamp) > SIGNATURE_WINDOW:
        return "stale_timestamp"
    expected = verifier.generate_signature(timestamp=ts, body=body)
    if expected is None or not hmac.compare_digest(expected, sig):
        return "bad_signature"
    return None


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


class SignedEndpoint:
    """The aiohttp server of HTTP mode; `port` is the bound port once started (0 allowed)."""

    def __init__(
        self,
        *,
        app: AsyncApp,
        signing_secret: str,
        host: str,
        port: int,
        path: str,
        max_body_bytes: int,
        on_rejected: Rejected,
    ) -> None:
        if not signing_secret:
            raise ValueError("platforms.slack.signing_secret is required in http mode")
        self.port = port
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)
        self._host = host
        self._path = path
        self._max_body = max_body_bytes
        self._on_rejected = on_rejected
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and start serving."""
        web_app = web.Application(client_max_size=self._max_body)
        web_app.router.add_post(self._path, self._entry)
        web_app.on_response_prepare.append(_security_headers)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self.port).start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _rejected(self, request: web.Request, reason: str) -> None:
        await self._on_rejected(
            {
                "reason": reason,
                "remote": request.remote or "",
                "path": request.path,
                "retry_num": request.headers.get("X-Slack-Retry-Num", "")[:8],
            }
        )

    async def _entry(self, request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > self._max_body:
            await self._rejected(request, "too_large")
            return _refuse(413, "request too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            await self._rejected(request, "too_large")
            return _refuse(413, "request too large")
        problem = signature_problem(body, request.headers, verifier=self._verifier, now=time.time())
        if problem is not None:
            await self._rejected(request, problem)
            return _refuse(401, "invalid request")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "invalid request")
        headers: dict[str, str | Sequence[str]] = {
            key.lower(): request.headers.getall(key) for key in request.headers
        }
        bolt_req = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_req))
