-- Actors under review in a cluster: detectors put the actor of an alert
-- listed in alerts.approval_rules under review until `until` (Unix ns);
-- every gateway node reloads the set and requires an approver's grant for
-- what policy would otherwise allow them.
CREATE TABLE reviews (
    actor text   PRIMARY KEY,
    until bigint NOT NULL,
    alert text   NOT NULL,
    rule  text   NOT NULL
);
