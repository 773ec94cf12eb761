-- Nodes, cluster configuration and health, on one server.
SELECT foundation.node_name();
SELECT jsonb_object_keys(foundation.node_metrics()) ORDER BY 1;
SELECT (m->>'connections_allowed')::int = current_setting('max_connections')::int AS conns,
       (m->>'connections_used')::int >= 1 AS this_session_counted,
       m->>'server_version' = current_setting('server_version') AS version_text,
       abs((m->>'uptime_s')::bigint - extract(epoch FROM now() - pg_postmaster_start_time())) <= 1 AS uptime_matches,
       (m->>'worker_slots_allowed')::int = current_setting('max_worker_processes')::int AS slots,
       (m->>'worker_slots_used')::int >= 1 AS supervisor_counted,
       jsonb_array_length(m->'load_avg') = 3 AS load,
       (m->>'memory_total')::bigint > (m->>'memory_available')::bigint AS memory,
       (m->>'server_version_num')::int = current_setting('server_version_num')::int AS version,
       (m->>'uptime_s')::bigint >= 0 AS uptime
  FROM foundation.node_metrics() m;

-- Configuration: off by default.
SELECT * FROM foundation.resolve_cluster_config();
SELECT foundation.translate_cluster_config('kubernetes');
SELECT foundation.translate_cluster_config('consul');
SELECT foundation.translate_cluster_config('dns');
SELECT foundation.translate_cluster_config('static');
SELECT foundation.translate_cluster_config('gossip');
SELECT foundation.auto_detect_strategy();
SELECT err($$SELECT foundation.translate_cluster_config('nope')$$);
SELECT err($$SELECT foundation.translate_cluster_config(NULL)$$);

-- A node added by hand: wizard mode, foundation steps aside.
INSERT INTO foundation.nodes (name, conninfo) VALUES ('by-hand', 'host=/nonexistent port=1');
SELECT mode, topology FROM foundation.resolve_cluster_config();

-- Settings are checked.
ALTER SYSTEM SET foundation.topology = 'not json';
ALTER SYSTEM SET foundation.topology = '[1]';
ALTER SYSTEM SET foundation.cluster_nodes = 'host=a; port';

-- Gossip is off without a secret of this node's own: the well-known default,
-- foundation-cluster, is refused like any other (the right secret is
-- answered in test/t/008_cluster_config.pl).
SELECT err($$SELECT foundation.gossip_exchange('foundation-cluster', 'peer', 'host=peer')$$);
SELECT err($$SELECT foundation.gossip_exchange('', 'peer', 'host=peer')$$);
SELECT name, conninfo, source, status FROM foundation.nodes ORDER BY name;
-- Everyone reads foundation.nodes: no conninfo there holds a password.
SELECT err($$INSERT INTO foundation.nodes (name, conninfo) VALUES ('pw', 'host=x password=s3cret')$$);
SELECT err($$UPDATE foundation.nodes SET conninfo = 'postgresql://u:s3cret@x/db' WHERE name = 'by-hand'$$);

-- A health check: the unreachable hand-added node makes this cluster of one
-- expected node still healthy (this node counts), but it is reported.
SELECT r->>'overall_status' AS overall,
       r#>>'{cluster,healthy_nodes}' AS healthy_nodes,
       r#>>'{cluster,connected_nodes}' AS connected,
       (SELECT n->>'status' FROM jsonb_array_elements(r#>'{cluster,node_health}') n WHERE n->>'node' = 'by-hand') AS by_hand,
       r#>>'{infrastructure,supervisor_status}' AS supervisor,
       r#>>'{infrastructure,pubsub_status}' AS pubsub,
       (r#>>'{performance,avg_message_latency_ms}')::float8 > 0 AS latency_measured,
       (r->>'check_duration_ms')::float8 > 0 AS duration_measured,
       (SELECT array_agg(x->>'rule') FROM jsonb_array_elements(r->'recommendations') x) AS rules
  FROM foundation.health_check() r;
SELECT status, failed_checks FROM foundation.nodes WHERE name = 'by-hand';
SELECT overall_status, cluster, healthy_nodes, expected_nodes, services, infrastructure FROM foundation.health;
SELECT count(*) FROM foundation.health_history;
-- cluster_health() does not store.
SELECT foundation.cluster_health() ? 'overall_status';
SELECT count(*) FROM foundation.health_history;
DELETE FROM foundation.nodes WHERE name = 'by-hand';

-- The monitor runs.
SELECT wait_for($$SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'foundation health monitor')$$) AS monitor_runs;
