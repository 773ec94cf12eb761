\set ag :client_id + 1
INSERT INTO public.bench_bids (auction_id, agent, bid) VALUES (:aid, 'ag' || :ag, random() * 1000) ON CONFLICT (auction_id, agent) DO UPDATE SET bid = excluded.bid;
