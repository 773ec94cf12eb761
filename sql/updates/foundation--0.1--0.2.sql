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

CREATE OR REPLACE FUNCTION foundation.cluster_reassign() RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s record;
  n integer := 0;
  target text;
BEGIN
  FOR s IN
    SELECT c.name, c.distribution, c.node FROM foundation.cluster_singletons c
     WHERE NOT EXISTS (SELECT FROM foundation.members m
                        WHERE m.node = c.node AND m.epoch = c.member_epoch
                          AND m.state = 'up' AND m.lease_expires > now())
     ORDER BY c.name FOR UPDATE
  LOOP
    -- away from the member that lost it if another is live, else any
    target := coalesce(foundation.cluster_pick_member(s.name, s.distribution, NULL, s.node),
                       foundation.cluster_pick_member(s.name, s.distribution, NULL));
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

CREATE OR REPLACE FUNCTION foundation.grant_member_role(role name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA foundation TO %I', role);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON foundation.members, foundation.cluster_singletons TO %I', role);
  EXECUTE format('GRANT USAGE ON SEQUENCE foundation.fencing_tokens TO %I', role);
  EXECUTE format('GRANT EXECUTE ON FUNCTION foundation.cluster_pick_member(text, text, text, text),'
                 ' foundation.cluster_reassign(),'
                 ' foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text),'
                 ' foundation.cluster_place(text, text, jsonb, text, name, text, text, text),'
                 ' foundation.cluster_unplace(text, name) TO %I', role);
END $$;

-- The member roles granted before 0.2 need the sequence too.
DO $$
DECLARE
  r name;
BEGIN
  FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
            WHERE table_schema = 'foundation' AND table_name = 'cluster_singletons'
              AND privilege_type = 'UPDATE' AND grantee <> current_user
  LOOP
    EXECUTE format('GRANT USAGE ON SEQUENCE foundation.fencing_tokens TO %I', r);
  END LOOP;
END $$;

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
