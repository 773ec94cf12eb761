-- foundation 0.1 -> 0.2.  0.2 is 0.1 re-cut into pieces per area
-- (sql/install/), with a few statements moved to the piece of their area
-- (the facade last; pid_alive's privileges and the registry's cache trigger
-- to process; local_broadcast to channels), and the changes below: an
-- updated 0.1 and a fresh 0.2 have the same schema (test/t/023_upgrade.pl
-- checks it).
\echo Use "ALTER EXTENSION foundation UPDATE TO '0.2'" to load this file. \quit

-- Fencing tokens (docs/cluster-singletons.md): a new one at every placement,
-- from a sequence that starts past every token already given.
CREATE SEQUENCE foundation.fencing_tokens;
REVOKE ALL ON SEQUENCE foundation.fencing_tokens FROM PUBLIC;
SELECT pg_catalog.setval('foundation.fencing_tokens', pg_catalog.max(epoch))
  FROM foundation.cluster_singletons HAVING pg_catalog.count(*) > 0;
ALTER TABLE foundation.cluster_singletons
  ALTER COLUMN epoch SET DEFAULT nextval('foundation.fencing_tokens');

-- cluster_reassign, grant_member_role (which the member roles granted
-- before 0.2 get again, for the sequence too): below, with the databases.

-- whereis shows the fencing token: a new result type.
DROP FUNCTION foundation.whereis(text);
CREATE FUNCTION foundation.whereis(name text) RETURNS TABLE (node text, pid integer, token bigint)
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_whereis';
COMMENT ON FUNCTION foundation.whereis(text) IS
  'Where a singleton runs: for a cluster singleton, the member, pid and fencing token the control database records (the same answer on every member; pid NULL while it starts); else this node and the local pid (token NULL). No row: no such name.';

CREATE FUNCTION foundation.fencing_token() RETURNS bigint
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_fencing_token';
COMMENT ON FUNCTION foundation.fencing_token() IS
  'Inside a cluster singleton''s process: the fencing token of its placement, which grows at every placement (pass it with every effect outside this server); NULL in any other process.';

CREATE FUNCTION foundation.check_lease() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_check_lease';
COMMENT ON FUNCTION foundation.check_lease() IS
  'Inside a cluster singleton''s process: raises SQLSTATE YF001 if its lease on this member has ended (another member may run it by now); else returns. Elsewhere it always returns.';


-- pg_dump keeps users' state (docs/backup.md).  Owners and a child's
-- database are stored by name (regrole, name): an OID means another role or
-- database on the server a dump is restored into.  The objects that read
-- those columns are dropped and made again around the change.
DROP POLICY own_children ON foundation.child_specs;
DROP POLICY own_agents ON foundation.agents;
DROP POLICY own_variables ON foundation.orchestration_variables;
DROP VIEW foundation.children;
DROP FUNCTION foundation.count_children();
DROP FUNCTION foundation.which_children();
DROP VIEW foundation.agent_directory;

CREATE FUNCTION foundation._database_name(oid) RETURNS name
    LANGUAGE sql STABLE SET search_path = pg_catalog
    AS 'SELECT datname FROM pg_catalog.pg_database WHERE oid = $1';
ALTER TABLE foundation.child_specs
  ALTER COLUMN database TYPE name
    USING coalesce(foundation._database_name(database), database::text),
  ALTER COLUMN owner TYPE regrole;
DROP FUNCTION foundation._database_name(oid);
ALTER TABLE foundation.registry ALTER COLUMN owner TYPE regrole;
ALTER TABLE foundation.channel_handlers ALTER COLUMN owner TYPE regrole;
ALTER TABLE foundation.agents ALTER COLUMN owner TYPE regrole;
ALTER TABLE foundation.orchestration_variables ALTER COLUMN owner TYPE regrole;
ALTER TABLE foundation.auctions ALTER COLUMN owner TYPE regrole;
ALTER TABLE foundation.proposals ALTER COLUMN owner TYPE regrole;

CREATE POLICY own_children ON foundation.child_specs FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
CREATE POLICY own_agents ON foundation.agents FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
CREATE POLICY own_variables ON foundation.orchestration_variables FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));

CREATE FUNCTION foundation.which_children(
    OUT child_id bigint, OUT id text, OUT pid integer, OUT module text,
    OUT args jsonb, OUT restart text, OUT status text, OUT database name,
    OUT role regrole, OUT started_at timestamptz, OUT restart_count integer,
    OUT last_exit text)
    RETURNS SETOF record
    LANGUAGE sql VOLATILE
    BEGIN ATOMIC
      SELECT c.child_id, c.id, CASE WHEN s.alive THEN s.pid END, c.module,
             c.args, c.restart,
             CASE WHEN c.status = 'running' AND s.alive IS NOT TRUE
                  THEN 'restarting' ELSE c.status END,
             c.database, c.owner, c.started_at, c.restart_count,
             c.last_exit
        FROM foundation.child_specs c
        LEFT JOIN foundation._child_slots() s ON s.child_id = c.child_id
       ORDER BY c.child_id;
    END;
COMMENT ON FUNCTION foundation.which_children() IS
  'DynamicSupervisor.which_children: one row per child the caller may see (a superuser sees all), with the live pid from shared memory.';

CREATE VIEW foundation.children AS SELECT * FROM foundation.which_children();
GRANT SELECT ON foundation.children TO PUBLIC;

CREATE FUNCTION foundation.count_children() RETURNS jsonb
    LANGUAGE sql STABLE
    BEGIN ATOMIC
      SELECT jsonb_build_object(
        'specs', count(*),
        'active', count(*) FILTER (WHERE c.status = 'running'),
        'supervisors', 0,
        'workers', count(*))
      FROM foundation.which_children() AS c;
    END;
COMMENT ON FUNCTION foundation.count_children() IS
  'DynamicSupervisor.count_children: {"specs", "active", "supervisors", "workers"} over the caller''s children.';

CREATE VIEW foundation.agent_directory AS
  SELECT name, module, capabilities, protocols, strategy, resources, handler,
         owner, status, pid, registered_at, seq
    FROM foundation.agents;
COMMENT ON VIEW foundation.agent_directory IS
  'Every agent, without its args (which only its owner reads in foundation.agents).';
GRANT SELECT ON foundation.agent_directory TO PUBLIC;

-- Durable channels (configure_channel, replay).
-- Durable channels: every committed message kept, with a sequence number,
-- for the channel's retention, so a listener that reconnects replays what
-- it missed.
CREATE TABLE foundation.channel_config (
    channel   text PRIMARY KEY CHECK (channel IN ('control', 'events', 'data', 'telemetry')),
    retention interval NOT NULL CHECK (retention > '0'::interval)
);
COMMENT ON TABLE foundation.channel_config IS
  'Durable channels (foundation.configure_channel) and how long their messages stay replayable.';
GRANT SELECT ON foundation.channel_config TO PUBLIC;
-- Whatever changes the configuration (configure_channel, a superuser's
-- INSERT, pg_restore's COPY), every backend rereads it once that commits.
CREATE FUNCTION foundation._channel_config_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_channel_config_changed';
REVOKE ALL ON FUNCTION foundation._channel_config_changed() FROM PUBLIC;
CREATE TRIGGER channel_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.channel_config
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._channel_config_changed();

CREATE SEQUENCE foundation.durable_seq;
CREATE TABLE foundation.durable_messages (
    channel text NOT NULL,
    seq     bigint NOT NULL,
    message jsonb NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, seq)
);
-- Retention sweeps each channel by its time through this index.
CREATE INDEX ON foundation.durable_messages (channel, sent_at);
COMMENT ON TABLE foundation.durable_messages IS
  'Committed messages of durable channels, written by the broadcasting transaction at its commit; seq grows in commit order on a channel; sent_at is the commit time. Read with foundation.replay.';
-- Every LISTENing session of the database sees these messages anyway.
GRANT SELECT ON foundation.durable_messages TO PUBLIC;

CREATE FUNCTION foundation.configure_channel(channel text, retention interval)
    RETURNS void LANGUAGE c VOLATILE CALLED ON NULL INPUT
    AS 'MODULE_PATHNAME', 'fdn_configure_channel';
COMMENT ON FUNCTION foundation.configure_channel(text, interval) IS
  'Make a channel durable: every message is kept for retention with a sequence number ({"foundation_seq": n, "message": ...} on the wire) and replayable with foundation.replay; NULL makes it plain again. Costs a row per message, written at commit; the channel''s committers take turns while they commit. Equivalent to: INSERT INTO foundation.channel_config ... ON CONFLICT DO UPDATE (or DELETE).';
REVOKE ALL ON FUNCTION foundation.configure_channel(text, interval) FROM PUBLIC;

CREATE FUNCTION foundation.replay(channel text, after_seq bigint)
    RETURNS TABLE (seq bigint, message jsonb, sent_at timestamptz)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF channel IS NULL OR after_seq IS NULL THEN
    RAISE EXCEPTION 'null value not allowed for %', CASE WHEN channel IS NULL THEN 'channel' ELSE 'after_seq' END
      USING ERRCODE = '22004', HINT = 'Pass the channel and the last seq you saw (0 for everything retained).';
  END IF;
  IF NOT EXISTS (SELECT FROM foundation.channels c WHERE c.channel = replay.channel) THEN
    RAISE EXCEPTION 'invalid channel: "%"', channel
      USING ERRCODE = '22023', DETAIL = 'Available channels: control, events, data, telemetry.',
            HINT = 'Replay one of foundation''s channels made durable with foundation.configure_channel.';
  END IF;
  RETURN QUERY SELECT m.seq, m.message, m.sent_at FROM foundation.durable_messages m
                WHERE m.channel = replay.channel AND m.seq > replay.after_seq ORDER BY m.seq;
END $$;
COMMENT ON FUNCTION foundation.replay(text, bigint) IS
  'The committed messages of a durable channel after after_seq that are still retained, in order. Equivalent to: SELECT seq, message, sent_at FROM foundation.durable_messages WHERE channel = $1 AND seq > $2 ORDER BY seq.';

-- The database a child runs in, bound on this server the first time the
-- supervisor sees its spec (by the name in child_specs.database): from
-- then on the child follows that database (a rename keeps it there), and a
-- database created later under the same name, by whoever may create
-- databases, is never taken for it.  Runtime state: not dumped, so a
-- restored spec binds anew on the server it is restored to.
CREATE TABLE foundation.child_db (
    child_id bigint PRIMARY KEY REFERENCES foundation.child_specs ON DELETE CASCADE,
    dboid    oid NOT NULL
);
REVOKE ALL ON foundation.child_db FROM PUBLIC;
-- Bind every existing child to the database it runs in now.
INSERT INTO foundation.child_db (child_id, dboid)
  SELECT c.child_id, d.oid FROM foundation.child_specs c
    JOIN pg_catalog.pg_database d ON d.datname = c.database;

-- foundation's own children (the handler dispatcher, the relay) take
-- negative ids from their own sequence, so that one started during a
-- pg_restore never takes an id a restored child brings (docs/backup.md).
-- Those of an updated install move below zero: each row is copied under
-- its new id (an identity column cannot be updated), its name and
-- database binding follow, and the old row goes.  The server runs none of
-- them during the update: the supervisor of a library newer than the
-- installed SQL starts nothing until the update is done.
CREATE SEQUENCE foundation.own_child_ids;
REVOKE ALL ON SEQUENCE foundation.own_child_ids FROM PUBLIC;
DO $$
DECLARE
  old_id bigint;
  new_id bigint;
BEGIN
  FOR old_id IN SELECT child_id FROM foundation.child_specs
                 WHERE id LIKE 'foundation:%' ORDER BY child_id
  LOOP
    new_id := -pg_catalog.nextval('foundation.own_child_ids');
    INSERT INTO foundation.child_specs (child_id, id, module, args, restart, database, owner,
        shutdown_ms, max_restarts, max_seconds, status, pid, started_at, restart_count,
        restart_times, last_exit, created_at)
      OVERRIDING SYSTEM VALUE
      SELECT new_id, id, module, args, restart, database, owner,
             shutdown_ms, max_restarts, max_seconds, status, pid, started_at, restart_count,
             restart_times, last_exit, created_at
        FROM foundation.child_specs WHERE child_id = old_id;
    UPDATE foundation.registry SET child_id = new_id WHERE child_id = old_id;
    UPDATE foundation.child_db SET child_id = new_id WHERE child_id = old_id;
    DELETE FROM foundation.child_specs WHERE child_id = old_id;
  END LOOP;
END $$;
ALTER TABLE foundation.child_specs ADD CONSTRAINT own_children_below_zero
  CHECK ((child_id < 0) = (id LIKE 'foundation:%'));

-- What pg_dump keeps, in the order of the install pieces.  A row whose
-- owner was dropped (DROP ROLE leaves it) is left out everywhere: its
-- owner would dump as a bare OID.
SELECT pg_catalog.pg_extension_config_dump('foundation.child_specs',
  'WHERE id NOT LIKE ''foundation:%'' AND restart <> ''temporary'''
  ' AND child_id NOT IN (SELECT child_id FROM foundation.cluster_local)'
  ' AND owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.child_specs_child_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.registry',
  'WHERE child_id IN (SELECT child_id FROM foundation.child_specs'
  ' WHERE id NOT LIKE ''foundation:%'' AND restart <> ''temporary'''
  ' AND child_id NOT IN (SELECT child_id FROM foundation.cluster_local)'
  ' AND owner::oid IN (SELECT oid FROM pg_catalog.pg_roles))'
  ' AND owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.channel_handlers',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
-- which channels are durable, where their numbering is, and the messages
-- still retained
SELECT pg_catalog.pg_extension_config_dump('foundation.channel_config', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.durable_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.durable_messages',
  'WHERE EXISTS (SELECT FROM foundation.channel_config c'
  ' WHERE c.channel = durable_messages.channel'
  ' AND durable_messages.sent_at >= pg_catalog.now() - c.retention)');
SELECT pg_catalog.pg_extension_config_dump('foundation.nodes', 'WHERE source = ''manual''');
SELECT pg_catalog.pg_extension_config_dump('foundation.agents',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.agents_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.orchestration_variables',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.auctions',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.auctions_auction_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.bids',
  'WHERE auction_id IN (SELECT auction_id FROM foundation.auctions'
  ' WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles))');
SELECT pg_catalog.pg_extension_config_dump('foundation.proposals',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.proposals_proposal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.votes',
  'WHERE proposal_id IN (SELECT proposal_id FROM foundation.proposals'
  ' WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles))');
SELECT pg_catalog.pg_extension_config_dump('foundation.cluster_singletons', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.fencing_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.outbox_id_seq', '');

-- Whatever changes the subscriptions (subscribe, unsubscribe, a
-- superuser's INSERT, pg_restore's COPY), a running dispatcher reloads
-- them once that commits.
CREATE FUNCTION foundation._channel_handlers_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_channel_handlers_changed';
REVOKE ALL ON FUNCTION foundation._channel_handlers_changed() FROM PUBLIC;
CREATE TRIGGER channel_handlers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.channel_handlers
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._channel_handlers_changed();

-- sql/install/70_metrics.sql: monitoring views and foundation.status.
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

-- Comments that named a design document users do not have, reworded.
COMMENT ON FUNCTION foundation.route_message(jsonb, text, boolean) IS
  'Pick a channel by fixed rules (high priority -> control; text over 10240 bytes -> data; telemetry pattern -> telemetry; else events), broadcast, return the channel. Equivalent to: SELECT foundation.broadcast(<channel>, message, compression); see foundation.explain_routing.';
COMMENT ON FUNCTION foundation.explain_routing(jsonb, text) IS
  'The routing decision route_message would take, with the rule that decided it; sends nothing.';
COMMENT ON FUNCTION foundation.resolve_cluster_config() IS
  'Four modes, named as in the Elixir library Foundation: wizard (foundation.topology, or nodes added by hand), apprentice (a named strategy translated), mortal (on: auto-detected), no_clustering (off).';
COMMENT ON FUNCTION foundation.cluster_health() IS
  'Run one health check now and return it, without storing it (foundation.health_check stores it).';
COMMENT ON FUNCTION foundation.coordinate_resource_allocation(text[], jsonb) IS
  'Resource allocation by auction in one call. Equivalent to: SELECT foundation.register_orchestration_variable(''{"id": "resource_allocation", "type": "auction", "agents": [...], "constraints": {"total_resources": resources, "max_allocation_time": 30000}}''); SELECT foundation.run_auction(''{"type": "sealed_bid", "resources": resources, "payment_rule": "second_price"}'', agent_ids).';

-- Each backend remembers which auctions are open and who owns an agent,
-- for submit_bid; whatever changes either table invalidates every
-- backend's copy once it commits.
CREATE FUNCTION foundation._bid_cache_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_bid_cache_changed';
REVOKE ALL ON FUNCTION foundation._bid_cache_changed() FROM PUBLIC;
CREATE TRIGGER bid_cache_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON foundation.auctions
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._bid_cache_changed();
CREATE TRIGGER bid_cache_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON foundation.agents
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._bid_cache_changed();

-- The names of processes that are not children, by their pid: the
-- supervisor's sweep of ended sessions reads one entry per pid, not one per
-- name.
CREATE INDEX ON foundation.registry (node, pid) WHERE child_id IS NULL;

-- Cluster singletons in any database with foundation: members say which
-- databases have it, a placement names its database (NULL: the members'
-- foundation.database) and goes only to a member that has it.
ALTER TABLE foundation.members ADD COLUMN databases text[];
ALTER TABLE foundation.cluster_singletons
  ADD COLUMN database text CHECK (length(database) BETWEEN 1 AND 63);
ALTER TABLE foundation.cluster_local ADD COLUMN database text;
DROP FUNCTION foundation.cluster_reassign();
DROP FUNCTION foundation.cluster_pick_member(text, text, text, text);
DROP FUNCTION foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text);
DROP FUNCTION foundation.cluster_place(text, text, jsonb, text, name, text, text, text);
DROP FUNCTION foundation.cluster_unplace(text, name);
CREATE FUNCTION foundation.cluster_pick_member(p_name text, p_distribution text,
                                               p_preferred text, p_exclude text DEFAULT NULL,
                                               p_database text DEFAULT NULL)
    RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH live AS (
    SELECT m.node, m.load,
           (SELECT count(*) FROM foundation.cluster_singletons c WHERE c.node = m.node) AS assigned
      FROM foundation.members m
     WHERE m.state = 'up' AND m.lease_expires > now() AND m.node IS DISTINCT FROM p_exclude
       AND (p_database IS NULL OR p_database = ANY (m.databases)))
  SELECT node FROM live
   ORDER BY
     -- local: the calling member first, if live
     CASE WHEN p_distribution = 'local' AND node = p_preferred THEN 0 ELSE 1 END,
     -- least_loaded: fewest cluster singletons, then the lowest reported load
     CASE WHEN p_distribution = 'least_loaded' THEN assigned END,
     CASE WHEN p_distribution = 'least_loaded' THEN load END,
     -- uniform (and the fallback of the others): the first member clockwise
     -- from the name on a hash ring (Horde's UniformDistribution)
     (hashtext(node)::bigint - hashtext(p_name)::bigint + 4294967296) % 4294967296,
     node
   LIMIT 1
$$;

CREATE FUNCTION foundation.cluster_reassign() RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s record;
  n integer := 0;
  target text;
BEGIN
  FOR s IN
    SELECT c.name, c.distribution, c.node, c.database FROM foundation.cluster_singletons c
     WHERE NOT EXISTS (SELECT FROM foundation.members m
                        WHERE m.node = c.node AND m.epoch = c.member_epoch
                          AND m.state = 'up' AND m.lease_expires > now()
                          AND (c.database IS NULL OR c.database = ANY (m.databases)))
     ORDER BY c.name FOR UPDATE
  LOOP
    -- away from the member that lost it if another is live, else any
    target := coalesce(foundation.cluster_pick_member(s.name, s.distribution, NULL, s.node, s.database),
                       foundation.cluster_pick_member(s.name, s.distribution, NULL, NULL, s.database));
    IF target IS NULL AND s.node IS NULL THEN
      CONTINUE;                 -- still nobody to run it
    END IF;
    UPDATE foundation.cluster_singletons
       SET node = target, member_epoch = (SELECT epoch FROM foundation.members WHERE node = target),
           epoch = nextval('foundation.fencing_tokens'), pid = NULL, started_at = NULL
     WHERE name = s.name;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

CREATE FUNCTION foundation.member_heartbeat(p_node text, p_epoch bigint, p_lease_ms integer,
                                            p_load double precision, p_running jsonb,
                                            p_leaving boolean DEFAULT false,
                                            p_conninfo text DEFAULT NULL,
                                            p_databases text[] DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  e bigint;
  r jsonb;
BEGIN
  LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE;
  IF p_epoch = 0 THEN
    INSERT INTO foundation.members AS m (node, epoch, lease_expires, load, conninfo, databases)
    VALUES (p_node, 1, now() + make_interval(secs => p_lease_ms / 1000.0), p_load, p_conninfo, p_databases)
    ON CONFLICT (node) DO UPDATE
      SET epoch = m.epoch + 1, state = 'up', lease_expires = excluded.lease_expires,
          load = excluded.load, conninfo = excluded.conninfo, databases = excluded.databases,
          joined_at = now(), renewed_at = now()
    RETURNING m.epoch INTO e;
  ELSE
    UPDATE foundation.members
       SET lease_expires = CASE WHEN p_leaving THEN now() ELSE now() + make_interval(secs => p_lease_ms / 1000.0) END,
           state = CASE WHEN p_leaving THEN 'leaving' ELSE 'up' END,
           load = p_load, conninfo = coalesce(p_conninfo, conninfo),
           databases = coalesce(p_databases, databases), renewed_at = now()
     WHERE node = p_node AND epoch = p_epoch AND state = 'up' AND lease_expires > now()
    RETURNING epoch INTO e;
    IF NOT FOUND THEN
      RETURN jsonb_build_object('lost', true);
    END IF;
    UPDATE foundation.cluster_singletons c
       SET pid = (x->>'pid')::integer, started_at = coalesce(c.started_at, now())
      FROM jsonb_array_elements(coalesce(p_running, '[]')) x
     WHERE c.name = x->>'name' AND c.epoch = (x->>'epoch')::bigint
       AND c.node = p_node AND c.member_epoch = e;
  END IF;
  PERFORM foundation.cluster_reassign();
  SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'module', module, 'args', args,
                                               'restart', restart, 'owner_role', owner_role,
                                               'epoch', epoch, 'signature', signature,
                                               'database', database) ORDER BY name), '[]')
    INTO r
    FROM foundation.cluster_singletons
   WHERE node = p_node AND member_epoch = e AND NOT p_leaving;
  RETURN jsonb_build_object('epoch', e, 'assignments', r,
           'members', (SELECT coalesce(jsonb_agg(jsonb_build_object('node', node, 'conninfo', conninfo)
                                                 ORDER BY node), '[]')
                         FROM foundation.members WHERE node <> p_node));
END $$;

CREATE FUNCTION foundation.cluster_place(p_name text, p_module text, p_args jsonb, p_restart text,
                                         p_owner name, p_distribution text, p_caller text,
                                         p_signature text, p_database text DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c foundation.cluster_singletons;
  target text;
  without text;
BEGIN
  LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO c FROM foundation.cluster_singletons WHERE name = p_name;
  IF FOUND THEN
    IF c.database IS DISTINCT FROM p_database THEN
      RAISE EXCEPTION 'cluster singleton "%" runs in another database', p_name
        USING ERRCODE = '42710',
              DETAIL = format('It runs in %s; a cluster singleton''s name is one for the whole cluster, across databases.',
                              CASE WHEN c.database IS NULL THEN 'the members'' foundation.database'
                                   ELSE format('database "%s"', c.database) END),
              HINT = 'Choose another name, or stop it from its database first.';
    END IF;
    RETURN jsonb_build_object('node', c.node, 'epoch', c.epoch, 'pid', c.pid, 'existing', true,
                              'conninfo', (SELECT conninfo FROM foundation.members WHERE node = c.node));
  END IF;
  IF p_database IS NOT NULL THEN
    UPDATE foundation.members SET databases = array_append(coalesce(databases, '{}'), p_database)
     WHERE node = p_caller AND NOT (p_database = ANY (coalesce(databases, '{}')));
  END IF;
  target := foundation.cluster_pick_member(p_name, p_distribution, p_caller, NULL, p_database);
  IF target IS NULL AND p_database IS NOT NULL THEN
    SELECT string_agg(format('"%s"', node), ', ' ORDER BY node) INTO without
      FROM foundation.members WHERE state = 'up' AND lease_expires > now();
    IF without IS NOT NULL THEN
      RAISE EXCEPTION 'no live cluster member has database "%" with foundation to run "%"', p_database, p_name
        USING ERRCODE = '55000',
              DETAIL = format('Live members without it: %s.', without),
              HINT = format('CREATE EXTENSION foundation in database "%s" on a member (it says so at its next lease renewal), or use scope => ''local''.', p_database);
    END IF;
  END IF;
  IF target IS NULL THEN
    RAISE EXCEPTION 'no live cluster member to run "%"', p_name
      USING ERRCODE = '55000',
            HINT = 'Every member''s lease has expired: check that their supervisors reach the control database, or use scope => ''local''.';
  END IF;
  INSERT INTO foundation.cluster_singletons (name, module, args, restart, owner_role, distribution,
                                             node, member_epoch, signature, database)
  VALUES (p_name, p_module, p_args, p_restart, p_owner, p_distribution, target,
          (SELECT epoch FROM foundation.members WHERE node = target), p_signature, p_database)
  RETURNING * INTO c;
  RETURN jsonb_build_object('node', c.node, 'epoch', c.epoch, 'pid', c.pid, 'existing', false,
                            'conninfo', (SELECT conninfo FROM foundation.members WHERE node = c.node));
END $$;

CREATE FUNCTION foundation.cluster_unplace(p_name text, p_owner name DEFAULT NULL,
                                           p_database text DEFAULT NULL) RETURNS jsonb
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c foundation.cluster_singletons;
BEGIN
  LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO c FROM foundation.cluster_singletons
   WHERE name = p_name AND database IS NOT DISTINCT FROM p_database FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF p_owner IS NOT NULL AND c.owner_role <> p_owner THEN
    RETURN jsonb_build_object('node', c.node, 'owner_role', c.owner_role, 'removed', false);
  END IF;
  DELETE FROM foundation.cluster_singletons WHERE name = p_name;
  RETURN jsonb_build_object('node', c.node, 'owner_role', c.owner_role, 'removed', true);
END $$;

CREATE OR REPLACE FUNCTION foundation.grant_member_role(role name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA foundation TO %I', role);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON foundation.members, foundation.cluster_singletons TO %I', role);
  EXECUTE format('GRANT USAGE ON SEQUENCE foundation.fencing_tokens TO %I', role);
  EXECUTE format('GRANT EXECUTE ON FUNCTION foundation.cluster_pick_member(text, text, text, text, text),'
                 ' foundation.cluster_reassign(),'
                 ' foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text, text[]),'
                 ' foundation.cluster_place(text, text, jsonb, text, name, text, text, text, text),'
                 ' foundation.cluster_unplace(text, name, text) TO %I', role);
END $$;

REVOKE ALL ON FUNCTION foundation.cluster_unplace(text, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION foundation.cluster_pick_member(text, text, text, text, text),
                       foundation.cluster_reassign(),
                       foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text, text[]),
                       foundation.cluster_place(text, text, jsonb, text, name, text, text, text, text)
  FROM PUBLIC;
-- The member roles granted before get the new functions.
DO $$
DECLARE
  r name;
BEGIN
  FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
            WHERE table_schema = 'foundation' AND table_name = 'cluster_singletons'
              AND privilege_type = 'UPDATE' AND grantee <> current_user
  LOOP
    PERFORM foundation.grant_member_role(r);
  END LOOP;
END $$;

-- Channels across nodes: one outbox row per message, naming the members it
-- is for, instead of one per member; the relay keeps a cursor per member.
-- foundation.outbox becomes a view of what waits for whom.  The messages
-- waiting keep their ids (the other members drop an id they already have
-- from this node), and the ids go on from the old sequence.
-- One row per message.  targets: the members it is for (the peers when it
-- was sent).  xid: the publisher's top-level transaction, by which the
-- relay knows what committed before or after the snapshots of its cursors.
CREATE TABLE foundation.outbox_messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    targets     text[] NOT NULL,
    channel     text NOT NULL,
    message     jsonb NOT NULL,
    compression boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX ON foundation.outbox_messages (xid);
-- Per member, what the relay has delivered: every message of a transaction
-- visible in the snapshot done, and, while it works through the messages
-- committed after done and before the snapshot upto (in id order, a batch
-- at a time), those up to upto_id.  No row: nothing delivered yet.
CREATE TABLE foundation.relay_cursors (
    target  text PRIMARY KEY,
    done    pg_snapshot NOT NULL,
    upto    pg_snapshot,
    upto_id bigint
);
INSERT INTO foundation.outbox_messages (id, targets, channel, message, compression, created_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, ARRAY[target], channel, message, compression, created_at FROM foundation.outbox;
SELECT pg_catalog.setval('foundation.outbox_messages_id_seq', s.last_value, s.is_called)
  FROM foundation.outbox_id_seq s;
-- metrics_relay reads foundation.outbox: it follows the old table's new
-- name until it is pointed at the view.
ALTER TABLE foundation.outbox RENAME TO outbox_old;
-- What waits for whom: one row per message and member it has not reached.
CREATE VIEW foundation.outbox AS
  SELECT t.target, m.id, m.channel, m.message, m.compression, m.created_at
    FROM foundation.outbox_messages m
   CROSS JOIN LATERAL pg_catalog.unnest(m.targets) t (target)
    LEFT JOIN foundation.relay_cursors c ON c.target OPERATOR(pg_catalog.=) t.target
   WHERE c.target IS NULL
      OR NOT (pg_catalog.pg_visible_in_snapshot(m.xid, c.done)
              OR coalesce(pg_catalog.pg_visible_in_snapshot(m.xid, c.upto)
                          AND m.id OPERATOR(pg_catalog.<=) c.upto_id, false));
COMMENT ON VIEW foundation.outbox IS
  'Messages for other members not delivered yet, one row per message and member (foundation.outbox_messages holds each message once). An INSERT of (target, channel, message) queues a message for that member.';
-- A message queued by hand, for one member.
CREATE FUNCTION foundation._outbox_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO foundation.outbox_messages (targets, channel, message, compression, created_at)
  VALUES (ARRAY[NEW.target], NEW.channel, NEW.message, coalesce(NEW.compression, false),
          coalesce(NEW.created_at, now()));
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION foundation._outbox_insert() FROM PUBLIC;
CREATE TRIGGER outbox_insert INSTEAD OF INSERT ON foundation.outbox
    FOR EACH ROW EXECUTE FUNCTION foundation._outbox_insert();
-- metrics_relay (made above) still reads the table renamed to outbox_old:
-- the same text again binds it to the view.
CREATE OR REPLACE VIEW foundation.metrics_relay AS
  SELECT t.member,
         pg_catalog.count(o.id) AS backlog_messages,
         coalesce(pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-)
                                                pg_catalog.min(o.created_at)), 0)
           AS oldest_message_seconds
    FROM (SELECT node FROM foundation.cluster_peers
          UNION SELECT target FROM foundation.outbox) t (member)
    LEFT JOIN foundation.outbox o ON o.target OPERATOR(pg_catalog.=) t.member
   GROUP BY t.member;
ALTER EXTENSION foundation DROP SEQUENCE foundation.outbox_id_seq;
ALTER EXTENSION foundation DROP TABLE foundation.outbox_old;
DROP TABLE foundation.outbox_old;
REVOKE ALL ON foundation.outbox_messages, foundation.relay_cursors, foundation.outbox FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('foundation.outbox_messages', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.outbox_messages_id_seq', '');

-- submit_bid's bid is double precision, what foundation.bids stores: a
-- numeric parameter cost each call two conversions for a precision that
-- was not kept.  A numeric argument still works (an implicit cast).
DROP FUNCTION foundation.submit_bid(bigint, text, numeric, jsonb);
CREATE FUNCTION foundation.submit_bid(auction_id bigint, agent text, bid double precision, details jsonb DEFAULT '{}')
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_submit_bid';
COMMENT ON FUNCTION foundation.submit_bid(bigint, text, double precision, jsonb) IS
  'Bid for an agent you own; replaceable until the close; sealed. details.priority breaks ties.';

-- Each backend remembers the other members for its broadcasts' outbox
-- rows; whatever changes the table makes every backend read it again once
-- that commits.
CREATE FUNCTION foundation._cluster_peers_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_cluster_peers_changed';
REVOKE ALL ON FUNCTION foundation._cluster_peers_changed() FROM PUBLIC;
CREATE TRIGGER cluster_peers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.cluster_peers
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._cluster_peers_changed();

-- A message's size uncompressed, from its header (the relay's batches stop
-- at a size: a receiving server reads each as one jsonb).
CREATE FUNCTION foundation._raw_size(message jsonb) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fdn_raw_size';
REVOKE ALL ON FUNCTION foundation._raw_size(jsonb) FROM PUBLIC;
