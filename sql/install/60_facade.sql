------------------------------------------------------------------------------
-- Facade: start_singleton and friends (after Foundation.ProcessManager).
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
