------------------------------------------------------------------------------
-- Cluster membership and cluster-wide singletons (docs/cluster-singletons.md).  These
-- tables are used in the control database only (foundation.control_conninfo
-- on every member points at it); members reach them over libpq as the role
-- that conninfo names, which needs the rights foundation.grant_member_role gives.
------------------------------------------------------------------------------
CREATE TABLE foundation.members (
    node          text PRIMARY KEY,
    epoch         bigint NOT NULL,          -- bumped at every (re)join
    state         text NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'leaving')),
    lease_expires timestamptz NOT NULL,     -- the control database's clock
    load          double precision NOT NULL DEFAULT 0,
    conninfo      text,                     -- how the other members reach it (foundation.node_conninfo)
    joined_at     timestamptz NOT NULL DEFAULT now(),
    renewed_at    timestamptz NOT NULL DEFAULT now(),
    databases     text[]                    -- its databases with foundation (NULL: a member before 0.2)
);
COMMENT ON TABLE foundation.members IS
  'Cluster members and their leases (control database). A member is live while state = ''up'' and lease_expires > now(); a renewal must match its node and its epoch.';

-- Fencing tokens: every placement of a cluster singleton (new, failover,
-- hand-over) takes the next one, so a name's token only grows, also after
-- it was stopped and started again.
CREATE SEQUENCE foundation.fencing_tokens;
REVOKE ALL ON SEQUENCE foundation.fencing_tokens FROM PUBLIC;

CREATE TABLE foundation.cluster_singletons (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    module        text NOT NULL,
    args          jsonb NOT NULL,
    restart       text NOT NULL,
    owner_role    name NOT NULL,            -- the starting role, by name on every member
    distribution  text NOT NULL CHECK (distribution IN ('uniform', 'local', 'least_loaded')),
    node          text,                     -- the member it is assigned to
    member_epoch  bigint,                   -- that member's epoch when assigned
    epoch         bigint NOT NULL DEFAULT nextval('foundation.fencing_tokens'),
                                            -- fencing token: a new one at every placement
    pid           integer,                  -- reported by the member once started
    started_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- HMAC-SHA256 (foundation.cluster_secret, which members hold and this
    -- database does not) of name, module, args, restart and owner_role,
    -- made by the member whose backend placed it: a member starts nothing
    -- without it (docs/cluster-singletons.md)
    signature     text,
    -- the database it runs in, on the member that runs it; NULL: that
    -- member's foundation.database
    database      text CHECK (length(database) BETWEEN 1 AND 63)
);
COMMENT ON TABLE foundation.cluster_singletons IS
  'Cluster-wide singletons (control database): one row per name, assigned to one live member at a fencing epoch.';
REVOKE ALL ON foundation.members, foundation.cluster_singletons FROM PUBLIC;
-- pg_dump of the control database keeps which cluster singletons should
-- run, and the fencing tokens' sequence, so that a token given after a
-- restore is still larger than every earlier one.  Members and their
-- leases are left out: members join again.  (docs/backup.md)
SELECT pg_catalog.pg_extension_config_dump('foundation.cluster_singletons', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.fencing_tokens', '');

-- A live member for a singleton, by its distribution; with p_database,
-- only a member that has that database with foundation.
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

-- Give every singleton whose member is not live (lease expired, leaving,
-- or rejoined under a new epoch), or no longer has the singleton's
-- database with foundation, to a live member that has it, at a new
-- fencing token.
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

-- One round trip per lease renewal: join (epoch 0) or renew (node and
-- epoch must match, and the lease must not have expired), report what runs
-- and which databases have foundation, hand over when leaving, reassign
-- orphans, and return this member's assignments.  Serialized by a lock on
-- foundation.members itself (as are cluster_place and cluster_unplace):
-- only roles that may write that table can take or hold it, where a
-- pg_advisory_lock key is anyone's to take.
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

-- Place a cluster singleton (or find it placed): {node, epoch, pid,
-- existing}.  p_database: the database it runs in (NULL: the members'
-- foundation.database); only a member that has it with foundation is
-- picked, and the calling member has it (it calls from there).
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

-- Stop a cluster singleton for good: the member running it stops it at its
-- next renewal.  With p_owner, only a singleton of that owner is removed
-- (the calling member checks who asks; this database only stores).  Only a
-- singleton of p_database (NULL: of foundation.database) is seen.
-- Returns NULL if there is no such singleton, else {node, owner_role,
-- removed}.
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

-- The rights the members' role needs in the control database.
CREATE FUNCTION foundation.grant_member_role(role name) RETURNS void
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
COMMENT ON FUNCTION foundation.grant_member_role(name) IS
  'In the control database: grant a (non-superuser) role what members need to hold leases and place cluster singletons; name it in foundation.control_conninfo.';

REVOKE ALL ON FUNCTION foundation.grant_member_role(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION foundation.cluster_unplace(text, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION foundation.cluster_pick_member(text, text, text, text, text),
                       foundation.cluster_reassign(),
                       foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text, text[]),
                       foundation.cluster_place(text, text, jsonb, text, name, text, text, text, text)
  FROM PUBLIC;

-- On every member: the cluster singletons this member's supervisor runs,
-- at the fencing epoch it was given them.
CREATE TABLE foundation.cluster_local (
    name     text PRIMARY KEY,
    epoch    bigint NOT NULL,
    child_id bigint NOT NULL,
    database text               -- the database it runs in; NULL: this one
);
REVOKE ALL ON foundation.cluster_local FROM PUBLIC;

CREATE FUNCTION foundation.member_wake() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_member_wake';
COMMENT ON FUNCTION foundation.member_wake() IS
  'Ask this member''s supervisor to renew its lease (and so pick up new assignments) now rather than at the next foundation.lease_renew_interval. Called by other members over libpq; not executable by PUBLIC: grant EXECUTE to the role of foundation.node_conninfo.';
REVOKE ALL ON FUNCTION foundation.member_wake() FROM PUBLIC;

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

------------------------------------------------------------------------------
-- Channels across nodes (docs/channels.md): foundation.broadcast writes, in
-- the publisher's transaction, one outbox row per message, naming the other
-- members it is for; the relay child forwards it to each over libpq, keeping
-- per member a cursor over the transactions it has delivered; the receiving
-- member notifies its own listeners once per message id.
------------------------------------------------------------------------------
-- The other members, as of this member's last lease renewal (all of them,
-- live or not: one that is down gets its messages when it returns).
CREATE TABLE foundation.cluster_peers (
    node       text PRIMARY KEY,
    conninfo   text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Each backend remembers the other members for its broadcasts' outbox
-- rows; whatever changes the table makes every backend read it again once
-- that commits.
CREATE FUNCTION foundation._cluster_peers_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_cluster_peers_changed';
REVOKE ALL ON FUNCTION foundation._cluster_peers_changed() FROM PUBLIC;
CREATE TRIGGER cluster_peers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.cluster_peers
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._cluster_peers_changed();
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
CREATE TABLE foundation.relay_inbox (
    origin      text NOT NULL,
    id          bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, id)
);
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
REVOKE ALL ON foundation.cluster_peers, foundation.outbox_messages, foundation.relay_cursors,
              foundation.relay_inbox, foundation.outbox FROM PUBLIC;
-- pg_dump keeps the messages (the relay deletes each once it reached every
-- member it is for: what is left was not delivered everywhere yet) and
-- their ids' sequence: the other members drop an id they already received
-- from this node, so ids must not start again after a restore.  The
-- cursors are not kept: transaction ids mean nothing on another server, so
-- a restored server sends what is left again to every member it is for
-- (those that had it drop it by its id).  Peers, receipts and cluster_local
-- are this server's runtime state.  (docs/backup.md)
SELECT pg_catalog.pg_extension_config_dump('foundation.outbox_messages', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.outbox_messages_id_seq', '');

CREATE FUNCTION foundation.direct_broadcast(node text, channel text, message jsonb,
                                            compression boolean DEFAULT false)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_direct_broadcast_sql';
COMMENT ON FUNCTION foundation.direct_broadcast(text, text, jsonb, boolean) IS
  'Broadcast to the listeners of one member (Phoenix.PubSub.direct_broadcast): this one, or another through the outbox and the relay, at commit.';
CREATE FUNCTION foundation.relay_deliver(origin text, messages jsonb) RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_relay_deliver';
COMMENT ON FUNCTION foundation.relay_deliver(text, jsonb) IS
  'Called by another member''s relay: notify this server''s listeners of each message [{id, channel, message, compression}] not delivered before from that origin; returns how many were new.';
REVOKE ALL ON FUNCTION foundation.relay_deliver(text, jsonb) FROM PUBLIC;
-- A message's size uncompressed, from its header (the relay's batches stop
-- at a size: a receiving server reads each as one jsonb).
CREATE FUNCTION foundation._raw_size(message jsonb) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fdn_raw_size';
REVOKE ALL ON FUNCTION foundation._raw_size(jsonb) FROM PUBLIC;
CREATE PROCEDURE foundation.cluster_relay(args jsonb)
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_cluster_relay';
COMMENT ON PROCEDURE foundation.cluster_relay(jsonb) IS
  'The relay child''s module: forwards foundation.outbox to the other members. Started by the supervisor when foundation.control_conninfo is set.';
REVOKE ALL ON PROCEDURE foundation.cluster_relay(jsonb) FROM PUBLIC;

