"""Slack payloads to `Inbound`s and `Outcome`s to Slack call arguments: pure functions.

Identity rules (see also `slack-app-manifest.yaml`):

- The actor's tenant is the *user's own* team id: `event.user_team` (else
  `event.team`) on events, `user.team_id` on actions, `team_id` on slash
  commands. A user of another workspace in a shared channel is therefore a
  different identity with no grants. Enterprise ids are never used, because the
  only enterprise id Slack sends reliably is the installation's, which would
  merge an outside user into our tenant. No team id at all -> the event is dropped.
- The channel's (and every `MessageRef`'s) tenant is the workspace that installed
  the app, learned once from `auth.test`, whoever spoke in the channel, so that a
  channel key `slack:T_HOME:C123` never depends on a payload.

Text from Slack arrives with `&`, `<`, `>` escaped; it is unescaped to what the
person wrote. Text going to Slack is escaped (`cards.escape_mrkdwn`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.slack.cards import (
    APPROVE_ACTION,
    DENY_ACTION,
    SECTION_MAX,
    TEXT_MAX,
    TOKEN_RE,
    card_fallback,
    escape_mrkdwn,
    render_card,
    truncate,
)
from adapters.slack.names import clean_name
from bot.types import (
    Actor,
    ApprovalCard,
    Channel,
    ChannelKind,
    Inbound,
    InboundKind,
    MessageRef,
    Outcome,
)

__all__ = [
    "CHUNK_MAX",
    "FILE_THRESHOLD",
    "FileUpload",
    "MessagePlan",
    "Refusal",
    "ReplyContext",
    "Workspace",
    "action_to_inbound",
    "command_to_inbound",
    "edit_args",
    "event_to_inbound",
    "plan_message",
    "split_escaped",
]

PLATFORM = "slack"
CHUNK_MAX = 2900  # characters of escaped text per message (section limit 3000)
FILE_THRESHOLD = 12_000  # raw characters of text + code above which the output becomes a file
_FENCE_BUDGET = CHUNK_MAX - len("```\n\n```")


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """What `auth.test` said about the installation."""

    team_id: str
    bot_user_id: str
    bot_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A payload that was acknowledged but refused; `details` carries no raw user data."""

    reason: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyContext:
    """Where a reply to a slash command or button press can go (opaque to the pipeline)."""

    response_url: str = ""
    channel_id: str = ""
    user_id: str = ""

    def encode(self) -> str:
        """Serialise for `Inbound.reply_context`."""
        return json.dumps(
            {
                "response_url": self.response_url,
                "channel_id": self.channel_id,
                "user_id": self.user_id,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: str) -> ReplyContext:
        """Parse what `encode` wrote; anything else is an empty context."""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(
            response_url=_str(data.get("response_url")),
            channel_id=_str(data.get("channel_id")),
            user_id=_str(data.get("user_id")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FileUpload:
    """Output too long for messages, to upload as a file."""

    filename: str
    content: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePlan:
    """The messages (`text` + `blocks` argument dicts) and optional file for one `Outcome`."""

    messages: tuple[Mapping[str, Any], ...]
    file: FileUpload | None = None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _safe(value: str) -> str:
    """An identifier from a payload, fit for a log line or an audit row."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "?", value[:64])


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _channel(ws: Workspace, channel_id: str) -> Channel:
    # The id decides, never a payload's `channel_type`: only `D…` conversations are DMs.
    kind = ChannelKind.DM if channel_id.startswith("D") else ChannelKind.GROUP
    return Channel(platform=PLATFORM, tenant=ws.team_id, channel_id=channel_id, kind=kind)


def _strip_mention(text: str, bot_user_id: str) -> str:
    pattern = re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>")
    return pattern.sub(" ", text).strip()


def event_to_inbound(
    body: Mapping[str, Any], *, ws: Workspace, received_at: datetime
) -> Inbound | None:
    """An Events API body -> `Inbound`, or None when it is nothing for the bot.

    Accepted: `message` in an IM (no subtype, not from a bot) and `app_mention`;
    mentions of the bot are stripped from both. Edits, deletions, bot messages and the bot's own
    messages are ignored.
    """
    event = body.get("event")
    event_id = _str(body.get("event_id"))
    if not isinstance(event, Mapping) or not event_id:
        return None
    etype = _str(event.get("type"))
    user = _str(event.get("user"))
    channel_id = _str(event.get("channel"))
    tenant = _str(event.get("user_team")) or _str(event.get("team"))
    if (
        event.get("subtype") is not None
        or event.get("bot_id") is not None
        or not user
        or user == ws.bot_user_id
        or not channel_id
        or not tenant
    ):
        return None
    is_dm = etype == "message" and _str(event.get("channel_type")) == "im"
    if not (is_dm or etype == "app_mention"):
        return None
    text = _unescape(_strip_mention(_str(event.get("text")), ws.bot_user_id)).strip()
    if not text:
        return None
    return Inbound(
        kind=InboundKind.MESSAGE,
        event_id=f"slack:event:{event_id}",
        actor=Actor(platform=PLATFORM, tenant=tenant, user_id=user),
        channel=_channel(ws, channel_id),
        received_at=received_at,
        text=text,
    )


def command_to_inbound(
    body: Mapping[str, Any], *, ws: Workspace, received_at: datetime
) -> Inbound | None:
    """A slash command form -> `Inbound` whose text is the command's argument text.

    `/frontdoor run x a=b` becomes `"run x a=b"`; an empty command becomes `"help"`.
    """
    user = _str(body.get("user_id"))
    tenant = _str(body.get("team_id"))
    channel_id = _str(body.get("channel_id"))
    trigger = _str(body.get("trigger_id"))
    if not (user and tenant and channel_id and trigger):
        return None
    text = _unescape(_str(body.get("text"))).strip() or "help"
    ctx = ReplyContext(
        response_url=_str(body.get("response_url")), channel_id=channel_id, user_id=user
    )
    return Inbound(
        kind=InboundKind.MESSAGE,
        event_id=f"slack:command:{trigger}",
        actor=Actor(
            platform=PLATFORM,
            tenant=tenant,
            user_id=user,
            display_name=clean_name(body.get("user_name")),
        ),
        channel=_channel(ws, channel_id),
        received_at=received_at,
        text=text,
        reply_context=ctx.encode(),
    )


def action_to_inbound(
    body: Mapping[str, Any], *, ws: Workspace, received_at: datetime
) -> Inbound | Refusal:
    """A `block_actions` payload -> `Inbound(kind=BUTTON)`, or a `Refusal` when malformed."""
    user_obj = body.get("user")
    user = user_obj if isinstance(user_obj, Mapping) else {}
    user_id = _str(user.get("id"))
    tenant = _str(user.get("team_id"))
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    details: dict[str, str] = {"user_id": _safe(user_id), "team_id": _safe(tenant)}
    if not isinstance(action, Mapping):
        return Refusal(reason="no_action", details=details)
    action_id = _str(action.get("action_id"))
    value = action.get("value")
    details["action_id"] = _safe(action_id)
    details["value_length"] = str(len(value)) if isinstance(value, str) else "none"
    if not user_id or not tenant:
        return Refusal(reason="no_user", details=details)
    if action_id not in (APPROVE_ACTION, DENY_ACTION):
        return Refusal(reason="unknown_action", details=details)
    if not isinstance(value, str) or TOKEN_RE.fullmatch(value) is None:
        return Refusal(reason="malformed_token", details=details)
    container = body.get("container")
    cont = container if isinstance(container, Mapping) else {}
    message = body.get("message")
    msg = message if isinstance(message, Mapping) else {}
    channel_obj = body.get("channel")
    chan = channel_obj if isinstance(channel_obj, Mapping) else {}
    channel_id = _str(cont.get("channel_id")) or _str(chan.get("id"))
    ts = _str(cont.get("message_ts")) or _str(msg.get("ts"))
    action_ts = _str(action.get("action_ts"))
    if not channel_id or not ts or not action_ts:
        return Refusal(reason="no_message", details=details)
    ctx = ReplyContext(
        response_url=_str(body.get("response_url")), channel_id=channel_id, user_id=user_id
    )
    return Inbound(
        kind=InboundKind.BUTTON,
        event_id=f"slack:action:{action_ts}:{user_id}",
        actor=Actor(
            platform=PLATFORM,
            tenant=tenant,
            user_id=user_id,
            display_name=clean_name(user.get("name")) or clean_name(user.get("username")),
        ),
        channel=_channel(ws, channel_id),
        received_at=received_at,
        token=value,
        message=MessageRef(
            platform=PLATFORM, tenant=ws.team_id, channel_id=channel_id, message_id=ts
        ),
        reply_context=ctx.encode(),
    )


def _cut(escaped: str, budget: int) -> tuple[str, str]:
    head = escaped[:budget]
    amp = head.rfind("&", max(0, budget - 5))
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head, escaped[len(head) :]


def split_escaped(raw: str, budget: int = CHUNK_MAX) -> list[str]:
    """Escape `raw` and split it into chunks of at most `budget` characters.

    Splits at line ends where possible and never inside an `&amp;`-style entity;
    whitespace-only chunks are dropped.
    """
    chunks: list[str] = []
    cur: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal size
        text = "".join(cur).rstrip("\n")
        if text.strip():
            chunks.append(text)
        cur.clear()
        size = 0

    for line in raw.splitlines(keepends=True):
        esc = escape_mrkdwn(line)
        while len(esc) > budget:
            head, esc = _cut(esc, budget)
            flush()
            cur.append(head)
            flush()
        if size + len(esc) > budget:
            flush()
        cur.append(esc)
        size += len(esc)
    flush()
    return chunks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _message(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [_section(text)]}


def _code_chunks(code: str) -> list[str]:
    defanged = code.replace("```", "`\u200b`\u200b`")
    return [f"```\n{chunk}\n```" for chunk in split_escaped(defanged, _FENCE_BUDGET)]


def _card_message(card: ApprovalCard, text: str) -> dict[str, Any]:
    blocks = render_card(card)
    extra = text.strip()
    if not extra or extra == card.title.strip():
        return {"text": card_fallback(card), "blocks": blocks}
    section = _section(truncate(escape_mrkdwn(text), SECTION_MAX))
    return {"text": truncate(escape_mrkdwn(text), TEXT_MAX), "blocks": [section, *blocks]}


def _chunks(text: str, code: str) -> list[dict[str, Any]]:
    return [_message(c) for c in (*split_escaped(text), *_code_chunks(code))]


def plan_message(outcome: Outcome) -> MessagePlan:
    """The Slack messages for a new post: card, text chunks, code chunks, or a file.

    Every message carries `text` (the fallback, at most 4000 characters) and
    `blocks` (each section at most 3000 characters).
    """
    messages: list[dict[str, Any]] = []
    text = outcome.text
    if outcome.card is not None:
        messages.append(_card_message(outcome.card, outcome.text))
        text = ""
    if len(text) + len(outcome.code) > FILE_THRESHOLD:
        content = "\n\n".join(part for part in (text, outcome.code) if part)
        note = f"\n_Full output attached as {escape_mrkdwn(outcome.file_name)}._"
        head = split_escaped(text, CHUNK_MAX - len(note))
        summary = (head[0] if head else "Output") + note
        messages.append(_message(summary))
        upload = FileUpload(filename=outcome.file_name, content=content, title=outcome.file_name)
        return MessagePlan(messages=tuple(messages), file=upload)
    messages.extend(_chunks(text, outcome.code))
    if not messages:
        messages.append(_message("(no output)"))
    return MessagePlan(messages=tuple(messages))


def edit_args(outcome: Outcome) -> dict[str, Any]:
    """The `text` and `blocks` for `chat.update`: always with blocks, so old buttons go.

    An edit is one message: text too long for it is cut, with a note saying so.
    """
    if outcome.card is not None:
        return _card_message(outcome.card, outcome.text)
    chunks = _chunks(outcome.text, outcome.code)
    if not chunks:
        return _message("(no output)")
    if len(chunks) == 1:
        return chunks[0]
    return _message(chunks[0]["text"] + "\n_(cut: too long to show here)_")
