"""FakeSlack is as strict as Slack: the adapter tests are only as good as these refusals."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.adapters.slack.conftest import GENERAL
from tests.fakes.slack_api import FakeSlack

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}

CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("no-token", "", "chat_postMessage", {"channel": GENERAL, "text": "x"}, "not_authed"),
    (
        "wrong-token",
        "xoxb-nope",
        "chat_postMessage",
        {"channel": GENERAL, "text": "x"},
        "invalid_auth",
    ),
    (
        "app-token-on-bot-method",
        "app",
        "chat_postMessage",
        {"channel": GENERAL, "text": "x"},
        "not_allowed_token_type",
    ),
    (
        "bot-token-on-app-method",
        "bot",
        "apps_connections_open",
        {"app_token": "bot"},
        "not_allowed_token_type",
    ),
    (
        "unknown-channel",
        "bot",
        "chat_postMessage",
        {"channel": "C404", "text": "x"},
        "channel_not_found",
    ),
    ("no-text", "bot", "raw:chat.postMessage", {"channel": GENERAL}, "no_text"),
    (
        "too-long",
        "bot",
        "chat_postMessage",
        {"channel": GENERAL, "text": "x" * 40_001},
        "msg_too_long",
    ),
    (
        "long-section",
        "bot",
        "chat_postMessage",
        {
            "channel": GENERAL,
            "text": "x",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}],
        },
        "invalid_blocks",
    ),
    (
        "too-many-blocks",
        "bot",
        "chat_postMessage",
        {"channel": GENERAL, "text": "x", "blocks": [SECTION] * 51},
        "invalid_blocks",
    ),
    (
        "update-unknown-ts",
        "bot",
        "chat_update",
        {"channel": GENERAL, "ts": "1.2", "text": "x"},
        "message_not_found",
    ),
    (
        "ephemeral-outsider",
        "bot",
        "chat_postEphemeral",
        {"channel": "C0LONELY", "user": "U1", "text": "x"},
        "user_not_in_channel",
    ),
    ("dm-unknown-user", "bot", "conversations_open", {"users": "UNOBODY"}, "user_not_found"),
]


@pytest.mark.parametrize(
    ("token", "method", "kwargs", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_fake_refuses_like_slack(
    fake: FakeSlack, token: str, method: str, kwargs: dict[str, Any], error: str
) -> None:
    """Each misuse gets Slack's error code through the real SDK."""
    fake.add_channel("C0LONELY")
    real = {"bot": fake.bot_token, "app": fake.app_token}.get(token, token)
    if kwargs.get("app_token") == "bot":
        kwargs = {"app_token": fake.bot_token}
    client = AsyncWebClient(token=real or None, base_url=fake.api_url)
    if method.startswith("raw:"):  # past the SDK's own missing-text warning
        call = client.api_call(method.removeprefix("raw:"), json=kwargs)
    else:
        call = getattr(client, method)(**kwargs)
    with pytest.raises(SlackApiError) as info:
        await call
    assert info.value.response["error"] == error


async def test_invalid_blocks_name_the_field(fake: FakeSlack) -> None:
    """invalid_blocks comes with Slack-style json-pointer messages."""
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    bad = [SECTION, {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, text="x", blocks=bad)
    messages = info.value.response["response_metadata"]["messages"]
    assert messages == [
        "[ERROR] must be less than 151 characters [json-pointer:/blocks/1/text/text]"
    ]


async def test_update_keeps_blocks_when_omitted(fake: FakeSlack) -> None:
    """The strictest reading: an update without blocks leaves the old buttons in place."""
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    posted = await client.chat_postMessage(channel=GENERAL, text="x", blocks=[SECTION])
    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="changed")
    assert fake.message(GENERAL, posted["ts"])["blocks"] == [SECTION]


async def test_upload_must_complete(fake: FakeSlack) -> None:
    """completeUploadExternal refuses a file whose bytes never arrived."""
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    url = await client.files_getUploadURLExternal(filename="a.txt", length=3)
    with pytest.raises(SlackApiError) as info:
        await client.files_completeUploadExternal(
            files=[{"id": url["file_id"], "title": "a"}], channel_id=GENERAL
        )
    assert info.value.response["error"] == "file_not_found"


async def test_rate_limit_sets_retry_after(fake: FakeSlack) -> None:
    """An injected 429 carries Retry-After, as Slack's does."""
    fake.inject_429("chat.postMessage", retry_after=7)
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
