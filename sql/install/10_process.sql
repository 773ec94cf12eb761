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
    database      name NOT NULL,
    owner         regrole NOT NULL,
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
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- foundation's own children (reserved names) below zero, users' above
    CONSTRAINT own_children_below_zero
      CHECK ((child_id < 0) = (id LIKE 'foundation:%'))
);
COMMENT ON TABLE foundation.child_specs IS
  'The supervisor''s children: one row per child spec. Written only by foundation''s functions and its supervisor.';
ALTER TABLE foundation.child_specs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_children ON foundation.child_specs FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
GRANT SELECT ON foundation.child_specs TO PUBLIC;
-- pg_dump keeps the specs of what users started (docs/backup.md): not
-- foundation's own children (reserved names), nor temporary ones (a
-- restart forgets them anyway), nor the cluster singletons this member
-- was given (foundation.cluster_local, in the cluster piece: the control
-- database assigns them again, under a lease).  The database and owner are
-- stored by name (regrole), because OIDs differ from server to server.
-- A row whose owner was dropped (DROP ROLE leaves it: PostgreSQL records
-- no dependency on a role stored in a column) is left out too: its owner
-- would dump as a bare OID, which on another server is nobody, or somebody
-- else.
SELECT pg_catalog.pg_extension_config_dump('foundation.child_specs',
  'WHERE id NOT LIKE ''foundation:%'' AND restart <> ''temporary'''
  ' AND child_id NOT IN (SELECT child_id FROM foundation.cluster_local)'
  ' AND owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.child_specs_child_id_seq', '');

-- The ids of foundation's own children (the handler dispatcher, the relay),
-- negated: -1, -2, ...  foundation starts them by itself on a server where
-- pg_restore is still loading child_specs (one table per transaction), so
-- they must never take an id a restored row brings.  Not dumped: neither
-- are those children.
CREATE SEQUENCE foundation.own_child_ids;
REVOKE ALL ON SEQUENCE foundation.own_child_ids FROM PUBLIC;

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

------------------------------------------------------------------------------
-- Registry: unique names for processes.
------------------------------------------------------------------------------
CREATE TABLE foundation.registry (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    pid           integer NOT NULL,
    node          text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    owner         regrole NOT NULL,
    child_id      bigint REFERENCES foundation.child_specs ON DELETE CASCADE
);
CREATE INDEX ON foundation.registry (child_id);
-- The names of processes that are not children, by their pid: the
-- supervisor's sweep of ended sessions reads one entry per pid, not one per
-- name.
CREATE INDEX ON foundation.registry (node, pid) WHERE child_id IS NULL;
COMMENT ON TABLE foundation.registry IS
  'Names for processes (Horde.Registry). A row with a child_id follows that child across restarts.';
GRANT SELECT ON foundation.registry TO PUBLIC;
-- pg_dump keeps the names that follow a dumped child (the supervisor
-- writes the new pid when it starts the child again); a name of any other
-- process dies with the server.
SELECT pg_catalog.pg_extension_config_dump('foundation.registry',
  'WHERE child_id IN (SELECT child_id FROM foundation.child_specs'
  ' WHERE id NOT LIKE ''foundation:%'' AND restart <> ''temporary'''
  ' AND child_id NOT IN (SELECT child_id FROM foundation.cluster_local)'
  ' AND owner::oid IN (SELECT oid FROM pg_catalog.pg_roles))'
  ' AND owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');

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
REVOKE ALL ON FUNCTION foundation.pid_alive(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation.pid_alive(integer) TO PUBLIC;

CREATE FUNCTION foundation.lookup(name text)
    RETURNS TABLE (pid integer, metadata jsonb)
    LANGUAGE sql STABLE
    BEGIN ATOMIC
      SELECT r.pid, r.metadata FROM foundation.registry r
       WHERE r.name = lookup.name AND foundation.pid_alive(r.pid);
    END;
COMMENT ON FUNCTION foundation.lookup(text) IS
  'Horde.Registry.lookup: the live pid and metadata registered under a name. Equivalent to SELECT pid, metadata FROM foundation.registry WHERE name = $1 AND foundation.pid_alive(pid).';

-- Every change to the registry empties the name caches of all backends
-- (relcache invalidation, as pg_cron does for its job table).
CREATE FUNCTION foundation._registry_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_registry_changed';
CREATE TRIGGER registry_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.registry
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._registry_changed();
-- A trigger's function is not checked for EXECUTE when it fires.
REVOKE ALL ON FUNCTION foundation._registry_changed() FROM PUBLIC;

