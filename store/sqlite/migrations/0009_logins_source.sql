-- Logins by source address, newest first: the question after a
-- credential-stuffing alert ("what else did this IP try, and did any of
-- it succeed?"), which otherwise scans every login.
CREATE INDEX logins_source ON logins (source_ip, seq, time);
