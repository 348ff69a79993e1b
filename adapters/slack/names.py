"""Display names for Slack users, looked up once and cached: for humans to read, never to authorize.

Events carry only a user id; slash commands and button presses carry a user name.
Before an `Inbound` without a name reaches the bot, its actor gets the person's
Slack display name (else real name, else handle) from `users.info`. A failed or
slow lookup leaves the name empty and never holds up the event for long.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import unicodedata
from collections.abc import Mapping

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.types import Inbound

__all__ = ["DisplayNames", "clean_name"]

NAME_MAX = 64


def clean_name(raw: object) -> str:
    """A printable single-line name of at most 64 characters ('' for anything else)."""
    if not isinstance(raw, str):
        return ""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in raw
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(kept.split())[:NAME_MAX]


def _pick(user: Mapping[str, object]) -> str:
    profile = user.get("profile")
    prof = profile if isinstance(profile, Mapping) else {}
    for raw in (prof.get("display_name"), user.get("real_name"), user.get("name")):
        name = clean_name(raw)
        if name:
            return name
    return ""


class DisplayNames:
    """Fills `Inbound.actor.display_name` from a bounded, expiring cache of `users.info`."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = 3600.0,
        max_entries: int = 4096,
        timeout: float = 3.0,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._max = max_entries
        self._timeout = timeout
        self._cache: dict[str, tuple[str, float]] = {}

    async def __call__(self, inbound: Inbound) -> Inbound:
        """The inbound with its actor named, or unchanged when it has a name or none is found."""
        actor = inbound.actor
        if actor.display_name:
            return inbound
        name = await self.lookup(actor.user_id)
        if not name:
            return inbound
        return dataclasses.replace(inbound, actor=dataclasses.replace(actor, display_name=name))

    async def lookup(self, user_id: str) -> str:
        """The user's name, from the cache or `users.info` ('' when unknown)."""
        now = time.monotonic()
        hit = self._cache.get(user_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            async with asyncio.timeout(self._timeout):
                resp = await self._client.users_info(user=user_id)
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError):
            return ""
        user = resp.get("user")
        name = _pick(user) if isinstance(user, Mapping) else ""
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))
        self._cache[user_id] = (name, now + self._ttl)
        return name
