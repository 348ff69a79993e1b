"""The adapter posting outcomes through real PTB to the strict fake Telegram."""

from __future__ import annotations

import pytest

from adapters.base import PlatformError
from bot.types import Address, ApprovalCard, CardKind, CardState, MessageRef, Outcome
from tests.adapters.telegram.conftest import (
    ALICE,
    BOB,
    CAROL,
    GROUP,
    Running,
    Security,
    finish,
    make_adapter,
    start,
)
from tests.fakes.telegram_api import FakeTelegram


def to_chat(chat: int) -> Address:
    return Address(platform="telegram", tenant="telegram", channel_id=str(chat))


def card(state: CardState = CardState.PENDING, by: str = "") -> ApprovalCard:
    return ApprovalCard(
        approval_id="ap1",
        kind=CardKind.RUN,
        title="Run restart_service <api>?",
        lines=("requested by bob", "args: service=api & force"),
        approve_token="A" * 32,
        deny_token="D" * 32,
        state=state,
        decided_by=by,
    )


async def test_html_is_escaped_and_code_is_preformatted(tg: FakeTelegram, running: Running) -> None:
    """Tool output with tags and ampersands arrives literally, the code inside <pre>."""
    out = Outcome(to=to_chat(ALICE), text="Result of <b>disk</b> & co:", code="a < b && c > d")
    ref = await running.adapter.send(out)
    (msg,) = tg.messages_to(ALICE)
    assert msg.text == "Result of <b>disk</b> & co:\na < b && c > d"
    assert "<pre>a &lt; b &amp;&amp; c &gt; d</pre>" in msg.html
    assert ref == MessageRef(
        platform="telegram", tenant="telegram", channel_id=str(ALICE), message_id="1"
    )


async def test_long_text_is_split_on_lines(tg: FakeTelegram, running: Running) -> None:
    """Text longer than one message is split under 4096 characters at line ends."""
    lines = [f"line {n:05d} & <tag>" + "x" * 40 for n in range(300)]
    await running.adapter.send(Outcome(to=to_chat(ALICE), text="\n".join(lines)))
    msgs = tg.messages_to(ALICE)
    assert len(msgs) >= 4
    assert all(len(m.text) <= 4096 for m in msgs)
    assert "\n".join(m.text for m in msgs).split("\n") == lines


async def test_one_huge_line_is_cut_without_breaking_entities(
    tg: FakeTelegram, running: Running
) -> None:
    """A single line longer than a message is cut between characters, never inside &amp;."""
    text = "&<>" * 3000
    await running.adapter.send(Outcome(to=to_chat(ALICE), text=text))
    msgs = tg.messages_to(ALICE)
    assert len(msgs) > 1
    assert "".join(m.text for m in msgs) == text


async def test_very_long_code_goes_out_as_a_document(tg: FakeTelegram, running: Running) -> None:
    """Output longer than three messages is attached as a file named by the outcome."""
    code = "\n".join(f"{n} <row> & more" for n in range(2000))
    out = Outcome(to=to_chat(ALICE), text="Logs:", code=code, file_name="logs.txt")
    ref = await running.adapter.send(out)
    msgs = tg.messages_to(ALICE)
    assert [m.text for m in msgs[:1]] == ["Logs:"]
    assert msgs[1].document_name == "logs.txt"
    assert msgs[1].document == code.encode()
    assert ref is not None
    assert ref.message_id == str(msgs[0].message_id)


async def test_card_round_trip_press_edit_and_not_modified(
    tg: FakeTelegram, running: Running
) -> None:
    """A card carries short callback data; a press comes back; the edit drops the keyboard."""
    ref = await running.adapter.send(Outcome(to=to_chat(GROUP), text="", card=card()))
    assert ref is not None
    (msg,) = tg.messages_to(GROUP)
    datas = msg.callback_datas()
    assert datas == ["fd:" + "A" * 32, "fd:" + "D" * 32]
    assert all(len(d.encode()) <= 64 for d in datas)
    assert msg.text.startswith("Run restart_service <api>?\nrequested by bob")

    tg.user_presses(ALICE, GROUP, msg.message_id, datas[0])
    (press,) = await running.bot.wait_for(1)
    assert press.token == "A" * 32
    assert press.message == ref

    decided = Outcome(to=to_chat(GROUP), text="", card=card(CardState.APPROVED, "alice"), edit=ref)
    assert await running.adapter.send(decided) == ref
    assert msg.reply_markup is None
    assert msg.text.endswith("Approved by alice")

    since = len(tg.calls)
    assert await running.adapter.send(decided) == ref  # identical edit: "not modified" is fine
    (again,) = tg.calls_of("editMessageText")[1:]
    assert tg.calls.index(again) >= since
    assert again.status == 400


@pytest.mark.parametrize(
    ("address", "expect_chat"),
    [
        (Address(platform="telegram", tenant="telegram", user_id=str(BOB)), BOB),
        (
            Address(
                platform="telegram",
                tenant="telegram",
                channel_id=str(GROUP),
                user_id=str(BOB),
                private=True,
            ),
            BOB,
        ),
        (
            Address(
                platform="telegram",
                tenant="telegram",
                channel_id=str(GROUP),
                user_id=str(CAROL),
                private=True,
            ),
            GROUP,
        ),
        (
            Address(
                platform="telegram", tenant="telegram", channel_id=str(GROUP), user_id=str(CAROL)
            ),
            GROUP,
        ),
    ],
    ids=["dm-by-user-id", "private-in-group-dm", "private-falls-back", "public-in-group"],
)
async def test_addresses_resolve_to_the_right_chat(
    tg: FakeTelegram, running: Running, address: Address, expect_chat: int
) -> None:
    """Each Address form lands in the right chat; a refused private DM falls back."""
    ref = await running.adapter.send(Outcome(to=address, text="hi"))
    assert ref is not None
    assert ref.channel_id == str(expect_chat)
    assert [m.text for m in tg.messages_to(expect_chat)] == ["hi"]


async def test_dm_to_a_user_who_never_started_raises(tg: FakeTelegram, running: Running) -> None:
    """With no channel to fall back to, Telegram's 403 becomes PlatformError."""
    address = Address(platform="telegram", tenant="telegram", user_id=str(CAROL))
    with pytest.raises(PlatformError) as info:
        await running.adapter.send(Outcome(to=address, text="hi"))
    assert info.value.platform == "telegram"
    assert "initiate conversation" in str(info.value)


async def test_429_is_retried_and_delivered(tg: FakeTelegram, running: Running) -> None:
    """A flood-control answer is waited out and the message still arrives, once."""
    tg.inject_429("sendMessage", retry_after=1)
    await running.adapter.send(Outcome(to=to_chat(ALICE), text="patience"))
    assert [c.status for c in tg.calls_of("sendMessage")] == [429, 200]
    assert [m.text for m in tg.messages_to(ALICE)] == ["patience"]


async def test_persistent_429_raises_with_retry_after(tg: FakeTelegram, security: Security) -> None:
    """When flood control outlasts the retries, PlatformError carries retry_after."""
    run = await start(make_adapter(tg, security, max_retries=1))
    try:
        tg.inject_429("sendMessage", retry_after=1, times=2)
        with pytest.raises(PlatformError) as info:
            await run.adapter.send(Outcome(to=to_chat(ALICE), text="x"))
        assert info.value.retry_after == 1
        assert tg.messages_to(ALICE) == []
    finally:
        await finish(run)


@pytest.mark.parametrize(
    ("status", "description", "calls"),
    [
        (400, "Bad Request: chat not found", 1),
        (500, "Internal Server Error", 3),
    ],
    ids=["bad-request-not-retried", "server-error-retried-then-raised"],
)
async def test_persistent_errors_raise_platform_error(
    tg: FakeTelegram, running: Running, status: int, description: str, calls: int
) -> None:
    """Client errors fail at once, server errors after max_retries; never silently."""
    tg.inject_error("sendMessage", status, description, times=5)
    with pytest.raises(PlatformError) as info:
        await running.adapter.send(Outcome(to=to_chat(ALICE), text="x"))
    assert info.value.retry_after is None
    assert len(tg.calls_of("sendMessage")) == calls


async def test_send_works_before_serve(tg: FakeTelegram, security: Security) -> None:
    """An adapter can post before serve starts (it initializes itself with getMe)."""
    run = await start(make_adapter(tg, security))
    await finish(run)
    adapter = make_adapter(tg, security)
    await adapter.send(Outcome(to=to_chat(BOB), text="early"))
    run = await start(adapter)
    await finish(run)
    assert [m.text for m in tg.messages_to(BOB)] == ["early"]


@pytest.mark.parametrize(
    ("message_id", "error"),
    [("999", "(?i)message to edit not found"), ("not-a-number", "bad message reference")],
    ids=["missing-message", "bad-reference"],
)
async def test_failed_edits_raise(running: Running, message_id: str, error: str) -> None:
    """An edit Telegram refuses (other than "not modified") is a PlatformError."""
    ref = MessageRef(
        platform="telegram", tenant="telegram", channel_id=str(GROUP), message_id=message_id
    )
    out = Outcome(to=to_chat(GROUP), text="", card=card(CardState.EXPIRED), edit=ref)
    with pytest.raises(PlatformError, match=error):
        await running.adapter.send(out)
