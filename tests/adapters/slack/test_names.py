"""Display names from users.info: cleaned, cached, and never blocking on failure."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.names import DisplayNames, clean_name
from tests.fakes.slack_api import FakeSlack


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("alice", "alice"),
        ("  al\u202eice\n\tsmith ", "alice smith"),
        ("x" * 100, "x" * 64),
        (None, ""),
        ("\x00\x07", ""),
    ],
    ids=["plain", "controls-and-bidi", "long", "not-a-string", "only-controls"],
)
def test_clean_name(raw: object, clean: str) -> None:
    """Names are single-line, printable and bounded."""
    assert clean_name(raw) == clean


async def test_lookup_is_cached(fake: FakeSlack) -> None:
    """A second lookup of the same user makes no second users.info call."""
    names = DisplayNames(AsyncWebClient(token=fake.bot_token, base_url=fake.api_url))
    assert await names.lookup("U1") == "alice"
    assert await names.lookup("U1") == "alice"
    assert len(fake.calls_of("users.info")) == 1


async def test_unknown_user_has_no_name(fake: FakeSlack) -> None:
    """A failed lookup gives an empty name, not an error."""
    names = DisplayNames(AsyncWebClient(token=fake.bot_token, base_url=fake.api_url))
    assert await names.lookup("UNOBODY") == ""


async def test_bad_token_gives_no_name(fake: FakeSlack) -> None:
    """Auth errors from users.info are swallowed: the name is cosmetic."""
    names = DisplayNames(AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url))
    assert await names.lookup("U1") == ""
