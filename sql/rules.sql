-- Documented rules at their boundaries, and user-facing errors that no
-- other test raises (issue 12).  Uses public.err from setup.sql.

-- Agents of their own, answering from their args.
CREATE FUNCTION public.rules_agent(agent text, request text, payload jsonb)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT args->CASE request WHEN 'vote' THEN 'vote' ELSE 'answer' END
    FROM foundation.agents WHERE name = agent $$;
SELECT foundation.register_agent(n, jsonb_build_object(
         'handler', 'public.rules_agent(text,text,jsonb)',
         'capabilities', '["auction_bidding", "consensus_voting"]'::jsonb,
         'args', jsonb_build_object('vote', jsonb_build_object('vote', v),
                                    'answer', jsonb_build_object('bid', b))))
  FROM (VALUES ('ry1', 'yes', 5), ('ry2', 'yes', 5), ('ry3', 'yes', 5),
               ('rn1', 'no', 3), ('rn2', 'no', 3), ('ra1', 'abstain', 1)) x(n, v, b)
 ORDER BY n;

-- THE CONSENSUS RULE (docs/coordination.md) at its boundaries.
SELECT t, r->>'consensus' AS consensus
  FROM (VALUES
    ('majority: 2 yes of 4 (exactly half) is not more than half', 'majority', ARRAY['ry1', 'ry2', 'rn1', 'rn2']),
    ('majority: 2 yes of 3', 'majority', ARRAY['ry1', 'ry2', 'rn1']),
    ('supermajority: 2 yes of 3 (exactly two thirds)', 'supermajority', ARRAY['ry1', 'ry2', 'rn1']),
    ('supermajority: 2 yes of 4', 'supermajority', ARRAY['ry1', 'ry2', 'rn1', 'rn2']),
    ('unanimous: 3 yes of 3', 'unanimous', ARRAY['ry1', 'ry2', 'ry3']),
    ('unanimous: 2 yes and an abstention', 'unanimous', ARRAY['ry1', 'ry2', 'ra1']),
    ('quorum: 2 yes, 2 no (a tie is not more yes)', 'quorum', ARRAY['ry1', 'ry2', 'rn1', 'rn2']),
    ('quorum: 1 yes, 0 no, 1 abstain', 'quorum', ARRAY['ry1', 'ra1'])) v(t, ty, a),
       LATERAL (SELECT foundation.coordinate_consensus(a, '{"p": 1}', ty)) c(r);
-- Abstentions count towards required_votes: 3 valid votes of 3 required decide (not no_quorum).
SELECT r->>'consensus' AS consensus FROM foundation.coordinate_consensus(ARRAY['ry1', 'ra1', 'rn1'], '{}', 'majority', 15000, 3) r;

-- Errors no other test raises.
SELECT err($$SELECT foundation.run_auction('[1]', ARRAY['ry1'])$$);
SELECT err($$SELECT foundation.coordinate_consensus(ARRAY['ry1'], '{}', 'majority', 0)$$);
SELECT err($$SELECT foundation.negotiate('ry1', 'ry2', '{}', 0)$$);
SELECT err($$SELECT foundation.open_auction('{}', ARRAY['ry1'], '-1 second')$$);
SELECT err($$SELECT foundation.open_auction('{}', ARRAY['ry1'], '0 seconds')$$);
SELECT err($$SELECT foundation.submit_bid(1, 'ry1', 1, '{"priority": -1}')$$);
SELECT err($$SELECT foundation.start_coordination_agent(NULL, '{}', 'rx', strategy => 'clustered', handler => 'public.rules_agent(text,text,jsonb)')$$);
SELECT err($$SELECT foundation.start_coordination_agent(NULL, '{}', NULL, handler => 'public.rules_agent(text,text,jsonb)')$$);
SELECT err($$SELECT foundation.run_auction('{}', ARRAY['ry1', NULL])$$);
SELECT err($$SELECT foundation.register_orchestration_variable('{"type": "auction"}')$$);
SELECT err($$SELECT foundation.register_orchestration_variable('{"id": "v1", "type": "lottery"}')$$);
SELECT err($$SELECT foundation.register_orchestration_variable('{"id": "v1", "type": "auction"}')$$);
-- A custom variable without its coordination_fn is refused when it runs.
SELECT err($$SELECT foundation.register_orchestration_variable('{"id": "v1", "type": "custom", "agents": ["ry1"]}')$$);
SELECT err($$SELECT foundation.coordinate('v1')$$);
SELECT err($$SELECT foundation.start_singleton('public.nothing', '{}', 'x', scope => 'galaxy')$$);
SELECT err($$SELECT foundation.start_singleton('public.nothing', '{}', 'x', scope => 'cluster')$$);
SELECT err($$SELECT foundation.route_message('{}', 'urgent')$$);


-- A relayed batch sent again (after a relay crash) is delivered once per
-- origin and id (docs/channels.md).
SELECT foundation.relay_deliver('rules-origin', '[{"id": 1, "channel": "events", "message": {"r": 1}}]') AS first,
       foundation.relay_deliver('rules-origin', '[{"id": 1, "channel": "events", "message": {"r": 1}}]') AS again,
       foundation.relay_deliver('rules-other', '[{"id": 1, "channel": "events", "message": {"r": 1}}]') AS other_origin;
SELECT err($$SELECT foundation.relay_deliver('rules-origin', '{"id": 2}')$$);
