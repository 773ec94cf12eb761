-- bench/sql/coordination.sql: handler, diagnostics and baseline tables of
-- benchmarks 10 to 12.
-- The handler of every agent of benchmarks 10-12: a bid from the name.
CREATE FUNCTION public.h(agent text, request text, payload jsonb) RETURNS jsonb
  LANGUAGE sql AS $$ SELECT jsonb_build_object('bid', hashtext(agent) & 1023, 'priority', 0) $$;

-- Benchmark 11, diagnostics: the same handler calls from a plpgsql loop,
-- optionally each in its own subtransaction (an EXCEPTION block).
CREATE FUNCTION public.bench_handler_calls(names text[], subxact boolean)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  n text;
  r jsonb;
  k integer := 0;
BEGIN
  FOREACH n IN ARRAY names LOOP
    IF subxact THEN
      BEGIN
        r := public.h(n, 'bid_for_resources', '{}');
      EXCEPTION WHEN others THEN
        r := NULL;
      END;
    ELSE
      r := public.h(n, 'bid_for_resources', '{}');
    END IF;
    IF r IS NOT NULL THEN
      k := k + 1;
    END IF;
  END LOOP;
  RETURN k;
END $$;

-- Benchmark 11, diagnostics: run_auction's work in plain SQL.  "floor":
-- what the spec requires at least (each call in its own subtransaction,
-- the auction's row and one row per bid stored, committed); "plain": that
-- plus the decision (second price), the result as jsonb stored with the
-- auction, and its notification.
CREATE TABLE public.bench_auctions (
  auction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, spec jsonb NOT NULL,
  agents text[] NOT NULL, status text NOT NULL, owner oid NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT clock_timestamp(), deadline timestamptz,
  closed_at timestamptz, result jsonb);
CREATE TABLE public.bench_auction_bids (LIKE foundation.bids INCLUDING ALL);
CREATE FUNCTION public.bench_auction_sql(names text[], plain boolean)
  RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  n text; r jsonb; i integer := 0; id bigint; best integer; second float8; res jsonb;
  bids float8[] := '{}'; pris float8[] := '{}'; errs text[] := '{}';
BEGIN
  FOREACH n IN ARRAY names LOOP
    i := i + 1;
    BEGIN
      r := public.h(n, 'bid_for_resources', '{}');
      bids[i] := (r->>'bid')::float8;
      pris[i] := coalesce((r->>'priority')::float8, 0);
    EXCEPTION WHEN others THEN
      bids[i] := 0; pris[i] := 0; errs[i] := SQLERRM;
    END;
  END LOOP;
  INSERT INTO public.bench_auctions (spec, agents, status, owner, closed_at)
    VALUES ('{}', names, 'closed', 10, clock_timestamp()) RETURNING auction_id INTO id;
  INSERT INTO public.bench_auction_bids (auction_id, agent, ord, bid, priority, error, submitted_at)
    SELECT id, a, o, b, p, e, clock_timestamp()
      FROM unnest(names, bids, pris, errs) WITH ORDINALITY u(a, b, p, e, o);
  IF plain THEN
    SELECT o INTO best FROM unnest(bids, pris) WITH ORDINALITY u(b, p, o)
     ORDER BY b DESC, p DESC, o LIMIT 1;
    SELECT max(b) INTO second FROM unnest(bids) WITH ORDINALITY u(b, o) WHERE o <> best;
    res := jsonb_build_object('auction_id', id, 'winner', names[best],
             'payment', coalesce(second, bids[best]), 'payment_rule', 'second_price',
             'bids', (SELECT jsonb_agg(jsonb_build_object('agent', a, 'bid', b, 'priority', p, 'error', e))
                        FROM unnest(names, bids, pris, errs) u(a, b, p, e)),
             'decided_at', clock_timestamp());
    UPDATE public.bench_auctions SET result = res WHERE auction_id = id;
    PERFORM pg_notify('bench_events', res::text);
  END IF;
  RETURN true;
END $$;

-- Benchmark 12, baseline: the columns, defaults and primary key of
-- foundation.bids (not its foreign key to foundation.auctions); ord, which
-- open_auction fills for every invited agent, defaults to 0 here.
CREATE TABLE public.bench_bids (LIKE foundation.bids INCLUDING ALL);
ALTER TABLE public.bench_bids ALTER ord SET DEFAULT 0;
