"""Table-driven tests for personal data: e-mail, phone, card, IBAN, SSN, IP."""

from __future__ import annotations

import pytest

from policy.redaction import ALL_PII, RedactionConfig, Redactor
from policy.redaction.pii import iban_ok, luhn_ok

R = Redactor(RedactionConfig(secrets=False))

FOUND = [
    ("email", "mail jane.doe+ops@example.co.uk now", "jane.doe+ops@example.co.uk", "email"),
    ("phone e164", "call +14155552671 today", "+14155552671", "phone"),
    ("phone uk spaced", "tel: +44 20 7946 0958", "+44 20 7946 0958", "phone"),
    ("phone german dashes", "Tel. +49-30-1234567", "+49-30-1234567", "phone"),
    ("phone us national", "(415) 555-2671", "(415) 555-2671", "phone"),
    ("visa spaced", "card 4111 1111 1111 1111 exp", "4111 1111 1111 1111", "card"),
    ("mastercard compact", "pan=5555555555554444;", "5555555555554444", "card"),
    ("amex dashed", "3782-822463-10005", "3782-822463-10005", "card"),
    ("iban compact", "IBAN DE89370400440532013000", "DE89370400440532013000", "iban"),
    ("iban spaced", "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", "iban"),
    ("ssn", "ssn 123-45-6789", "123-45-6789", "ssn"),
    ("ssn at start", "123-45-6789 on file", "123-45-6789", "ssn"),
    ("phone us dashed at start", "415-555-2671 called", "415-555-2671", "phone"),
    ("phone us dotted", "tel 415.555.2671.", "415.555.2671", "phone"),
    ("public ipv4", "from 93.184.216.34:443", "93.184.216.34", "ip"),
    ("public ipv6", "peer 2001:4860:4860::8888 up", "2001:4860:4860::8888", "ip"),
    (
        "public ipv6 after code with colons",
        "x = a[::2]; d = {1:2} " * 50 + "peer [2606:4700:4700::1111]:443",
        "2606:4700:4700::1111",
        "ip",
    ),
]

KEPT = [
    ("iso timestamp", "2026-11-22T22:19:11.123Z took 1234ms"),
    ("log timestamp", "Nov 22 22:19:11 host sshd[1234]: ok"),
    ("date", "released 2024-01-31, next 31/01/2025"),
    ("version", "version 1.2.3.4 and v10.0.19041.1"),
    ("uuid", "request_id=550e8400-e29b-41d4-a716-446655440000"),
    ("git sha", "commit 9a038989604e8da62ecddbe2094b16ce1b778be1"),
    ("sha256", "sha256:eaaa7b11777babe28e6133a8b19ff71cea687e0d7f05158dee95a71f76ce3d00"),
    ("epoch millis", "ts=1700000000000 n=4111111111111112"),
    ("order id", "order ORD-2026-000123 total 12.50 EUR"),
    ("price", "price: $1,299.99"),
    ("port", "listening on 127.0.0.1:8080 and 0.0.0.0:443"),
    ("private ips", "10.0.0.1 192.168.1.20 172.16.0.1 169.254.169.254"),
    ("path", "/var/log/app/2026-11-22.log"),
    ("time with colons", "12:34:56 and 2026-11-22 22:19"),
    ("invalid iban", "DE89370400440532013001"),
    ("invalid card", "4111 1111 1111 1112"),
    ("mac address", "ether 00:1a:2b:3c:4d:5e"),
    ("package spec", "strict-uri-encode@npm:2.0.0"),
    ("ssn glued to a word", "a123-45-6789"),
    ("phone with a longer area", "1415-555-2671 and 415-555-26710"),
]


@pytest.mark.parametrize(
    ("text", "value", "kind"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND]
)
def test_pii_is_redacted(text: str, value: str, kind: str) -> None:
    """Each PII kind is replaced and typed."""
    result = R.redact(text)
    assert value not in result.text
    assert kind in result.counts


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_ordinary_technical_text_is_kept(text: str) -> None:
    """Dates, versions, ids, digests, prices, ports and private addresses stay as they are."""
    assert R.redact_text(text) == text


@pytest.mark.parametrize("kind", sorted(ALL_PII))
def test_each_pii_kind_can_be_switched_off(kind: str) -> None:
    """With one kind switched off, only that kind survives."""
    text = {c[3]: c[1] for c in FOUND}[kind]
    value = {c[3]: c[2] for c in FOUND}[kind]
    only_off = Redactor(RedactionConfig(secrets=False, pii=ALL_PII - {kind}))
    assert value in only_off.redact_text(text)


@pytest.mark.parametrize(
    ("digits", "ok"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True)],
    ids=["visa", "bad check digit", "classic example"],
)
def test_luhn(digits: str, ok: bool) -> None:
    """The Luhn check accepts valid numbers and rejects a changed digit."""
    assert luhn_ok(digits) is ok


@pytest.mark.parametrize(
    ("iban", "ok"),
    [("DE89370400440532013000", True), ("DE89370400440532013001", False), ("XX00", False)],
    ids=["valid", "bad check", "too short"],
)
def test_iban_mod97(iban: str, ok: bool) -> None:
    """The mod-97 check accepts valid IBANs only."""
    assert iban_ok(iban) is ok
