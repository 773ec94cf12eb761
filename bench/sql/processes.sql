-- bench/sql/processes.sql: the polling functions of benchmark 3.

-- Benchmark 3, foundation: terminate the child named 'r', then poll
-- lookup_singleton('r') every 1 ms until it returns another live pid.
-- One value (ms) per sample.  Each poll runs with a fresh snapshot (a
-- volatile plpgsql function in READ COMMITTED).
CREATE FUNCTION public.bench_restart_foundation(n int)
  RETURNS SETOF double precision LANGUAGE plpgsql AS $$
DECLARE
  old int;
  cur int;
  t0 timestamptz;
BEGIN
  FOR i IN 1..n LOOP
    old := foundation.lookup_singleton('r');
    IF old IS NULL THEN
      RAISE EXCEPTION 'no live child named r before sample %', i;
    END IF;
    t0 := clock_timestamp();
    PERFORM pg_terminate_backend(old);
    LOOP
      cur := foundation.lookup_singleton('r');
      EXIT WHEN cur IS NOT NULL AND cur <> old;
      IF clock_timestamp() - t0 > interval '30 s' THEN
        RAISE EXCEPTION 'child r not restarted within 30 s (sample %)', i;
      END IF;
      PERFORM pg_sleep(0.001);
    END LOOP;
    RETURN NEXT extract(epoch FROM clock_timestamp() - t0) * 1000;
    PERFORM pg_sleep(0.05);  -- let the new child settle (not measured)
  END LOOP;
END $$;

-- Benchmark 3, baseline: terminate the static worker, then poll
-- pg_stat_activity every 1 ms until a new pid of its backend_type shows.
CREATE FUNCTION public.bench_restart_static(n int)
  RETURNS SETOF double precision LANGUAGE plpgsql AS $$
DECLARE
  old int;
  cur int;
  t0 timestamptz;
BEGIN
  FOR i IN 1..n LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT pid INTO old FROM pg_stat_activity
     WHERE backend_type = 'foundation_bench static';
    IF old IS NULL THEN
      RAISE EXCEPTION 'foundation_bench static is not running before sample %', i;
    END IF;
    t0 := clock_timestamp();
    PERFORM pg_terminate_backend(old);
    LOOP
      PERFORM pg_stat_clear_snapshot();
      SELECT pid INTO cur FROM pg_stat_activity
       WHERE backend_type = 'foundation_bench static';
      EXIT WHEN cur IS NOT NULL AND cur <> old;
      IF clock_timestamp() - t0 > interval '30 s' THEN
        RAISE EXCEPTION 'static worker not restarted within 30 s (sample %)', i;
      END IF;
      PERFORM pg_sleep(0.001);
    END LOOP;
    RETURN NEXT extract(epoch FROM clock_timestamp() - t0) * 1000;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
