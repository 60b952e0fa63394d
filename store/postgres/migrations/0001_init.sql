-- 0001: the initial schema of the PostgreSQL event store (store/postgres).
--
-- Times are bigint Unix nanoseconds (UTC), as in the embedded store. Each
-- event is kept whole as JSON in "doc"; the other columns copy the fields
-- queries filter on. Subject values never reach this database: only the
-- keyed blind-index hash (as a 16-byte key) and the masked form in doc.
--
-- events, event_subjects and logins are partitioned by event time, one
-- partition per month (events_pYYYYMM …), created by the store on demand
-- before the first event of a month is inserted. PostgreSQL cannot enforce
-- a unique event id across partitions, so the idempotency keys and the
-- sequence numbers live in the small unpartitioned access_ids/login_ids.

CREATE SEQUENCE access_seq;
CREATE SEQUENCE login_seq;

-- access_ids: one row per stored access event; its seq is the store's
-- sequence number. Appends take an advisory lock, so sequence numbers are
-- assigned and committed in the same order: a consumer reading "seq > n"
-- never skips an event that commits later with a lower number.
CREATE TABLE access_ids (
    id   text   PRIMARY KEY,
    seq  bigint NOT NULL UNIQUE,
    time bigint NOT NULL
);

CREATE TABLE events (
    seq      bigint NOT NULL,
    id       text   NOT NULL,
    time     bigint NOT NULL,
    actor    text   NOT NULL,
    channel  text   NOT NULL,
    action   text   NOT NULL,
    system   text   NOT NULL,
    object   text   NOT NULL,
    purpose  text   NOT NULL,
    ticket   text   NOT NULL,
    records  bigint NOT NULL,
    decision text   NOT NULL,
    outcome  text   NOT NULL,
    doc      bytea  NOT NULL   -- the whole event, compact JSON
) PARTITION BY RANGE (time);

-- History "newest first" is seq descending; each partition has its own
-- copy of these indexes, and a time-bounded query reads only the
-- partitions its bounds overlap.
CREATE INDEX events_seq      ON events (seq);
CREATE INDEX events_actor    ON events (actor, seq);
CREATE INDEX events_system   ON events (system, seq);
CREATE INDEX events_resource ON events (system, object, seq);

-- event_subjects is the blind index: one row per (subject, event).
CREATE TABLE event_subjects (
    subject bytea  NOT NULL,   -- 16 bytes of SHA-256(type, 0, hash)
    seq     bigint NOT NULL,
    time    bigint NOT NULL,
    actor   text   NOT NULL,
    PRIMARY KEY (subject, seq, time)
) PARTITION BY RANGE (time);

CREATE TABLE login_ids (
    id   text   PRIMARY KEY,
    seq  bigint NOT NULL UNIQUE,
    time bigint NOT NULL
);

CREATE TABLE logins (
    seq       bigint NOT NULL,
    id        text   NOT NULL,
    time      bigint NOT NULL,
    account   text   NOT NULL,
    source_ip text   NOT NULL,
    system    text   NOT NULL,
    outcome   text   NOT NULL,
    doc       bytea  NOT NULL
) PARTITION BY RANGE (time);
CREATE INDEX logins_seq     ON logins (seq);
CREATE INDEX logins_account ON logins (account, seq);

-- partitions records the months that exist, so a store learns them
-- without reading the catalogue.
CREATE TABLE partitions (
    parent text   NOT NULL,
    month  text   NOT NULL,    -- YYYYMM
    PRIMARY KEY (parent, month)
);

-- alerts are written by detection; status is the analyst's.
CREATE TABLE alerts (
    id         text   PRIMARY KEY,
    rule       text   NOT NULL,
    severity   text   NOT NULL,
    actor      text   NOT NULL DEFAULT '',
    source_ip  text   NOT NULL DEFAULT '',
    first_seen bigint NOT NULL,
    last_seen  bigint NOT NULL,
    status     text   NOT NULL DEFAULT 'open',
    summary    text   NOT NULL,
    evidence   bytea  NOT NULL
);
CREATE INDEX alerts_last_seen ON alerts (last_seen);
CREATE INDEX alerts_actor     ON alerts (actor, last_seen);

CREATE TABLE consumer_offsets (
    consumer text   PRIMARY KEY,
    seq      bigint NOT NULL,
    updated  bigint NOT NULL
);

-- tokens holds API bearer tokens; only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id      text   PRIMARY KEY,
    name    text   NOT NULL,
    scopes  text   NOT NULL,
    hash    text   NOT NULL UNIQUE,
    created bigint NOT NULL
);

-- snapshots holds named opaque blobs with the stream position they cover:
-- the detection state of each bus partition, so that whichever detector
-- takes a partition over resumes from it.
CREATE TABLE snapshots (
    name     text   PRIMARY KEY,
    position bigint NOT NULL,
    data     bytea  NOT NULL,
    updated  bigint NOT NULL
);
