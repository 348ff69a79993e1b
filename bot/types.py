"""Neutral values that cross between the adapters and the pipeline.

Platform specifics stop at `adapters/`: the pipeline sees only these types, never a
Slack payload or a python-telegram-bot `Update`. Text in an `Outcome` is plain text;
each adapter escapes it for its platform (the bot redacts it before the adapter sees it).

Identity is always namespaced: `platform:tenant:user_id`, where tenant is the Slack
team (or enterprise) id, `telegram` for Telegram and `local` for the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Actor",
    "Address",
    "ApprovalCard",
    "CardKind",
    "CardState",
    "Channel",
    "ChannelKind",
    "Inbound",
    "InboundKind",
    "MessageRef",
    "Outcome",
]


class InboundKind(StrEnum):
    """What a person did."""

    MESSAGE = "message"  # wrote text: a command ("/run x", "run x") or plain text
    BUTTON = "button"  # tapped a button that carries an opaque token


class ChannelKind(StrEnum):
    """Where it happened."""

    DM = "dm"
    GROUP = "group"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """A person on one platform. `display_name` is for show only and never authorizes."""

    platform: str
    tenant: str
    user_id: str
    display_name: str = ""

    @property
    def key(self) -> str:
        """The identity used everywhere for authorization: `platform:tenant:user_id`."""
        return f"{self.platform}:{self.tenant}:{self.user_id}"

    @property
    def label(self) -> str:
        """How to name this person to humans."""
        return self.display_name or self.user_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A conversation: a DM with the bot, or a group chat / channel."""

    platform: str
    tenant: str
    channel_id: str
    kind: ChannelKind

    @property
    def key(self) -> str:
        """`platform:tenant:channel_id`, as written under `permissions.channels` in config."""
        return f"{self.platform}:{self.tenant}:{self.channel_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRef:
    """A message the bot posted, so that it can be edited later (approval cards)."""

    platform: str
    tenant: str
    channel_id: str
    message_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """One platform event, verified and converted by an adapter.

    `event_id` is unique per platform event and stable across redeliveries
    (e.g. `telegram:update:123`, `slack:event:Ev0123`), so the pipeline can drop
    duplicates. For `BUTTON`, `token` is the opaque token the button carried and
    `message` is the card that was pressed. `reply_context` is opaque adapter data
    (for example a Slack `response_url`) copied onto the reply's `Address`.
    """

    kind: InboundKind
    event_id: str
    actor: Actor
    channel: Channel
    received_at: datetime
    text: str = ""
    token: str = ""
    message: MessageRef | None = None
    addressed: bool = True
    reply_context: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """Where an outcome goes.

    - `channel_id` set, `user_id` empty: post in that channel.
    - `user_id` set, `channel_id` empty: a direct message to that user.
    - both set: in that channel, for that user; with `private=True` only that user
      should see it (Slack ephemeral; where the platform cannot, the adapter DMs the
      user and falls back to the channel).
    """

    platform: str
    tenant: str
    channel_id: str = ""
    user_id: str = ""
    private: bool = False
    reply_context: str = ""


class CardKind(StrEnum):
    """What a card asks to decide."""

    RUN = "run"
    PAIRING = "pairing"


class CardState(StrEnum):
    """The state a card shows. Only `PENDING` cards carry buttons."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalCard:
    """An approval request rendered by each adapter with Approve / Deny buttons.

    The tokens are short opaque strings (at most 32 characters of `[A-Za-z0-9_-]`);
    the server maps them to the parked request. A press comes back as an `Inbound`
    of kind `BUTTON` carrying the token that button held.
    """

    approval_id: str
    kind: CardKind
    title: str
    lines: tuple[str, ...]
    approve_token: str
    deny_token: str
    state: CardState = CardState.PENDING
    decided_by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One message for an adapter to post (or, with `edit`, to edit in place).

    `text` is plain prose; `code` is tool output shown monospaced (an adapter may
    attach it as a file when it is too long for one message). Both are already
    redacted; the adapter escapes them for its platform.
    """

    to: Address
    text: str
    code: str = ""
    card: ApprovalCard | None = None
    edit: MessageRef | None = None
    file_name: str = "output.txt"
