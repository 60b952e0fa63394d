-- Audit events of a cluster (approval steps, policy reloads and
-- rejections, watchlist changes, automatic suspensions) in their own
-- sequence, which the api node's ledger follows like accesses and logins.
-- Appends take an advisory lock, so sequence numbers commit in order and
-- the follower never skips one. Ids, staff names and blind-index hashes
-- only, never a subject's value.
CREATE TABLE audit (
    seq    bigint PRIMARY KEY,
    id     text   NOT NULL UNIQUE,
    time   bigint NOT NULL,   -- Unix ns
    actor  text   NOT NULL,
    action text   NOT NULL,
    doc    bytea  NOT NULL    -- the event's JSON
);
CREATE SEQUENCE audit_seq;
CREATE INDEX audit_actor ON audit (actor, seq);
