-- 0004: what the audit chain needs to be checked against its signed head log.
--
-- db_id names this database in the head log (storage/headlog.py), so a head log is never
-- taken for another database's. high_seq is the highest seq ever stored (each audit write raises
-- it, see storage/audit_writer.py): rows cut from the end leave it behind, an older copy of the
-- whole file does not. log_since is the seq at which the head log was begun (NULL: not yet),
-- so a removed head log is told apart from one that was never written.
CREATE TABLE audit_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    db_id     TEXT NOT NULL,
    high_seq  INTEGER NOT NULL DEFAULT 0,
    log_since INTEGER
) STRICT;
INSERT INTO audit_state (id, db_id, high_seq) VALUES (
    1,
    lower(hex(randomblob(12))),
    coalesce((SELECT max(seq) FROM audit_log), (SELECT seq FROM audit_checkpoint WHERE id = 1), 0)
);
