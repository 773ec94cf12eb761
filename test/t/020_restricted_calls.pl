# Code some role wrote (channel handlers, agent handlers, coordination
# functions) runs as that role, under a security-restricted operation, with
# PostgreSQL's default search_path, and leaves nothing behind that would
# run later as somebody else: no deferred trigger, no cursor WITH HOLD, no
# setting, no temporary table, no LISTEN.  foundation's own SQL cannot be
# redirected by a shadowing function.  A slow handler is cancelled by
# foundation.handler_timeout; the dispatcher's backlog is bounded by
# foundation.dispatcher_max_backlog, and what it drops is counted.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = foundation_node('restricted',
	extra_conf => "foundation.handler_timeout = '700ms'\n");

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT CREATE ON SCHEMA public TO alice, bob;
GRANT CREATE ON DATABASE postgres TO bob;

-- What ran, as whom, with which search_path and settings.
CREATE TABLE public.ran (seq bigserial, what text, who text, path text, work_mem text,
                         backlog text);
GRANT INSERT, SELECT ON public.ran TO PUBLIC;
GRANT USAGE ON SEQUENCE public.ran_seq_seq TO PUBLIC;
-- Written only by code that ran as someone it should not have.
CREATE TABLE public.pwned (who text, how text);
GRANT INSERT ON public.pwned TO PUBLIC;
});

sub as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

my $superusers_before;

sub superusers
{
	return $node->safe_psql('postgres',
		q{SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolsuper});
}

$superusers_before = superusers();
my $log_offset = 0;

# Wait until the server log (from $log_offset on) matches $re.
sub wait_for_log
{
	my ($re) = @_;
	for (my $i = 0; $i < 10 * $FoundationTAP::WAIT_SECONDS; $i++)
	{
		return 1
		  if substr(slurp_file($node->logfile), $log_offset) =~ $re;
		usleep(100_000);
	}
	diag("log never matched $re");
	return 0;
}

# alice's objects: a table with a deferred constraint trigger whose
# function, if it ever ran as somebody else, makes alice a superuser and
# says so.
as('alice', q{
CREATE TABLE public.alice_t (v text);
CREATE FUNCTION public.alice_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.ran (what, who) VALUES ('deferred trigger', current_user);
  IF current_user <> 'alice' THEN
    INSERT INTO public.pwned VALUES (current_user, 'deferred trigger');
    BEGIN
      EXECUTE 'ALTER ROLE alice SUPERUSER';
    EXCEPTION WHEN others THEN NULL;
    END;
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER alice_later AFTER INSERT ON public.alice_t
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.alice_trig();

-- One channel handler, told what to try by the message.
CREATE FUNCTION public.alice_handler(channel text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.ran (what, who, path, work_mem, backlog)
  VALUES (coalesce(message->>'try', 'other'), current_user,
          current_setting('search_path'), current_setting('work_mem'),
          current_setting('foundation.dispatcher_max_backlog'));
  CASE message->>'try'
    WHEN 'deferred' THEN INSERT INTO public.alice_t VALUES ('x');
    WHEN 'hold' THEN EXECUTE 'DECLARE c CURSOR WITH HOLD FOR SELECT 1';
    WHEN 'temp' THEN EXECUTE 'CREATE TEMP TABLE alice_tmp (i int)';
    WHEN 'listen' THEN EXECUTE 'LISTEN alice_channel';
    WHEN 'set' THEN
      PERFORM set_config('work_mem', '1234kB', false);
      EXECUTE 'SET search_path = pg_catalog';
    WHEN 'setrole' THEN EXECUTE 'SET ROLE postgres';
    WHEN 'sleep' THEN PERFORM pg_sleep(30);
    ELSE NULL;
  END CASE;
END $$;
SELECT foundation.subscribe('events', 'public.alice_handler(text, jsonb)'::regprocedure);
});

ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the dispatcher listens');

# Send one message on events and wait until alice's handler has recorded it
# (when it succeeds) or failed with a WARNING in the log.
sub try_handler
{
	my ($try) = @_;
	$log_offset = -s $node->logfile;
	$node->safe_psql('postgres',
		qq{SELECT foundation.broadcast('events', '{"try": "$try"}')});
}

###########################################################################
note '1. a channel handler runs as its subscriber, restricted';
###########################################################################
try_handler('plain');
ok(wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'plain'}, '1'),
	'the handler ran');
is( $node->safe_psql('postgres',
		q{SELECT who || ' | ' || path FROM public.ran WHERE what = 'plain'}),
	'alice | "$user", public',
	'as alice (not the dispatcher\'s superuser), with PostgreSQL\'s default search_path');

my %refused = (
	deferred => qr/cannot fire deferred trigger within security-restricted operation/,
	hold => qr/cannot create a cursor WITH HOLD within security-restricted operation/,
	temp => qr/cannot create temporary table within security-restricted operation/,
	listen => qr/cannot execute LISTEN within security-restricted operation/,
	setrole => qr/(permission denied to set role|cannot set parameter "role" within security-(restricted operation|definer function))/,
);
for my $try (sort keys %refused)
{
	try_handler($try);
	ok( wait_for_log(
			qr/foundation handler (public\.)?alice_handler\(text,jsonb\) failed on events message \d+: $refused{$try}/
		),
		"$try: refused inside the call, logged as the handler's failure");
}
# Each failed call was rolled back whole, its "ran" row too.
try_handler('plain');
ok(wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'plain'}, '2'),
	'a later message is handled');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM public.ran WHERE what IN ('deferred', 'hold', 'temp', 'listen', 'setrole', 'deferred trigger')}),
	'0', 'nothing of the refused calls was kept (each rolled back)');

# Settings made inside do not outlive the call.
try_handler('set');
ok(wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'set'}, '1'),
	'a handler that SETs ran');
try_handler('plain');
ok(wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'plain'}, '3'),
	'the next call ran');
is( $node->safe_psql('postgres',
		q{SELECT work_mem || ' | ' || path FROM public.ran WHERE what = 'plain' ORDER BY seq DESC LIMIT 1}),
	'4MB | "$user", public',
	'the next call sees neither the work_mem nor the search_path the previous one set');

###########################################################################
note '2. the dispatcher\'s own SQL cannot be redirected';
###########################################################################
# bob shadows quote_ident (name beats text by argument type) and the oid =
# operator in public, then makes the dispatcher reload its handlers.
as('bob', q{
CREATE FUNCTION public.quote_ident(name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.pwned VALUES (current_user, 'quote_ident');
  BEGIN EXECUTE 'ALTER ROLE bob SUPERUSER'; EXCEPTION WHEN others THEN NULL; END;
  RETURN pg_catalog.quote_ident($1::text);
END $$;
CREATE FUNCTION public.bob_eq(oid, regprocedure) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.pwned VALUES (current_user, 'operator');
  BEGIN EXECUTE 'ALTER ROLE bob SUPERUSER'; EXCEPTION WHEN others THEN NULL; END;
  RETURN $1 = $2::oid;
END $$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regprocedure, FUNCTION = public.bob_eq);
NOTIFY "foundation:handlers";
});
try_handler('plain');
ok(wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'plain'}, '4'),
	'the dispatcher reloaded its handlers and still calls them');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.pwned'),
	'0', 'neither bob\'s quote_ident nor his operator ran');
is(superusers(), $superusers_before, 'nobody became a superuser');
as('bob', q{DROP OPERATOR public.= (oid, regprocedure); DROP FUNCTION public.bob_eq(oid, regprocedure);
            DROP FUNCTION public.quote_ident(name)});

###########################################################################
note '3. agent handlers run as the agent\'s owner, whoever runs the protocol';
###########################################################################
as('alice', q{
CREATE FUNCTION public.alice_bid(agent text, request text, payload jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.ran (what, who, path, work_mem)
  VALUES ('bid ' || agent, current_user, current_setting('search_path'), current_setting('work_mem'));
  IF agent = 'alice_deferred' THEN INSERT INTO public.alice_t VALUES ('bid'); END IF;
  IF agent = 'alice_set' THEN PERFORM set_config('work_mem', '2345kB', false); END IF;
  -- unqualified: resolves through the search_path the call runs with
  RETURN jsonb_build_object('bid', length(agent));
END $$;
SELECT foundation.register_agent(a, '{"handler": "public.alice_bid(text,text,jsonb)",
                                      "capabilities": ["auction_bidding"]}')
  FROM unnest(ARRAY['alice_a', 'alice_deferred', 'alice_set']) a;
});
# bob shadows jsonb_build_object(text, integer) in a schema of his, which
# beats pg_catalog's variadic "any" by argument type, and puts it first in
# his search_path before he runs the auction.
as('bob', q{
CREATE SCHEMA bobs;
GRANT USAGE ON SCHEMA bobs TO PUBLIC;
CREATE FUNCTION bobs.jsonb_build_object(text, integer) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.pwned VALUES (current_user, 'search_path');
  RETURN pg_catalog.jsonb_build_object($1, 1000000);
END $$;
});
my $res = as('bob', q{
SET search_path = bobs, public;
SELECT r->>'winner' || ' ' || (r->>'payment') || ' | ' || current_setting('work_mem')
  FROM foundation.run_auction('{"type": "sealed_bid", "payment_rule": "second_price"}',
                              ARRAY['alice_a', 'alice_deferred', 'alice_set']) r;
});
is($res, 'alice_set 7 | 4MB',
	'bob ran the auction: the bids are the handler\'s own (not bob\'s shadow), and a SET inside does not reach bob\'s session');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(what || ':' || who || ':' || path, ' ' ORDER BY what) FROM public.ran WHERE what LIKE 'bid %'}),
	'bid alice_a:alice:"$user", public bid alice_set:alice:"$user", public',
	'each handler ran as alice with the default search_path; the one that queued a deferred trigger was rolled back');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM public.ran WHERE what = 'deferred trigger'}),
	'0', 'alice\'s deferred trigger never fired at bob\'s commit');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.pwned'),
	'0', 'nothing ran as anyone it should not have');

###########################################################################
note '4. coordination functions: as the variable\'s owner; ids are per role';
###########################################################################
as('alice', q{
CREATE FUNCTION public.alice_coord(agents text[], spec jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.ran (what, who, path) VALUES ('coord', current_user, current_setting('search_path'));
  IF context ? 'temp' THEN EXECUTE 'CREATE TEMP TABLE coord_tmp (i int)'; END IF;
  RETURN jsonb_build_object('chosen', agents[1], 'by', current_user);
END $$;
SELECT foundation.register_orchestration_variable('{"id": "pick", "type": "custom",
  "agents": ["alice_a"], "coordination_fn": "public.alice_coord(text[],jsonb,jsonb)"}');
});
is(as('alice', q{SELECT foundation.coordinate('pick')->>'by'}),
	'alice', 'alice\'s coordinate runs her function as alice');
{
	my %r = sql_error($node, q{SELECT foundation.coordinate('pick', '{"temp": true}')},
		extra_params => [ '-U', 'alice' ]);
	like($r{message}, qr/cannot create temporary table within security-restricted operation/,
		'a coordination function runs restricted: no temporary table');
	is($r{sqlstate}, '42501', 'the refusal is 42501, raised as it is');
}
{
	my %r = sql_error($node, q{SELECT foundation.coordinate('pick')},
		extra_params => [ '-U', 'bob' ]);
	is($r{sqlstate}, '42704', 'bob cannot reach alice\'s variable: his "pick" does not exist (42704)')
	  or diag($r{stderr});
}
is(as('bob', q{SELECT count(*) FROM foundation.orchestration_variables}),
	'0', 'bob does not see alice\'s variables');
# bob has a "pick" of his own, and records on it only.
as('bob', q{
CREATE FUNCTION public.bob_coord(agents text[], spec jsonb, context jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('chosen', 'bob', 'by', current_user) $$;
SELECT foundation.register_orchestration_variable('{"id": "pick", "type": "custom",
  "agents": ["alice_a"], "coordination_fn": "public.bob_coord(text[],jsonb,jsonb)"}');
SELECT foundation.run_custom_protocol('{"coordination_fn": "public.bob_coord(text[],jsonb,jsonb)",
  "variable_id": "pick"}', ARRAY['alice_a']);
});
is( $node->safe_psql('postgres', q{
SELECT string_agg(owner::regrole || ':' || (last_result->>'by'), ' ' ORDER BY owner::regrole::text)
  FROM foundation.orchestration_variables WHERE id = 'pick'}),
	'alice:alice bob:bob',
	'two variables "pick", one per role; bob\'s run_custom_protocol recorded on his own');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM public.ran WHERE what = 'coord' AND who <> 'alice'}),
	'0', 'alice\'s coordination function never ran as anyone else');

# Nobody squats the facade's id: each role has its own resource_allocation.
for my $role ('alice', 'bob')
{
	is( as($role, q{
SELECT (foundation.coordinate_resource_allocation(ARRAY['alice_a', 'alice_set'], '{"cpu": 2}'))->>'winner'}),
		'alice_set', "$role can coordinate_resource_allocation");
}
is( $node->safe_psql('postgres', q{
SELECT string_agg(owner::regrole::text, ' ' ORDER BY owner::regrole::text)
  FROM foundation.orchestration_variables WHERE id = 'resource_allocation'}),
	'alice bob', 'one resource_allocation variable each');

# Bad shapes of constraints: clear errors, no crash.
{
	my %r = sql_error($node, q{SELECT foundation.register_orchestration_variable(
  jsonb_build_object('id', 'big', 'type', 'auction', 'agents', '["alice_a"]'::jsonb,
                     'constraints', (SELECT jsonb_agg(i) FROM generate_series(1, 5000) i)))},
		extra_params => [ '-U', 'alice' ]);
	is($r{sqlstate}, '22023', 'constraints that are an array: 22023') or diag($r{stderr});
	$node->safe_psql('postgres', q{
INSERT INTO foundation.orchestration_variables (id, type, agents, constraints, owner)
VALUES ('bad', 'auction', ARRAY['alice_a'], (SELECT jsonb_agg(i) FROM generate_series(1, 5000) i),
        'alice'::regrole)});
	%r = sql_error($node, q{SELECT foundation.coordinate('bad')},
		extra_params => [ '-U', 'alice' ]);
	is($r{sqlstate}, 'XX001', 'a stored variable with array constraints: XX001, not a crash')
	  or diag($r{stderr});
	%r = sql_error($node, q{SELECT foundation.register_orchestration_variable(
  '{"id": "scalar_auction", "type": "auction", "agents": ["alice_a"], "constraints": {"auction": [1, 2]}}');
SELECT foundation.coordinate('scalar_auction')},
		extra_params => [ '-U', 'alice' ]);
	is($r{sqlstate}, '22023', 'an "auction" that is not an object: 22023') or diag($r{stderr});
}

###########################################################################
note '5. a slow handler is cancelled; the backlog is bounded';
###########################################################################
try_handler('sleep');
ok( wait_for_log(
		qr/foundation handler (public\.)?alice_handler\(text,jsonb\) failed on events message \d+: timeout after 700 ms/
	),
	'a handler past foundation.handler_timeout is cancelled and logged');
try_handler('plain');
ok(wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'plain'}, '5'),
	'and the next message is handled')
  or diag($node->safe_psql('postgres', q{SELECT string_agg(seq || ':' || what || ':' || who, ' ' ORDER BY seq) FROM public.ran}));

# A smaller backlog, applied on reload: the dispatcher reads its settings
# again (the handler, running in the dispatcher, shows what it sees).
$node->safe_psql('postgres', q{
ALTER SYSTEM SET foundation.dispatcher_max_backlog = 20;
SELECT pg_reload_conf()});
my $seen_20 = 0;
my $plain = 5;
for (my $i = 0; $i < 50 && !$seen_20; $i++)
{
	try_handler('plain');
	$plain++;
	last unless wait_for($node, q{SELECT count(*) FROM public.ran WHERE what = 'plain'}, $plain);
	$seen_20 = $node->safe_psql('postgres',
		q{SELECT backlog FROM public.ran WHERE what = 'plain' ORDER BY seq DESC LIMIT 1}) eq '20';
}
ok($seen_20, 'the dispatcher applies foundation.dispatcher_max_backlog on reload');

as('alice', q{
CREATE TABLE public.alice_slow (i int);
CREATE FUNCTION public.alice_slow(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT pg_sleep(0.01); INSERT INTO public.alice_slow VALUES ((message->>'i')::int) $$;
SELECT foundation.subscribe('data', 'public.alice_slow(text, jsonb)'::regprocedure);
});
$node->safe_psql('postgres', 'SELECT foundation.reset_channel_stats()');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	q{SELECT count(foundation.broadcast('data', jsonb_build_object('i', g))) FROM generate_series(1, 1000) g});
ok( wait_for($node, q{
SELECT (SELECT count(*) FROM public.alice_slow)
     + (SELECT dropped FROM foundation.channel_stats WHERE channel = 'data')}, '1000'),
	'every one of 1000 messages was either handled or counted as dropped');
my ($handled, $dropped) = split /\|/, $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM public.alice_slow), dropped FROM foundation.channel_stats WHERE channel = 'data'});
cmp_ok($dropped, '>', 0, "past the backlog of 20, messages were dropped ($dropped)");
cmp_ok($handled, '>=', 20, "the first ones were handled ($handled)");
ok(wait_for_log(qr/foundation dispatcher dropped \d+ messages on data/),
	'the drop is logged');
is( $node->safe_psql('postgres', q{SELECT dropped FROM foundation.channel_stats WHERE channel = 'events'}),
	'0', 'no other channel counts drops');

###########################################################################
note '6. nothing gained';
###########################################################################
is(superusers(), $superusers_before, 'still no new superuser');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.pwned'),
	'0', 'nothing ran as anyone it should not have');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no process crashed');

$node->stop;
done_testing();
