-- The supervisor's raw layer.

-- A procedure that COMMITs in its loop runs as a child; pid is returned.
SELECT foundation.start_child('{"id": "t1", "start": {"module": "public.ticker", "args": {"tag": "t1"}}}') > 0 AS started;
SELECT wait_for($$SELECT count(*) >= 3 FROM public.ticks WHERE who = 't1'$$) AS ticking;
SELECT id, module, args, restart, status, database, role = current_user::regrole AS my_role, restart_count, last_exit,
       pid = (SELECT pid FROM foundation.child_specs WHERE id = 't1') AS pid_matches
  FROM foundation.children WHERE id = 't1';
SELECT application_name FROM pg_stat_activity
 WHERE pid = (SELECT pid FROM foundation.children WHERE id = 't1');
SELECT foundation.count_children();

-- terminate_child stops it for good.
SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 't1';
SELECT count(*) FROM foundation.children WHERE id = 't1';
SELECT child_procs();

-- transient: a normal exit is not restarted.
SELECT foundation.start_child('{"id": "tr", "start": {"module": "public.once", "args": {"n": 3, "tag": "tr"}}, "restart": "transient"}') > 0;
SELECT wait_for($$SELECT status = 'exited' FROM foundation.children WHERE id = 'tr'$$);
SELECT id, pid, status, restart_count, last_exit FROM foundation.children WHERE id = 'tr';
SELECT who = 'tr:' || current_user AS ran_as_me, n FROM public.ticks WHERE who LIKE 'tr:%' ORDER BY n;

-- temporary: never restarted, its row goes when it exits.
SELECT foundation.start_child('{"id": "tmp", "start": {"module": "public.once", "args": {"tag": "tmp"}}, "restart": "temporary"}') > 0;
SELECT wait_for($$SELECT NOT EXISTS (SELECT FROM foundation.children WHERE id = 'tmp')$$);
SELECT count(*) FROM public.ticks WHERE who = 'tmp:' || current_user;

-- A plain function as the module.
SELECT foundation.start_child('{"id": "fn", "start": {"module": "public.fn_once"}, "restart": "temporary"}') > 0;
SELECT wait_for($$SELECT NOT EXISTS (SELECT FROM foundation.children WHERE id = 'fn')$$);
SELECT count(*) FROM public.ticks WHERE who = 'fn_once';

-- permanent: restarted after a normal exit too, until the restart
-- intensity (max_restarts within max_seconds) marks it failed.
SELECT foundation.start_child('{"id": "perm", "start": {"module": "public.once", "args": {"tag": "perm"}}, "max_restarts": 2, "max_seconds": 3600}') > 0;
SELECT wait_for($$SELECT status = 'failed' FROM foundation.children WHERE id = 'perm'$$);
SELECT id, pid, status, restart_count, last_exit FROM foundation.children WHERE id = 'perm';
SELECT count(*) AS runs FROM public.ticks WHERE who = 'perm:' || current_user;

-- transient: an error is abnormal, so it is restarted, then fails.
SELECT foundation.start_child('{"id": "boom", "start": {"module": "public.boom"}, "restart": "transient", "max_restarts": 1, "max_seconds": 3600}') > 0;
SELECT wait_for($$SELECT status = 'failed' FROM foundation.children WHERE id = 'boom'$$);
SELECT id, pid, status, restart_count, last_exit FROM foundation.children WHERE id = 'boom';
SELECT count(*) AS runs FROM public.ticks WHERE who = 'boom';

-- A failed or exited child is removed by terminate_child.
SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id IN ('boom', 'perm', 'tr') ORDER BY child_id;
SELECT count(*) FROM foundation.children;

-- pg_terminate_backend of a permanent child: the supervisor restarts it.
SELECT foundation.start_child('{"id": "p2", "start": {"module": "public.ticker"}}') AS p2_pid \gset
SELECT pg_terminate_backend(:p2_pid);
-- (the committed row, not the live pid, which shows before the supervisor commits)
SELECT wait_for(format($$SELECT restart_count = 1 AND pid IS NOT NULL AND pid <> %s FROM foundation.children WHERE id = 'p2'$$, :p2_pid));
SELECT status, restart_count, last_exit FROM foundation.children WHERE id = 'p2';
SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'p2';

-- A rolled-back start leaves nothing behind, and the module never ran.
BEGIN;
SELECT foundation.start_child('{"id": "rb", "start": {"module": "public.once", "args": {"tag": "rb"}}}') > 0;
ROLLBACK;
SELECT wait_for($$SELECT child_procs() = 0$$);
SELECT count(*) FROM foundation.child_specs WHERE id = 'rb';
SELECT count(*) FROM public.ticks WHERE who LIKE 'rb:%';

-- A child in another database: the module is resolved there.
SELECT err($$SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "database": "postgres"}')$$);
SELECT foundation.start_child('{"id": "otherdb", "start": {"module": "pg_catalog.jsonb_typeof", "args": [1]}, "database": "postgres", "restart": "temporary"}') > 0;
SELECT wait_for($$SELECT NOT EXISTS (SELECT FROM foundation.children WHERE id = 'otherdb')$$);

-- A child runs as the role that started it, and roles see only their own.
GRANT EXECUTE ON PROCEDURE public.once(jsonb) TO regress_alice;
SET ROLE regress_alice;
SELECT foundation.start_child('{"id": "alice1", "start": {"module": "public.once", "args": {"tag": "alice"}}, "restart": "transient"}') > 0;
RESET ROLE;
SELECT wait_for($$SELECT status = 'exited' FROM foundation.children WHERE id = 'alice1'$$);
SELECT who FROM public.ticks WHERE who LIKE 'alice:%';
SELECT id, role FROM foundation.children WHERE id = 'alice1';
SELECT child_id AS alice_child FROM foundation.children WHERE id = 'alice1' \gset
SET ROLE regress_bob;
SELECT count(*) AS bob_sees FROM foundation.children;
SELECT count(*) AS bob_sees_specs FROM foundation.child_specs;
-- Another role's child looks exactly like a missing one.
SELECT regexp_replace(err(format($$SELECT foundation.terminate_child(%s)$$, :alice_child)), 'child \d+', 'child N') AS bob_terminates;
RESET ROLE;
SET ROLE regress_alice;
SELECT id FROM foundation.children;
SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'alice1';
RESET ROLE;
-- Nobody writes the tables directly.
SET ROLE regress_alice;
SELECT err($$INSERT INTO foundation.child_specs (id, module, args, restart, database, owner, shutdown_ms, max_restarts, max_seconds) VALUES ('x', 'public.ticker', '{}', 'permanent', 'postgres', 10, 0, 0, 1)$$);
SELECT err($$DELETE FROM foundation.registry$$);
RESET ROLE;
SELECT count(*) FROM foundation.children;
