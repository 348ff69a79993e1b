"""HTTP-mode request verification and Socket Mode connection handling."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.adapters.slack.conftest import Running
from tests.fakes.slack_api import FakeSlack

SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


async def test_url_verification_is_echoed(http: Running) -> None:
    """Slack's URL check gets its challenge back."""
    result = await http.fake.deliver_http(
        http.url, "events", {"type": "url_verification", "token": "t", "challenge": "c-123"}
    )
    assert result.status == 200
    assert result.json() == {"challenge": "c-123"}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"secret": "wrong-secret"}, "bad_signature"),
        ({"ts": int(time.time()) - 301}, "stale_timestamp"),
        ({"ts": int(time.time()) + 301}, "stale_timestamp"),
        ({"signed": False}, "unsigned"),
    ],
    ids=["bad-signature", "stale", "future", "unsigned"],
)
async def test_unverified_request_is_refused_and_reported(
    http: Running, overrides: dict[str, object], reason: str
) -> None:
    """A request failing signature or timestamp checks gets 401 and a security event."""
    payload = http.fake.dm_event("U1", "run x")
    if "ts" in overrides:  # an offset from now, taken when the test runs
        overrides = {"ts": int(time.time()) + int(str(overrides["ts"]))}
    result = await http.fake.deliver_http(http.url, "events", payload, **overrides)  # type: ignore[arg-type]
    assert result.status == 401
    ((kind, details),) = await http.security.wait_count(1)
    assert kind == "slack_signature_rejected"
    assert details["reason"] == reason
    assert http.fake.signing_secret not in repr(details)
    assert not http.recorder.inbounds


async def test_tampered_body_is_refused(http: Running) -> None:
    """A body changed after signing fails verification."""
    payload = http.fake.dm_event("U1", "run x")
    raw, _ = http.fake.encode("events", payload)
    signed_ts = str(int(time.time()))
    signature = http.fake.sign(raw, signed_ts)
    tampered = raw.replace(b"run x", b"run y")
    async with http.fake._session.post(  # type: ignore[union-attr]
        http.url,
        data=tampered,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": signed_ts,
            "X-Slack-Signature": signature,
        },
    ) as resp:
        assert resp.status == 401
    assert (await http.security.wait_count(1))[0][1]["reason"] == "bad_signature"


async def test_oversized_body_is_refused(http: Running) -> None:
    """A body above max_body_bytes gets 413 and is never dispatched."""
    payload = http.fake.dm_event("U1", "x" * (70 * 1024))
    result = await http.fake.deliver_http(http.url, "events", payload)
    assert result.status == 413
    assert not http.recorder.inbounds


@pytest.mark.parametrize("signed", [True, False], ids=["accepted", "refused"])
async def test_security_headers_are_sent(http: Running, signed: bool) -> None:
    """Every answer carries the usual security headers."""
    result = await http.fake.deliver_http(
        http.url, "events", http.fake.dm_event("U1", "hi"), signed=signed
    )
    assert result.status == (200 if signed else 401)
    for header in SECURITY_HEADERS:
        assert header in result.headers


async def test_unknown_path_is_not_found(http: Running) -> None:
    """Only the configured path is served."""
    result = await http.fake.deliver_http(
        http.url.replace("/slack/events", "/other"), "events", http.fake.dm_event("U1", "hi")
    )
    assert result.status == 404


async def test_socket_envelopes_are_acked(socket: Running) -> None:
    """Events, commands and actions each get an ack carrying their envelope id."""
    fake = socket.fake
    event = await fake.deliver_socket("events", fake.dm_event("U1", "one"))
    command = await fake.deliver_socket("commands", fake.slash_command("U1", "two"))
    assert await fake.wait_ack(event) is None
    await fake.wait_ack(command)
    inbounds = await socket.recorder.wait_count(2)
    assert sorted(i.text for i in inbounds) == ["one", "two"]


async def test_socket_reconnects_after_disconnect(socket: Running) -> None:
    """After a `disconnect` message the client reconnects and keeps receiving."""
    fake = socket.fake
    opened = len(fake.calls_of("apps.connections.open"))
    await fake.send_disconnect()
    await fake.wait_connections(2)
    envelope = await fake.deliver_socket("events", fake.dm_event("U1", "after reconnect"))
    await fake.wait_ack(envelope)
    (inbound,) = await socket.recorder.wait_count(1)
    assert inbound.text == "after reconnect"
    assert len(fake.calls_of("apps.connections.open")) == opened + 1


async def test_serve_fails_closed_on_bad_token(fake: FakeSlack) -> None:
    """A bot token the platform refuses stops `serve` with a PlatformError, not silence."""
    from adapters.base import PlatformError
    from adapters.slack.adapter import SlackAdapter

    adapter = SlackAdapter(
        bot_token="xoxb-wrong", app_token=fake.app_token, api_base_url=fake.api_url
    )

    async def handler(_inbound: object) -> None:
        raise AssertionError("no event expected")

    with pytest.raises(PlatformError, match="invalid_auth"):
        await adapter.serve(handler)


async def test_socket_mode_fails_closed_on_bad_app_token(fake: FakeSlack) -> None:
    """An app-level token Slack refuses stops `serve` with a PlatformError."""
    from adapters.base import PlatformError
    from adapters.slack.adapter import SlackAdapter

    adapter = SlackAdapter(
        bot_token=fake.bot_token, app_token="xapp-wrong", api_base_url=fake.api_url
    )

    async def handler(_inbound: object) -> None:
        raise AssertionError("no event expected")

    with pytest.raises(PlatformError, match="failed: invalid_auth"):
        await adapter.serve(handler)
    assert fake.calls_of("apps.connections.open")[0].error == "invalid_auth"


async def test_oversized_chunked_body_is_refused(http: Running) -> None:
    """A body without Content-Length is cut off at max_body_bytes too."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    session = http.fake._session
    assert session is not None
    async with session.post(
        http.url, data=chunks(), headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 413
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # reported (the bot counts it per source and minute), never dispatched
    assert [e[1]["reason"] for e in http.security.events] == ["too_large"]
    assert not http.recorder.inbounds
