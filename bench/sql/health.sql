-- bench/sql/health.sql: the two other nodes of benchmarks 8 and 9 (psql
-- variables b and c: their conninfo) and benchmark 9's wait.
INSERT INTO foundation.nodes (name, conninfo) VALUES ('bench_b', :'b'), ('bench_c', :'c');
ALTER SYSTEM SET foundation.expected_nodes = 3;
SELECT pg_reload_conf();

-- Benchmark 9: wait until the k-th stored check after id `after` is
-- visible (polling every 50 ms, a fresh snapshot each time); its id.
CREATE FUNCTION public.bench_wait_checks(after bigint, k int, timeout_s float8)
  RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  got bigint;
BEGIN
  LOOP
    SELECT id INTO got FROM foundation.health_history
     WHERE id > after ORDER BY id OFFSET k - 1 LIMIT 1;
    EXIT WHEN got IS NOT NULL;
    IF clock_timestamp() - t0 > make_interval(secs => timeout_s) THEN
      RAISE EXCEPTION 'fewer than % health checks stored within % s', k, timeout_s;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN got;
END $$;
