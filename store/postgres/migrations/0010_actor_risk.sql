-- Each actor's risk from its latest alert in a cluster, for the HTTP
-- gateway's step-up (step_up_risk): detectors write it, gateway nodes
-- reload it and decay it from `at` (Unix ns, wall clock when the alert was
-- handled) with detection's half-life.
CREATE TABLE actor_risk (
    actor text             PRIMARY KEY,
    risk  double precision NOT NULL,
    at    bigint           NOT NULL
);
