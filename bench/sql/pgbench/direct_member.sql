-- bench/sql/pgbench/direct_member.sql: benchmark 16 only: direct_broadcast to
-- another member, which writes its outbox row (the durable write a cross-node
-- broadcast adds to local_broadcast) and notifies no listener here.
SELECT foundation.direct_broadcast('bench_m2', 'events', '{"n": 1}');
