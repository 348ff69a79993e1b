"""Structured credentials: JWTs, PEM private keys, URL passwords, auth headers, curl -u, K8s secrets.

These formats are recognised by their shape rather than by a vendor prefix.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator

from .base import RuleSet, Span, rule
from .entropy import is_placeholder, looks_random

__all__ = ["STRUCTURED", "kubernetes_secrets", "private_keys"]

_WEAK_PASSWORDS = frozenset(
    {"password", "passwd", "pass", "secret", "token", "test", "user", "username", "changeme", "pwd"}
)


def _jwt_ok(value: str) -> bool:
    head = value.split(".", 1)[0]
    if not head.startswith("eyJ"):
        return True
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        return isinstance(json.loads(raw), dict)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False


def _password_ok(value: str) -> bool:
    v = value.strip("\"'{}")
    if len(v) < 6 or v.lower() in _WEAK_PASSWORDS or is_placeholder(v):
        return False
    return not v.startswith(("$", "<", "[", "{", "%"))


def _bearer_ok(value: str) -> bool:
    if "://" in value:
        return False
    return looks_random(value, min_len=12, min_entropy=2.8) or (
        len(value) >= 12 and value.startswith("ey")
    )


_URL_CRED = (
    r"://(?<=[A-Za-z0-9+.-]://)[^\s:/@\"'<>]{0,128}:(?P<v>[^\s@/\"'<>]{1,256})@(?=[A-Za-z0-9\[])"
)

STRUCTURED = RuleSet(
    [
        rule(
            "jwt",
            r"ey(?<![\w-]ey)[A-Za-z0-9_-]{8,8000}+\.ey[A-Za-z0-9_/+-]{8,8000}+\.?[A-Za-z0-9_/+=-]{0,4000}+",
            ".ey",
            check=_jwt_ok,
        ),
        rule(
            "jwt",
            r"ZXlK(?<![\w+/]ZXlK)[A-Za-z0-9+/]{40,8000}+={0,2}",
            "ZXlK",
        ),
        rule("url_password", _URL_CRED, "://", group="v", check=_password_ok),
        rule(
            "auth_header",
            r"(?<![A-Za-z0-9_])(?:bearer|token)\s{1,8}(?P<v>[A-Za-z0-9._~+/=:-]{12,8000})",
            "bearer",
            "token",
            group="v",
            check=_bearer_ok,
            nocase=True,
            anchored=True,
        ),
        rule(
            "auth_header",
            r"(?<![A-Za-z0-9_])basic\s{1,8}(?P<v>[A-Za-z0-9+/]{8,4000}={0,2})(?![\w+/=])",
            "basic",
            group="v",
            check=lambda v: not is_placeholder(v) and len(v) >= 8,
            nocase=True,
        ),
        rule(
            "auth_header",
            r"(?i)authorization[\"']?\s*:\s*(?P<v>[A-Za-z0-9._~+/=-]{12,8000})",
            "authorization",
            group="v",
            check=lambda v: v.lower() not in ("bearer", "basic") and _bearer_ok(v),
            nocase=True,
        ),
        rule(
            "curl_password",
            r"(?<=\s)(?:-u|--user)[ =]{1,8}[\"']?(?:[^\s\"':<]{0,128}):(?P<v>[^\s\"']{1,128})[\"']?",
            "-u",
            "--user",
            anchored=True,
            group="v",
            check=_password_ok,
        ),
        rule(
            "curl_password",
            r"(?<=\s)(?:-u|--user)[ =]{1,8}\"\{?[^\s\"]{0,128}\"?:\"(?P<v>[^\"\n]{1,128})\"",
            "-u",
            "--user",
            anchored=True,
            group="v",
            check=_password_ok,
        ),
        rule(
            "connection_string_password",
            r"(?<![\w.-])(?:password|pwd)\s{0,8}=\s{0,8}(?P<v>[^;\"'\s]{1,256})",
            "password",
            "pwd",
            group="v",
            check=lambda v: not is_placeholder(v),
            nocase=True,
        ),
        rule(
            "config_password",
            r"(?i)<add\s+key=\"[^\"]{0,64}(?:password|secret|token|apikey)[^\"]{0,64}\"\s+"
            r"value=\"(?P<v>[^\"]{1,512})\"",
            "<add",
            group="v",
            check=lambda v: len(v) >= 6 and not is_placeholder(v) and not v.startswith("%"),
            nocase=True,
        ),
    ]
)

_PEM_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(
    r"(?:[ \t]{0,64}(?!-----)[A-Za-z0-9+/=:,\- ]{0,200}\\?(?:\r?\n|\\n))*+[ \t]{0,64}"
    r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
)
_B64_RUN = re.compile(r"[A-Za-z0-9+/=]{16,}")
_B64_LINES = re.compile(r"(?:[ \t]*[A-Za-z0-9+/=]{16,200}[ \t]*(?:\r?\n|\\n|$))+")


def private_keys(text: str, lowered: str) -> Iterator[Span]:
    """PEM private key blocks, including ones cut off before their END line."""
    if "PRIVATE KEY" not in text:
        return
    pos = 0
    while True:
        m = _PEM_BEGIN.search(text, pos)
        if m is None:
            return
        limit = min(len(text), m.end() + 65536)
        end_m = _PEM_BODY.match(text, m.end(), limit)
        body_start = m.end()
        if end_m is not None:
            body = text[body_start : end_m.start() + end_m.group(0).find("-----END")]
            if _B64_RUN.search(body):
                yield (m.start(), end_m.end(), "private_key")
            pos = end_m.end()
            continue
        nl = re.match(r"(?:\r?\n|\\n)", text[body_start : body_start + 2])
        tail = _B64_LINES.match(text, body_start + (nl.end() if nl else 0), limit)
        if tail is not None and tail.end() > tail.start():
            yield (m.start(), tail.end(), "private_key")
            pos = tail.end()
        else:
            pos = m.end()


_K8S_KIND = re.compile(r"(?im)^\s*kind:\s*['\"]?secret['\"]?\s*$")
_K8S_DATA = re.compile(r"(?m)^(?P<indent>[ \t]*)(?:data|stringData):[ \t]*$")
_K8S_ITEM = re.compile(
    r"(?m)^(?P<indent>[ \t]+)[\w.-]{1,253}:[ \t]*(?:[|>][-+]?[ \t]*\r?\n[ \t]+)?"
    r"['\"]?(?P<v>[A-Za-z0-9+/]{12,65536}={0,2})['\"]?[ \t]*$"
)


def kubernetes_secrets(text: str, lowered: str) -> Iterator[Span]:
    """Base64 values under `data:` in a Kubernetes `kind: Secret` manifest."""
    if "secret" not in lowered or "data:" not in text or not _K8S_KIND.search(text):
        return
    for data in _K8S_DATA.finditer(text):
        base = len(data.group("indent").expandtabs())
        pos = data.end()
        for item in _K8S_ITEM.finditer(text, pos, min(len(text), pos + 262144)):
            gap = text[pos : item.start()]
            if any(
                line.strip()
                and len(line) - len(line.lstrip()) <= base
                and not line.lstrip().startswith("#")
                for line in gap.split("\n")[1:]
            ):
                break
            if len(item.group("indent").expandtabs()) <= base:
                break
            if len(item.group("v")) % 4 == 0:
                yield (item.start("v"), item.end("v"), "kubernetes_secret")
            pos = item.end()
