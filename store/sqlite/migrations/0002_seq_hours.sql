-- 0002: seq_hours maps each hour of event time to the range of sequence
-- numbers holding events of that hour. History is kept in sequence order,
-- so a time-bounded query turns its bounds into a sequence range through
-- this table and scans only that part of its index: without it, asking a
-- busy system for one day two months ago scans two months of entries.
-- Late events only widen an hour's range, never break it.
CREATE TABLE seq_hours (
    hour    INTEGER PRIMARY KEY,   -- event time in Unix ns / 3600e9, truncated
    min_seq INTEGER NOT NULL,
    max_seq INTEGER NOT NULL
);

INSERT INTO seq_hours (hour, min_seq, max_seq)
    SELECT time / 3600000000000, min(seq), max(seq) FROM events GROUP BY 1;
