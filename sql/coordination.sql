-- Multi-agent coordination: agents, auctions, consensus, negotiation.
CREATE FUNCTION public.agent_handler(agent text, request text, payload jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  cfg jsonb := (SELECT args FROM foundation.agents WHERE name = agent);
BEGIN
  IF cfg ? 'fail' THEN RAISE EXCEPTION 'agent % is broken', agent; END IF;
  IF cfg ? 'sleep' THEN PERFORM pg_sleep((cfg->>'sleep')::float8); END IF;
  IF request = 'bid_for_resources' THEN RETURN cfg->'answer';
  ELSIF request = 'vote' THEN RETURN cfg->'vote';
  ELSIF request = 'propose' THEN RETURN jsonb_build_object('offer', cfg->'open');
  ELSIF request = 'respond' THEN
    IF (payload#>>'{offer,price}')::numeric BETWEEN (cfg->>'min')::numeric AND (cfg->>'max')::numeric THEN
      RETURN '{"accept": true}';
    END IF;
    RETURN jsonb_build_object('counter', jsonb_build_object('price',
      (payload#>>'{offer,price}')::numeric + (cfg->>'step')::numeric));
  END IF;
  RETURN NULL;
END $$;

-- Agents: the raw registry and the facade.
SELECT foundation.register_agent(n, jsonb_build_object(
         'handler', 'public.agent_handler(text,text,jsonb)',
         'capabilities', '["auction_bidding", "consensus_voting", "negotiation"]'::jsonb,
         'args', a))
  FROM (VALUES
    ('b10', '{"answer": {"bid": 10}, "vote": {"vote": "yes"}}'::jsonb),
    ('b7',  '{"answer": {"bid": 7},  "vote": {"vote": "yes"}}'),
    ('b4',  '{"answer": {"bid": 4},  "vote": {"vote": "no", "reason": "too costly"}}'),
    ('b4x', '{"answer": {"bid": 4},  "vote": {"vote": "no"}}'),
    ('t10hi', '{"answer": {"bid": 10, "priority": 5}, "vote": {"vote": "abstain"}}'),
    ('t10lo', '{"answer": {"bid": 10, "priority": 1}, "vote": {"vote": "yes"}}'),
    ('broken', '{"fail": true}'),
    ('nonsense', '{"answer": {"bid": "lots"}, "vote": {"vote": "perhaps"}}'),
    ('negative', '{"answer": {"bid": -3}}'),
    ('slow', '{"sleep": 6, "answer": {"bid": 99}, "vote": {"vote": "yes"}}')) v(n, a)
 ORDER BY n;
SELECT foundation.start_coordination_agent(NULL, '{}', 'buyer', ARRAY['negotiation'],
         ARRAY['alternating_offers_negotiation'], handler => 'public.agent_handler(text,text,jsonb)') IS NULL AS handler_only;
UPDATE foundation.agents SET args = '{"open": {"price": 50}, "min": 0, "max": 80, "step": 10}' WHERE name = 'buyer';
SELECT foundation.start_coordination_agent(NULL, '{}', 'seller', ARRAY['negotiation'],
         handler => 'public.agent_handler(text,text,jsonb)') IS NULL;
UPDATE foundation.agents SET args = '{"open": {"price": 100}, "min": 70, "max": 1000, "step": 30}' WHERE name = 'seller';
SELECT name, capabilities, status FROM foundation.agents ORDER BY seq LIMIT 3;

-- Second price, bids 10, 7, 4: the 10-bidder pays 7.
SELECT r->>'winner' AS winner, r->>'payment' AS payment, r->'allocation' AS allocation,
       jsonb_path_query_array(r, '$.bids[*].bid') AS bids
  FROM foundation.run_auction('{"type": "sealed_bid", "resources": {"cpu": 4}, "payment_rule": "second_price"}',
                              ARRAY['b10', 'b7', 'b4']) r;
-- First price pays 10.
SELECT r->>'winner', r->>'payment' FROM foundation.run_auction('{"payment_rule": "first_price"}', ARRAY['b10', 'b7', 'b4']) r;
-- A single bidder pays its own bid.
SELECT r->>'winner', r->>'payment' FROM foundation.run_auction('{}', ARRAY['b7']) r;
-- Ties: the higher priority, then the agent registered first.
SELECT r->>'winner' FROM foundation.run_auction('{}', ARRAY['t10lo', 't10hi']) r;
SELECT r->>'winner', r->>'payment' FROM foundation.run_auction('{}', ARRAY['b4x', 'b4']) r;
-- Reserve above every bid: no winner; between the top two: the reserve.
SELECT r->>'winner', r->>'payment', r->'allocation' FROM foundation.run_auction('{"reserve_price": 11}', ARRAY['b10', 'b7']) r;
SELECT r->>'winner', r->>'payment' FROM foundation.run_auction('{"reserve_price": 8.5}', ARRAY['b10', 'b7']) r;
-- Handlers that fail, answer nonsense, a negative bid, or time out: bid 0,
-- with the reason, and the auction goes on.
SELECT r->>'winner', r->>'payment',
       jsonb_path_query_array(r, '$.bids[*] ? (@.error != null) . error') AS errors
  FROM foundation.run_auction('{}', ARRAY['broken', 'nonsense', 'negative', 'b4', 'slow']) r;
-- Stored, and announced on events.
SELECT count(*) AS auctions, count(*) FILTER (WHERE status = 'closed') AS closed FROM foundation.auctions;
SELECT count(*) AS bids, count(error) AS failed FROM foundation.bids;
-- Every bid of a run_auction, in the order of the invitation.
SELECT agent, bid, error FROM foundation.auction_bids(
  (foundation.run_auction('{}', ARRAY['b7', 'broken', 'b10']) ->> 'auction_id')::bigint);
-- A long list is checked in one pass: the repeat named is the first one listed again.
SELECT foundation.run_auction('{}', ARRAY['b10', 'b7', 'b4', 'b4', 'b7']);
SELECT messages > 0 AS announced FROM foundation.channel_stats WHERE channel = 'events';

-- Consensus at its boundaries.
SELECT r->>'consensus', r->>'yes', r->>'no' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 'b4', 'b4x'], '{"plan": 1}') r;
SELECT r->>'consensus' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 't10lo', 'b4'], '{"plan": 1}') r;
SELECT r->>'consensus' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 'b4'], '{"plan": 1}', 'supermajority') r;
SELECT r->>'consensus' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 'b4', 'b4x'], '{"plan": 1}', 'supermajority') r;
SELECT r->>'consensus' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7'], '{"plan": 1}', 'unanimous') r;
SELECT r->>'consensus' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 't10hi'], '{"plan": 1}', 'unanimous') r;
SELECT r->>'consensus', r->>'abstain' FROM foundation.coordinate_consensus(ARRAY['b10', 't10hi', 'b4'], '{"plan": 1}', 'quorum', 15000, 3) r;
-- A failed vote is not a vote: with every vote required, no quorum.
SELECT r->>'consensus', r->>'failed', jsonb_path_query_array(r, '$.votes[*].reason') AS reasons
  FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 'broken', 'nonsense'], '{"plan": 1}') r;
SELECT r->>'consensus' FROM foundation.coordinate_consensus(ARRAY['b10', 'b7', 'broken'], '{"plan": 1}', 'majority', 15000, 2) r;

-- Negotiation: alternating offers until agreement.
SELECT r->>'outcome', r->'agreement', r->>'rounds', jsonb_path_query_array(r, '$.history[*].action') AS actions
  FROM foundation.negotiate('buyer', 'seller', '{"item": "cpu"}') r;
SELECT r->>'outcome', r->'agreement' FROM foundation.negotiate('buyer', 'seller', '{"item": "cpu"}', 1) r;

-- The facade, and the variable it records.
SELECT r->>'winner', r->>'payment' FROM foundation.coordinate_resource_allocation(ARRAY['b10', 'b7', 'b4'], '{"cpu": 8}') r;
SELECT id, type, agents, constraints, last_result->>'winner' AS last_winner FROM foundation.orchestration_variables;
SELECT foundation.coordinate('resource_allocation')->>'winner';

-- A custom protocol: the coordination function is the user's.
CREATE FUNCTION public.pick_first(agents text[], spec jsonb, context jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('chosen', agents[1], 'why', spec->>'why') $$;
SELECT foundation.run_custom_protocol('{"coordination_fn": "public.pick_first(text[],jsonb,jsonb)", "why": "first come"}', ARRAY['b7', 'b4']);
SELECT foundation.register_orchestration_variable('{"id": "pick", "type": "custom", "agents": ["b4", "b7"], "coordination_fn": "public.pick_first(text[],jsonb,jsonb)"}');
SELECT foundation.coordinate('pick');
SELECT last_result FROM foundation.orchestration_variables WHERE id = 'pick';

-- Bad input: clear errors.
SELECT err($$SELECT foundation.run_auction('{}', ARRAY[]::text[])$$);
SELECT err($$SELECT foundation.run_auction('{}', ARRAY['b7', 'b7'])$$);
SELECT err($$SELECT foundation.run_auction('{}', ARRAY['nobody'])$$);
SELECT err($$SELECT foundation.run_auction('{}', ARRAY['buyer'])$$);
SELECT err($$SELECT foundation.run_auction('{"payment_rule": "dutch"}', ARRAY['b7'])$$);
SELECT err($$SELECT foundation.run_auction('{"reserve_price": -1}', ARRAY['b7'])$$);
SELECT err($$SELECT foundation.run_auction('{"type": "english"}', ARRAY['b7'])$$);
SELECT err($$SELECT foundation.coordinate_consensus(ARRAY['b7'], '{}', 'plurality')$$);
SELECT err($$SELECT foundation.coordinate_consensus(ARRAY['b7'], '{}', 'majority', 1000, 5)$$);
SELECT err($$SELECT foundation.register_agent('x', '{"handler": "public.pick_first(text[],jsonb,jsonb)"}')$$);
SELECT err($$SELECT foundation.register_agent('x', '{"handler": "public.agent_handler(text,text,jsonb)", "capabilities": ["flying"]}')$$);
SELECT err($$SELECT foundation.register_agent('x', '{"handler": "public.agent_handler(text,text,jsonb)", "protocols": ["dutch_auction"]}')$$);
SELECT err($$SELECT foundation.register_agent('b7', '{"handler": "public.agent_handler(text,text,jsonb)"}')$$);
SELECT err($$SELECT foundation.register_agent('x', '{}')$$);
SELECT err($$SELECT foundation.coordinate_resource_allocation(ARRAY['nobody'], '{}')$$);
SELECT err($$SELECT foundation.start_coordination_agent(NULL, '{}', 'x', ARRAY['flying'], handler => 'public.agent_handler(text,text,jsonb)')$$);
SELECT count(*) FROM foundation.agents WHERE name = 'x';
