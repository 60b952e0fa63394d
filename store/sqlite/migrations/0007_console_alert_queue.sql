-- 0007: the console's alert queue lists one status newest first; this
-- index serves it without sorting every alert of that status.
CREATE INDEX alerts_status_seen ON alerts (status, last_seen);
