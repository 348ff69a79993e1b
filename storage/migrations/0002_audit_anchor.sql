-- 0002: a signed record of the audit chain's head (seq and hash), moved forward at open,
-- at close, after a purge and whenever the bot's scheduler calls Audit.anchor(). verify()
-- checks the chain still reaches it with the same hash, so rows cut from the end of the
-- log, or a chain rewritten before it, are detected after a restart too.
CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL,
    mac  TEXT NOT NULL
) STRICT;
