-- 0004: what the console keeps: its own users, the audit of what they did,
-- actor suspensions, and hourly / daily roll-ups of the events table that
-- let its overview and timelines answer from a few hundred rows instead of
-- millions of events.

-- console_users are the people who log in to the console. password is a
-- PBKDF2-SHA256 hash ("pbkdf2-sha256$iterations$salt$hash", base64);
-- totp is the base32 TOTP secret (the second factor).
CREATE TABLE console_users (
    name     TEXT    PRIMARY KEY,
    role     TEXT    NOT NULL,      -- admin | investigator | approver | auditor
    password TEXT    NOT NULL,
    totp     TEXT    NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created  INTEGER NOT NULL
);

-- console_audit records every console action (logins, searches, alert
-- triage, approvals, suspensions), newest is highest seq. Details carry
-- masked values or keyed hashes only.
CREATE TABLE console_audit (
    seq    INTEGER PRIMARY KEY,
    time   INTEGER NOT NULL,
    user   TEXT    NOT NULL,
    role   TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL DEFAULT '',
    detail TEXT    NOT NULL DEFAULT '',
    ip     TEXT    NOT NULL DEFAULT '',
    ok     INTEGER NOT NULL
);
CREATE INDEX console_audit_user ON console_audit (user, seq);

-- console_suspensions lists actors an investigator suspended.
CREATE TABLE console_suspensions (
    actor   TEXT    PRIMARY KEY,
    by_user TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    time    INTEGER NOT NULL
);

-- console_volume counts events per hour of event time, channel and
-- category; category '*' counts every event once (an event may touch
-- several categories).
CREATE TABLE console_volume (
    hour     INTEGER NOT NULL,      -- Unix ns / 3600e9
    channel  TEXT    NOT NULL,
    category TEXT    NOT NULL,
    events   INTEGER NOT NULL,
    records  INTEGER NOT NULL,
    PRIMARY KEY (hour, channel, category)
) WITHOUT ROWID;

-- console_actor_days counts each actor's events and records per UTC day.
CREATE TABLE console_actor_days (
    actor   TEXT    NOT NULL,
    day     INTEGER NOT NULL,       -- Unix ns / 86400e9
    events  INTEGER NOT NULL,
    records INTEGER NOT NULL,
    PRIMARY KEY (actor, day)
) WITHOUT ROWID;

-- console_rollup is how far (events.seq) the roll-ups have counted.
CREATE TABLE console_rollup (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO console_rollup (id, seq) VALUES (1, 0);

-- The overview counts open alerts by severity and ranks actors by them.
CREATE INDEX alerts_status ON alerts (status, severity);
