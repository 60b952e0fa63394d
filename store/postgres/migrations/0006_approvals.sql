-- Approval requests and grants of a cluster (package approval). The api
-- node that holds the "approvals" lock is their only writer; every gateway
-- node reloads them to honour grants. doc is the request as JSON: actor
-- ids, scopes and reasons, never a data subject's identifier in clear.
CREATE TABLE approvals (
    id      text   PRIMARY KEY,
    status  text   NOT NULL,
    created bigint NOT NULL,
    doc     bytea  NOT NULL
);
CREATE INDEX approvals_status ON approvals (status);
