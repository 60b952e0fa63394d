-- events_time and logins_time serve no query: history queries name their
-- index (INDEXED BY) and bound time through seq_hours (0002), and the
-- followers read by seq. Each cost an index insert per stored row.
DROP INDEX IF EXISTS events_time;
DROP INDEX IF EXISTS logins_time;
