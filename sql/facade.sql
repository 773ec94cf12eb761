-- The facade: Foundation.ProcessManager.
SELECT foundation.start_singleton('public.ticker', '{"tag": "s1"}', 's1') AS s1 \gset
SELECT foundation.lookup_singleton('s1') = :s1 AS found;
-- Already running: the same pid (already_started, in Elixir's words).
SELECT foundation.start_singleton('public.ticker', '{"tag": "other"}', 's1') = :s1 AS same_pid;
SELECT count(*) FROM foundation.children WHERE id = 's1';
SELECT metadata - 'started_at' - 'pid' AS metadata, (metadata->>'pid')::int = :s1 AS meta_pid
  FROM foundation.lookup('s1');
SELECT restart, args FROM foundation.children WHERE id = 's1';

-- Restarted after being terminated, and found again.
SELECT pg_terminate_backend(:s1);
SELECT wait_for(format($$SELECT foundation.lookup_singleton('s1') <> %s$$, :s1));
SELECT (metadata->>'pid')::int = foundation.lookup_singleton('s1') AS meta_follows FROM foundation.lookup('s1');

-- Restarted again and again (a spec that allows it), looked up from this one
-- session each time: the name cache follows every restart.
SELECT foundation.register('loop', foundation.start_child(
  '{"id": "loop", "start": {"module": "public.ticker"}, "max_restarts": 1000, "max_seconds": 1}'));
DO $$
DECLARE
  before int;
BEGIN
  FOR i IN 1..20 LOOP
    before := foundation.lookup_singleton('loop');
    PERFORM pg_terminate_backend(before);
    IF NOT wait_for(format($q$SELECT foundation.lookup_singleton('loop') <> %s$q$, before)) THEN
      RAISE EXCEPTION 'restart % not seen by lookup_singleton', i;
    END IF;
  END LOOP;
END $$;
SELECT foundation.lookup_singleton('loop') = (SELECT pid FROM foundation.registry WHERE name = 'loop') AS cache_agrees,
       restart_count FROM foundation.children WHERE id = 'loop';
SELECT foundation.stop_singleton('loop');

-- Stopped.
SELECT foundation.stop_singleton('s1');
SELECT foundation.lookup_singleton('s1');
SELECT foundation.stop_singleton('s1');
SELECT count(*) FROM foundation.children;

-- Without a name it is just a supervised child.
SELECT foundation.start_singleton('public.once', '{"tag": "anon"}', restart => 'temporary') > 0;
SELECT wait_for($$SELECT NOT EXISTS (SELECT FROM foundation.children)$$);

-- A start failure names the raw call in its hint.
SELECT err($$SELECT foundation.start_singleton('public.nope', '{}', 'bad')$$);
SELECT count(*) FROM foundation.registry WHERE name = 'bad';

-- Transactional: rolled back, nothing remains.
BEGIN;
SELECT foundation.start_singleton('public.ticker', '{}', 'gone') > 0;
SELECT foundation.lookup_singleton('gone') > 0;
ROLLBACK;
SELECT foundation.lookup_singleton('gone');
SELECT wait_for($$SELECT child_procs() = 0$$);

-- start_replicated: one row per node; on one server, this one.
SELECT node, pid > 0 AS started, error FROM foundation.start_replicated('public.ticker', '{}', 'rep');
SELECT name FROM foundation.registry;
SELECT foundation.stop_singleton('rep@regress-node');
-- A node that fails reports why in its row.
SELECT node, pid, error FROM foundation.start_replicated('public.nope', '{}', 'rep');
SELECT count(*) FROM foundation.registry;

-- Leaky: DEBUG1 shows the raw steps.
SET client_min_messages = debug1;
SELECT foundation.lookup_singleton('nobody');
SELECT err($$SELECT foundation.start_singleton('public.nope', '{"a": 1}', 'dbg')$$);
RESET client_min_messages;

-- Each facade function's comment gives the lower-level SQL.
SELECT p.proname, obj_description(p.oid, 'pg_proc') ~ 'foundation\.(start_child|lookup|terminate_child|register|start_singleton)' AS names_raw_call
  FROM pg_proc p WHERE p.pronamespace = 'foundation'::regnamespace
   AND p.proname IN ('start_singleton', 'lookup_singleton', 'stop_singleton', 'start_replicated')
 ORDER BY 1;
