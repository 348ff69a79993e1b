"""Posting `Outcome`s to Slack: where each goes, and turning every failure into `PlatformError`.

    channel only             chat.postMessage (long output: several messages, or a file)
    user only                conversations.open -> chat.postMessage in the DM
    channel + user, private  response_url -> chat.postEphemeral -> the user's DM (never the channel)
    private, in a DM or with a card or file
                             the user's own DM, found by user id (cached conversations.open)
    edit                     chat.update with channel id + ts, always with blocks

HTTP 429 is waited out by the SDK's retry handler (`Retry-After`); once its retries
are used up the call raises `PlatformError` with `retry_after`. Nothing is dropped
silently: a failed call raises.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.base import PlatformError
from adapters.slack import convert
from bot.types import Address, MessageRef, Outcome

__all__ = ["Sender", "platform_error"]

log = logging.getLogger(__name__)

_POST_FLAGS = {"unfurl_links": False, "unfurl_media": False}
_DM_CACHE_MAX = 4096


class Sender:
    """Sends outcomes through one `AsyncWebClient`."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        retry_handlers: Sequence[AsyncRetryHandler],
        api_base_url: str,
    ) -> None:
        self.client = client
        self._retry_handlers = list(retry_handlers)
        self._api_base_url = api_base_url
        self._dms: dict[str, str] = {}  # user id -> the bot's DM channel with them

    async def send(self, outcome: Outcome, *, team: str) -> MessageRef | None:
        """Post (or edit) one outcome; return the reference of the first message posted.

        `team` is the installing workspace, the tenant of the returned `MessageRef`.
        """
        if outcome.edit is not None:
            ref = outcome.edit
            args = convert.edit_args(outcome)
            await self._call("chat.update", channel=ref.channel_id, ts=ref.message_id, **args)
            return ref
        plan = convert.plan_message(outcome)
        to = outcome.to
        ctx = convert.ReplyContext.decode(to.reply_context)
        if (
            to.private
            and to.user_id
            and to.channel_id
            and not to.channel_id.startswith("D")
            and outcome.card is None
            and plan.file is None
        ):
            await self._send_private(to, ctx, plan)
            return None
        channel = await self._resolve_channel(to)
        first: MessageRef | None = None
        for message in plan.messages:
            resp = await self._call("chat.postMessage", channel=channel, **_POST_FLAGS, **message)
            ts = resp.get("ts")
            posted_in = resp.get("channel")
            if first is None and isinstance(ts, str):
                first = MessageRef(
                    platform="slack",
                    tenant=team,
                    channel_id=posted_in if isinstance(posted_in, str) and posted_in else channel,
                    message_id=ts,
                )
        if plan.file is not None:
            await self._upload(channel, plan.file)
        return first

    async def _resolve_channel(self, to: Address) -> str:
        # Anything private goes to the user's own DM, looked up by user id: a private card or
        # file (ephemerals cannot be edited or hold files), and a private reply addressed to a
        # DM channel, so that it can never land in someone else's DM.
        if to.private and to.user_id:
            return await self._open_dm(to.user_id)
        if to.channel_id:
            return to.channel_id
        if to.user_id:
            return await self._open_dm(to.user_id)
        raise PlatformError("slack outcome has no channel or user to send to", platform="slack")

    async def _open_dm(self, user_id: str) -> str:
        cached = self._dms.get(user_id)
        if cached is not None:
            return cached
        resp = await self._call("conversations.open", users=user_id)
        chan = resp.get("channel")
        chan_id = chan.get("id") if isinstance(chan, Mapping) else None
        if not isinstance(chan_id, str) or not chan_id:
            raise PlatformError("slack conversations.open returned no channel", platform="slack")
        if len(self._dms) >= _DM_CACHE_MAX:
            self._dms.pop(next(iter(self._dms)))
        self._dms[user_id] = chan_id
        return chan_id

    async def _send_private(
        self, to: Address, ctx: convert.ReplyContext, plan: convert.MessagePlan
    ) -> None:
        """Only `to.user_id` may see these: response_url, else an ephemeral, else their DM."""
        url = ctx.response_url
        usable = bool(url) and ctx.user_id == to.user_id and self._trusted_response_url(url)
        hook = (
            AsyncWebhookClient(url, retry_handlers=list(self._retry_handlers)) if usable else None
        )
        dm = ""
        for message in plan.messages:
            if hook is not None:
                if await self._respond(hook, message):
                    continue
                hook = None  # expired (30 min, 5 uses) or refused: stop using it
            if not dm:
                try:
                    await self._call(
                        "chat.postEphemeral", channel=to.channel_id, user=to.user_id, **message
                    )
                    continue
                except PlatformError as exc:
                    if exc.retry_after is not None:
                        raise
                    log.info("slack ephemeral refused (%s); sending it as a DM instead", exc)
                    dm = await self._open_dm(to.user_id)
            await self._call("chat.postMessage", channel=dm, **_POST_FLAGS, **message)

    async def _respond(self, hook: AsyncWebhookClient, message: Mapping[str, Any]) -> bool:
        try:
            resp = await hook.send_dict(
                {"response_type": "ephemeral", "replace_original": False, **message}
            )
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            log.info("slack response_url failed (%s); trying an ephemeral", type(exc).__name__)
            return False
        if resp.status_code != 200:
            log.info("slack response_url answered HTTP %s; trying an ephemeral", resp.status_code)
            return False
        return True

    def _trusted_response_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname == "hooks.slack.com":
            return True
        api = urlsplit(self._api_base_url)
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)

    async def _upload(self, channel: str, upload: convert.FileUpload) -> None:
        try:
            await self.client.files_upload_v2(
                channel=channel,
                filename=upload.filename,
                title=upload.title,
                content=upload.content,
            )
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            raise platform_error("files_upload_v2", exc) from exc

    async def _call(self, method: str, **kwargs: Any) -> Mapping[str, Any]:
        methods: dict[str, Callable[..., Awaitable[Any]]] = {
            "chat.postMessage": self.client.chat_postMessage,
            "chat.postEphemeral": self.client.chat_postEphemeral,
            "chat.update": self.client.chat_update,
            "conversations.open": self.client.conversations_open,
        }
        try:
            resp = await methods[method](**kwargs)
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            raise platform_error(method, exc) from exc
        data = resp.data
        if not isinstance(data, Mapping):
            raise PlatformError(f"slack {method} returned no JSON", platform="slack")
        return data


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def platform_error(method: str, exc: Exception) -> PlatformError:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        retry = _retry_after(exc.response.headers) if status == 429 else None
        code = error if isinstance(error, str) else f"HTTP {status}"
        return PlatformError(f"slack {method} failed: {code}", platform="slack", retry_after=retry)
    return PlatformError(f"slack {method} failed: {type(exc).__name__}", platform="slack")
