"""Tests for pairing codes, issuing limits and per-sender lockout in policy/pairing.py."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from policy.pairing import (
    ALPHABET,
    CodeCheck,
    PairingRules,
    check_code_attempt,
    hash_code,
    is_locked_out,
    locked_until,
    looks_like_code,
    may_issue,
    new_code,
    normalize_code,
    prune_failures,
    same_hash,
)
from policy.reasons import Reason

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULES = PairingRules()
PEPPER = b"pepper-for-tests"
CODE = "ABCD2345"
GOOD = hash_code(CODE, PEPPER)


def mins(m: float) -> datetime:
    """A time `m` minutes after T0."""
    return T0 + timedelta(minutes=m)


def test_new_codes_use_the_alphabet_and_do_not_repeat() -> None:
    """Codes are 8 characters from the unambiguous alphabet, and fresh each time."""
    codes = {new_code() for _ in range(1000)}
    assert len(codes) == 1000
    for code in codes:
        assert re.fullmatch(f"[{ALPHABET}]{{8}}", code)
        assert looks_like_code(code)
    assert not set("0O1IL") & set(ALPHABET)


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("ABCD2345", "ABCD2345"),
        ("abcd2345", "ABCD2345"),
        ("abcd-2345", "ABCD2345"),
        (" ab cd\t23-45\n", "ABCD2345"),
        ("", ""),
    ],
    ids=["canonical", "lower", "dash", "spaces-tabs-newline", "empty"],
)
def test_normalize_code(typed: str, normalized: str) -> None:
    """Case, spaces and dashes do not matter."""
    assert normalize_code(typed) == normalized


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abcd-2345", True),
        ("ABCD234", False),
        ("ABCD23450", False),
        ("ABCD0345", False),
        ("ABCDI345", False),
    ],
    ids=["typed-form", "too-short", "too-long", "zero", "letter-i"],
)
def test_looks_like_code(text: str, expected: bool) -> None:
    """Only 8 characters of the alphabet (after normalizing) look like a code."""
    assert looks_like_code(text) is expected


def test_hash_depends_on_pepper_and_normalized_code() -> None:
    """Typing variants hash the same; another pepper or code hashes differently; no plain code."""
    assert hash_code("abcd-2345", PEPPER) == GOOD
    assert hash_code(CODE, b"other") != GOOD
    assert hash_code("ABCD2346", PEPPER) != GOOD
    assert re.fullmatch(r"[0-9a-f]{64}", GOOD)
    assert CODE not in GOOD
    assert same_hash(GOOD, hash_code(" abcd 2345 ", PEPPER))
    assert not same_hash(GOOD, hash_code("ABCD2346", PEPPER))


def test_hash_refuses_empty_pepper() -> None:
    """Without a pepper the hash of a 40-bit code could be brute-forced offline."""
    with pytest.raises(ValueError, match="pepper"):
        hash_code(CODE, b"")


ISSUE = [
    # pending, last_issued, has_live, now, expected
    (0, None, False, T0, Reason.PAIRING_CODE_ISSUED),
    (2, None, False, T0, Reason.PAIRING_CODE_ISSUED),
    (3, None, False, T0, Reason.PAIRING_TOO_MANY_PENDING),
    (3, mins(-30), True, T0, Reason.PAIRING_CODE_ISSUED),
    (4, mins(-30), True, T0, Reason.PAIRING_TOO_MANY_PENDING),
    (0, mins(-9.99), True, T0, Reason.PAIRING_CODE_REISSUE_TOO_SOON),
    (0, mins(-10), True, T0, Reason.PAIRING_CODE_ISSUED),
    (0, mins(-5), False, T0, Reason.PAIRING_CODE_REISSUE_TOO_SOON),
    (0, mins(5), False, T0, Reason.PAIRING_CODE_REISSUE_TOO_SOON),
    (9, mins(-1), True, T0, Reason.PAIRING_CODE_REISSUE_TOO_SOON),
]


@pytest.mark.parametrize(
    ("pending", "last", "live", "now", "expected"),
    ISSUE,
    ids=[
        "first",
        "below-cap",
        "cap-reached",
        "reissue-replaces-own-code",
        "reissue-but-cap-full-of-others",
        "reissue-too-soon",
        "reissue-at-boundary",
        "too-soon-even-without-live-code",
        "last-issued-in-future",
        "too-soon-reported-first",
    ],
)
def test_may_issue(
    pending: int, last: datetime | None, live: bool, now: datetime, expected: Reason
) -> None:
    """Each row is one issuing rule."""
    got = may_issue(
        rules=RULES,
        now=now,
        pending_on_platform=pending,
        last_issued_to_sender=last,
        sender_has_live_code=live,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("count", "expected"), [(0, False), (4, False), (5, True), (50, True)], ids=str
)
def test_is_locked_out_by_count(count: int, expected: bool) -> None:
    """The count-based check locks at max_failures failures in the window."""
    assert is_locked_out(rules=RULES, now=T0, failures_in_window=count) is expected


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        ([], None),
        ([mins(0), mins(1), mins(2), mins(3)], None),
        ([mins(0), mins(1), mins(2), mins(3), mins(4)], mins(19)),
        ([mins(0), mins(4), mins(8), mins(12), mins(15)], mins(30)),
        ([mins(0), mins(4), mins(8), mins(12), mins(15.01)], None),
        ([mins(4), mins(0), mins(3), mins(1), mins(2)], mins(19)),
        (
            [
                mins(0),
                mins(1),
                mins(2),
                mins(3),
                mins(4),
                mins(30),
                mins(31),
                mins(32),
                mins(33),
                mins(34),
            ],
            mins(49),
        ),
    ],
    ids=[
        "none",
        "four",
        "five-in-window",
        "window-boundary",
        "spread-too-wide",
        "unsorted",
        "second-burst",
    ],
)
def test_locked_until(failures: list[datetime], expected: datetime | None) -> None:
    """Lockout starts at max_failures within the window and lasts `lockout` after the last."""
    assert locked_until(rules=RULES, failures=failures) == expected


def attempt(
    failures: tuple[datetime, ...], now: datetime, typed: str, *, expires: datetime | None = None
) -> CodeCheck:
    """One attempt against the pending code CODE, live for an hour from T0 by default."""
    candidate = hash_code(typed, PEPPER)
    stored = GOOD if same_hash(candidate, GOOD) else None  # what a lookup by hash would find
    return check_code_attempt(
        rules=RULES,
        now=now,
        failures=failures,
        candidate_hash=candidate,
        stored_hash=stored,
        expires_at=expires if expires is not None else mins(60),
    )


def test_right_code_approves_and_clears_failures() -> None:
    """A right, live code passes, typed in any case, and wipes the sender's failures."""
    got = attempt((mins(0), mins(1)), mins(2), "abcd-2345")
    assert got.ok
    assert got == CodeCheck(reason=Reason.PAIRING_APPROVED, failures=())


def test_right_but_expired_code_is_not_a_failure() -> None:
    """An expired code is refused as expired and does not count toward a lockout."""
    got = attempt((), mins(61), CODE)
    assert got.reason is Reason.PAIRING_CODE_EXPIRED
    assert got.failures == ()
    at_expiry = attempt((), mins(60), CODE)
    assert at_expiry.reason is Reason.PAIRING_CODE_EXPIRED


def test_five_wrong_codes_lock_the_sender_out_even_for_the_right_code() -> None:
    """The fifth failure locks out; during the lockout even the right code is refused."""
    failures: tuple[datetime, ...] = ()
    reasons = []
    for minute in range(5):
        check = attempt(failures, mins(minute), "WRONG222")
        failures = check.failures
        reasons.append(check.reason)
    assert reasons == [Reason.PAIRING_CODE_INVALID] * 4 + [Reason.PAIRING_LOCKED_OUT]
    locked = attempt(failures, mins(18.9), CODE)
    assert locked.reason is Reason.PAIRING_LOCKED_OUT
    assert locked.locked_until == mins(19)
    assert locked.failures == failures  # refused attempts do not extend the lockout
    assert attempt(failures, mins(19), CODE).ok


def test_lockout_is_per_sender() -> None:
    """Another sender with no failures of their own is not locked out by someone else's."""
    attacker = tuple(mins(m) for m in range(5))
    assert attempt(attacker, mins(6), CODE).reason is Reason.PAIRING_LOCKED_OUT
    assert attempt((), mins(6), CODE).ok


def test_no_pending_code_counts_as_failure() -> None:
    """A code that matches nothing is a failure, not an error."""
    got = check_code_attempt(
        rules=RULES,
        now=T0,
        failures=(),
        candidate_hash=hash_code("ZZZZ2222", PEPPER),
        stored_hash=None,
        expires_at=None,
    )
    assert got.reason is Reason.PAIRING_CODE_INVALID
    assert got.failures == (T0,)


def test_old_failures_are_pruned() -> None:
    """Failures older than window + lockout are dropped from what is stored."""
    old = (mins(-31), mins(-29))
    assert prune_failures(rules=RULES, now=T0, failures=old) == (mins(-29),)
    got = attempt(old, T0, "WRONG222")
    assert got.failures == (mins(-29), T0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl": timedelta(0)},
        {"max_pending_per_platform": 0},
        {"max_failures": 0},
        {"failure_window": timedelta(0)},
        {"lockout": timedelta(seconds=-1)},
        {"reissue_after": timedelta(seconds=-1)},
    ],
    ids=["ttl", "pending", "failures", "window", "lockout", "reissue"],
)
def test_rules_refuse_nonsense(kwargs: dict[str, object]) -> None:
    """Limits that would disable a protection are a config error."""
    with pytest.raises(ValueError, match="must"):
        PairingRules(**kwargs)  # type: ignore[arg-type]


def _brute_locked(failures: list[datetime], now: datetime) -> bool:
    """Reference: locked iff some max_failures failures fit in the window and the last is recent."""
    times = sorted(failures)
    n = RULES.max_failures
    return any(
        times[i] - times[i - n + 1] <= RULES.failure_window and now < times[i] + RULES.lockout
        for i in range(n - 1, len(times))
    )


@pytest.mark.parametrize("seed", range(10), ids=lambda s: f"seed{s}")
def test_locked_until_agrees_with_brute_force(seed: int) -> None:
    """On random failure histories the lockout matches a direct reading of the rule."""
    rng = random.Random(seed)
    for _ in range(200):
        failures = [mins(rng.uniform(0, 60)) for _ in range(rng.randint(0, 9))]
        now = mins(rng.uniform(0, 90))
        until = locked_until(rules=RULES, failures=failures)
        assert (until is not None and now < until) == _brute_locked(failures, now)
        kept = prune_failures(rules=RULES, now=now, failures=failures)
        pruned_until = locked_until(rules=RULES, failures=kept)
        assert (pruned_until is not None and now < pruned_until) == _brute_locked(failures, now)


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed{s}")
def test_guessing_is_bounded(seed: int) -> None:
    """A sender guessing once a second for an hour has only 5 guesses judged per lockout."""
    rng = random.Random(seed)
    failures: tuple[datetime, ...] = ()
    judged = 0
    for second in range(3600):
        now = T0 + timedelta(seconds=second)
        guess = "".join(rng.choice(ALPHABET) for _ in range(8))
        check = attempt(failures, now, guess)
        assert not check.ok
        judged += now in check.failures  # the guess was compared, not refused unread
        failures = check.failures
    # 5 guesses, then 15 minutes locked after the fifth: at most 4 rounds fit in an hour
    assert judged == 5 * 4
