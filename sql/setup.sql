-- Modules the tests run as children, and two helpers.
CREATE TABLE public.ticks (who text, n int, at timestamptz DEFAULT clock_timestamp());
GRANT ALL ON public.ticks TO PUBLIC;

-- Runs until stopped, committing on every pass.
CREATE PROCEDURE public.ticker(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    INSERT INTO public.ticks (who, n) VALUES (coalesce(args->>'tag', 'ticker'), 1);
    COMMIT;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;

-- Returns after a few committed rows: a normal exit.
CREATE PROCEDURE public.once(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..coalesce((args->>'n')::int, 1) LOOP
    INSERT INTO public.ticks (who, n) VALUES (coalesce(args->>'tag', 'once') || ':' || current_user, i);
    COMMIT;
  END LOOP;
END $$;

-- Fails at once: an abnormal exit.
CREATE PROCEDURE public.boom(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.ticks (who, n) VALUES ('boom', 1);
  COMMIT;
  RAISE EXCEPTION 'boom';
END $$;

-- A plain function works as a module too.
CREATE FUNCTION public.fn_once(args jsonb) RETURNS void LANGUAGE sql AS $$
  INSERT INTO public.ticks (who, n) VALUES ('fn_once', 1)
$$;

-- Wrong signature.
CREATE PROCEDURE public.two_args(a jsonb, b int) LANGUAGE plpgsql AS $$ BEGIN END $$;

-- Poll a boolean query until it is true or timeout_s passes; returns its
-- last value.  Tests wait for workers with this, never with a fixed sleep.
CREATE FUNCTION public.wait_for(q text, timeout_s float8 DEFAULT 20)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
  ok boolean;
BEGIN
  LOOP
    EXECUTE q INTO ok;
    IF ok OR clock_timestamp() > deadline THEN
      RETURN coalesce(ok, false);
    END IF;
    PERFORM pg_sleep(0.01);
    -- pg_stat_activity is read once per transaction unless cleared.
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
END $$;

-- Run a statement and show its error as "SQLSTATE: message / hint".
CREATE FUNCTION public.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; hint text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || ' / ' || hint;
END $$;

-- How many child workers run now.
CREATE FUNCTION public.child_procs() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'
$$;

CREATE ROLE regress_alice LOGIN;
CREATE ROLE regress_bob LOGIN;
CREATE ROLE regress_nologin NOLOGIN;
SELECT has_schema_privilege('regress_alice', 'foundation', 'USAGE') AS public_usage;

SELECT extname, extversion FROM pg_extension WHERE extname = 'foundation';
SELECT current_setting('foundation.database') = current_database() AS in_foundation_database;
-- The supervisor connects once this database exists.
SELECT wait_for($$SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'foundation supervisor')$$);
SELECT backend_type, application_name FROM pg_stat_activity
 WHERE backend_type = 'foundation supervisor';
