"""Which identifiers hold secrets: `password`, `dbPassword`, `SLACK_BOT_TOKEN`, `api_key`, ...

An identifier is split into words (snake, kebab, dotted and camel case); it names a secret when
a word is password-like or token-like, unless a word negates it (`public`, `csrf`, `fake`) or
its last word says it holds something else (`_id`, `_url`, `_file`, `_length`). A bare `key`
is a weak hint: the caller then asks for a value that looks random.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["is_secret_name", "name_class"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SESSION_LAST = frozenset({"session", "sessionid", "cookie", "id", "key", "token", "value"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+[a-z]*")
_PASSWORD_PARTS = ("passw", "passphrase")
_TOKEN_PARTS = (
    "token",
    "secret",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "authkey",
)
_PASSWORD_WORDS = _words(
    """
    pass passwd pw pwd
    """
)
_TOKEN_WORDS = _words(
    """
    auth cred creds pat tokens
    """
)
_DENY_LAST = _words(
    """
    account algo algorithm arn at attempts bucket chars checksum class count date digest dir
    directory email enabled endpoint env event events example expiration expire expires
    expiry factory field fields file files fingerprint format generator handler hash header
    headers helper host id ids index kind label len length limit location login manager max
    md method min mock mode module ms name names pair param params parser path paths pattern
    policy port prefix provider ref refs regex region required reset retries rotation scheme
    seconds service sha size source spec state status store str suffix template test tests
    time timeout timestamp ttl type types uri url urls user username util utils uuid valid
    validator var version
    """
)
_NEGATING = _words(
    """
    authenticity author csrf dummy example fake invalid mock non nonmatching not pub public
    publishable sample wrong xsrf
    """
)
_GENERIC_KEY = _words(
    """
    a cache column composite config dict entry field foreign gpg group ha hash host hot i18n
    idempotency index issuer item kms long lookup map message my node object other partition
    pgp primary pub public redis registry routing row schema sequence shard short sign some
    sort ssh state the translation unique verify
    """
)


@lru_cache(maxsize=4096)
def name_class(ident: str) -> str | None:
    """'password', 'token', 'weak' (a bare key), 'session' or None (holds no secret).

    Session ids and cookies are credentials too, so `session_id`/`sessionid`/`cookie` are
    'session': redacted in text when the value looks random, but not replaced whole as fields.
    """
    words = [w.lower() for w in _WORD.findall(ident)]
    words = [w for w in words if not w.isdigit()]
    if not words or any(w in _NEGATING for w in words):
        return None
    if ("session" in words or "sessionid" in words or "cookie" in words) and words[
        -1
    ] in _SESSION_LAST:
        return "session"
    if words[-1] in _DENY_LAST:
        return None
    joined = "".join(words)
    if any(p in w for w in words for p in _PASSWORD_PARTS) or any(
        w in _PASSWORD_WORDS for w in words
    ):
        return "password"
    if any(p in joined for p in _TOKEN_PARTS) or any(w in _TOKEN_WORDS for w in words):
        return "token"
    if words[-1] in ("key", "keys"):
        if len(words) == 1 or words[-2] in _GENERIC_KEY:
            return "weak"
        return "token"
    return None


def is_secret_name(name: str) -> bool:
    """Whether a field or variable called `name` holds a secret (`api_key`, `dbPassword`, ...)."""
    return name_class(name) in ("password", "token")
