-- Channels: the four topics, routing, wire forms, statistics, bad input.
SELECT * FROM foundation.channels ORDER BY topic;

-- Routing, with the rule that decided, rule by rule.
SELECT foundation.explain_routing('{"a": 1}', 'high');
SELECT foundation.explain_routing(jsonb_build_object('x', repeat('a', 20471)));
SELECT foundation.explain_routing('{"type": "metric", "value": 1}');
SELECT foundation.explain_routing('{"type": "measurement"}');
SELECT foundation.explain_routing('{"telemetry": {"cpu": 0.5}}');
SELECT foundation.explain_routing('["telemetry", {"cpu": 0.5}]');
SELECT foundation.explain_routing('["telemetry", 1, 2]');
SELECT foundation.explain_routing('{"type": "event"}');
SELECT foundation.explain_routing('"telemetry"');
SELECT foundation.explain_routing('{"a": 1}', 'low');
-- Rules apply in order: high priority wins over size and telemetry.
SELECT foundation.explain_routing(jsonb_build_object('type', 'metric', 'x', repeat('a', 20000)), 'high');
SELECT foundation.explain_routing(jsonb_build_object('type', 'metric', 'x', repeat('a', 20000)));

-- The size rule: text larger than 10240 bytes.
SELECT length(jsonb_build_object('x', repeat('a', 10231))::text) AS len,
       foundation.route_message(jsonb_build_object('x', repeat('a', 10231))) AS channel;
SELECT length(jsonb_build_object('x', repeat('a', 10232))::text) AS len,
       foundation.route_message(jsonb_build_object('x', repeat('a', 10232))) AS channel;
SELECT foundation.route_message('{"a": 1}', 'high');
SELECT foundation.route_message('{"type": "metric"}');
SELECT foundation.route_message('{"a": 1}');

-- Statistics count committed broadcasts only.
SELECT foundation.reset_channel_stats();
SELECT foundation.broadcast('events', '{"n": 1}');
SELECT foundation.broadcast('events', '{"n": 2}', compression => true);
BEGIN;
SELECT foundation.broadcast('control', '{"rolled": "back"}');
ROLLBACK;
BEGIN;
SELECT foundation.broadcast('control', '{"kept": 1}');
SAVEPOINT s;
SELECT foundation.broadcast('control', '{"dropped": 1}');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
SELECT foundation.broadcast('control', '{"kept": 2}');
RELEASE SAVEPOINT t;
COMMIT;
SELECT foundation.route_message(jsonb_build_object('x', repeat('a', 20000)));
SELECT foundation.route_message(jsonb_build_object('r', (SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 500) i)));
SELECT foundation.route_message('{"telemetry": 1}');
SELECT channel, messages, bytes, compressed, stored, routed_high_priority, routed_large,
       routed_telemetry, routed_default, errors, last_message_at IS NOT NULL AS seen
  FROM foundation.channel_stats ORDER BY channel;

-- A message too large even compressed is stored and sent by reference.
SELECT id AS ref, bytes, channel FROM foundation.messages ORDER BY id DESC LIMIT 1 \gset
SELECT :bytes = length(jsonb_build_object('r', (SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 500) i))::text) AS bytes_right, :'channel';
SELECT foundation.fetch_message(:ref) = jsonb_build_object('r', (SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 500) i)) AS fetched;
SELECT foundation.decode_message(format('{"foundation_ref": %s, "bytes": %s}', :ref, :bytes))
     = foundation.fetch_message(:ref) AS decoded;

-- decode_message: plain and compressed (zlib + base64, as any client makes it).
SELECT foundation.decode_message('{"plain": [1, 2]}');
SELECT foundation.decode_message('{"foundation_compressed": "eJyrVspIzcnJV7JSUCrPL8pJUdJRUMoD8qINdRSMdBSMY2sBsVsJVQ=="}');

-- Stored messages are removed by the supervisor after the retention.
ALTER SYSTEM SET foundation.message_retention = '1s';
SELECT pg_reload_conf();
SELECT wait_for(format($$SELECT NOT EXISTS (SELECT FROM foundation.messages WHERE id = %s)$$, :ref));
ALTER SYSTEM RESET foundation.message_retention;
SELECT pg_reload_conf();
SELECT err(format('SELECT foundation.fetch_message(%s)', :ref)) ~ '^42704: stored message \d+ does not exist' AS gone_is_an_error;

-- Bad input: errors, and nothing sent (the statistics do not move).
SELECT foundation.reset_channel_stats();
SELECT err($$SELECT foundation.broadcast('nope', '{}')$$);
SELECT err($$SELECT foundation.broadcast('events', NULL)$$);
SELECT err($$SELECT foundation.broadcast(NULL, '{}')$$);
SELECT err($$SELECT foundation.route_message('{}', 'urgent')$$);
SELECT err($$SELECT foundation.route_message(NULL)$$);
SELECT err($$SELECT foundation.explain_routing('{}', 'urgent')$$);
SELECT err($$SELECT foundation.subscribe('nope')$$);
SELECT err($$SELECT foundation.decode_message('{"foundation_compressed": "bm90IHpsaWIgYXQgYWxs"}')$$);
SELECT err($$SELECT foundation.decode_message('{"foundation_compressed": "eJyrVspIzcnJV7JSUCrP"}')$$);
SELECT err($$SELECT foundation.decode_message('{"foundation_compressed": "***"}')$$);
SELECT err($$SELECT foundation.decode_message('{"foundation_compressed": 42}')$$);
SELECT err($$SELECT foundation.decode_message('{"foundation_ref": 987654321, "bytes": 1}')$$);
SELECT err($$SELECT foundation.decode_message('not json')$$);
SELECT err($$SELECT foundation.fetch_message(NULL)$$);
SELECT sum(messages) AS sent FROM foundation.channel_stats;

-- A message that looks like an envelope travels compressed, so it decodes
-- back to itself.
SELECT foundation.broadcast('events', '{"foundation_ref": 1}');
SELECT compressed FROM foundation.channel_stats WHERE channel = 'events';

-- LISTEN through subscribe, in this session, from commit on.
SELECT foundation.subscribe('events');
SELECT pg_listening_channels();
SELECT foundation.unsubscribe('events');
SELECT pg_listening_channels();

-- Leaky: DEBUG1 shows the pg_notify call.
SET client_min_messages = debug1;
BEGIN;
SELECT foundation.broadcast('telemetry', '{"type": "metric"}', true);
ROLLBACK;
RESET client_min_messages;
