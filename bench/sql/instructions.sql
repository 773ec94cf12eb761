-- bench/sql/instructions.sql: the setup of benchmark 16 in a fresh
-- database, run by a single-user backend (postgres --single -j: a
-- statement ends with a semicolon followed by an empty line, so no
-- statement here has an empty line inside).
CREATE EXTENSION foundation;

-- lookup_singleton('bench') and the raw SELECT find this backend's own pid
-- (alive: lookup_singleton returns it).
SELECT foundation.register('bench', pg_backend_pid());

-- submit_bid: auction 1 (the first in this database) invites ag1 and
-- silent, who never bids, so that nothing closes it; the raw side upserts
-- into a table with the columns, defaults and primary key of
-- foundation.bids, as benchmark 12 does.
CREATE FUNCTION public.h(agent text, request text, payload jsonb) RETURNS jsonb
  LANGUAGE sql AS $$ SELECT jsonb_build_object('bid', hashtext(agent) & 1023, 'priority', 0) $$;

SELECT foundation.register_agent(a, '{"handler": "public.h(text,text,jsonb)", "capabilities": ["auction_bidding"]}')
  FROM unnest(ARRAY['ag1', 'silent']) a;

SELECT foundation.open_auction('{}', ARRAY['ag1', 'silent'], '1 day') AS bench_auction;

CREATE TABLE public.bench_bids (LIKE foundation.bids INCLUDING ALL);

ALTER TABLE public.bench_bids ALTER ord SET DEFAULT 0;

-- The durable broadcast (benchmark 5b): telemetry is durable; the raw side
-- inserts into a table with the columns, keys and index of
-- foundation.durable_messages and notifies the numbered payload.
SELECT foundation.configure_channel('telemetry', '1 hour');

CREATE TABLE public.durable_raw (channel text NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY, message jsonb NOT NULL, sent_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (channel, seq));

CREATE INDEX ON public.durable_raw (channel, sent_at);

-- The outbox write of a cross-node broadcast (benchmark 15a): one other
-- member this backend knows (no relay runs in a single-user backend, so its
-- rows stay).
INSERT INTO foundation.cluster_peers (node, conninfo) VALUES ('bench_m2', 'host=/nonexistent');
