-- 0001: the initial schema. Times are fixed-width UTC ISO text (see storage/_time.py).

CREATE TABLE identities (
    key          TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('paired', 'banned')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    UNIQUE (platform, tenant, user_id)
) STRICT;

CREATE TABLE pairing_requests (
    id           INTEGER PRIMARY KEY,
    actor_key    TEXT NOT NULL,
    platform     TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    code_hash    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    decided_by   TEXT,
    decided_at   TEXT
) STRICT;
CREATE INDEX pairing_requests_status ON pairing_requests (status, platform, expires_at);
CREATE INDEX pairing_requests_hash ON pairing_requests (code_hash);
CREATE INDEX pairing_requests_actor ON pairing_requests (actor_key, id);

CREATE TABLE pairing_failures (
    id         INTEGER PRIMARY KEY,
    sender_key TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;
CREATE INDEX pairing_failures_sender ON pairing_failures (sender_key, at);

CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    scope      TEXT NOT NULL CHECK (scope IN ('user', 'channel', 'group', 'global')),
    subject    TEXT NOT NULL,
    tool       TEXT NOT NULL,
    effect     TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
    reason     TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    ended      TEXT CHECK (ended IN ('revoked', 'expired')),
    ended_by   TEXT,
    ended_at   TEXT
) STRICT;
CREATE INDEX grants_live ON grants (ended, scope, subject, tool);

CREATE TABLE roles (
    user_key TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'approver')),
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (user_key, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE approvals (
    id                 INTEGER PRIMARY KEY,
    public_id          TEXT NOT NULL UNIQUE,
    request_hash       TEXT NOT NULL,
    payload            BLOB NOT NULL,
    requester          TEXT NOT NULL,
    tool               TEXT NOT NULL,
    risk               INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('run', 'pairing')),
    approve_token_hash TEXT NOT NULL UNIQUE,
    deny_token_hash    TEXT NOT NULL UNIQUE,
    channel_key        TEXT NOT NULL,
    admin_required     INTEGER NOT NULL CHECK (admin_required IN (0, 1)),
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                       ('pending', 'approved', 'denied', 'expired', 'cancelled', 'executed')),
    decided_by         TEXT,
    decided_at         TEXT,
    reason             TEXT NOT NULL DEFAULT '',
    run_id             TEXT,
    executed_at        TEXT,
    CHECK (approve_token_hash <> deny_token_hash)
) STRICT;
CREATE INDEX approvals_status ON approvals (status, expires_at);

CREATE TABLE approval_votes (
    approval_id INTEGER NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    voter       TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (approval_id, voter)
) STRICT, WITHOUT ROWID;

CREATE TABLE approval_cards (
    id          INTEGER PRIMARY KEY,
    approval_id INTEGER NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    ref_json    TEXT NOT NULL
) STRICT;
CREATE INDEX approval_cards_approval ON approval_cards (approval_id, id);

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    approval_id INTEGER REFERENCES approvals (id) ON DELETE SET NULL,
    requester   TEXT NOT NULL,
    tool        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'running',
    finished_at TEXT,
    exit_code   INTEGER,
    duration_ms REAL,
    cpu_seconds REAL NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX runs_requester ON runs (requester, started_at);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE idempotency (
    key     TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_seen ON idempotency (seen_at);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    stage      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    tool       TEXT NOT NULL,
    decision   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    args_hash  TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_tool ON audit_log (tool, seq);

-- Where verification starts after old rows were purged: the last purged row's seq and hash,
-- signed with an HMAC key when one is configured.
CREATE TABLE audit_checkpoint (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    purged_at TEXT NOT NULL,
    mac       TEXT NOT NULL
) STRICT;
