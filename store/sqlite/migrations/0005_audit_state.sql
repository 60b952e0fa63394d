-- Audit events (approval steps, policy reloads, watchlist changes, console
-- actions) in their own sequence, which the ledger follows like accesses
-- and logins; and the state the API accepts and must survive a restart:
-- need-to-know relationships, the watchlist and approval requests. All of
-- it is ids, staff names and blind-index hashes, never a subject's value.
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    id     TEXT    NOT NULL UNIQUE,
    time   INTEGER NOT NULL,   -- unix nanoseconds
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    doc    BLOB    NOT NULL    -- the event's JSON
);
CREATE INDEX audit_actor ON audit (actor, seq);

CREATE TABLE relationships (
    actor   TEXT    NOT NULL,
    subject TEXT    NOT NULL,  -- blind-index hash
    kind    TEXT    NOT NULL,
    expires INTEGER NOT NULL,  -- unix nanoseconds, 0: never
    PRIMARY KEY (actor, subject, kind)
) WITHOUT ROWID;

CREATE TABLE watchlist (
    subject TEXT NOT NULL PRIMARY KEY,  -- blind-index hash
    kind    TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE approvals (
    id      TEXT    NOT NULL PRIMARY KEY,
    status  TEXT    NOT NULL,
    created INTEGER NOT NULL,  -- unix nanoseconds
    doc     BLOB    NOT NULL   -- the request's JSON
);
