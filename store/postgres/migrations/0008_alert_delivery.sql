-- Alert delivery in a cluster, as in the embedded store: notified is the
-- severity last delivered to the configured sinks (webhook, syslog,
-- e-mail), '' never delivered; an alert is due while notified differs
-- from severity. alerts_rule_actor finds recent false positives for
-- suppression.
ALTER TABLE alerts ADD COLUMN notified text NOT NULL DEFAULT '';
CREATE INDEX alerts_due ON alerts (first_seen) WHERE notified <> severity;
CREATE INDEX alerts_rule_actor ON alerts (rule, actor, source_ip, status);
