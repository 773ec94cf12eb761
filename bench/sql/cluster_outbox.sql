-- bench/sql/cluster_outbox.sql: public.bench_wait_outbox (benchmark 15), on the publisher.
CREATE FUNCTION public.bench_wait_outbox(timeout_s float8)
  RETURNS TABLE (member text, waiting bigint, drained_at float8) LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  w jsonb;
  done jsonb := '{}';
  k text;
BEGIN
  SELECT coalesce(jsonb_object_agg(b.target, b.n), '{}') INTO w
    FROM (SELECT o.target, count(*) AS n FROM foundation.outbox o GROUP BY o.target) b;
  LOOP
    FOR k IN SELECT j FROM jsonb_object_keys(w) j WHERE NOT done ? j LOOP
      IF NOT EXISTS (SELECT FROM foundation.outbox o WHERE o.target = k) THEN
        done := done || jsonb_build_object(k, extract(epoch FROM clock_timestamp()));
      END IF;
    END LOOP;
    EXIT WHEN NOT EXISTS (SELECT FROM foundation.outbox);
    IF clock_timestamp() - t0 > make_interval(secs => timeout_s) THEN
      RAISE EXCEPTION 'foundation.outbox not empty within % s: %', timeout_s,
        (SELECT string_agg(b.target || ' ' || b.n || ' row(s)', ', ')
           FROM (SELECT o.target, count(*) AS n FROM foundation.outbox o GROUP BY o.target) b);
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  -- a member whose last rows went between its check and the last one
  RETURN QUERY SELECT j, (w ->> j)::bigint,
                      coalesce((done ->> j)::float8, extract(epoch FROM clock_timestamp()))
                 FROM jsonb_object_keys(w) j ORDER BY j;
END $$;
