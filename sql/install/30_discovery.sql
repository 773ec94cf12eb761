------------------------------------------------------------------------------
-- Cluster: nodes, configuration (after Foundation.ClusterConfig),
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
-- pg_dump keeps the nodes added by hand; discovery finds the others again.
SELECT pg_catalog.pg_extension_config_dump('foundation.nodes', 'WHERE source = ''manual''');
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
  'Four modes, named as in the Elixir library Foundation: wizard (foundation.topology, or nodes added by hand), apprentice (a named strategy translated), mortal (on: auto-detected), no_clustering (off).';

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
  'Run one health check now and return it, without storing it (foundation.health_check stores it).';
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

