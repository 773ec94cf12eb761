-- pgTAP: a singleton's life against the running supervisor.  Children run
-- only after their starting transaction commits, so this file commits as
-- it goes and cleans up at the end.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE SCHEMA pgtap_fdn;
CREATE TABLE pgtap_fdn.beats (n int);
CREATE PROCEDURE pgtap_fdn.beat(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    INSERT INTO pgtap_fdn.beats VALUES ((args->>'n')::int);
    COMMIT;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
CREATE FUNCTION pgtap_fdn.wait_for(q text, timeout_s float8 DEFAULT 20)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
  ok boolean;
BEGIN
  LOOP
    EXECUTE q INTO ok;
    IF ok OR clock_timestamp() > deadline THEN RETURN coalesce(ok, false); END IF;
    PERFORM pg_sleep(0.01);
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
END $$;

SELECT plan(12);

SELECT foundation.start_singleton('pgtap_fdn.beat', '{"n": 7}', 'pgtap_beat') AS first_pid \gset
SELECT ok(:first_pid > 0, 'start_singleton returns a pid');
SELECT is(foundation.lookup_singleton('pgtap_beat'), :first_pid, 'lookup_singleton finds it');
SELECT is(foundation.start_singleton('pgtap_fdn.beat', '{"n": 8}', 'pgtap_beat'), :first_pid,
          'starting a running name returns the running pid');
SELECT ok(pgtap_fdn.wait_for($$SELECT count(*) > 2 FROM pgtap_fdn.beats WHERE n = 7$$),
          'the procedure runs and commits in its loop');
SELECT is((SELECT backend_type FROM pg_stat_activity WHERE pid = :first_pid), 'foundation child',
          'pg_stat_activity shows it as a foundation child');
SELECT is((SELECT count(*)::int FROM foundation.children WHERE id = 'pgtap_beat' AND status = 'running'), 1,
          'one running child carries the name');

SELECT ok(pg_terminate_backend(:first_pid), 'terminate its backend');
SELECT ok(pgtap_fdn.wait_for(format($$SELECT foundation.lookup_singleton('pgtap_beat') <> %s$$, :first_pid)),
          'a permanent singleton comes back with a new pid');
SELECT is((SELECT last_exit FROM foundation.children WHERE id = 'pgtap_beat'), 'terminated',
          'its last exit is recorded');
SELECT ok(foundation.pid_alive(foundation.lookup_singleton('pgtap_beat')), 'the new pid is alive');

SELECT ok(foundation.stop_singleton('pgtap_beat'), 'stop_singleton stops it');
SELECT ok(foundation.lookup_singleton('pgtap_beat') IS NULL AND
          NOT EXISTS (SELECT FROM foundation.children WHERE id = 'pgtap_beat'),
          'and it is gone from the registry and the supervisor');

SELECT * FROM finish();
DROP SCHEMA pgtap_fdn CASCADE;
