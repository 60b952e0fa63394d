-- 0001: the initial schema of the embedded store.
--
-- Times are INTEGER Unix nanoseconds (UTC). Each event is kept whole as
-- compact JSON in "doc"; the other columns are copies of the fields that
-- queries filter on. Subject values never reach this database: only the
-- keyed blind-index hash and the masked display form (inside doc).

-- events holds one row per access event. seq is the store's sequence
-- number: assigned by the single writer in append order, it orders
-- history ("newest first" is seq descending) and is what consumers resume
-- from.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    id       TEXT    NOT NULL UNIQUE,   -- the event's idempotency key
    time     INTEGER NOT NULL,          -- event time
    actor    TEXT    NOT NULL,
    channel  TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    system   TEXT    NOT NULL,
    object   TEXT    NOT NULL,
    purpose  TEXT    NOT NULL,
    ticket   TEXT    NOT NULL,
    records  INTEGER NOT NULL,
    decision TEXT    NOT NULL,
    outcome  TEXT    NOT NULL,
    doc      BLOB    NOT NULL           -- the whole event, compact JSON
);

-- History of one actor and of one resource, newest first. time is carried
-- in the index so that a time-bounded query filters without visiting the
-- table.
CREATE INDEX events_actor    ON events (actor, seq, time);
CREATE INDEX events_system   ON events (system, seq, time);
CREATE INDEX events_resource ON events (system, object, seq, time);
-- Time-range scans (windows for detection, retention).
CREATE INDEX events_time     ON events (time);

-- event_subjects is the blind index: one row per (subject, event). The
-- subject is a 16-byte key derived from the subject's type and keyed
-- blind-index hash (see subjectKey in write.go): short keys keep this
-- randomly-inserted index small, which is most of the cost of an append.
-- It is clustered on (subject, seq), so "who accessed this person's data,
-- newest first" is one range scan of adjacent rows; time and actor are
-- copied so that the common question is answered from this table alone.
CREATE TABLE event_subjects (
    subject BLOB    NOT NULL,           -- subjectKey(type, hash)
    seq     INTEGER NOT NULL,           -- events.seq
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;

-- logins holds one row per login event; seq is a sequence of its own.
CREATE TABLE logins (
    seq       INTEGER PRIMARY KEY,
    id        TEXT    NOT NULL UNIQUE,
    time      INTEGER NOT NULL,
    account   TEXT    NOT NULL,
    source_ip TEXT    NOT NULL,
    system    TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    doc       BLOB    NOT NULL
);
CREATE INDEX logins_account ON logins (account, seq, time);
CREATE INDEX logins_time    ON logins (time);

-- alerts is filled by detection (not yet written by this package).
--   id          alert id (stable across updates of the same alert)
--   rule        id of the rule that fired
--   severity    low | medium | high | critical
--   actor       the employee (or account) the alert is about, may be ''
--   source_ip   the source the alert is about, may be ''
--   first_seen  time of the first evidence event (Unix ns)
--   last_seen   time of the latest evidence event (Unix ns)
--   status      open | acknowledged | closed
--   summary     one line for humans; masked values only
--   evidence    JSON: event ids, counts, thresholds; masked values only
CREATE TABLE alerts (
    id         TEXT    PRIMARY KEY,
    rule       TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    actor      TEXT    NOT NULL DEFAULT '',
    source_ip  TEXT    NOT NULL DEFAULT '',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    status     TEXT    NOT NULL DEFAULT 'open',
    summary    TEXT    NOT NULL,
    evidence   BLOB    NOT NULL DEFAULT '{}'
);
CREATE INDEX alerts_last_seen ON alerts (last_seen);
CREATE INDEX alerts_actor     ON alerts (actor, last_seen);

-- consumer_offsets keeps each named consumer's position in events/logins.
CREATE TABLE consumer_offsets (
    consumer TEXT    PRIMARY KEY,
    seq      INTEGER NOT NULL,
    updated  INTEGER NOT NULL
);

-- tokens holds API bearer tokens; only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id      TEXT    PRIMARY KEY,
    name    TEXT    NOT NULL,
    scopes  TEXT    NOT NULL,           -- comma-separated custos.Scope values
    hash    TEXT    NOT NULL UNIQUE,    -- hex SHA-256 of the secret
    created INTEGER NOT NULL
);
