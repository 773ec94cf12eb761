-- pgTAP: the shape of foundation's API, its settings and its security.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
BEGIN;
SELECT plan(32);

SELECT has_schema('foundation');
SELECT has_table('foundation', 'child_specs', 'child_specs table');
SELECT has_table('foundation', 'registry', 'registry table');
SELECT has_view('foundation', 'children', 'children view for psql');
SELECT has_pk('foundation', 'registry', 'registry names are unique');
SELECT col_is_pk('foundation', 'registry', 'name', 'registry keyed by name');

SELECT function_returns('foundation', 'start_child', ARRAY['jsonb'], 'integer');
SELECT function_returns('foundation', 'terminate_child', ARRAY['bigint'], 'boolean');
SELECT function_returns('foundation', 'count_children', ARRAY[]::text[], 'jsonb');
SELECT function_returns('foundation', 'register', ARRAY['text', 'integer', 'jsonb'], 'void');
SELECT function_returns('foundation', 'unregister', ARRAY['text'], 'boolean');
SELECT function_returns('foundation', 'start_singleton', ARRAY['text', 'jsonb', 'text', 'text', 'text'], 'integer');
SELECT function_returns('foundation', 'lookup_singleton', ARRAY['text'], 'integer');
SELECT function_returns('foundation', 'stop_singleton', ARRAY['text'], 'boolean');
SELECT has_function('foundation', 'which_children', ARRAY[]::text[]);
SELECT has_function('foundation', 'lookup', ARRAY['text']);
SELECT has_function('foundation', 'start_replicated', ARRAY['text', 'jsonb', 'text']);

SELECT columns_are('foundation', 'children',
  ARRAY['child_id', 'id', 'pid', 'module', 'args', 'restart', 'status',
        'database', 'role', 'started_at', 'restart_count', 'last_exit'],
  'children view has the which_children columns');
SELECT columns_are('foundation', 'registry',
  ARRAY['name', 'pid', 'node', 'metadata', 'registered_at', 'owner', 'child_id'],
  'registry columns');

-- Settings.
SELECT is(current_setting('foundation.database'), current_database()::text, 'foundation.database names this database');
SELECT ok(current_setting('foundation.max_children')::int > 0, 'foundation.max_children is set');
SELECT is((SELECT context FROM pg_settings WHERE name = 'foundation.database'), 'postmaster', 'foundation.database needs a restart');
SELECT is((SELECT context FROM pg_settings WHERE name = 'foundation.max_children'), 'postmaster', 'foundation.max_children needs a restart');
SELECT is((SELECT context FROM pg_settings WHERE name = 'foundation.naptime'), 'sighup', 'foundation.naptime reloads');

-- Security: nobody but foundation writes its tables; each role sees its own.
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'foundation.child_specs'::regclass), 'child_specs has row-level security');
SELECT ok(NOT has_table_privilege('public', 'foundation.child_specs', 'INSERT'), 'PUBLIC cannot INSERT into child_specs');
SELECT ok(NOT has_table_privilege('public', 'foundation.child_specs', 'UPDATE'), 'PUBLIC cannot UPDATE child_specs');
SELECT ok(NOT has_table_privilege('public', 'foundation.registry', 'DELETE'), 'PUBLIC cannot DELETE from registry');
SELECT ok(has_table_privilege('public', 'foundation.registry', 'SELECT'), 'anyone can look names up');

-- Errors carry errcodes.
SELECT throws_ok($$SELECT foundation.start_child('{"start": {"module": "public.no_such"}}')$$, '42883', NULL, 'unknown module: undefined_function');
SELECT throws_ok($$SELECT foundation.start_child('{"start": {"module": "x"}, "bogus": 1}')$$, '22023', 'invalid child spec: unknown key "bogus" in the spec', 'unknown key: invalid_parameter_value');
SELECT throws_ok($$SELECT foundation.terminate_child(-1)$$, '42704', 'child -1 does not exist', 'unknown child: undefined_object');

SELECT * FROM finish();
ROLLBACK;
