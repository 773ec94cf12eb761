-- Server-side handlers, run by the dispatcher child.
CREATE TABLE public.handled (handler text, channel text, message jsonb, who text);
GRANT INSERT ON public.handled TO regress_alice;
CREATE FUNCTION public.record_a(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.handled VALUES ('a', channel, message, current_user) $$;
CREATE PROCEDURE public.record_b(channel text, message jsonb)
LANGUAGE plpgsql AS $$
BEGIN
  IF message ? 'fail' THEN
    RAISE EXCEPTION 'handler b refuses %', message;
  END IF;
  INSERT INTO public.handled VALUES ('b', channel, message, current_user);
END $$;
CREATE FUNCTION public.wrong_shape(message jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
REVOKE EXECUTE ON FUNCTION public.record_a(text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE public.record_b(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_a(text, jsonb) TO regress_alice;

-- Bad input.
SELECT err($$SELECT foundation.subscribe('nope', 'public.record_a(text, jsonb)'::regprocedure)$$);
SELECT err($$SELECT foundation.subscribe('events', NULL::regprocedure)$$);
SELECT err($$SELECT foundation.subscribe('events', 'public.wrong_shape(jsonb)'::regprocedure)$$);
SET ROLE regress_alice;
SELECT err($$SELECT foundation.subscribe('events', 'public.record_b(text, jsonb)'::regprocedure)$$);
RESET ROLE;
SELECT count(*) FROM foundation.channel_handlers;

-- Subscribe: a's handler as regress_alice, b's as the superuser.
SET ROLE regress_alice;
SELECT foundation.subscribe('events', 'public.record_a(text, jsonb)'::regprocedure);
RESET ROLE;
SELECT foundation.subscribe('events', 'public.record_b(text, jsonb)'::regprocedure);
SELECT foundation.subscribe('events', 'public.record_b(text, jsonb)'::regprocedure);
SELECT channel, handler, owner::regrole = 'regress_alice'::regrole AS alice FROM foundation.channel_handlers ORDER BY handler::text;
SELECT id, module, restart, status FROM foundation.children WHERE id = 'foundation:dispatcher';
SELECT wait_for($$SELECT foundation.dispatcher_pid() IS NOT NULL$$) AS listening;

-- Plain, compressed and stored messages all arrive decoded; an error in
-- one handler stops neither the other nor later messages.
SELECT foundation.reset_channel_stats();
SELECT foundation.broadcast('events', '{"n": 1}');
SELECT foundation.broadcast('events', '{"n": 2, "fail": true}');
SELECT foundation.broadcast('events', '{"n": 3}', compression => true);
SELECT foundation.broadcast('events', jsonb_build_object('n', 4, 'r', (SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 500) i)));
SELECT foundation.broadcast('control', '{"n": 5}');
SELECT wait_for($$SELECT count(*) = 7 FROM public.handled$$) AS all_handled;
SELECT handler, channel, (message->>'n')::int AS n, message ? 'r' AS has_r, who = CASE handler WHEN 'a' THEN 'regress_alice' ELSE current_user END AS right_role
  FROM public.handled ORDER BY handler, n;
SELECT (SELECT message FROM public.handled WHERE handler = 'a' AND (message->>'n')::int = 4)
     = jsonb_build_object('n', 4, 'r', (SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 500) i)) AS stored_intact;
SELECT wait_for($$SELECT errors = 1 FROM foundation.channel_stats WHERE channel = 'events'$$) AS error_counted;

-- unsubscribe: b is no longer called.
SELECT foundation.unsubscribe('events', 'public.record_b(text, jsonb)'::regprocedure);
SELECT foundation.unsubscribe('events', 'public.record_b(text, jsonb)'::regprocedure);
SELECT foundation.broadcast('events', '{"n": 6}');
SELECT wait_for($$SELECT count(*) = 1 FROM public.handled WHERE (message->>'n')::int = 6$$) AS a_got_6;
SELECT handler FROM public.handled WHERE (message->>'n')::int = 6;

-- Another role cannot unsubscribe someone else's handler.
SET ROLE regress_bob;
SELECT foundation.unsubscribe('events', 'public.record_a(text, jsonb)'::regprocedure) AS bob_unsubscribed;
RESET ROLE;
SET ROLE regress_alice;
SELECT foundation.unsubscribe('events', 'public.record_a(text, jsonb)'::regprocedure) AS alice_unsubscribed;
RESET ROLE;
SELECT count(*) FROM foundation.channel_handlers;

-- The dispatcher is a child like any other: stop it.
SELECT foundation.stop_singleton('foundation:dispatcher');
