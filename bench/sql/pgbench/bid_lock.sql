\set ag :client_id + 1
INSERT INTO public.bench_bids (auction_id, agent, bid) SELECT :aid, 'ag' || :ag, random() * 1000 FROM (SELECT pg_advisory_xact_lock_shared(:aid)) l ON CONFLICT (auction_id, agent) DO UPDATE SET bid = excluded.bid;
