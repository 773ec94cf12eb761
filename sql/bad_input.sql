-- Every bad input is an error with an errcode and a hint, and leaves
-- nothing behind.
SELECT err($$SELECT foundation.start_child(NULL)$$);
SELECT err($$SELECT foundation.start_child('[1, 2]')$$);
SELECT err($$SELECT foundation.start_child('"public.ticker"')$$);
SELECT err($$SELECT foundation.start_child('{}')$$);
SELECT err($$SELECT foundation.start_child('{"start": "public.ticker"}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"args": {}}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "restrat": "permanent"}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker", "arg": {}}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.no_such_proc"}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "no_such_schema.ticker"}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.two_args"}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker; DROP TABLE ticks"}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "pg_catalog.count"}}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "restart": "sometimes"}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "restart": 1}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "database": "no_such_db"}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "max_restarts": -1}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "max_seconds": 0}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "shutdown": 1.5}')$$);
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "id": ""}')$$);
SELECT err(format($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "id": "%s"}')$$, repeat('x', 201)));
SELECT err($$SELECT foundation.terminate_child(NULL)$$);
SELECT err($$SELECT foundation.terminate_child(424242)$$);

-- The facade.
SELECT err($$SELECT foundation.start_singleton(NULL, '{}')$$);
SELECT err($$SELECT foundation.start_singleton('public.ticker', NULL)$$);
SELECT err($$SELECT foundation.start_singleton('public.ticker', '{}', 'x', NULL)$$);
SELECT err($$SELECT foundation.start_singleton('public.ticker', '{}', '')$$);
SELECT err(format($$SELECT foundation.start_singleton('public.ticker', '{}', '%s')$$, repeat('n', 201)));
SELECT err($$SELECT foundation.start_singleton('public.no_such_proc', '{}', 'x')$$);
SELECT err($$SELECT foundation.start_singleton('public.ticker', '{}', 'x', 'forever')$$);
SELECT err($$SELECT foundation.lookup_singleton(NULL)$$);
SELECT err($$SELECT foundation.stop_singleton(NULL)$$);

-- The registry.
SELECT err($$SELECT foundation.register(NULL, 1)$$);
SELECT err($$SELECT foundation.register('', pg_backend_pid())$$);
SELECT err($$SELECT foundation.register('x', 0)$$);
SELECT err($$SELECT foundation.unregister(NULL)$$);

-- Rights: no EXECUTE on the module, and a role that cannot log in.
REVOKE EXECUTE ON PROCEDURE public.ticker(jsonb) FROM PUBLIC;
SET ROLE regress_alice;
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}}')$$);
RESET ROLE;
GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO PUBLIC;
SET ROLE regress_nologin;
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}}')$$);
RESET ROLE;

-- Nothing was left behind.
SELECT count(*) AS specs FROM foundation.child_specs;
SELECT count(*) AS names FROM foundation.registry;
SELECT child_procs() AS workers;
