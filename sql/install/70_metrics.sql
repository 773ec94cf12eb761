------------------------------------------------------------------------------
-- Monitoring (docs/monitoring.md): foundation's numbers as rows, one view
-- per Prometheus metric family (contrib/prometheus/queries.yaml reads them
-- through postgres_exporter), and foundation.status, one screen for psql.
--
-- Who reads them: pg_monitor (the role PostgreSQL gives monitoring agents)
-- and superusers, never PUBLIC.  The views are owned by the extension's
-- owner, so they count every role's children, auctions and outbox rows
-- (row-level security and the tables' own grants are checked as the
-- owner); they show counts, states and names, no argument or message.  The
-- internal functions they call run as the caller, so pg_monitor may
-- execute them and PUBLIC may not.
------------------------------------------------------------------------------
-- Every child slot in shared memory, of every role (foundation._child_slots
-- shows a role its own only); last_exit only of the caller's own.
CREATE FUNCTION foundation._metrics_slots(
    OUT child_id bigint, OUT pid integer, OUT alive boolean, OUT last_exit text)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_metrics_slots';
CREATE FUNCTION foundation._supervisor_counters(
    OUT supervisor_pid integer, OUT needed boolean, OUT restarts bigint,
    OUT intensity_failures bigint)
    RETURNS record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_supervisor_counters';
CREATE FUNCTION foundation._channel_form_counters(
    OUT channel text, OUT form text, OUT messages bigint, OUT bytes bigint)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_channel_form_counters';
CREATE FUNCTION foundation._handler_counters(
    OUT channel text, OUT calls bigint, OUT errors bigint, OUT timeouts bigint,
    OUT dropped bigint)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_handler_counters';
CREATE FUNCTION foundation._lease_metrics(
    OUT clustered boolean, OUT member boolean, OUT epoch bigint,
    OUT renewed_at timestamptz, OUT seconds_left double precision,
    OUT renew_interval_seconds double precision, OUT duration_seconds double precision)
    RETURNS record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_lease_metrics';
REVOKE ALL ON FUNCTION foundation._metrics_slots(), foundation._supervisor_counters(),
                       foundation._channel_form_counters(), foundation._handler_counters(),
                       foundation._lease_metrics()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation._metrics_slots(), foundation._supervisor_counters(),
                          foundation._channel_form_counters(), foundation._handler_counters(),
                          foundation._lease_metrics()
  TO pg_monitor;

-- The supervisor of this database: whether it runs, whether it should
-- (a database with nothing to supervise has none), and the server's
-- counters since it started.
CREATE VIEW foundation.metrics_supervisor AS
  SELECT pg_catalog.current_database() AS database,
         (k.supervisor_pid IS NOT NULL)::int AS up,
         k.needed::int AS needed,
         k.supervisor_pid AS pid,
         k.restarts AS restarts_total,
         k.intensity_failures AS intensity_failures_total
    FROM foundation._supervisor_counters() k;
COMMENT ON VIEW foundation.metrics_supervisor IS
  'This database''s supervisor: up (1 or 0), needed (1: the database has work, so a supervisor should run), its pid, and since server start the children supervisors restarted and those they marked failed past their restart intensity.';

-- Children by database and state; every state of every database that has
-- children, zeros included, so that a series does not vanish at zero.
-- restarting: should run, but nothing runs it this moment.
CREATE VIEW foundation.metrics_children AS
  WITH c AS (
    SELECT c.database,
           CASE WHEN c.status OPERATOR(pg_catalog.=) 'running' AND s.alive IS NOT TRUE
                THEN 'restarting' ELSE c.status END AS state
      FROM foundation.child_specs c
      LEFT JOIN foundation._metrics_slots() s
        ON s.child_id OPERATOR(pg_catalog.=) c.child_id)
  SELECT d.database, st.state, pg_catalog.count(c.state) AS children
    FROM (SELECT DISTINCT database FROM foundation.child_specs) d
    CROSS JOIN (VALUES ('running'), ('restarting'), ('exited'), ('failed')) st (state)
    LEFT JOIN c ON c.database OPERATOR(pg_catalog.=) d.database
               AND c.state OPERATOR(pg_catalog.=) st.state
   GROUP BY d.database, st.state;
COMMENT ON VIEW foundation.metrics_children IS
  'Children by database and state (running, restarting, exited, failed), every role''s; the rows are in foundation.children.';

-- Registered names: all, and those that follow a child.
CREATE VIEW foundation.metrics_registry AS
  SELECT pg_catalog.count(*) AS names,
         pg_catalog.count(child_id) AS child_names
    FROM foundation.registry;
COMMENT ON VIEW foundation.metrics_registry IS
  'Names in foundation.registry, and how many of them follow a child.';

-- Committed broadcasts by channel and wire form, since server start (or
-- foundation.reset_channel_stats()).
CREATE VIEW foundation.metrics_channels AS
  SELECT channel, form, messages AS messages_total, bytes AS bytes_total
    FROM foundation._channel_form_counters();
COMMENT ON VIEW foundation.metrics_channels IS
  'Committed broadcasts by channel and form (plain, compressed, reference): messages and their text''s bytes, since server start or foundation.reset_channel_stats().';

CREATE VIEW foundation.metrics_handlers AS
  SELECT channel, calls AS calls_total, errors AS errors_total,
         timeouts AS timeouts_total, dropped AS dropped_total
    FROM foundation._handler_counters();
COMMENT ON VIEW foundation.metrics_handlers IS
  'The handler dispatcher, by channel: handler calls, those that failed (timeouts included), those cancelled by foundation.handler_timeout, and messages dropped by a full backlog.';

CREATE VIEW foundation.metrics_notification_queue AS
  SELECT pg_catalog.pg_notification_queue_usage() AS usage;
COMMENT ON VIEW foundation.metrics_notification_queue IS
  'The share (0 to 1) of PostgreSQL''s notification queue in use: every channel''s NOTIFY waits there for its slowest listener.';

-- The relay's backlog: one row per other member (known from the last
-- lease renewal) and per outbox target, with what waits for it.
CREATE VIEW foundation.metrics_relay AS
  SELECT t.member,
         pg_catalog.count(o.id) AS backlog_messages,
         coalesce(pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-)
                                                pg_catalog.min(o.created_at)), 0)
           AS oldest_message_seconds
    FROM (SELECT node FROM foundation.cluster_peers
          UNION SELECT target FROM foundation.outbox) t (member)
    LEFT JOIN foundation.outbox o ON o.target OPERATOR(pg_catalog.=) t.member
   GROUP BY t.member;
COMMENT ON VIEW foundation.metrics_relay IS
  'Per other member: messages waiting in foundation.outbox for the relay, and the age of the oldest (0 when none).';

-- The last health report, its status as a number (0 healthy, 1 degraded,
-- 2 critical; -1 while there is none), and whether the monitor runs.
CREATE VIEW foundation.metrics_health AS
  SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity
           WHERE backend_type OPERATOR(pg_catalog.=) 'foundation health monitor')::int
           AS monitor_up,
         coalesce(CASE h.overall_status WHEN 'healthy' THEN 0 WHEN 'degraded' THEN 1
                                        WHEN 'critical' THEN 2 END, -1) AS status,
         h.overall_status AS status_name,
         h.check_duration_ms OPERATOR(pg_catalog./) 1000 AS check_duration_seconds,
         pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) h.checked_at)
           AS last_check_seconds,
         h.checked_at
    FROM (SELECT 1) one
    LEFT JOIN (SELECT overall_status, check_duration_ms, checked_at
                 FROM foundation.health_history
                ORDER BY checked_at DESC, id DESC LIMIT 1) h ON true;
COMMENT ON VIEW foundation.metrics_health IS
  'Whether the health monitor runs, and the last report: status 0 healthy, 1 degraded, 2 critical, -1 none yet; the check''s duration and age in seconds. The report itself: foundation.health.';

-- This member's lease (all NULL but clustered = 0 without a control
-- database).  The age is taken on clock_timestamp(), read after the
-- lease: a renewal sent during this transaction must not make it negative.
CREATE VIEW foundation.metrics_lease AS
  SELECT clustered::int AS clustered, member::int AS member, epoch,
         CASE WHEN renewed_at IS NOT NULL
              THEN pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) renewed_at)
         END AS seconds_since_renewal,
         CASE WHEN clustered THEN seconds_left END AS seconds_left,
         CASE WHEN clustered THEN renew_interval_seconds END AS renew_interval_seconds,
         CASE WHEN clustered THEN duration_seconds END AS duration_seconds,
         renewed_at
    FROM foundation._lease_metrics();
COMMENT ON VIEW foundation.metrics_lease IS
  'This member''s lease on the control database: clustered (1: foundation.control_conninfo is set), member (1: it holds a lease now), its epoch, seconds since the last renewal that worked and left before its own deadline, and the renewal interval and lease duration in seconds.';

CREATE VIEW foundation.metrics_coordination AS
  SELECT 'auction' AS kind,
         pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'open') AS open,
         pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'open'
                                     AND deadline OPERATOR(pg_catalog.<) pg_catalog.now()) AS overdue
    FROM foundation.auctions
  UNION ALL
  SELECT 'proposal',
         pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'open'),
         pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'open'
                                     AND deadline OPERATOR(pg_catalog.<) pg_catalog.now())
    FROM foundation.proposals;
COMMENT ON VIEW foundation.metrics_coordination IS
  'Open auctions and proposals, and how many of them are past their deadline (the supervisor closes those at its next pass).';

------------------------------------------------------------------------------
-- foundation.status: one screen for psql.  Each row says what it is about
-- (area, item), how it is (state), a detail, and where to look next.
-- The supervisor's rows come from one place (the first branch), to be
-- read per database once each database has its own supervisor.
------------------------------------------------------------------------------
CREATE VIEW foundation.status AS
SELECT area, item, state, detail, look_next FROM (
  -- processes
  SELECT 1 AS ord, 0 AS sub, 'processes' AS area, 'supervisor' AS item,
         CASE WHEN s.up OPERATOR(pg_catalog.=) 1 THEN 'running'
              WHEN s.needed OPERATOR(pg_catalog.=) 0 THEN 'idle'
              ELSE 'not running' END AS state,
         CASE WHEN s.up OPERATOR(pg_catalog.=) 1
              THEN pg_catalog.format('pid %s in database %s; %s restarts, %s failed since server start',
                                     s.pid, s.database, s.restarts_total, s.intensity_failures_total)
              WHEN s.needed OPERATOR(pg_catalog.=) 0
              THEN 'nothing to supervise in this database: the launcher starts a supervisor when there is'
              ELSE 'no child is started or restarted; check the server log' END AS detail,
         'SELECT * FROM foundation.metrics_supervisor' AS look_next
    FROM foundation.metrics_supervisor s
  UNION ALL
  SELECT 2, 0, 'processes', 'health monitor',
         CASE WHEN h.monitor_up OPERATOR(pg_catalog.>) 0 THEN 'running' ELSE 'not running' END,
         CASE WHEN h.checked_at IS NULL THEN 'no check yet'
              ELSE pg_catalog.format('last check %s s ago', pg_catalog.round(h.last_check_seconds::numeric, 1)) END,
         'SELECT * FROM foundation.health'
    FROM foundation.metrics_health h
  UNION ALL
  SELECT 3, st.sub, 'children', st.state, coalesce(pg_catalog.sum(c.children), 0)::text,
         coalesce(pg_catalog.string_agg(pg_catalog.format('%s in %s', c.children, c.database), ', '
                                        ORDER BY c.database), 'no children'),
         pg_catalog.format('SELECT * FROM foundation.children WHERE status = %L', st.state)
    FROM (VALUES (1, 'running'), (2, 'restarting'), (3, 'exited'), (4, 'failed')) st (sub, state)
    LEFT JOIN foundation.metrics_children c ON c.state OPERATOR(pg_catalog.=) st.state
   GROUP BY st.sub, st.state
  UNION ALL
  SELECT 4, 0, 'failed child', c.id, 'failed',
         pg_catalog.format('child %s, %s restarts; last exit: %s', c.child_id, c.restart_count, c.last_exit),
         pg_catalog.format('SELECT * FROM foundation.children WHERE child_id = %s', c.child_id)
    FROM foundation.child_specs c
   WHERE c.status OPERATOR(pg_catalog.=) 'failed'
  UNION ALL
  SELECT 5, 0, 'registry', 'names', r.names::text,
         pg_catalog.format('%s follow a child', r.child_names),
         'SELECT * FROM foundation.registry'
    FROM foundation.metrics_registry r
  UNION ALL
  -- channels
  SELECT 6, 0, 'channel', m.channel, pg_catalog.format('%s messages', pg_catalog.sum(m.messages_total)),
         pg_catalog.format('%s bytes; %s', pg_catalog.sum(m.bytes_total),
                           pg_catalog.string_agg(pg_catalog.format('%s %s', m.messages_total, m.form), ', '
                                                 ORDER BY m.form)),
         pg_catalog.format('SELECT * FROM foundation.channel_stats WHERE channel = %L', m.channel)
    FROM foundation.metrics_channels m
   GROUP BY m.channel
  UNION ALL
  SELECT 7, 0, 'handlers', h.channel,
         pg_catalog.format('%s errors', h.errors_total),
         pg_catalog.format('%s calls, %s timeouts, %s dropped', h.calls_total, h.timeouts_total, h.dropped_total),
         CASE WHEN h.errors_total OPERATOR(pg_catalog.>) 0 OR h.dropped_total OPERATOR(pg_catalog.>) 0
              THEN 'the server log (WARNING:  foundation handler ...)'
              ELSE pg_catalog.format('SELECT * FROM foundation.channel_handlers WHERE channel = %L', h.channel) END
    FROM foundation.metrics_handlers h
   WHERE h.calls_total OPERATOR(pg_catalog.>) 0 OR h.dropped_total OPERATOR(pg_catalog.>) 0
      OR EXISTS (SELECT FROM foundation.channel_handlers ch WHERE ch.channel OPERATOR(pg_catalog.=) h.channel)
  UNION ALL
  SELECT 8, 0, 'notifications', 'queue',
         pg_catalog.format('%s %%', pg_catalog.round((q.usage OPERATOR(pg_catalog.*) 100)::numeric, 2)),
         'share of PostgreSQL''s notification queue in use',
         'SELECT pid, state, xact_start FROM pg_stat_activity ORDER BY xact_start'
    FROM foundation.metrics_notification_queue q
  UNION ALL
  -- health
  SELECT 9, 0, 'health', 'overall', coalesce(h.status_name, 'unknown'),
         CASE WHEN h.checked_at IS NULL THEN 'no report yet'
              ELSE pg_catalog.format('checked %s, took %s ms', h.checked_at,
                                     pg_catalog.round((h.check_duration_seconds OPERATOR(pg_catalog.*) 1000)::numeric, 1)) END,
         'SELECT * FROM foundation.health'
    FROM foundation.metrics_health h
  UNION ALL
  -- cluster
  SELECT 10, 0, 'cluster', 'nodes',
         pg_catalog.format('%s up', pg_catalog.count(*) FILTER (WHERE n.status OPERATOR(pg_catalog.=) 'up')),
         pg_catalog.format('%s known, %s unreachable', pg_catalog.count(*),
                           pg_catalog.count(*) FILTER (WHERE n.status OPERATOR(pg_catalog.=) 'unreachable')),
         'SELECT * FROM foundation.nodes'
    FROM foundation.nodes n
  UNION ALL
  SELECT 11, 0, 'cluster', 'lease',
         CASE WHEN l.clustered OPERATOR(pg_catalog.=) 0 THEN 'not clustered'
              WHEN l.member OPERATOR(pg_catalog.=) 1 THEN 'member'
              ELSE 'not a member' END,
         CASE WHEN l.clustered OPERATOR(pg_catalog.=) 0 THEN 'foundation.control_conninfo is empty'
              WHEN l.member OPERATOR(pg_catalog.=) 1
              THEN pg_catalog.format('epoch %s, renewed %s s ago, %s s left', l.epoch,
                                     pg_catalog.round(l.seconds_since_renewal::numeric, 1),
                                     pg_catalog.round(l.seconds_left::numeric, 1))
              ELSE pg_catalog.format('last renewal: %s', coalesce(l.renewed_at::text, 'never')) END,
         'SELECT * FROM foundation.metrics_lease'
    FROM foundation.metrics_lease l
  UNION ALL
  SELECT 12, 0, 'cluster', pg_catalog.format('relay to %s', r.member),
         pg_catalog.format('%s waiting', r.backlog_messages),
         pg_catalog.format('oldest %s s', pg_catalog.round(r.oldest_message_seconds::numeric, 1)),
         pg_catalog.format('SELECT * FROM foundation.outbox WHERE target = %L ORDER BY id', r.member)
    FROM foundation.metrics_relay r
  UNION ALL
  -- coordination
  SELECT 13, 0, 'coordination', m.kind || 's', pg_catalog.format('%s open', m.open),
         pg_catalog.format('%s past their deadline', m.overdue),
         pg_catalog.format('SELECT * FROM foundation.%ss WHERE status = ''open''', m.kind)
    FROM foundation.metrics_coordination m
) s
ORDER BY ord, sub, item;
COMMENT ON VIEW foundation.status IS
  'One screen: whether the supervisor and the health monitor run, children by state, failed children by name, registry, channels and handlers, the notification queue, health, cluster nodes, lease and relay, open auctions and proposals; look_next says where the detail is.';

GRANT SELECT ON foundation.metrics_supervisor, foundation.metrics_children,
                foundation.metrics_registry, foundation.metrics_channels,
                foundation.metrics_handlers, foundation.metrics_notification_queue,
                foundation.metrics_relay, foundation.metrics_health,
                foundation.metrics_lease, foundation.metrics_coordination,
                foundation.status
  TO pg_monitor;
