-- foundation 0.1: supervisor, children and the registry (issue 2).
\echo Use "CREATE EXTENSION foundation" to load this file. \quit

-- Refuse any database but foundation.database: the supervisor lives there.
CREATE FUNCTION foundation._check_database() RETURNS void
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_check_database';
SELECT foundation._check_database();
DROP FUNCTION foundation._check_database();

-- Everyone may use foundation; what each role may do is checked per call
-- and by row-level security.
GRANT USAGE ON SCHEMA foundation TO PUBLIC;

------------------------------------------------------------------------------
-- Supervisor state: what should run.  Row-level security shows each role
-- only its own children; foundation's functions do the writing.
------------------------------------------------------------------------------
CREATE TABLE foundation.child_specs (
    child_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            text NOT NULL,
    module        text NOT NULL,
    args          jsonb NOT NULL,
    restart       text NOT NULL
                  CHECK (restart IN ('permanent', 'transient', 'temporary')),
    database      oid NOT NULL,
    owner         oid NOT NULL,
    shutdown_ms   integer NOT NULL CHECK (shutdown_ms >= 0),
    max_restarts  integer NOT NULL CHECK (max_restarts >= 0),
    max_seconds   integer NOT NULL CHECK (max_seconds > 0),
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'exited', 'failed')),
    pid           integer,
    started_at    timestamptz NOT NULL DEFAULT now(),
    restart_count integer NOT NULL DEFAULT 0,
    restart_times timestamptz[] NOT NULL DEFAULT '{}',
    last_exit     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE foundation.child_specs IS
  'The supervisor''s children: one row per child spec. Written only by foundation''s functions and its supervisor.';
ALTER TABLE foundation.child_specs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_children ON foundation.child_specs FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
GRANT SELECT ON foundation.child_specs TO PUBLIC;

------------------------------------------------------------------------------
-- Registry: unique names for processes.
------------------------------------------------------------------------------
CREATE TABLE foundation.registry (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    pid           integer NOT NULL,
    node          text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    owner         oid NOT NULL,
    child_id      bigint REFERENCES foundation.child_specs ON DELETE CASCADE
);
CREATE INDEX ON foundation.registry (child_id);
COMMENT ON TABLE foundation.registry IS
  'Names for processes (Horde.Registry). A row with a child_id follows that child across restarts.';
GRANT SELECT ON foundation.registry TO PUBLIC;

------------------------------------------------------------------------------
-- Raw layer: the supervisor (DynamicSupervisor).
------------------------------------------------------------------------------
CREATE FUNCTION foundation.start_child(spec jsonb) RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_start_child';
COMMENT ON FUNCTION foundation.start_child(jsonb) IS
  'Start a child background worker running CALL module(args) as the calling role; returns its pid. Spec: {"id", "start": {"module", "args"}, "restart", "database", "shutdown", "max_restarts", "max_seconds"}; only start.module is required.';

CREATE FUNCTION foundation.terminate_child(child_id bigint) RETURNS boolean
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_terminate_child';
COMMENT ON FUNCTION foundation.terminate_child(bigint) IS
  'Stop a child for good: SIGTERM, then wait up to its shutdown ms. Returns whether it stopped.';

-- Live state of the slots in shared memory: who runs now.  Executable by
-- PUBLIC because which_children (and so the children view) calls it as the
-- caller; it shows only the slots of children the caller may stop (all to
-- a superuser), as terminate_child checks.
CREATE FUNCTION foundation._child_slots(
    OUT child_id bigint, OUT pid integer, OUT alive boolean, OUT last_exit text)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_child_slots';
REVOKE ALL ON FUNCTION foundation._child_slots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation._child_slots() TO PUBLIC;

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
             d.datname, c.owner::regrole, c.started_at, c.restart_count,
             c.last_exit
        FROM foundation.child_specs c
        LEFT JOIN foundation._child_slots() s ON s.child_id = c.child_id
        LEFT JOIN pg_catalog.pg_database d ON d.oid = c.database
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

------------------------------------------------------------------------------
-- Raw layer: the registry (Horde.Registry).
------------------------------------------------------------------------------
CREATE FUNCTION foundation.register(name text, pid integer, metadata jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_register';
COMMENT ON FUNCTION foundation.register(text, integer, jsonb) IS
  'Register a unique name for a live process the caller owns. Equivalent to INSERT INTO foundation.registry (name, pid, node, metadata, owner) VALUES (...).';

CREATE FUNCTION foundation.unregister(name text) RETURNS boolean
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_unregister';
COMMENT ON FUNCTION foundation.unregister(text) IS
  'Remove a name the caller owns. Equivalent to DELETE FROM foundation.registry WHERE name = $1.';

CREATE FUNCTION foundation.pid_alive(pid integer) RETURNS boolean
    LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'fdn_pid_alive';
COMMENT ON FUNCTION foundation.pid_alive(integer) IS
  'Is there a live backend or background worker with this pid on this server?';

CREATE FUNCTION foundation.lookup(name text)
    RETURNS TABLE (pid integer, metadata jsonb)
    LANGUAGE sql STABLE
    BEGIN ATOMIC
      SELECT r.pid, r.metadata FROM foundation.registry r
       WHERE r.name = lookup.name AND foundation.pid_alive(r.pid);
    END;
COMMENT ON FUNCTION foundation.lookup(text) IS
  'Horde.Registry.lookup: the live pid and metadata registered under a name. Equivalent to SELECT pid, metadata FROM foundation.registry WHERE name = $1 AND foundation.pid_alive(pid).';

------------------------------------------------------------------------------
-- Facade: the seed's Foundation.ProcessManager.
------------------------------------------------------------------------------
CREATE FUNCTION foundation.start_singleton(module text, args jsonb,
                                           name text DEFAULT NULL,
                                           restart text DEFAULT 'permanent',
                                           scope text DEFAULT NULL)
    RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_start_singleton';
COMMENT ON FUNCTION foundation.start_singleton(text, jsonb, text, text, text) IS
  'Start a named singleton; returns its pid, or the running one''s. scope local (the default without foundation.control_conninfo) is equivalent to: (a transaction lock on name, of foundation''s own class: pg_locks shows it as advisory with objsubid 18003, out of pg_advisory_lock''s reach) SELECT pid FROM foundation.lookup(name); -- if none: SELECT foundation.start_child(''{"id": name, "start": {"module": module, "args": args}, "restart": restart}''); SELECT foundation.register(name, pid, ''{"pid", "node", "started_at", "module"}''); scope cluster (the default with it): SELECT foundation.cluster_place(...) in the control database, then the chosen member''s supervisor starts it (docs/cluster-singletons.md).';

CREATE FUNCTION foundation.lookup_singleton(name text) RETURNS integer
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_lookup_singleton';
COMMENT ON FUNCTION foundation.lookup_singleton(text) IS
  'The live pid registered under name, or NULL. Equivalent to: SELECT pid FROM foundation.lookup(name).';

CREATE FUNCTION foundation.stop_singleton(name text) RETURNS boolean
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_stop_singleton';
COMMENT ON FUNCTION foundation.stop_singleton(text) IS
  'Stop a named singleton for good; false when no such name. Equivalent to: SELECT foundation.terminate_child(child_id) FROM foundation.registry WHERE name = $1.';

CREATE FUNCTION foundation.start_replicated(module text, args jsonb, name text DEFAULT NULL)
    RETURNS TABLE (node text, pid integer, error text)
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_start_replicated';
COMMENT ON FUNCTION foundation.start_replicated(text, jsonb, text) IS
  'One instance per node, each as the singleton "<name>@<node>"; one row (node, pid, error) per node. Equivalent to SELECT foundation.start_singleton(module, args, name || ''@'' || node) here and, over libpq in parallel with a 30 s deadline, on every node of foundation.nodes, as the calling role; a node that fails gets error ''rpc_failed: <reason>''.';

REVOKE ALL ON FUNCTION foundation.pid_alive(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation.pid_alive(integer) TO PUBLIC;

------------------------------------------------------------------------------
-- Channels (the seed's Foundation.Channels) on LISTEN/NOTIFY.
------------------------------------------------------------------------------
CREATE VIEW foundation.channels (channel, topic) AS
  VALUES ('control', 'foundation:control'),
         ('events', 'foundation:events'),
         ('data', 'foundation:data'),
         ('telemetry', 'foundation:telemetry');
GRANT SELECT ON foundation.channels TO PUBLIC;

-- Messages too large for a NOTIFY payload even compressed: sent by reference.
CREATE TABLE foundation.messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel    text NOT NULL,
    message    jsonb NOT NULL,
    bytes      bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON foundation.messages (created_at);
COMMENT ON TABLE foundation.messages IS
  'Channel messages announced by reference ({"foundation_ref": id, "bytes": n}); kept for foundation.message_retention.';
GRANT SELECT ON foundation.messages TO PUBLIC;

CREATE FUNCTION foundation.broadcast(channel text, message jsonb,
                                     compression boolean DEFAULT false)
    RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_broadcast_sql';
COMMENT ON FUNCTION foundation.broadcast(text, jsonb, boolean) IS
  'Broadcast on a channel, delivered at commit. Equivalent to SELECT pg_notify(''foundation:'' || channel, message::text) when the text fits in 7999 bytes and compression is false; otherwise the payload is the compressed or by-reference form (docs/channels.md).';

CREATE FUNCTION foundation.route_message(message jsonb, priority text DEFAULT 'normal',
                                         compression boolean DEFAULT false)
    RETURNS text
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_route_message';
COMMENT ON FUNCTION foundation.route_message(jsonb, text, boolean) IS
  'Pick a channel by the seed''s rules (high priority -> control; text over 10240 bytes -> data; telemetry pattern -> telemetry; else events), broadcast, return the channel. Equivalent to: SELECT foundation.broadcast(<channel>, message, compression); see foundation.explain_routing.';

CREATE FUNCTION foundation.explain_routing(message jsonb, priority text DEFAULT 'normal')
    RETURNS text
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_explain_routing';
COMMENT ON FUNCTION foundation.explain_routing(jsonb, text) IS
  'The routing decision route_message would take, in the seed''s words; sends nothing.';

CREATE FUNCTION foundation.subscribe(channel text) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_subscribe';
COMMENT ON FUNCTION foundation.subscribe(text) IS
  'LISTEN to a channel in this session, from commit on. Equivalent to: LISTEN "foundation:<channel>".';

CREATE FUNCTION foundation.unsubscribe(channel text) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_unsubscribe';
COMMENT ON FUNCTION foundation.unsubscribe(text) IS
  'UNLISTEN a channel in this session, from commit on. Equivalent to: UNLISTEN "foundation:<channel>".';

CREATE FUNCTION foundation.decode_message(payload text) RETURNS jsonb
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_decode_message';
COMMENT ON FUNCTION foundation.decode_message(text) IS
  'Any payload a listener received (plain, compressed or by reference) back to the original message.';

CREATE FUNCTION foundation.fetch_message(id bigint) RETURNS jsonb
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_fetch_message';
COMMENT ON FUNCTION foundation.fetch_message(bigint) IS
  'A message stored by reference. Equivalent to SELECT message FROM foundation.messages WHERE id = $1, but an error when it is gone.';

-- Statistics of committed broadcasts, from shared memory.  Executable by
-- PUBLIC because the channel_stats view calls it as the caller; it shows
-- server-wide counters only, no message.
CREATE FUNCTION foundation._channel_stats(
    OUT channel text, OUT topic text, OUT messages bigint, OUT bytes bigint,
    OUT compressed bigint, OUT stored bigint, OUT routed_high_priority bigint,
    OUT routed_large bigint, OUT routed_telemetry bigint, OUT routed_default bigint,
    OUT errors bigint, OUT last_message_at timestamptz, OUT dropped bigint)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_channel_stats';
REVOKE ALL ON FUNCTION foundation._channel_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation._channel_stats() TO PUBLIC;
CREATE VIEW foundation.channel_stats AS SELECT * FROM foundation._channel_stats();
GRANT SELECT ON foundation.channel_stats TO PUBLIC;
CREATE FUNCTION foundation.reset_channel_stats() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_reset_channel_stats';
REVOKE ALL ON FUNCTION foundation.reset_channel_stats() FROM PUBLIC;

-- Server-side handlers.
CREATE TABLE foundation.channel_handlers (
    channel    text NOT NULL CHECK (channel IN ('control', 'events', 'data', 'telemetry')),
    handler    regprocedure NOT NULL,
    owner      oid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, handler, owner)
);
COMMENT ON TABLE foundation.channel_handlers IS
  'Procedures handler(channel text, message jsonb) the dispatcher child calls for every message on a channel, as their owner.';
GRANT SELECT ON foundation.channel_handlers TO PUBLIC;

CREATE FUNCTION foundation.subscribe(channel text, handler regprocedure) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_subscribe_handler';
COMMENT ON FUNCTION foundation.subscribe(text, regprocedure) IS
  'Run handler(channel, message) for every message on channel, as you, in its own transaction. Equivalent to: INSERT INTO foundation.channel_handlers ...; SELECT foundation.start_singleton(''foundation.handler_dispatcher'', ''{}'', ''foundation:dispatcher'') as the bootstrap superuser (the name is reserved: only foundation itself may start it).';

CREATE FUNCTION foundation.unsubscribe(channel text, handler regprocedure) RETURNS boolean
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_unsubscribe_handler';
COMMENT ON FUNCTION foundation.unsubscribe(text, regprocedure) IS
  'Stop running handler for channel. Equivalent to: DELETE FROM foundation.channel_handlers WHERE channel = $1 AND handler = $2.';

CREATE PROCEDURE foundation.handler_dispatcher(args jsonb)
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_handler_dispatcher';
COMMENT ON PROCEDURE foundation.handler_dispatcher(jsonb) IS
  'The dispatcher''s module: LISTENs to the four channels and runs foundation.channel_handlers. Started by foundation.subscribe(channel, handler).';
REVOKE ALL ON PROCEDURE foundation.handler_dispatcher(jsonb) FROM PUBLIC;

CREATE FUNCTION foundation.dispatcher_pid() RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_dispatcher_pid';
COMMENT ON FUNCTION foundation.dispatcher_pid() IS
  'The handler dispatcher''s pid once it is listening (messages committed from then on reach the handlers), else NULL.';

------------------------------------------------------------------------------
-- Cluster: nodes, configuration (the seed's Foundation.ClusterConfig),
-- discovery and the health monitor.
------------------------------------------------------------------------------
CREATE TABLE foundation.nodes (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    conninfo      text NOT NULL,
    source        text NOT NULL DEFAULT 'manual',
    status        text NOT NULL DEFAULT 'unknown'
                  CHECK (status IN ('unknown', 'up', 'unreachable')),
    last_seen_at  timestamptz,
    ping_time_us  bigint,
    added_at      timestamptz NOT NULL DEFAULT now(),
    failed_checks integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE foundation.nodes IS
  'The other nodes (PostgreSQL servers running foundation). Rows added by hand have source manual and are never removed by discovery.';
GRANT SELECT ON foundation.nodes TO PUBLIC;
-- Everyone reads foundation.nodes: a conninfo with a password is refused
-- (passwords belong in a passfile); foundation strips them from what it writes.
CREATE FUNCTION foundation._nodes_no_password() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_nodes_no_password';
CREATE TRIGGER nodes_no_password
    BEFORE INSERT OR UPDATE OF conninfo ON foundation.nodes
    FOR EACH ROW EXECUTE FUNCTION foundation._nodes_no_password();
REVOKE ALL ON FUNCTION foundation._nodes_no_password() FROM PUBLIC;

CREATE FUNCTION foundation.node_name() RETURNS text
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_node_name_sql';
COMMENT ON FUNCTION foundation.node_name() IS
  'This node''s name: foundation.node_name, or <hostname>:<port>.';

CREATE FUNCTION foundation.node_metrics() RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_node_metrics';
COMMENT ON FUNCTION foundation.node_metrics() IS
  'This server''s load average, memory, connections, worker slots, notification queue usage, version and uptime; the health monitor calls it on every node over libpq.';

CREATE FUNCTION foundation.resolve_cluster_config(OUT mode text, OUT topology jsonb)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_resolve_cluster_config';
COMMENT ON FUNCTION foundation.resolve_cluster_config() IS
  'The seed''s four modes: wizard (foundation.topology, or nodes added by hand), apprentice (a named strategy translated), mortal (on: auto-detected), no_clustering (off).';

CREATE FUNCTION foundation.auto_detect_strategy() RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_auto_detect_strategy';
COMMENT ON FUNCTION foundation.auto_detect_strategy() IS
  'KUBERNETES_SERVICE_HOST set -> kubernetes; CONSUL_HTTP_ADDR set -> consul; otherwise gossip (the postmaster''s environment).';

CREATE FUNCTION foundation.translate_cluster_config(strategy text) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_translate_cluster_config';
-- Both show foundation.cluster_nodes and foundation.topology, which only
-- superusers may read (connection strings may carry credentials).
REVOKE ALL ON FUNCTION foundation.resolve_cluster_config(), foundation.translate_cluster_config(text) FROM PUBLIC;
COMMENT ON FUNCTION foundation.translate_cluster_config(text) IS
  'The topology for static, dns, kubernetes, consul or gossip, from the settings.';

CREATE FUNCTION foundation._discover() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_discover_nodes';
REVOKE ALL ON FUNCTION foundation._discover() FROM PUBLIC;

CREATE FUNCTION foundation.discover_nodes() RETURNS SETOF foundation.nodes
    LANGUAGE sql VOLATILE
    BEGIN ATOMIC
      SELECT foundation._discover();
      SELECT * FROM foundation.nodes ORDER BY name;
    END;
COMMENT ON FUNCTION foundation.discover_nodes() IS
  'Run the resolved topology''s discovery (static list, DNS, Kubernetes or Consul DNS names, gossip over libpq), upsert what it finds into foundation.nodes, and return the nodes.';
REVOKE ALL ON FUNCTION foundation.discover_nodes() FROM PUBLIC;

CREATE FUNCTION foundation.gossip_exchange(secret text, node text, conninfo text) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_gossip_exchange';
COMMENT ON FUNCTION foundation.gossip_exchange(text, text, text) IS
  'Called by other nodes'' gossip discovery: with the right secret, notes the caller and returns this node and the nodes it knows; with another secret, refuses. Off unless foundation.gossip_secret is set (and not the default foundation-cluster). Not executable by PUBLIC: grant EXECUTE to the role peers log in as.';
REVOKE ALL ON FUNCTION foundation.gossip_exchange(text, text, text) FROM PUBLIC;

CREATE TABLE foundation.health_history (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checked_at        timestamptz NOT NULL,
    overall_status    text NOT NULL,
    report            jsonb NOT NULL,
    check_duration_ms double precision NOT NULL
);
CREATE INDEX ON foundation.health_history (checked_at);
COMMENT ON TABLE foundation.health_history IS
  'Health reports, newest foundation.health_history_size kept.';
-- The report holds connection errors of the checks (which, readable by
-- everyone, would make foundation a port scanner's oracle): PUBLIC reads
-- the status columns only; foundation.health (below) shows the summary.
GRANT SELECT (id, checked_at, overall_status, check_duration_ms) ON foundation.health_history TO PUBLIC;

CREATE FUNCTION foundation.health_check() RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_health_check';
COMMENT ON FUNCTION foundation.health_check() IS
  'Run one health check now, store it in foundation.health_history, announce a status change on the control channel and the summary on telemetry; returns the report.';
REVOKE ALL ON FUNCTION foundation.health_check() FROM PUBLIC;

CREATE FUNCTION foundation.cluster_health() RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_cluster_health';
COMMENT ON FUNCTION foundation.cluster_health() IS
  'The seed''s get_cluster_health: run one health check now and return it (not stored).';
REVOKE ALL ON FUNCTION foundation.cluster_health() FROM PUBLIC;

CREATE VIEW foundation.health AS
  SELECT h.checked_at, h.overall_status,
         h.report #>> '{cluster,status}' AS cluster,
         (h.report #>> '{cluster,healthy_nodes}')::int AS healthy_nodes,
         (h.report #>> '{cluster,expected_nodes}')::int AS expected_nodes,
         h.report #>> '{services,status}' AS services,
         h.report #>> '{infrastructure,status}' AS infrastructure,
         (h.report #>> '{performance,avg_message_latency_ms}')::float8 AS message_latency_ms,
         h.check_duration_ms,
         (SELECT string_agg(r->>'reason', E'\n') FROM jsonb_array_elements(h.report->'recommendations') r) AS recommendations
    FROM foundation.health_history h
   ORDER BY h.checked_at DESC, h.id DESC
   LIMIT 1;
GRANT SELECT ON foundation.health TO PUBLIC;

-- Every change to the registry empties the name caches of all backends
-- (relcache invalidation, as pg_cron does for its job table).
CREATE FUNCTION foundation._registry_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_registry_changed';
CREATE TRIGGER registry_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.registry
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._registry_changed();
-- A trigger's function is not checked for EXECUTE when it fires.
REVOKE ALL ON FUNCTION foundation._registry_changed() FROM PUBLIC;

------------------------------------------------------------------------------
-- Multi-agent coordination (the seed's MABEAM): agents, orchestration
-- variables, auctions, consensus, negotiation.
------------------------------------------------------------------------------
CREATE TABLE foundation.agents (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    module        text,
    args          jsonb NOT NULL DEFAULT '{}',
    capabilities  text[] NOT NULL DEFAULT '{}',
    protocols     text[] NOT NULL DEFAULT '{}',
    strategy      text NOT NULL DEFAULT 'singleton' CHECK (strategy IN ('singleton', 'replicated')),
    resources     jsonb NOT NULL DEFAULT '{}',
    handler       regprocedure,
    owner         oid NOT NULL,
    status        text NOT NULL DEFAULT 'registered',
    pid           integer,
    registered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
COMMENT ON TABLE foundation.agents IS
  'Coordination agents (MABEAM AgentRegistry). seq is the registration order, which breaks auction ties. Each role sees its own rows (args may hold secrets); foundation.agent_directory shows every agent without args.';
ALTER TABLE foundation.agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_agents ON foundation.agents FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
GRANT SELECT ON foundation.agents TO PUBLIC;
-- What every role may know of the others' agents (to invite them to an
-- auction or a vote): all but args.  The view reads the table as its owner,
-- so row-level security does not hide other roles' rows here.
CREATE VIEW foundation.agent_directory AS
  SELECT name, module, capabilities, protocols, strategy, resources, handler,
         owner::regrole AS owner, status, pid, registered_at, seq
    FROM foundation.agents;
COMMENT ON VIEW foundation.agent_directory IS
  'Every agent, without its args (which only its owner reads in foundation.agents).';
GRANT SELECT ON foundation.agent_directory TO PUBLIC;

-- Executable by PUBLIC: register_agent (a SQL function, run as the caller)
-- is only this, with config unpacked; it checks everything itself.
CREATE FUNCTION foundation._register_agent(name text, module text, args jsonb,
    capabilities text[], protocols text[], strategy text, resources jsonb, handler regprocedure)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_register_agent';
REVOKE ALL ON FUNCTION foundation._register_agent(text, text, jsonb, text[], text[], text, jsonb, regprocedure) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation._register_agent(text, text, jsonb, text[], text[], text, jsonb, regprocedure) TO PUBLIC;

CREATE FUNCTION foundation.register_agent(name text, config jsonb) RETURNS void
    LANGUAGE sql VOLATILE
    BEGIN ATOMIC
      SELECT foundation._register_agent(name, config->>'module', coalesce(config->'args', '{}'),
        coalesce(ARRAY(SELECT jsonb_array_elements_text(config->'capabilities')), '{}'),
        coalesce(ARRAY(SELECT jsonb_array_elements_text(config->'protocols')), '{}'),
        coalesce(config->>'strategy', 'singleton'), coalesce(config->'resources', '{}'),
        (config->>'handler')::regprocedure);
    END;
COMMENT ON FUNCTION foundation.register_agent(text, jsonb) IS
  'AgentRegistry.register_agent: config {module, args, capabilities, protocols, strategy, resources, handler}. Equivalent to INSERT INTO foundation.agents ... after validation.';

CREATE FUNCTION foundation.start_coordination_agent(module text, args jsonb, name text DEFAULT NULL,
    capabilities text[] DEFAULT '{}', protocols text[] DEFAULT '{}', strategy text DEFAULT 'singleton',
    resources jsonb DEFAULT '{}', handler regprocedure DEFAULT NULL) RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_start_coordination_agent';
COMMENT ON FUNCTION foundation.start_coordination_agent(text, jsonb, text, text[], text[], text, jsonb, regprocedure) IS
  'Validate, register and start an agent; returns its pid (NULL for a handler-only agent). Equivalent to: SELECT foundation.register_agent(name, config); SELECT foundation.start_singleton(module, args, name) -- start_replicated for strategy replicated.';

CREATE TABLE foundation.orchestration_variables (
    id              text NOT NULL,
    type            text NOT NULL,
    agents          text[] NOT NULL,
    constraints     jsonb NOT NULL DEFAULT '{}',
    coordination_fn regprocedure,
    owner           oid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_result     jsonb,
    PRIMARY KEY (owner, id)
);
COMMENT ON TABLE foundation.orchestration_variables IS
  'Orchestration variables, each role''s own: ids are scoped by owner, and a role sees only its own rows.';
ALTER TABLE foundation.orchestration_variables ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_variables ON foundation.orchestration_variables FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
GRANT SELECT ON foundation.orchestration_variables TO PUBLIC;

CREATE FUNCTION foundation.register_orchestration_variable(variable jsonb) RETURNS text
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_register_orchestration_variable';
COMMENT ON FUNCTION foundation.register_orchestration_variable(jsonb) IS
  'MABEAM.Core.register_orchestration_variable: {id, type (auction, consensus, negotiation, custom), agents, constraints (an object), coordination_fn}; returns the id. Ids are the calling role''s own: registering an id again replaces that role''s variable.';

CREATE FUNCTION foundation.run_custom_protocol(spec jsonb, agents text[], context jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_run_custom_protocol';
COMMENT ON FUNCTION foundation.run_custom_protocol(jsonb, text[], jsonb) IS
  'Run spec.coordination_fn(agents, spec, context) with the built-in protocols'' agent validation, recording (spec.variable_id) and broadcast (protocol_completed on events).';

CREATE FUNCTION foundation.coordinate(variable_id text, context jsonb DEFAULT '{}') RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_coordinate';
COMMENT ON FUNCTION foundation.coordinate(text, jsonb) IS
  'Run the calling role''s variable''s coordination_fn (as that role, restricted), or the built-in protocol of its type (auction: run_auction; consensus: coordinate_consensus), and record the result on it.';

CREATE TABLE foundation.auctions (
    auction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spec       jsonb NOT NULL,
    agents     text[] NOT NULL,
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    owner      oid NOT NULL,
    opened_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deadline   timestamptz,
    closed_at  timestamptz,
    result     jsonb
);
GRANT SELECT ON foundation.auctions TO PUBLIC;
-- One row per invited agent, written when the auction opens (ord: its place
-- in the invitation); bid and submitted_at stay NULL until it bids.  Only
-- foundation's functions write it, always for an auction they hold locked
-- or just created; no foreign key, whose per-row check was a quarter of
-- run_auction's time (docs/benchmarks.md, benchmark 11).
CREATE TABLE foundation.bids (
    auction_id   bigint NOT NULL,
    agent        text NOT NULL,
    ord          integer NOT NULL,
    bid          double precision,
    priority     double precision NOT NULL DEFAULT 0,
    details      jsonb NOT NULL DEFAULT '{}',
    error        text,
    submitted_at timestamptz,
    PRIMARY KEY (auction_id, agent)
);

CREATE TABLE foundation.proposals (
    proposal_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal       jsonb NOT NULL,
    agents         text[] NOT NULL,
    consensus_type text NOT NULL,
    required_votes integer NOT NULL,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    owner          oid NOT NULL,
    opened_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    deadline       timestamptz,
    closed_at      timestamptz,
    result         jsonb
);
GRANT SELECT ON foundation.proposals TO PUBLIC;

CREATE FUNCTION foundation.run_auction(spec jsonb, agents text[], context jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_run_auction_sql';
COMMENT ON FUNCTION foundation.run_auction(jsonb, text[], jsonb) IS
  'Sealed-bid auction now: each agent''s handler(agent, ''bid_for_resources'', {resources, context}) bids; highest valid bid at or above the reserve wins (ties: priority, then registration order); first_price pays its bid, second_price the second-highest valid bid (a single bid pays itself), never less than the reserve. Stored in foundation.auctions/bids, broadcast on events at commit.';

CREATE FUNCTION foundation.coordinate_consensus(agent_ids text[], proposal jsonb,
    consensus_type text DEFAULT 'majority', timeout_ms integer DEFAULT 15000,
    required_votes integer DEFAULT NULL) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_coordinate_consensus';
COMMENT ON FUNCTION foundation.coordinate_consensus(text[], jsonb, text, integer, integer) IS
  'Ask every agent''s handler(agent, ''vote'', {proposal, consensus_type}); majority: yes > half; supermajority: yes >= two thirds; unanimous: all yes; quorum: yes > no; fewer valid votes than required_votes (default: every agent) is no_quorum.';

CREATE FUNCTION foundation.negotiate(initiator text, responder text, issue jsonb,
    max_rounds integer DEFAULT 10) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_negotiate';
COMMENT ON FUNCTION foundation.negotiate(text, text, jsonb, integer) IS
  'Alternating offers: the initiator''s handler answers ''propose'' with {offer}; the other answers ''respond'' with {accept: true} or {counter}; turns alternate until agreement or max_rounds.';

CREATE FUNCTION foundation.coordinate_resource_allocation(agent_ids text[], resources jsonb)
    RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_coordinate_resource_allocation';
COMMENT ON FUNCTION foundation.coordinate_resource_allocation(text[], jsonb) IS
  'The seed''s facade. Equivalent to: SELECT foundation.register_orchestration_variable(''{"id": "resource_allocation", "type": "auction", "agents": [...], "constraints": {"total_resources": resources, "max_allocation_time": 30000}}''); SELECT foundation.run_auction(''{"type": "sealed_bid", "resources": resources, "payment_rule": "second_price"}'', agent_ids).';

-- Auctions and proposals across transactions.  Bids and votes are sealed:
-- no role but the extension's owner reads these tables; results show them
-- once closed.
CREATE TABLE foundation.votes (
    proposal_id bigint NOT NULL REFERENCES foundation.proposals ON DELETE CASCADE,
    agent       text NOT NULL,
    vote        text NOT NULL CHECK (vote IN ('yes', 'no', 'abstain')),
    reason      text,
    cast_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (proposal_id, agent)
);

CREATE FUNCTION foundation.open_auction(spec jsonb, agents text[], deadline interval DEFAULT '30 seconds')
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_open_auction';
COMMENT ON FUNCTION foundation.open_auction(jsonb, text[], interval) IS
  'Open a sealed-bid auction: announced as {"type": "auction_opened", ...} on the control channel at commit; closed by its owner, or by the supervisor at the deadline or once every invited agent has bid.';
CREATE FUNCTION foundation.submit_bid(auction_id bigint, agent text, bid numeric, details jsonb DEFAULT '{}')
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_submit_bid';
COMMENT ON FUNCTION foundation.submit_bid(bigint, text, numeric, jsonb) IS
  'Bid for an agent you own; replaceable until the close; sealed. details.priority breaks ties.';
CREATE FUNCTION foundation.close_auction(auction_id bigint) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_close_auction';
COMMENT ON FUNCTION foundation.close_auction(bigint) IS
  'Decide (the run_auction rule) and store the result, broadcast on events at commit; idempotent: concurrent closers get one result.';
CREATE FUNCTION foundation.auction_bids(auction_id bigint)
    RETURNS TABLE (agent text, bid double precision, priority double precision, details jsonb,
                   error text, submitted_at timestamptz)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_auction_bids';
COMMENT ON FUNCTION foundation.auction_bids(bigint) IS
  'Every invited agent''s bid (NULL with error ''no bid'' for none), in invitation order, once the auction is closed; sealed (55000) while it is open.';
CREATE FUNCTION foundation.auction_result(auction_id bigint) RETURNS jsonb
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_auction_result_sql';
COMMENT ON FUNCTION foundation.auction_result(bigint) IS
  'The result of a closed auction; NULL while it is open.';
CREATE FUNCTION foundation.open_proposal(agents text[], proposal jsonb, consensus_type text,
    deadline interval, required_votes integer DEFAULT NULL)
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_open_proposal';
COMMENT ON FUNCTION foundation.open_proposal(text[], jsonb, text, interval, integer) IS
  'Open a proposal for votes: announced on control at commit; closed like an auction.';
CREATE FUNCTION foundation.cast_vote(proposal_id bigint, agent text, vote text, reason text DEFAULT NULL)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_cast_vote';
COMMENT ON FUNCTION foundation.cast_vote(bigint, text, text, text) IS
  'Vote yes, no or abstain for an agent you own; one vote per agent; sealed until the close.';
CREATE FUNCTION foundation.close_proposal(proposal_id bigint) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_close_proposal';
COMMENT ON FUNCTION foundation.close_proposal(bigint) IS
  'Decide (the coordinate_consensus rule; a missing vote is a failed one) and store the result; idempotent.';

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
    renewed_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE foundation.members IS
  'Cluster members and their leases (control database). A member is live while state = ''up'' and lease_expires > now(); a renewal must match its node and its epoch.';

CREATE TABLE foundation.cluster_singletons (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    module        text NOT NULL,
    args          jsonb NOT NULL,
    restart       text NOT NULL,
    owner_role    name NOT NULL,            -- the starting role, by name on every member
    distribution  text NOT NULL CHECK (distribution IN ('uniform', 'local', 'least_loaded')),
    node          text,                     -- the member it is assigned to
    member_epoch  bigint,                   -- that member's epoch when assigned
    epoch         bigint NOT NULL DEFAULT 1,-- fencing epoch: bumped at every reassignment
    pid           integer,                  -- reported by the member once started
    started_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- HMAC-SHA256 (foundation.cluster_secret, which members hold and this
    -- database does not) of name, module, args, restart and owner_role,
    -- made by the member whose backend placed it: a member starts nothing
    -- without it (docs/cluster-singletons.md)
    signature     text
);
COMMENT ON TABLE foundation.cluster_singletons IS
  'Cluster-wide singletons (control database): one row per name, assigned to one live member at a fencing epoch.';
REVOKE ALL ON foundation.members, foundation.cluster_singletons FROM PUBLIC;

-- A live member for a singleton, by its distribution.
CREATE FUNCTION foundation.cluster_pick_member(p_name text, p_distribution text,
                                               p_preferred text, p_exclude text DEFAULT NULL)
    RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH live AS (
    SELECT m.node, m.load,
           (SELECT count(*) FROM foundation.cluster_singletons c WHERE c.node = m.node) AS assigned
      FROM foundation.members m
     WHERE m.state = 'up' AND m.lease_expires > now() AND m.node IS DISTINCT FROM p_exclude)
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
-- or rejoined under a new epoch) to a live member, at the next epoch.
CREATE FUNCTION foundation.cluster_reassign() RETURNS integer
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
           epoch = epoch + 1, pid = NULL, started_at = NULL
     WHERE name = s.name;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- One round trip per lease renewal: join (epoch 0) or renew (node and
-- epoch must match, and the lease must not have expired), report what runs,
-- hand over when leaving, reassign orphans, and return this member's
-- assignments.  Serialized by a lock on foundation.members itself (as are
-- cluster_place and cluster_unplace): only roles that may write that table
-- can take or hold it, where a pg_advisory_lock key is anyone's to take.
CREATE FUNCTION foundation.member_heartbeat(p_node text, p_epoch bigint, p_lease_ms integer,
                                            p_load double precision, p_running jsonb,
                                            p_leaving boolean DEFAULT false,
                                            p_conninfo text DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  e bigint;
  r jsonb;
BEGIN
  LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE;
  IF p_epoch = 0 THEN
    INSERT INTO foundation.members AS m (node, epoch, lease_expires, load, conninfo)
    VALUES (p_node, 1, now() + make_interval(secs => p_lease_ms / 1000.0), p_load, p_conninfo)
    ON CONFLICT (node) DO UPDATE
      SET epoch = m.epoch + 1, state = 'up', lease_expires = excluded.lease_expires,
          load = excluded.load, conninfo = excluded.conninfo, joined_at = now(), renewed_at = now()
    RETURNING m.epoch INTO e;
  ELSE
    UPDATE foundation.members
       SET lease_expires = CASE WHEN p_leaving THEN now() ELSE now() + make_interval(secs => p_lease_ms / 1000.0) END,
           state = CASE WHEN p_leaving THEN 'leaving' ELSE 'up' END,
           load = p_load, conninfo = coalesce(p_conninfo, conninfo), renewed_at = now()
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
                                               'epoch', epoch, 'signature', signature) ORDER BY name), '[]')
    INTO r
    FROM foundation.cluster_singletons
   WHERE node = p_node AND member_epoch = e AND NOT p_leaving;
  RETURN jsonb_build_object('epoch', e, 'assignments', r,
           'members', (SELECT coalesce(jsonb_agg(jsonb_build_object('node', node, 'conninfo', conninfo)
                                                 ORDER BY node), '[]')
                         FROM foundation.members WHERE node <> p_node));
END $$;

-- Place a cluster singleton (or find it placed): {node, epoch, pid, existing}.
CREATE FUNCTION foundation.cluster_place(p_name text, p_module text, p_args jsonb, p_restart text,
                                         p_owner name, p_distribution text, p_caller text,
                                         p_signature text)
    RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c foundation.cluster_singletons;
  target text;
BEGIN
  LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO c FROM foundation.cluster_singletons WHERE name = p_name;
  IF FOUND THEN
    RETURN jsonb_build_object('node', c.node, 'epoch', c.epoch, 'pid', c.pid, 'existing', true,
                              'conninfo', (SELECT conninfo FROM foundation.members WHERE node = c.node));
  END IF;
  target := foundation.cluster_pick_member(p_name, p_distribution, p_caller);
  IF target IS NULL THEN
    RAISE EXCEPTION 'no live cluster member to run "%"', p_name
      USING ERRCODE = '55000',
            HINT = 'Every member''s lease has expired: check that their supervisors reach the control database, or use scope => ''local''.';
  END IF;
  INSERT INTO foundation.cluster_singletons (name, module, args, restart, owner_role, distribution,
                                             node, member_epoch, signature)
  VALUES (p_name, p_module, p_args, p_restart, p_owner, p_distribution, target,
          (SELECT epoch FROM foundation.members WHERE node = target), p_signature)
  RETURNING * INTO c;
  RETURN jsonb_build_object('node', c.node, 'epoch', c.epoch, 'pid', c.pid, 'existing', false,
                            'conninfo', (SELECT conninfo FROM foundation.members WHERE node = c.node));
END $$;

-- Stop a cluster singleton for good: the member running it stops it at its
-- next renewal.  With p_owner, only a singleton of that owner is removed
-- (the calling member checks who asks; this database only stores).
-- Returns NULL if there is no such singleton, else {node, owner_role,
-- removed}.
CREATE FUNCTION foundation.cluster_unplace(p_name text, p_owner name DEFAULT NULL) RETURNS jsonb
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c foundation.cluster_singletons;
BEGIN
  LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO c FROM foundation.cluster_singletons WHERE name = p_name FOR UPDATE;
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
  EXECUTE format('GRANT EXECUTE ON FUNCTION foundation.cluster_pick_member(text, text, text, text),'
                 ' foundation.cluster_reassign(),'
                 ' foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text),'
                 ' foundation.cluster_place(text, text, jsonb, text, name, text, text, text),'
                 ' foundation.cluster_unplace(text, name) TO %I', role);
END $$;
COMMENT ON FUNCTION foundation.grant_member_role(name) IS
  'In the control database: grant a (non-superuser) role what members need to hold leases and place cluster singletons; name it in foundation.control_conninfo.';

REVOKE ALL ON FUNCTION foundation.grant_member_role(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION foundation.cluster_unplace(text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION foundation.cluster_pick_member(text, text, text, text),
                       foundation.cluster_reassign(),
                       foundation.member_heartbeat(text, bigint, integer, double precision, jsonb, boolean, text),
                       foundation.cluster_place(text, text, jsonb, text, name, text, text, text)
  FROM PUBLIC;

-- On every member: the cluster singletons this member's supervisor runs,
-- at the fencing epoch it was given them.
CREATE TABLE foundation.cluster_local (
    name     text PRIMARY KEY,
    epoch    bigint NOT NULL,
    child_id bigint NOT NULL
);
REVOKE ALL ON foundation.cluster_local FROM PUBLIC;

CREATE FUNCTION foundation.member_wake() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_member_wake';
COMMENT ON FUNCTION foundation.member_wake() IS
  'Ask this member''s supervisor to renew its lease (and so pick up new assignments) now rather than at the next foundation.lease_renew_interval. Called by other members over libpq; not executable by PUBLIC: grant EXECUTE to the role of foundation.node_conninfo.';
REVOKE ALL ON FUNCTION foundation.member_wake() FROM PUBLIC;

CREATE FUNCTION foundation.whereis(name text) RETURNS TABLE (node text, pid integer)
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_whereis';
COMMENT ON FUNCTION foundation.whereis(text) IS
  'Where a singleton runs: for a cluster singleton, the member and pid the control database records (the same answer on every member; pid NULL while it starts); else this node and the local pid. No row: no such name.';

------------------------------------------------------------------------------
-- Channels across nodes (docs/channels.md): foundation.broadcast writes, in
-- the publisher's transaction, one outbox row per other member; the relay
-- child forwards them over libpq; the receiving member notifies its own
-- listeners once per message id.
------------------------------------------------------------------------------
-- The other members, as of this member's last lease renewal (all of them,
-- live or not: one that is down gets its messages when it returns).
CREATE TABLE foundation.cluster_peers (
    node       text PRIMARY KEY,
    conninfo   text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE foundation.outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target      text NOT NULL,
    channel     text NOT NULL,
    message     jsonb NOT NULL,
    compression boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON foundation.outbox (target, id);
CREATE TABLE foundation.relay_inbox (
    origin      text NOT NULL,
    id          bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, id)
);
REVOKE ALL ON foundation.cluster_peers, foundation.outbox, foundation.relay_inbox FROM PUBLIC;

CREATE FUNCTION foundation.local_broadcast(channel text, message jsonb,
                                           compression boolean DEFAULT false)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_local_broadcast_sql';
COMMENT ON FUNCTION foundation.local_broadcast(text, jsonb, boolean) IS
  'Broadcast to this server''s listeners only (Phoenix.PubSub.local_broadcast). Equivalent to pg_notify(''foundation:'' || channel, ...) as foundation.broadcast encodes it.';
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
CREATE PROCEDURE foundation.cluster_relay(args jsonb)
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_cluster_relay';
COMMENT ON PROCEDURE foundation.cluster_relay(jsonb) IS
  'The relay child''s module: forwards foundation.outbox to the other members. Started by the supervisor when foundation.control_conninfo is set.';
REVOKE ALL ON PROCEDURE foundation.cluster_relay(jsonb) FROM PUBLIC;
