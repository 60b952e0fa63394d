-- Need-to-know relationships and the watchlist for a cluster: gateways
-- and the api node write them (POST /api/v1/relationships, /watchlist),
-- every detector loads them into its engines and reloads them now and
-- then. Subjects are blind-index hashes; expires is Unix nanoseconds, 0
-- for never.
CREATE TABLE relationships (
    actor   text   NOT NULL,
    subject text   NOT NULL,
    kind    text   NOT NULL,
    expires bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (actor, subject, kind)
);

CREATE TABLE watchlist (
    subject text PRIMARY KEY,
    kind    text NOT NULL,
    note    text NOT NULL DEFAULT ''
);
