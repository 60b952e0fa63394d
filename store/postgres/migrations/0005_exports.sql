-- The export registry of a cluster (package export), as in the embedded
-- store: each export of personal data is a row of exports; its data
-- subjects and canary identifiers are rows of export_subjects, keyed like
-- event_subjects (16 bytes of SHA-256(type, 0, hash)). No identifier is
-- stored in clear: doc holds hashes and masked forms only.
CREATE TABLE exports (
    rid     bigserial PRIMARY KEY,
    id      text   NOT NULL UNIQUE,  -- the export's id (idempotency key)
    time    bigint NOT NULL,         -- Unix ns
    actor   text   NOT NULL,
    channel text   NOT NULL,
    system  text   NOT NULL,
    format  text   NOT NULL,
    rows    bigint NOT NULL,
    canaries boolean NOT NULL,       -- doc lists canaries
    doc     bytea  NOT NULL          -- the Export as compact JSON, without its subject lists
);
CREATE INDEX exports_time  ON exports (time);
CREATE INDEX exports_actor ON exports (actor, time);

CREATE TABLE export_subjects (
    subject bytea   NOT NULL,
    rid     bigint  NOT NULL REFERENCES exports (rid),
    canary  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (subject, rid)
);
CREATE INDEX export_subjects_rid ON export_subjects (rid);
