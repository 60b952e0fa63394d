-- Alert delivery and suppression.
--   notified  the severity last delivered to the configured sinks
--             (webhook, syslog, e-mail); '' never delivered. An alert is
--             due while notified differs from severity.
-- A new alert of the same rule and actor (or source) as one an analyst
-- marked false_positive recently is stored as 'suppressed' and not
-- delivered; alerts_rule_actor finds those quickly.
ALTER TABLE alerts ADD COLUMN notified TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_due ON alerts (first_seen) WHERE notified != severity;
CREATE INDEX alerts_rule_actor ON alerts (rule, actor, source_ip, status);
