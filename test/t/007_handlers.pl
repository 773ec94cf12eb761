# Server-side channel handlers: foundation.subscribe(channel, handler) runs
# the handler for every message on the channel, decoded, as the subscribing
# role; a failing handler is logged and counted and stops nothing;
# unsubscribe stops the calls; a burst of 100 000 messages is drained from
# the notification queue at once and every message is handled exactly once.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $node = foundation_node('handlers', extra_conf => "synchronous_commit = off\n");

$node->safe_psql('postgres', q{
CREATE ROLE hsub LOGIN;
CREATE ROLE nobody LOGIN;

-- Every handler records what it was given and as whom it ran.
CREATE TABLE public.seen (seq bigserial, handler text, channel text, message jsonb, who text);
GRANT INSERT ON public.seen TO hsub;
GRANT USAGE ON SEQUENCE public.seen_seq_seq TO hsub;

CREATE FUNCTION public.record(channel text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.seen (handler, channel, message, who)
  VALUES ('record', channel, message, current_user);
END $$;

-- Records the message, then fails on those with a "fail" key (so its row
-- must be rolled back).
CREATE FUNCTION public.picky(channel text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.seen (handler, channel, message, who)
  VALUES ('picky', channel, message, current_user);
  IF message ? 'fail' THEN
    RAISE EXCEPTION 'picky refuses message %', message->>'n';
  END IF;
END $$;

-- A procedure handler, subscribed after picky.
CREATE PROCEDURE public.after_proc(channel text, message jsonb)
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.seen (handler, channel, message, who)
  VALUES ('after_proc', channel, message, current_user);
END $$;

CREATE TABLE public.burst (i int);
GRANT INSERT ON public.burst TO hsub;
CREATE FUNCTION public.burst_rec(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.burst VALUES ((message->>'i')::int) $$;

REVOKE EXECUTE ON FUNCTION public.record(text, jsonb), public.picky(text, jsonb),
  public.burst_rec(text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE public.after_proc(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record(text, jsonb), public.picky(text, jsonb),
  public.burst_rec(text, jsonb) TO hsub;
GRANT EXECUTE ON PROCEDURE public.after_proc(text, jsonb) TO hsub;
});

sub as_hsub
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'hsub' ]);
}

# The rows one handler recorded, as "n:channel:who" in order.
sub recorded
{
	my ($handler, $where) = @_;
	$where //= 'true';
	return $node->safe_psql('postgres', qq{
SELECT coalesce(string_agg(coalesce(message->>'n', '?') || ':' || channel || ':' || who, ' ' ORDER BY seq), '')
  FROM public.seen WHERE handler = '$handler' AND $where});
}

###########################################################################
note '1. a handler gets every message, decoded, as the subscribing role';
###########################################################################
{
	my %r = sql_error($node,
		q{SELECT foundation.subscribe('events', 'public.record(text, jsonb)'::regprocedure)},
		extra_params => [ '-U', 'nobody' ]);
	is($r{sqlstate}, '42501',
		'a role without EXECUTE on the handler cannot subscribe it (42501)')
	  or diag($r{stderr});

	is( $node->safe_psql('postgres', 'SELECT foundation.dispatcher_pid() IS NULL'),
		't', 'no dispatcher before the first subscribe');
	as_hsub(q{SELECT foundation.subscribe('events', 'public.record(text, jsonb)'::regprocedure)});
	is( $node->safe_psql('postgres', q{
SELECT channel || ',' || handler::text || ',' || owner::regrole::text
  FROM foundation.channel_handlers}),
		'events,record(text,jsonb),hsub',
		'channel_handlers lists the subscription, owned by hsub');
	ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
		'the dispatcher listens');
	my $dpid = $node->safe_psql('postgres', 'SELECT foundation.dispatcher_pid()');
	is( $node->safe_psql('postgres', q{
SELECT id || ',' || status || ',' || pid FROM foundation.children
 WHERE id = 'foundation:dispatcher'}),
		"foundation:dispatcher,running,$dpid",
		'the dispatcher is a supervised child running with that pid');

	$node->safe_psql('postgres', q{
CREATE TABLE public.h_expect (n int, compress bool, msg jsonb);
INSERT INTO public.h_expect VALUES
 (1, false, '{"n": 1, "form": "plain"}'),
 (2, true, '{"n": 2, "form": "compressed"}'),
 (3, false, jsonb_build_object('n', 3, 'form', 'compressed by size', 'pad', repeat('c', 9000))),
 (4, false, jsonb_build_object('n', 4, 'form', 'stored',
      'blob', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 32768) i)));
});
	# A message on another channel first: record must not get it.
	$node->safe_psql('postgres', q{
DO $$
DECLARE r record;
BEGIN
  PERFORM foundation.broadcast('data', '{"n": 0, "not": "for record"}');
  FOR r IN SELECT * FROM public.h_expect ORDER BY n LOOP
    PERFORM foundation.broadcast('events', r.msg, r.compress);
  END LOOP;
END $$});
	ok( wait_for($node, q{SELECT count(*) FROM public.seen WHERE handler = 'record'}, '4'),
		'the handler recorded 4 messages');
	is(recorded('record'), '1:events:hsub 2:events:hsub 3:events:hsub 4:events:hsub',
		'in order, on events, as hsub; not the one on data');
	is( $node->safe_psql('postgres', q{
SELECT string_agg(e.n || ':' || (s.message = e.msg), ' ' ORDER BY e.n)
  FROM public.h_expect e
  JOIN public.seen s ON s.handler = 'record' AND (s.message->>'n')::int = e.n}),
		'1:true 2:true 3:true 4:true',
		'the handler got the original messages (plain, compressed, stored)');
}

###########################################################################
note '2. a failing handler stops neither the others nor later messages';
###########################################################################
{
	as_hsub(q{SELECT foundation.subscribe('events', 'public.picky(text, jsonb)'::regprocedure)});
	as_hsub(q{SELECT foundation.subscribe('events', 'public.after_proc(text, jsonb)'::regprocedure)});
	is( $node->safe_psql('postgres', q{
SELECT string_agg(handler::text, ' ' ORDER BY created_at, handler)
  FROM foundation.channel_handlers WHERE channel = 'events'}),
		'record(text,jsonb) picky(text,jsonb) after_proc(text,jsonb)',
		'three handlers on events');
	my $errors_before = $node->safe_psql('postgres',
		"SELECT errors FROM foundation.channel_stats WHERE channel = 'events'");
	my $log_offset = -s $node->logfile;

	$node->safe_psql('postgres', q{
SELECT foundation.broadcast('events', '{"n": 11}');
SELECT foundation.broadcast('events', '{"n": 12, "fail": true}');
SELECT foundation.broadcast('events', '{"n": 13}', true);
SELECT foundation.broadcast('events', jsonb_build_object('n', 14, 'fail', true,
  'blob', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 32768) i)));
SELECT foundation.broadcast('events', '{"n": 15}');
});
	ok( wait_for($node,
			q{SELECT count(*) FROM public.seen WHERE handler = 'after_proc' AND message->>'n' = '15'},
			'1'),
		'the last handler got the last message');
	is(recorded('record', q{(message->>'n')::int > 10}),
		'11:events:hsub 12:events:hsub 13:events:hsub 14:events:hsub 15:events:hsub',
		'the handler before the failing one got every message');
	is(recorded('picky'), '11:events:hsub 13:events:hsub 15:events:hsub',
		"the failing handler's work on 12 and 14 was rolled back, 11, 13 and 15 kept");
	is(recorded('after_proc'),
		'11:events:hsub 12:events:hsub 13:events:hsub 14:events:hsub 15:events:hsub',
		'the procedure handler after the failing one got every message');
	is( $node->safe_psql('postgres',
			"SELECT errors FROM foundation.channel_stats WHERE channel = 'events'"),
		$errors_before + 2, 'channel_stats.errors on events increased by 2');
	my $log = slurp_file($node->logfile, $log_offset);
	my @warnings = $log =~
	  /^.*WARNING:\s+foundation handler (?:public\.)?picky\(text,\s*jsonb\) failed on events message \d+: (picky refuses message \d+)$/mg;
	is( join(', ', @warnings),
		'picky refuses message 12, picky refuses message 14',
		'the server log has a WARNING naming the handler for each failure')
	  or diag($log);
}

###########################################################################
note '3. unsubscribe stops the calls';
###########################################################################
{
	is( $node->safe_psql('postgres',
			q{SELECT foundation.unsubscribe('events', 'public.picky(text, jsonb)'::regprocedure)},
			extra_params => [ '-U', 'nobody' ]),
		'f', "another role cannot unsubscribe hsub's handler");
	is(as_hsub(q{SELECT foundation.unsubscribe('events', 'public.picky(text, jsonb)'::regprocedure)}),
		't', 'hsub unsubscribes picky');
	is(as_hsub(q{SELECT foundation.unsubscribe('events', 'public.picky(text, jsonb)'::regprocedure)}),
		'f', 'a second unsubscribe finds nothing');
	$node->safe_psql('postgres', q{SELECT foundation.broadcast('events', '{"n": 21}')});
	ok( wait_for($node,
			q{SELECT count(*) FROM public.seen WHERE handler = 'after_proc' AND message->>'n' = '21'},
			'1'),
		'the still-subscribed handler recorded the marker');
	is(recorded('picky'), '11:events:hsub 13:events:hsub 15:events:hsub',
		'the unsubscribed handler got nothing new');
	is(recorded('record', q{(message->>'n')::int > 20}), '21:events:hsub',
		'the other one did');
}

###########################################################################
note '3b. a subscription written without subscribe reaches the running dispatcher';
###########################################################################
{
	# As pg_restore's COPY or a superuser's INSERT writes it: the table's
	# statement trigger tells the dispatcher to reload.
	my $dpid = $node->safe_psql('postgres', 'SELECT foundation.dispatcher_pid()');
	$node->safe_psql('postgres', q{
INSERT INTO foundation.channel_handlers (channel, handler, owner)
VALUES ('telemetry', 'public.record(text, jsonb)', 'hsub')});
	$node->safe_psql('postgres', q{SELECT foundation.broadcast('telemetry', '{"n": 31}')});
	ok(wait_for($node,
			q{SELECT count(*) FROM public.seen WHERE handler = 'record' AND channel = 'telemetry'}, '1'),
		'the handler inserted by hand gets the next message');
	is(recorded('record', q{channel = 'telemetry'}), '31:telemetry:hsub', 'as its owner');
	$node->safe_psql('postgres',
		q{DELETE FROM foundation.channel_handlers WHERE channel = 'telemetry'});
	$node->safe_psql('postgres', q{
SELECT foundation.broadcast('telemetry', '{"n": 32}');
SELECT foundation.broadcast('events', '{"n": 33}');});
	ok(wait_for($node,
			q{SELECT count(*) FROM public.seen WHERE handler = 'record' AND message->>'n' = '33'}, '1'),
		'a later marker arrives');
	is(recorded('record', q{channel = 'telemetry'}), '31:telemetry:hsub',
		'and the row deleted by hand stopped the calls');
	is($node->safe_psql('postgres', 'SELECT foundation.dispatcher_pid()'), $dpid,
		'the same dispatcher, reloaded rather than restarted');
}

###########################################################################
note '4. a burst of 100 000 messages';
###########################################################################
{
	as_hsub(q{
SELECT foundation.unsubscribe('events', 'public.record(text, jsonb)'::regprocedure);
SELECT foundation.unsubscribe('events', 'public.after_proc(text, jsonb)'::regprocedure);
SELECT foundation.subscribe('events', 'public.burst_rec(text, jsonb)'::regprocedure);
});
	is( $node->safe_psql('postgres',
			"SELECT string_agg(handler::text, ' ') FROM foundation.channel_handlers"),
		'burst_rec(text,jsonb)', 'only the burst handler is subscribed');
	my $dpid = $node->safe_psql('postgres', 'SELECT foundation.dispatcher_pid()');
	like($dpid, qr/^\d+$/, 'the dispatcher still listens');

	my $total = 100_000;
	my $start = time();
	# Four transactions of 25 000.
	$node->safe_psql('postgres', join('', map {
		my $from = ($_ - 1) * $total / 4 + 1;
		my $to = $_ * $total / 4;
		qq{
DO \$\$ BEGIN
  PERFORM foundation.broadcast('events', jsonb_build_object('i', i))
     FROM generate_series($from, $to) i;
END \$\$;}
	} 1 .. 4));
	note sprintf('%d messages committed in %.1f s', $total, time() - $start);

	# Sample the queue from another session while the handler works through
	# them, until it has handled all (at most 150 s).
	$node->safe_psql('postgres', qq{
CREATE TABLE public.burst_samples (at timestamptz, usage float8, handled bigint);
DO \$\$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '150 seconds';
  u float8;
  n bigint;
BEGIN
  LOOP
    u := pg_notification_queue_usage();
    SELECT count(*) INTO n FROM public.burst;
    INSERT INTO public.burst_samples VALUES (clock_timestamp(), u, n);
    EXIT WHEN n >= $total OR clock_timestamp() > deadline;
    PERFORM pg_sleep(0.02);
  END LOOP;
END \$\$;
});
	my ($samples, $max_usage, $drained_at, $count) = split /\|/,
	  $node->safe_psql('postgres', q{
SELECT count(*), max(usage),
       (SELECT min(handled) FROM public.burst_samples WHERE usage = 0),
       max(handled)
  FROM public.burst_samples});
	note sprintf('%d samples; max pg_notification_queue_usage() %s; '
		  . 'queue empty when %s rows were handled; all handled after %.1f s',
		$samples, $max_usage, ($drained_at ne '' ? $drained_at : '(never)'), time() - $start);
	note 'samples (usage, handled): ' . $node->safe_psql('postgres', q{
SELECT string_agg(usage || ',' || handled, ' ' ORDER BY at)
  FROM (SELECT * FROM public.burst_samples ORDER BY at LIMIT 10) s});
	ok($drained_at ne '' && $drained_at < $total,
		'the queue was empty again before the handler had finished (at '
		  . ($drained_at ne '' ? $drained_at : 'never') . " of $total rows)");
	cmp_ok($max_usage, '<', 0.001, "the queue stayed small (max usage $max_usage)");
	is($count, $total, "the handler inserted $total rows");
	is( $node->safe_psql('postgres',
			q{SELECT count(*) || ',' || count(DISTINCT i) || ',' || min(i) || ',' || max(i) FROM public.burst}),
		"$total,$total,1,$total", 'every message exactly once: no loss, no duplicate');
	is( $node->safe_psql('postgres', 'SELECT foundation.dispatcher_pid()'),
		$dpid, 'the same dispatcher did it all');
}

###########################################################################
note '5. a slow handler does not hold up the notification queue';
###########################################################################
{
	# 10 ms per message while slow_mode says so: 100 messages a second.
	$node->safe_psql('postgres', q{
CREATE TABLE public.slow (i int);
CREATE TABLE public.slow_mode (slow bool);
INSERT INTO public.slow_mode VALUES (true);
GRANT INSERT ON public.slow TO hsub;
GRANT SELECT ON public.slow_mode TO hsub;
CREATE FUNCTION public.slow_rec(channel text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT slow FROM public.slow_mode) THEN
    PERFORM pg_sleep(0.01);
  END IF;
  INSERT INTO public.slow VALUES ((message->>'i')::int);
END $$;
REVOKE EXECUTE ON FUNCTION public.slow_rec(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.slow_rec(text, jsonb) TO hsub;
});
	as_hsub(q{
SELECT foundation.unsubscribe('events', 'public.burst_rec(text, jsonb)'::regprocedure);
SELECT foundation.subscribe('events', 'public.slow_rec(text, jsonb)'::regprocedure);
});
	my $total = 20_000;
	$node->safe_psql('postgres', qq{
DO \$\$ BEGIN
  PERFORM foundation.broadcast('events', jsonb_build_object('i', i))
     FROM generate_series(1, $total) i;
END \$\$});
	# Drained into the dispatcher's memory, the queue is empty long before
	# the handler is through; sample until it is, or until the handler has
	# done 500 (5 s at 10 ms each).
	$node->safe_psql('postgres', q{
CREATE TABLE public.slow_samples (at timestamptz, usage float8, handled bigint,
                                  listener_wait text);
DO $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '60 seconds';
  u float8;
  n bigint;
BEGIN
  LOOP
    u := pg_notification_queue_usage();
    SELECT count(*) INTO n FROM public.slow;
    INSERT INTO public.slow_samples
      SELECT clock_timestamp(), u, n,
             (SELECT string_agg(wait_event_type || '/' || wait_event, ',')
                FROM pg_stat_activity
               WHERE application_name = 'foundation dispatcher listener');
    EXIT WHEN u = 0 OR n >= 500 OR clock_timestamp() > deadline;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
});
	my ($drained_at, $last) = split /\|/, $node->safe_psql('postgres', q{
SELECT (SELECT min(handled) FROM public.slow_samples WHERE usage = 0),
       (SELECT usage || ' with ' || handled || ' handled; the listening backend waits on '
               || coalesce(listener_wait, '?')
          FROM public.slow_samples ORDER BY at DESC LIMIT 1)});
	note "last sample: queue usage $last";
	# The dispatcher reads its connection until nothing waits, before every
	# message, so a slow handler does not hold the server-wide queue back.
	ok($drained_at ne '' && $drained_at < 500,
		"with a slow handler the queue is empty again before it has handled 500 of $total messages"
		  . " (empty at: " . ($drained_at ne '' ? $drained_at : 'never') . ')')
	  or diag("last sample: queue usage $last");

	$node->safe_psql('postgres', 'UPDATE public.slow_mode SET slow = false');
	ok( wait_for($node, 'SELECT count(*) FROM public.slow', $total),
		"then the handler, fast again, handles all $total");
	is( $node->safe_psql('postgres',
			q{SELECT count(DISTINCT i) || ',' || min(i) || ',' || max(i) FROM public.slow}),
		"$total,1,$total", 'each exactly once');
}

$node->stop;
done_testing();
