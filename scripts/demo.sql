-- foundation demo: a singleton started, looked up, restarted after being
-- terminated, and stopped.  Run by `scripts/dev demo`.
\set ON_ERROR_STOP 1
\pset footer off
\set QUIET 1
SET client_min_messages = warning;

\echo '== A module: any procedure taking one jsonb. This one commits a heartbeat in a loop.'
CREATE SCHEMA IF NOT EXISTS demo;
CREATE TABLE IF NOT EXISTS demo.heartbeats (pid int, at timestamptz DEFAULT clock_timestamp());
CREATE OR REPLACE PROCEDURE demo.heartbeat(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    INSERT INTO demo.heartbeats (pid) VALUES (pg_backend_pid());
    COMMIT;
    PERFORM pg_sleep((args->>'every')::float8);
  END LOOP;
END $$;
-- Wait (bounded) until a query is true.
CREATE OR REPLACE FUNCTION demo.wait_for(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean; deadline timestamptz := clock_timestamp() + interval '10 s';
BEGIN
  LOOP
    EXECUTE q INTO ok;
    IF ok OR clock_timestamp() > deadline THEN RETURN coalesce(ok, false); END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT foundation.stop_singleton('demo_heartbeat') AS leftover \gset

\echo
\echo '== start_singleton: a supervised background worker, registered under a name'
SELECT foundation.start_singleton('demo.heartbeat', '{"every": 0.2}', 'demo_heartbeat') AS first_pid \gset
SELECT :first_pid AS "start_singleton(...) returned pid";

\echo
\echo '== lookup_singleton finds it; the children view shows it'
SELECT foundation.lookup_singleton('demo_heartbeat');
SELECT child_id, id, pid, module, restart, status, role FROM foundation.children WHERE id = 'demo_heartbeat';
SELECT demo.wait_for($$SELECT count(*) >= 2 FROM demo.heartbeats WHERE pid = $$ || :first_pid) AS "it is beating";

\echo
\echo '== pg_terminate_backend: the supervisor restarts it at once, under the same name'
SELECT pg_terminate_backend(:first_pid);
SELECT demo.wait_for(format($$SELECT foundation.lookup_singleton('demo_heartbeat') <> %s$$, :first_pid)) AS "restarted";
SELECT foundation.lookup_singleton('demo_heartbeat') AS "new pid", restart_count, last_exit
  FROM foundation.children WHERE id = 'demo_heartbeat';

\echo
\echo '== stop_singleton: stopped for good'
SELECT foundation.stop_singleton('demo_heartbeat');
SELECT foundation.lookup_singleton('demo_heartbeat') AS "lookup after stop";
SELECT foundation.count_children();
