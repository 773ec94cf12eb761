-- The registry's raw layer.
SELECT foundation.register('me', pg_backend_pid(), '{"role": "test"}');
SELECT pid = pg_backend_pid() AS mine, metadata FROM foundation.lookup('me');
SELECT name, node, child_id, owner::regrole = current_user::regrole AS mine FROM foundation.registry;
SELECT regexp_replace(err($$SELECT foundation.register('me', pg_backend_pid())$$), 'pid \d+', 'pid N');
SELECT foundation.unregister('me');
SELECT foundation.unregister('me');
SELECT count(*) FROM foundation.lookup('me');

-- A child's name follows the child across restarts.
SELECT foundation.start_child('{"id": "named", "start": {"module": "public.ticker"}}') AS named_pid \gset
SELECT foundation.register('named', :named_pid);
SELECT child_id = (SELECT child_id FROM foundation.child_specs WHERE id = 'named') AS linked
  FROM foundation.registry WHERE name = 'named';
SELECT pg_terminate_backend(:named_pid);
SELECT wait_for(format($$SELECT pid IS NOT NULL AND pid <> %s FROM foundation.lookup('named')$$, :named_pid));
SELECT r.pid = c.pid AS follows FROM foundation.registry r JOIN foundation.children c USING (child_id) WHERE r.name = 'named';
-- and goes with it.
SELECT foundation.terminate_child(child_id) FROM foundation.child_specs WHERE id = 'named';
SELECT count(*) FROM foundation.registry WHERE name = 'named';

-- Only your own processes, and only your own names.
SELECT pid AS sup_pid FROM pg_stat_activity WHERE backend_type = 'foundation supervisor' \gset
SET ROLE regress_alice;
SELECT regexp_replace(err(format($$SELECT foundation.register('sup', %s)$$, :sup_pid)), 'pid \d+', 'pid N');
RESET ROLE;
SELECT foundation.register('admin', pg_backend_pid());
SET ROLE regress_alice;
SELECT err($$SELECT foundation.unregister('admin')$$);
SELECT count(*) FROM foundation.lookup('admin');
RESET ROLE;
SELECT foundation.unregister('admin');
