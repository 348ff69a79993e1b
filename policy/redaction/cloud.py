"""Cloud provider credentials: AWS, Google Cloud, Azure, Alibaba, IBM and friends.

One rule per format; each starts at a token boundary and has bounded quantifiers.
"""

from __future__ import annotations

from .base import RuleSet, rule
from .entropy import is_masked

__all__ = ["CLOUD"]

_B = r"(?<![A-Za-z0-9_])"
_E = r"(?![A-Za-z0-9_])"


def _real(value: str) -> bool:
    return not is_masked(value[4:])


CLOUD = RuleSet(
    [
        rule(
            "aws_access_key",
            _B + r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}" + _E,
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "A3T",
            check=_real,
        ),
        rule(
            "aws_bedrock_key",
            _B + r"ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{100,400}={0,2}",
            "ABSKQmVkcm9ja0FQSUtleS",
            check=_real,
        ),
        rule(
            "aws_bedrock_key",
            r"bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=%&_.-]{0,2000}",
            "bedrock-api-key-",
        ),
        rule(
            "aws_secret_key",
            r"(?i)aws.{0,20}?(?:secret|private).{0,20}?['\"]?\s*[:=]\s*['\"]?"
            r"(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
            "aws",
            group="v",
            check=lambda v: not is_masked(v),
            nocase=True,
        ),
        rule("gcp_api_key", _B + r"AIza[\w-]{35}(?![\w-])", "AIza", check=_real),
        rule(
            "gcp_service_account_key",
            r'"private_key_id"\s*:\s*"(?P<v>[a-f0-9]{40})"',
            "private_key_id",
            group="v",
            anchored=True,
            offset=1,
        ),
        rule(
            "azure_client_secret",
            r"(?<![\w~.-])[\w.~-]{3}\dQ~[\w.~-]{31,34}(?![\w~.-])",
            "Q~",
            anchored=True,
            offset=4,
            check=lambda v: not is_masked(v[5:]),
        ),
        rule(
            "azure_storage_key",
            r"(?i)AccountKey\s*=\s*(?P<v>[A-Za-z0-9+/]{40,100}={0,2})",
            "accountkey",
            group="v",
            nocase=True,
            anchored=True,
        ),
        rule(
            "azure_sas_token",
            r"(?<![\w])sig=(?P<v>[A-Za-z0-9%+/]{30,120}={0,2})",
            "sig=",
            group="v",
        ),
        rule(
            "softlayer_api_key",
            r"api\.softlayer\.com/soap/(?:v3|v3\.1)/(?P<v>[a-z0-9]{64})",
            "softlayer.com",
            group="v",
        ),
        rule("alibaba_access_key", _B + r"LTAI[A-Za-z0-9]{20}" + _E, "LTAI", check=_real),
        rule(
            "yandex_key",
            _B + r"(?:t1\.[A-Z0-9a-z_-]+[=]{0,2}\.[A-Z0-9a-z_-]{86}={0,2})" + r"(?![\w-])",
            "t1.",
        ),
        rule(
            "digitalocean_token",
            _B + r"do[opr]_v1_[a-f0-9]{64}" + _E,
            "_v1_",
            anchored=True,
            offset=3,
        ),
        rule(
            "heroku_api_key",
            _B + r"HRKU-AA[0-9a-zA-Z_-]{58}(?![\w-])",
            "HRKU-",
        ),
        rule(
            "cloudflare_origin_ca_key",
            _B + r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}" + _E,
            "v1.0-",
        ),
    ]
)
