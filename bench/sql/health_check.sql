-- bench/sql/health_check.sql: one sample of benchmark 8, run as one
-- autocommit statement (bench/run puts it on one line, COUNT times).  The
-- time is measured by the server itself: from statement_timestamp() (when
-- the statement arrived) to clock_timestamp() evaluated after the function
-- returned (the function scan runs before the select list).
SELECT r->>'check_duration_ms',
       round((extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::numeric, 3),
       r->'performance'->>'avg_message_latency_ms',
       (SELECT max((n->>'ping_time_us')::bigint) FROM jsonb_array_elements(r->'cluster'->'node_health') n),
       r->'cluster'->>'healthy_nodes'
  FROM foundation.cluster_health() r;
