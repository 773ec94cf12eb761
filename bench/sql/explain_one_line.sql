-- bench/sql/explain_one_line.sql: public.bench_plan(query), its EXPLAIN
-- (COSTS OFF) on one line (benchmark 15b's diagnostics).
CREATE FUNCTION public.bench_plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
  s text := '';
BEGIN
  FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    s := s || CASE WHEN s = '' THEN '' ELSE '; ' END
           || btrim(regexp_replace(regexp_replace(r, '^\s*->\s*', ''), '\{[0-9,]{20,}\}', '{...}', 'g'));
  END LOOP;
  RETURN s;
END $$;
