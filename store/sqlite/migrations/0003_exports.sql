-- 0003: the export registry (package export). Each export of personal data
-- to a recipient is one row of exports; its data subjects and its canary
-- identifiers are rows of export_subjects, keyed like event_subjects (the
-- 16-byte subjectKey of type and blind-index hash), so "which exports
-- contain this person" is one range scan. No identifier is stored in
-- clear: doc holds hashes and masked forms only.
CREATE TABLE exports (
    rid      INTEGER PRIMARY KEY,      -- internal row id, referenced below
    id       TEXT    NOT NULL UNIQUE,  -- the export's id (idempotency key)
    time     INTEGER NOT NULL,         -- Unix ns
    actor    TEXT    NOT NULL,
    channel  TEXT    NOT NULL,
    system   TEXT    NOT NULL,
    format   TEXT    NOT NULL,
    rows     INTEGER NOT NULL,
    doc      BLOB    NOT NULL          -- the Export as compact JSON, without its subject lists
);
CREATE INDEX exports_time  ON exports (time);
CREATE INDEX exports_actor ON exports (actor, time);

-- export_subjects: one row per (subject, export). canary is 1 for the
-- identifiers of synthetic canary records planted in the export.
CREATE TABLE export_subjects (
    subject BLOB    NOT NULL,
    rid     INTEGER NOT NULL,          -- exports.rid
    canary  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, rid)
) WITHOUT ROWID;
-- The subject lists of one export, for Export(id).
CREATE INDEX export_subjects_rid ON export_subjects (rid);
