-- 0003: audit rows that can be pseudonymised (right to be forgotten) without breaking the chain.
--
-- fmt 1 (rows written before this migration) hash the clear actor, channel and detail.
-- fmt 2 rows hash a keyed digest of each of those strings instead (see storage/audit_chain.py),
-- so a value replaced by its pseudonym `forgotten:<digest>` still hashes the same, while any
-- other edit does not. Old rows keep fmt 1 until Audit.upgrade_format() re-chains them.
ALTER TABLE audit_log ADD COLUMN fmt INTEGER NOT NULL DEFAULT 1 CHECK (fmt IN (1, 2));

-- The key behind those digests and pseudonyms: random, made once per database, stored
-- encrypted under the data key (sealed = 1), or in clear when the database was opened
-- without one (sealed = 0; sealed on the next open with a data key).
CREATE TABLE audit_keyring (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    sealed   INTEGER NOT NULL CHECK (sealed IN (0, 1)),
    material BLOB NOT NULL
) STRICT;
