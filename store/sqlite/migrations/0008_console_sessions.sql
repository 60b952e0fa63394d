-- 0008: console sessions live in the store, so that a restart of
-- 'custos serve' keeps people signed in and a revocation (logout, a
-- disabled user, a new password or role) holds on every node sharing the
-- data directory. Only the SHA-256 of the session cookie is kept: a copy
-- of this table signs nobody in.
CREATE TABLE console_sessions (
    token_hash TEXT    PRIMARY KEY,  -- hex SHA-256 of the cookie value
    user       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    source     TEXT    NOT NULL,     -- local | oidc
    created    INTEGER NOT NULL,     -- Unix ns
    last_seen  INTEGER NOT NULL,     -- Unix ns, refreshed at most once a minute
    expires    INTEGER NOT NULL      -- Unix ns: created + session_ttl
) WITHOUT ROWID;
CREATE INDEX console_sessions_user ON console_sessions (user);
