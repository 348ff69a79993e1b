"""Issue 11's attacks on approvals and identities, through the whole bot on a fake chat.

Each scenario parks a request and changes something before (or while) the approver
taps; each shows that nothing runs, that the right people are told, that every copy
of the card says why, and that the audit row names the precise reason.
"""

from __future__ import annotations

import asyncio
import copy
import re
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.types import CardState, Outcome
from policy.reasons import Reason
from tests.bot.conftest import ENV, EXAMPLE, AppFactory, Clock, make_config, pair
from tests.fakes.chat import FakeChat

BOB = "console:local:bob"
ADD_MEMBER = {
    "name": "add_member",
    "kind": "python",
    "code": "import sys\nprint('added', *sys.argv[1:])",
    "argv": ["{email}", "{phone}", "{password}", "{note}"],
    "args": {
        "email": {"type": "str"},
        "phone": {"type": "str", "default": "none"},
        "password": {"type": "str", "default": "none"},
        "note": {"type": "str", "default": "none"},
    },
    "risk": "high",
}


def _config(tmp_path: Path, **sections: Any) -> Any:
    permissions = copy.deepcopy(EXAMPLE["permissions"])
    permissions["global"]["tools"] = [*permissions["global"]["tools"], "add_member"]
    merged = {"tools": [*EXAMPLE["tools"], ADD_MEMBER], "permissions": permissions, **sections}
    return make_config(tmp_path, **merged)


def _approve_token(chat: FakeChat, user: str) -> str:
    cards = chat.cards(user)
    assert cards and cards[-1].card is not None, f"no card for {user}"
    return cards[-1].card.approve_token


def _closed(chat: FakeChat) -> list[Outcome]:
    """Edits of run cards that closed them."""
    return [o for o in chat.sent if o.edit is not None and o.card is not None]


async def _runs(app: App, user: str = BOB) -> int:
    assert app.db is not None
    return len(await app.db.runs.for_user(user, 100))


async def _rows(app: App) -> list[Any]:
    assert app.db is not None
    return await app.db.audit.tail(200)


CHANGES = [
    # (what the admin says, reason written for the withdrawn request, words on the card)
    ("/ban console:local:bob", Reason.BANNED, "banned"),
    ("/revoke console:local:bob restart_service", Reason.DENIED_BY_USER, "may not use"),
    ("/pair revoke console:local:bob", Reason.UNKNOWN_USER, "not paired"),
    ("/lockdown incident", Reason.LOCKDOWN, "locked the bot down"),
]


@pytest.mark.parametrize(
    ("change", "reason", "words"), CHANGES, ids=["ban", "revoke", "unpair", "lockdown"]
)
async def test_admin_change_withdraws_the_waiting_request_at_once(
    start_app: AppFactory, chat: FakeChat, change: str, reason: Reason, words: str
) -> None:
    """Between park and press: the request is withdrawn at once, everyone told, the tap runs nothing."""
    app = await start_app()
    await pair(app, chat, "bob")
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    approve = _approve_token(chat, "carol")
    chat.clear()
    await app.handle(chat.message("admin", change))
    closed = _closed(chat)
    assert closed and all(
        o.card is not None and o.card.state is CardState.CANCELLED for o in closed
    )
    assert all(any(words in line for line in o.card.lines) for o in closed if o.card)
    assert all(
        not any(line.startswith("Expires") for line in o.card.lines) for o in closed if o.card
    )
    assert any("withdrawn and will not run" in t and words in t for t in chat.texts("bob"))
    assert any("withdrawn and will not run" in t for t in chat.texts("carol"))
    admin_row = [r for r in await _rows(app) if r.stage == "command"][-1]
    withdrawn = admin_row.detail.get("withdrawn") or {}
    assert list(withdrawn.values()) == [str(reason)]
    stop = await app.handle(chat.press("carol", approve))
    assert stop.reason == (Reason.LOCKDOWN if reason is Reason.LOCKDOWN else Reason.ALREADY_DECIDED)
    assert (await app.handle(chat.press("admin", approve))).reason == Reason.ALREADY_DECIDED
    assert await _runs(app) == 0


async def test_forget_withdraws_and_tells_the_card_readers(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """`/forget` between park and press: card closed without the user's key, readers told, nothing runs."""
    app = await start_app()
    await pair(app, chat, "bob")
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    approve = _approve_token(chat, "carol")
    chat.clear()
    await app.handle(chat.message("admin", "/forget console:local:bob"))
    closed = _closed(chat)
    assert closed and all(
        o.card is not None and o.card.state is CardState.CANCELLED for o in closed
    )
    assert all(BOB not in "\n".join(o.card.lines) for o in closed if o.card)
    assert any("data was erased" in t for t in chat.texts("carol"))
    assert (await app.handle(chat.press("carol", approve))).reason == Reason.TOKEN_INVALID
    assert await _runs(app) == 0


async def test_role_removal_withdraws_requests_of_someone_known_only_by_role(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """dave was known only as an approver; once the role is gone his waiting request is withdrawn."""
    app = await start_app()
    await app.handle(chat.message("admin", "/role add approver console:local:dave"))
    await app.handle(chat.message("dave", "/run restart_service service=web"))
    approve = _approve_token(chat, "carol")
    assert not chat.cards("dave")  # never a card to the requester
    chat.clear()
    await app.handle(chat.message("admin", "/role remove approver console:local:dave"))
    assert any("not paired" in t for t in chat.texts("dave"))
    assert (await app.handle(chat.press("carol", approve))).reason == Reason.ALREADY_DECIDED
    assert await _runs(app, "console:local:dave") == 0


async def test_tap_rechecks_a_grant_that_expired_while_waiting(
    start_app: AppFactory, chat: FakeChat, clock: Clock, tmp_path: Path
) -> None:
    """No admin command changed anything: the grant ran out. The tap decides again and refuses."""
    permissions = copy.deepcopy(EXAMPLE["permissions"])
    permissions["global"]["tools"] = ["hello"]
    app = await start_app(make_config(tmp_path, permissions=permissions))
    await pair(app, chat, "bob")
    await app.handle(chat.message("admin", "/grant console:local:bob restart_service for 5m"))
    stop = await app.handle(chat.message("bob", "/run restart_service service=api"))
    assert stop.reason == Reason.APPROVAL_REQUIRED
    approve = _approve_token(chat, "carol")
    clock.advance(minutes=6)
    chat.clear()
    stop = await app.handle(chat.press("carol", approve))
    assert stop.reason == Reason.NO_MATCHING_RULE
    assert "was not approved" in chat.last("carol") and "may not use" in chat.last("carol")
    assert any("withdrawn and will not run" in t for t in chat.texts("bob"))
    closed = _closed(chat)
    assert closed and all(
        o.card is not None and o.card.state is CardState.CANCELLED for o in closed
    )
    row = [r for r in await _rows(app) if r.stage == "decide"][-1]
    assert (row.reason, row.detail.get("recheck")) == ("no_matching_rule", "at_tap")
    assert await _runs(app) == 0


async def test_tap_rechecks_a_ban_made_by_another_process(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """A ban written to storage by another process (no sweep here) is seen at the tap, uncached."""
    app = await start_app()
    await pair(app, chat, "bob")
    await app.handle(chat.message("bob", "/run hello who=bob"))  # the bot has bob cached now
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    approve = _approve_token(chat, "carol")
    assert app.db is not None
    await app.db.identities.set_status(BOB, "banned", now=app.clock(), by="other-process")
    stop = await app.handle(chat.press("carol", approve))
    assert stop.reason == Reason.BANNED
    assert await _runs(app) == 1  # only the hello before


async def test_tap_rechecks_the_budget(start_app: AppFactory, chat: FakeChat) -> None:
    """The requester used up today's runs while the request waited: it is withdrawn, not run."""
    app = await start_app()
    await pair(app, chat, "bob")
    await app.handle(chat.message("admin", "/limits console:local:bob runs=1"))
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    approve = _approve_token(chat, "carol")
    assert (await app.handle(chat.message("bob", "/run hello who=bob"))).reason == Reason.EXECUTED
    stop = await app.handle(chat.press("carol", approve))
    assert stop.reason == Reason.BUDGET_EXHAUSTED
    assert "run budget" in chat.last("carol")
    assert await _runs(app) == 1


async def test_ban_between_the_tap_and_the_run_stops_it(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """A ban landing after the approval but before the run: decided again at the claim, withdrawn."""
    app = await start_app()
    await pair(app, chat, "bob")
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    approve = _approve_token(chat, "carol")
    assert app.db is not None
    db = app.db

    async def ban_when_approved(outcome: Outcome) -> None:
        if "running it now" in outcome.text:
            await db.identities.set_status(BOB, "banned", now=app.clock(), by="other-process")

    chat.on_send = ban_when_approved
    stop = await app.handle(chat.press("carol", approve))
    chat.on_send = None
    assert stop.reason == Reason.BANNED
    assert any("withdrawn and will not run" in t for t in chat.texts("bob"))
    final = [o for o in _closed(chat) if o.card is not None][-1]
    assert final.card is not None and final.card.state is CardState.CANCELLED
    approval = (await db.approvals.pending()) or None
    assert approval is None
    row = [r for r in await _rows(app) if r.stage == "execute"][-1]
    assert (row.reason, row.detail.get("recheck")) == ("banned", "before_run")
    assert await _runs(app) == 0


async def _link(app: App, chat: FakeChat, a: str, b: str) -> str:
    """`a` asks to link `b`; `b` confirms; returns what b was told."""
    await app.handle(chat.message(a, f"/link console:local:{b}"))
    code = re.search(r"/link confirm (\S+) ", chat.last(a))
    assert code is not None
    await app.handle(chat.message(b, f"/link confirm {code.group(1)}"))
    return chat.last(b)


async def test_linked_identity_cannot_approve_its_own_request(
    start_app: AppFactory, chat: FakeChat, tmp_path: Path
) -> None:
    """carol and carol2 are both approvers; once linked (an admin approved), carol2 cannot approve carol."""
    roles = {
        "admins": ["console:local:admin"],
        "approvers": ["console:local:carol", "console:local:carol2"],
    }
    app = await start_app(_config(tmp_path, roles=roles))
    told = await _link(app, chat, "carol", "carol2")
    assert "an admin must approve" in told
    number = re.search(r"/link approve (\d+)", chat.last("admin"))
    assert number is not None
    assert (
        await app.handle(chat.message("carol", f"/link approve {number.group(1)}"))
    ).reason == Reason.NOT_ADMIN
    await app.handle(chat.message("admin", f"/link approve {number.group(1)}"))
    assert "linked as one person" in chat.last("carol2")
    chat.clear()
    await app.handle(chat.message("carol", "/run restart_service service=api"))
    assert not chat.cards("carol2")  # never to the requester's other identities
    approve = _approve_token(chat, "admin")
    stop = await app.handle(chat.press("carol2", approve))
    assert stop.reason == Reason.SELF_APPROVAL
    assert await _runs(app, "console:local:carol") == 0
    assert (await app.handle(chat.press("admin", approve))).reason == Reason.EXECUTED


async def test_two_linked_admins_cannot_approve_a_critical_tool(
    start_app: AppFactory, chat: FakeChat, tmp_path: Path
) -> None:
    """The two-person rule holds across linked admin accounts: a third admin must approve."""
    admins = ["console:local:admin", "console:local:admin2", "console:local:root"]
    app = await start_app(_config(tmp_path, roles={"admins": admins, "approvers": []}))
    await _link(app, chat, "admin", "admin2")
    number = re.search(r"/link approve (\d+)", chat.last("root"))
    assert number is not None
    assert (
        await app.handle(chat.message("admin2", f"/link approve {number.group(1)}"))
    ).reason == Reason.SELF_APPROVAL  # a side of the link cannot approve it
    await app.handle(chat.message("root", f"/link approve {number.group(1)}"))
    chat.clear()
    await app.handle(chat.message("admin", "/run drop_cache"))
    assert not chat.cards("admin2")
    approve = _approve_token(chat, "root")
    assert (await app.handle(chat.press("admin2", approve))).reason == Reason.SELF_APPROVAL
    assert await _runs(app, "console:local:admin") == 0
    assert (await app.handle(chat.press("root", approve))).reason == Reason.EXECUTED


async def test_critical_tool_with_one_admin_names_the_real_reason(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """The only admin asks for a critical tool: refused because only another admin may approve it."""
    app = await start_app()
    stop = await app.handle(chat.message("admin", "/run drop_cache"))
    assert stop.reason == Reason.NO_OTHER_ADMIN
    assert "only another admin may approve it" in chat.last("admin")
    assert "no approver can be reached" not in chat.last("admin")


async def test_revoke_on_one_linked_identity_binds_the_person(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """A revoke on bob2 also denies bob: the most restrictive of the links wins."""
    app = await start_app()
    await pair(app, chat, "bob")
    await pair(app, chat, "bob2")
    assert "Linked with" in await _link(app, chat, "bob", "bob2")  # no role: no admin needed
    await app.handle(chat.message("admin", "/revoke console:local:bob2 hello"))
    stop = await app.handle(chat.message("bob", "/run hello who=bob"))
    assert stop.reason == Reason.DENIED_BY_USER
    assert await _runs(app) == 0


async def test_ban_on_a_linked_identity_binds_the_person(
    start_app: AppFactory, chat: FakeChat
) -> None:
    """Banning bob2 refuses bob too (and withdraws bob's waiting request)."""
    app = await start_app()
    await pair(app, chat, "bob")
    await pair(app, chat, "bob2")
    await _link(app, chat, "bob", "bob2")
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    await app.handle(chat.message("admin", "/ban console:local:bob2"))
    assert any("withdrawn" in t and "banned" in t for t in chat.texts("bob"))
    assert (await app.handle(chat.message("bob", "/whoami"))).reason == Reason.BANNED


async def test_card_shows_every_argument_exactly(
    start_app: AppFactory, chat: FakeChat, tmp_path: Path
) -> None:
    """Email, phone and password shaped values are on the card as passed; look-alikes are spelled out."""
    app = await start_app(_config(tmp_path), env=ENV)
    await pair(app, chat, "bob")
    text = (
        '/run add_member email=mallory@evil.example phone="+1 415 555 0100" '
        "password=password=hunter2 note=аpi"
    )
    assert (await app.handle(chat.message("bob", text))).reason == Reason.APPROVAL_REQUIRED
    card = chat.cards("carol")[-1].card
    assert card is not None
    body = "\n".join(card.lines)
    assert '  email = "mallory@evil.example"' in body
    assert '  phone = "+1 415 555 0100"' in body
    assert '  password = "password=hunter2"' in body
    assert 'note = "аpi" (spelled: "\\u0430pi")' in body
    assert "[REDACTED" not in body
    assert f'Requested by "bob": {BOB}' in body
    assert "Tool: add_member (high risk)" in body
    assert "Needs approval because: autonomy supervised x risk high" in body
    assert any(line.startswith("Expires at") for line in card.lines)
    await app.handle(chat.press("carol", card.approve_token))
    decided = [o for o in _closed(chat) if o.card is not None][-1].card
    assert decided is not None and decided.state is CardState.APPROVED
    assert not any(line.startswith("Expires") for line in decided.lines)
    assert "mallory@evil.example" in "\n".join(decided.lines)


async def test_argument_holding_a_configured_secret_is_refused_not_parked(
    start_app: AppFactory, chat: FakeChat, tmp_path: Path
) -> None:
    """A request whose argument holds a configured secret value never becomes a card."""
    app = await start_app(_config(tmp_path), env=ENV)
    await pair(app, chat, "bob")
    chat.clear()
    secret = ENV["DEMO_API_KEY"]
    stop = await app.handle(chat.message("bob", f"/run add_member email=x note=pre{secret}post"))
    assert stop.reason == Reason.SECRET_IN_ARGUMENTS
    assert not chat.cards("carol") and not chat.cards("admin")
    assert all(
        secret not in t for o in chat.sent for t in (o.text, *(o.card.lines if o.card else ()))
    )
    assert "configured secret" in chat.last("bob")
    assert app.db is not None and await app.db.approvals.pending() == []


async def test_explain_in_chat_says_every_reason(start_app: AppFactory, chat: FakeChat) -> None:
    """/explain runs the pipeline's decision: unpaired, malformed, needs approval, critical with one admin."""
    app = await start_app()
    await app.handle(chat.message("admin", "/explain console:local:bob hello"))
    assert "decision: DENY (unknown_user)" in chat.last("admin")
    await app.handle(chat.message("admin", "/explain bob hello"))
    assert "invalid_identity" in chat.last("admin")
    await pair(app, chat, "bob")
    await app.handle(
        chat.message("admin", "/explain console:local:bob restart_service service=api")
    )
    answer = chat.last("admin")
    assert "decision: NEEDS APPROVAL" in answer and "console:local:carol" in answer
    await app.handle(chat.message("admin", "/explain console:local:admin drop_cache"))
    assert "only another admin may approve it" in chat.last("admin")
    assert (
        await app.handle(chat.message("bob", "/explain console:local:bob hello"))
    ).reason == Reason.NOT_ADMIN


async def test_a_link_that_waits_for_an_admin_expires(
    start_app: AppFactory, chat: FakeChat, clock: Clock
) -> None:
    """A link involving a role that no admin approved within a day cannot be approved later."""
    app = await start_app()
    await pair(app, chat, "bob")
    told = await _link(app, chat, "carol", "bob")  # carol is an approver
    assert "an admin must approve" in told
    number = re.search(r"/link approve (\d+)", chat.last("admin"))
    assert number is not None
    clock.advance(days=2)
    await app.handle(chat.message("admin", f"/link approve {number.group(1)}"))
    assert "expire" in chat.last("admin")
    await app.handle(chat.message("admin", "/whois console:local:bob"))
    assert "linked with: nobody" in chat.last("admin")


SLOW = {
    "name": "slow",
    "kind": "python",
    "code": "import time\ntime.sleep(20)",
    "risk": "low",
    "timeout": 30,
}


async def test_an_approved_request_that_cannot_start_is_withdrawn_not_left_approved(
    start_app: AppFactory, chat: FakeChat, tmp_path: Path
) -> None:
    """The requester is at their concurrency limit when the approval lands: withdrawn with the reason."""
    permissions = copy.deepcopy(EXAMPLE["permissions"])
    permissions["global"]["tools"] = [*permissions["global"]["tools"], "slow"]
    app = await start_app(
        make_config(tmp_path, tools=[*EXAMPLE["tools"], SLOW], permissions=permissions)
    )
    await pair(app, chat, "bob")
    await app.handle(chat.message("admin", "/limits console:local:bob concurrency=1"))
    await app.handle(chat.message("bob", "/run restart_service service=api"))
    approve = _approve_token(chat, "carol")
    assert app.services is not None
    services = app.services
    running = asyncio.ensure_future(app.handle(chat.message("bob", "/run slow")))
    await chat.wait_for(lambda: bool(services.sandbox.live_runs()))
    stop = await app.handle(chat.press("carol", approve))
    assert stop.reason == Reason.CONCURRENCY_USER
    assert any("most runs in flight" in t and "withdrawn" in t for t in chat.texts("bob"))
    closed = [o for o in _closed(chat) if o.card is not None][-1]
    assert closed.card is not None and closed.card.state is CardState.CANCELLED
    assert app.db is not None
    public_id = closed.card.approval_id
    approval = await app.db.approvals.get_by_public_id(public_id)
    assert approval is not None  # not left approved and unrun
    assert (approval.status, approval.reason) == ("cancelled", "concurrency_user")
    row = [r for r in await _rows(app) if r.stage == "execute"][-1]
    assert row.reason == "concurrency_user" and row.detail.get("withdrawn")
    for run in services.sandbox.live_runs():
        await services.sandbox.kill(run.run_id)
    await running
