"""Table-driven tests for shape-recognised credentials: JWT, PEM, URLs, headers, curl, K8s."""

from __future__ import annotations

import pytest

from policy.redaction import RedactionConfig, Redactor

R = Redactor(RedactionConfig(pii=frozenset()))

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAn6/O8li+SX4m98LLYt/PKSzEmQ++ZBD7Loh9P13f4yQ92EF3\n"
    "yxR5MsXFu9PRsrYQA7/4UTPHiC4y2sAVCBg4C2yyBpUEtMQjyCESi6Y=\n-----END RSA PRIVATE KEY-----"
)
K8S = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
    "  password: UyFCXCpkJHpEc2I9\n  extra: YWRtaW46cGFzc3dvcmQ=\n"
)

FOUND = [
    ("jwt", f"token {JWT} end", "SflKxwRJ", "jwt"),
    ("pem private key", f"key:\n{PEM}\n", "MIIEpQIBAAKCAQEA", "private_key"),
    ("truncated pem private key", PEM.split("\nyxR5")[0] + "\n", "MIIEpQIBAAKCAQEA", "private_key"),
    (
        "password in url",
        "postgres://app:s3cr3tP4ss@db.internal:5432/app",
        "s3cr3tP4ss",
        "url_password",
    ),
    (
        "bearer header",
        "Authorization: Bearer cfcabd11c7ed9a41b1a3e063c32d5114",
        "cfcabd11c7ed",
        None,
    ),
    (
        "basic header",
        "-H 'Authorization: Basic YnJvd3Nlcjo6cGFzc3dvcmQxMjM='",
        "YnJvd3Nlcjo6",
        "auth_header",
    ),
    (
        "curl user password",
        "curl -u developer:yqDVtkqPECriaLRi https://x",
        "yqDVtkqPECriaLRi",
        "curl_password",
    ),
    (
        "connection string",
        "Server=db;Database=app;User Id=sa;Password=Tr0ub4dor&3x;",
        "Tr0ub4dor&3x",
        "connection_string_password",
    ),
    ("kubernetes secret data", K8S, "YWRtaW46cGFzc3dvcmQ=", "kubernetes_secret"),
]

KEPT = [
    (
        "pem with no key material",
        "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
    ),
    (
        "public key block",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
    ),
    ("bearer placeholder", 'curl -H "Authorization: Bearer $API_KEY" https://x'),
    ("url without password", "https://user@example.com/path"),
    ("url with port", "https://url:8000 @something else"),
    ("curl with variables", 'curl -u "${username}:${password}" https://x'),
    ("jwt-like but not json", "eyJAAAA.eyJBBB"),
    ("k8s secret template", "kind: Secret\ndata:\n  password: {{ .Values.Password }}\n"),
]


@pytest.mark.parametrize(
    ("text", "secret", "kind"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND]
)
def test_structured_credentials_are_redacted(text: str, secret: str, kind: str | None) -> None:
    """JWTs, keys, URL passwords, auth headers and K8s secret data are replaced."""
    result = R.redact(text)
    assert secret not in result.text
    if kind is not None:
        assert kind in result.counts


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_structured_look_alikes_are_kept(text: str) -> None:
    """Public keys, templates and credential-free URLs stay as they are."""
    assert R.redact_text(text) == text
