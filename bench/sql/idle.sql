-- bench/sql/idle.sql: the module every foundation child of the benchmarks
-- runs: idle, one commit a second.
CREATE PROCEDURE public.idle(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    PERFORM pg_sleep(1);
    COMMIT;
  END LOOP;
END $$;
