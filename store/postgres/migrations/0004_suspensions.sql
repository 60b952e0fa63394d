-- Actors suspended in a cluster: detectors write automatic suspensions
-- (alerts.suspend_rules), every gateway node reloads the set every few
-- seconds and refuses the actor's requests. time is Unix nanoseconds.
CREATE TABLE suspensions (
    actor  text   PRIMARY KEY,
    by     text   NOT NULL,
    reason text   NOT NULL,
    time   bigint NOT NULL
);
