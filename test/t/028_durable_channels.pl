# Durable channels: configure_channel, the seq in the payload, replay.
# A listener killed in the middle of a 10 000-message burst reconnects,
# replays and ends with every message exactly once and in order; rolled-back
# messages are never replayed; expired messages go; plain channels keep
# their payloads; who may configure and replay.
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

# A synchronous standby that never comes, waited for only by a session
# that sets synchronous_commit = on (section 7): a commit held open there.
my $node = foundation_node('durable', extra_conf => q{
wal_level = replica
max_wal_senders = 2
synchronous_standby_names = 'nobody'
synchronous_commit = local
});
my $tmp = PostgreSQL::Test::Utils::tempdir;

###########################################################################
note 'the replay listener compiles without warnings';
###########################################################################
my $listener = compile_client('replay_listener', $tmp);

# The notifications psql prints after running $sql in a session that
# LISTENs to foundation:<channel> first: their payloads.
sub payloads
{
	my ($channel, $sql, %opt) = @_;
	my $out = $node->safe_psql('postgres',
		qq{LISTEN "foundation:$channel";\n$sql}, %opt);
	return [ $out =~ /^Asynchronous notification "foundation:\Q$channel\E" with payload "(.*)" received from server process with PID \d+\.$/mg ];
}

sub max_seq
{
	return $node->safe_psql('postgres',
		q{SELECT coalesce(max(seq), 0) FROM foundation.durable_messages WHERE channel = 'events'});
}

###########################################################################
note '1. plain channels: the payload as before, nothing kept';
###########################################################################
is_deeply(payloads('events', q{SELECT foundation.broadcast('events', '{"n": 1}');}),
	[ '{"n": 1}' ], 'plain channel: the payload is the message text, byte for byte');
is($node->safe_psql('postgres', 'SELECT count(*) FROM foundation.durable_messages'),
	'0', 'plain channel: no message kept');
my %e = sql_error($node, q{SELECT count(*) FROM foundation.replay('events', 0)});
is($e{rc}, 0, 'replay of a plain channel: no error');

###########################################################################
note '2. configure_channel: arguments and privileges';
###########################################################################
$node->safe_psql('postgres', 'CREATE ROLE bob LOGIN; CREATE ROLE ops LOGIN');
%e = sql_error($node, q{SELECT foundation.configure_channel('events', '1 hour')},
	extra_params => [ '-U', 'bob' ]);
is($e{sqlstate}, '42501', 'configure_channel: not executable by PUBLIC');
$node->safe_psql('postgres',
	'GRANT EXECUTE ON FUNCTION foundation.configure_channel(text, interval) TO ops');
$node->safe_psql('postgres', q{SELECT foundation.configure_channel('events', '1 hour')},
	extra_params => [ '-U', 'ops' ]);
is($node->safe_psql('postgres', 'SELECT channel, retention FROM foundation.channel_config'),
	'events|01:00:00', 'configure_channel: a granted role makes a channel durable');
%e = sql_error($node, q{SELECT foundation.configure_channel('nope', '1 hour')});
is($e{sqlstate}, '22023', 'configure_channel: unknown channel is 22023');
%e = sql_error($node, q{SELECT foundation.configure_channel('events', '-1 hour')});
is($e{sqlstate}, '22023', 'configure_channel: a retention that is not positive is 22023');
%e = sql_error($node, q{SELECT foundation.replay('nope', 0)});
is($e{sqlstate}, '22023', 'replay: unknown channel is 22023');
%e = sql_error($node, q{SELECT foundation.replay('events', NULL)});
is($e{sqlstate}, '22004', 'replay: NULL after_seq is 22004');

###########################################################################
note '3. the wire form of a durable channel';
###########################################################################
{
	# Hex text compresses to about half: too large for a payload even so.
	$node->safe_psql('postgres', q{
CREATE FUNCTION public.big(i int) RETURNS jsonb LANGUAGE sql AS
  $$ SELECT jsonb_build_object('big', (SELECT string_agg(md5(i::text || '.' || j::text), '') FROM generate_series(1, 1000) j)) $$});
	my $before = max_seq();
	my $p = payloads('events', q{
SELECT foundation.broadcast('events', '{"n": 1}', compression => false);
SELECT foundation.broadcast('events', '{"n": 2}', compression => true);
SELECT foundation.broadcast('events', public.big(i)) FROM generate_series(1, 100) i;
}, extra_params => [ '-U', 'bob' ]);
	my $after = max_seq();
	is(scalar(@$p), 102, 'durable channel: one payload per message');
	my ($seq1) = $p->[0] =~ /\A\{"foundation_seq": (\d+), "message": \{"n": 1\}\}\z/;
	ok(defined $seq1, 'durable plain form: {"foundation_seq": n, "message": <message>}')
	  or diag($p->[0]);
	is($seq1, $before + 1, 'the seq is the replayable one');
	like($p->[1], qr/\A\{"foundation_seq": \d+, "message": \{"foundation_compressed": "[^"]+"\}\}\z/,
		'durable compressed form wraps the compressed form');
	like($p->[2], qr/\A\{"foundation_seq": \d+, "message": \{"foundation_ref": \d+, "bytes": 32011\}\}\z/,
		'durable stored form wraps the stored form');
	ok(!(grep { length($_) > 7999 } @$p), 'every payload fits NOTIFY');
	is($node->safe_psql('postgres', qq{
SELECT foundation.decode_message(\$\$$p->[0]\$\$)::text, foundation.decode_message(\$\$$p->[1]\$\$)::text,
       md5(foundation.decode_message(\$\$$p->[2]\$\$)::text) = md5(public.big(1)::text)}),
		'{"n": 1}|{"n": 2}|t', 'decode_message reads every durable form back');
	is($node->safe_psql('postgres', qq{
SELECT string_agg(seq::text, ',' ORDER BY seq) = (SELECT string_agg(s::text, ',') FROM generate_series($before + 1, $after) s),
       count(*), (array_agg(message::text ORDER BY seq))[2], bool_and(sent_at <= now()),
       (array_agg(message ORDER BY seq))[102] = public.big(100)
  FROM foundation.replay('events', $before)}, extra_params => [ '-U', 'bob' ]),
		't|102|{"n": 2}|t|t', 'replay (by any role): all 102 in seq order, contiguous, as sent');
	my %seqs = map { /"foundation_seq": (\d+)/ ? ($1 => 1) : () } @$p;
	is(scalar(keys %seqs), 102, 'every payload carries its own seq');
}

###########################################################################
note '4. rolled-back messages are never replayed';
###########################################################################
{
	my $before = max_seq();
	$node->safe_psql('postgres', q{
BEGIN; SELECT foundation.broadcast('events', '{"rolled": "tx"}'); ROLLBACK;
BEGIN; SELECT foundation.broadcast('events', '{"kept": 1}');
SAVEPOINT s; SELECT foundation.broadcast('events', '{"rolled": "savepoint"}'); ROLLBACK TO s;
SELECT foundation.broadcast('events', '{"kept": 2}'); COMMIT;
});
	is($node->safe_psql('postgres',
		"SELECT string_agg(message::text, ',' ORDER BY seq) FROM foundation.replay('events', $before)"),
		'{"kept": 1},{"kept": 2}', 'replay: the committed ones only, in order');

	# Nested savepoints: a released one's messages belong to its parent.
	$before = max_seq();
	my $p = payloads('events', q{
BEGIN;
SAVEPOINT s1; SELECT foundation.broadcast('events', '{"rolled": 1}');
SAVEPOINT s2; SELECT foundation.broadcast('events', '{"rolled": 2}'); RELEASE s2;
ROLLBACK TO s1;
SAVEPOINT s3; SELECT foundation.broadcast('events', '{"kept": 3}');
SAVEPOINT s4; SELECT foundation.broadcast('events', '{"kept": 4}'); RELEASE s4;
RELEASE s3;
SAVEPOINT s5; SELECT foundation.broadcast('events', '{"rolled": 5}'); ROLLBACK TO s5;
COMMIT;});
	is($node->safe_psql('postgres',
		"SELECT string_agg(message::text, ',' ORDER BY seq) FROM foundation.replay('events', $before)"),
		'{"kept": 3},{"kept": 4}',
		'nested savepoints: a released savepoint rolled back with its parent drops its messages');
	is(join(',', map { /"message": (\{[^}]*\})/ ? $1 : $_ } @$p), '{"kept": 3},{"kept": 4}',
		'and its listeners got the kept ones only');

	%e = sql_error($node, q{
BEGIN; SELECT foundation.broadcast('events', '{"prepared": 1}'); PREPARE TRANSACTION 'p1';});
	is("$e{sqlstate} $e{message}",
		'0A000 cannot PREPARE a transaction that has broadcast on a durable channel',
		'PREPARE TRANSACTION after a durable broadcast is refused, as after NOTIFY');
	is($node->safe_psql('postgres',
		q{SELECT count(*) FROM foundation.durable_messages WHERE message ? 'prepared'}),
		'0', 'and leaves nothing');
	%e = sql_error($node, q{
BEGIN READ ONLY; SELECT foundation.broadcast('events', '{"read_only": 1}');});
	is("$e{sqlstate} $e{message}",
		'25006 cannot execute broadcast on a durable channel in a read-only transaction',
		'a read-only transaction is told at the broadcast, not at its COMMIT');
}

###########################################################################
note '5. a listener killed in the middle of a 10 000-message burst loses nothing';
###########################################################################
{
	my $total = 10000;
	my $start = max_seq();
	my $out1 = "$tmp/l1.out";
	my $l1 = IPC::Run::start([ $listener, $node->connstr('postgres'), 'events', $start, $total, 300 ],
		'>', $out1, '2>', \my $err1, IPC::Run::timeout(360));
	ok(wait_until(sub { -s $out1 && slurp_file($out1) =~ /\AREADY\n/ }), 'listener 1 is ready');

	# The burst: one transaction per message, a rolled-back one every 500.
	my ($burst, $berr) = start_burst($node, 'events', $total);

	ok(wait_until(sub { (() = slurp_file($out1) =~ /\n/g) > 2000 }),
		'listener 1 received 2000 messages');
	$l1->kill_kill;
	my @got = grep { !/^READY$/ } split /\n/, slurp_file($out1);
	my ($last) = $got[-1] =~ /^(\d+)\t/;
	note(scalar(@got) . " messages before the kill, last seq $last");
	ok(scalar(@got) < $total, 'listener 1 was killed in the middle of the burst');

	# Reconnect: LISTEN, replay after the last seq printed, notifications.
	my $out2 = "$tmp/l2.out";
	my $l2 = IPC::Run::start([ $listener, $node->connstr('postgres'), 'events', $last, $total - @got, 300 ],
		'>', $out2, '2>', \my $err2, IPC::Run::timeout(360));
	$burst->finish;
	is($$berr, '', 'the burst ran without error');
	$l2->finish;
	is($l2->full_result(0) >> 8, 0, 'listener 2 got the rest') or diag($err2);
	my @got2 = grep { !/^READY$/ } split /\n/, slurp_file($out2);
	note(sprintf('listener 2: %d replayed, %d notified',
		scalar(grep { /\treplay\t/ } @got2), scalar(grep { /\tnotify\t/ } @got2)));
	push @got, @got2;

	my @n = map { /\t\{"n": (\d+)\}$/ ? $1 : -1 } @got;
	is(scalar(@n), $total, "$total messages in all");
	is_deeply(\@n, [ 1 .. $total ], 'every message exactly once, in order');
	my @seq = map { /^(\d+)\t/ ? $1 : -1 } @got;
	is(join(',', @seq), $node->safe_psql('postgres',
		"SELECT string_agg(seq::text, ',' ORDER BY seq) FROM foundation.replay('events', $start)"),
		'the seqs are those replay returns');
	is(scalar(grep { /rolled/ } @got), 0, 'no rolled-back message reached the listeners');
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM foundation.replay('events', $start) WHERE message ? 'rolled'"),
		'0', 'and none is replayable');
}

###########################################################################
note '6. retention: expired messages go, in batches; plain again: all go';
###########################################################################
{
	$node->safe_psql('postgres', q{
SELECT foundation.configure_channel('telemetry', '1 second');
SELECT foundation.configure_channel('control', '1 hour');
SELECT foundation.broadcast('telemetry', jsonb_build_object('i', i)) FROM generate_series(1, 25000) i;
SELECT foundation.broadcast('control', '{"c": 1}');
});
	is($node->safe_psql('postgres', q{SELECT count(*) FROM foundation.replay('telemetry', 0)}),
		'25000', 'telemetry: 25000 messages kept');
	ok(wait_for($node, q{SELECT count(*) = 0 FROM foundation.replay('telemetry', 0)}),
		'telemetry: all gone after their 1 s retention (more than one batch)');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM foundation.replay('control', 0)}),
		'1', 'control: kept for its hour');
	ok($node->safe_psql('postgres', q{SELECT count(*) FROM foundation.replay('events', 0)}) > 10000,
		'events: kept for its hour');

	$node->safe_psql('postgres', q{SELECT foundation.configure_channel('control', NULL)});
	ok(wait_for($node, q{SELECT count(*) = 0 FROM foundation.durable_messages WHERE channel = 'control'}),
		'a channel made plain again loses its kept messages');
	is_deeply(payloads('control', q{SELECT foundation.broadcast('control', '{"c": 2}');}),
		[ '{"c": 2}' ], 'and its payloads are plain again');
}

###########################################################################
note '7. seqs in commit order; an open transaction holds nobody up';
###########################################################################
{
	my $a = $node->background_psql('postgres');
	my $b = $node->background_psql('postgres');
	# b has read the configuration (data is plain) before it changes.
	$b->query_safe(q{SELECT foundation.broadcast('data', '{"warm": 1}')});
	my $apid = $a->query_safe('SELECT pg_backend_pid()');
	$node->safe_psql('postgres', q{SELECT foundation.configure_channel('data', '1 hour')});
	$a->query_safe(q{BEGIN; SELECT foundation.broadcast('data', '{"from": "a"}')});
	is($node->safe_psql('postgres', qq{
SELECT count(*) FROM pg_locks WHERE pid = $apid AND locktype = 'advisory' AND objsubid = 17987}),
		'0', 'a transaction that broadcast on a durable channel holds no channel lock while open');
	# With the lock taken at the broadcast, b would wait for a here.
	$b->query_safe(q{SELECT foundation.broadcast('data', '{"from": "b"}')});
	pass('a broadcast on a durable channel does not wait for an open transaction that broadcast there');
	$a->query_safe(q{SELECT foundation.broadcast('data', '{"from": "a2"}'); COMMIT});
	is($node->safe_psql('postgres',
		q{SELECT string_agg(message::text, ',' ORDER BY seq) FROM foundation.replay('data', 0)}),
		'{"from": "b"},{"from": "a"},{"from": "a2"}', 'the seqs follow commit order');

	# Two transactions broadcasting on two durable channels in opposite
	# orders: with locks taken at the broadcast they would deadlock.
	$a->query_safe(q{BEGIN; SELECT foundation.broadcast('data', '{"x": "a1"}')});
	$b->query_safe(q{BEGIN; SELECT foundation.broadcast('events', '{"x": "b1"}')});
	$a->query_safe(q{SELECT foundation.broadcast('events', '{"x": "a2"}')});
	$b->query_safe(q{SELECT foundation.broadcast('data', '{"x": "b2"}')});
	$a->query_safe('COMMIT');
	$b->query_safe('COMMIT');
	is($node->safe_psql('postgres', q{
SELECT string_agg(message->>'x', ',' ORDER BY message->>'x') FROM foundation.durable_messages
 WHERE message ? 'x'}),
		'a1,a2,b1,b2', 'opposite orders on two durable channels: both commit, nothing lost');

	# The channel's lock is held through the commit: a committer that
	# drew its seqs and is still committing (here: waiting for a
	# synchronous standby that does not exist) makes the next committer on
	# that channel wait, so seqs never overtake commit order.
	my $before = $node->safe_psql('postgres',
		q{SELECT coalesce(max(seq), 0) FROM foundation.durable_messages WHERE channel = 'data'});
	$a->query_safe(q{SET synchronous_commit = on; BEGIN; SELECT foundation.broadcast('data', '{"sync": "a"}')});
	$a->query_until(qr/go/, qq{\\echo go\nCOMMIT;\n});
	ok(wait_for($node, qq{SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $apid}),
		'a: committed locally, waiting for the standby');
	my $bpid = $b->query_safe('SELECT pg_backend_pid()');
	$b->query_until(qr/go/, qq{\\echo go\nSELECT foundation.broadcast('data', '{"sync": "b"}');\n});
	ok(wait_for($node, qq{
SELECT count(*) = 1 FROM pg_locks
 WHERE pid = $bpid AND NOT granted AND locktype = 'advisory' AND objsubid = 17987}),
		'b: its commit waits for the channel lock a holds until its commit ends');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($apid)");
	$a->query('SELECT 1');
	like($a->{stderr}, qr/canceling wait for synchronous replication/,
		'a: its commit ended when its wait was cancelled');
	$b->query_safe('SELECT 1');
	is($node->safe_psql('postgres',
		qq{SELECT string_agg(message->>'sync', ',' ORDER BY seq) FROM foundation.replay('data', $before)}),
		'a,b', 'and its seq follows a\'s');
	$a->quit;
	$b->quit;
}

###########################################################################
note '7b. a change made without configure_channel reaches running sessions too';
###########################################################################
{
	# As pg_restore's COPY or a superuser's INSERT would make it.
	$node->safe_psql('postgres', q{SELECT foundation.configure_channel('control', NULL)});
	my $c = $node->background_psql('postgres');
	$c->query_safe(q{SELECT foundation.broadcast('control', '{"cached": 1}')});
	$node->safe_psql('postgres',
		q{INSERT INTO foundation.channel_config (channel, retention) VALUES ('control', '1 hour')});
	$c->query_safe(q{SELECT foundation.broadcast('control', '{"after_insert": 1}')});
	is($node->safe_psql('postgres', q{
SELECT count(*) FROM foundation.replay('control', 0) WHERE message ? 'after_insert'}),
		'1', 'a session that had read the configuration before the INSERT keeps the next message');
	$node->safe_psql('postgres', q{DELETE FROM foundation.channel_config WHERE channel = 'control'});
	$c->query_safe(q{SELECT foundation.broadcast('control', '{"after_delete": 1}')});
	is($node->safe_psql('postgres', q{
SELECT count(*) FROM foundation.durable_messages WHERE channel = 'control' AND message ? 'after_delete'}),
		'0', 'and, after a DELETE, keeps none');
	$c->quit;
}

###########################################################################
note '8. a server-side handler of a durable channel gets the message itself';
###########################################################################
{
	$node->safe_psql('postgres', q{
CREATE TABLE public.got (message jsonb);
CREATE FUNCTION public.on_msg(channel text, message jsonb) RETURNS void
  LANGUAGE sql AS $$ INSERT INTO public.got VALUES (message) $$;
SELECT foundation.subscribe('events', 'public.on_msg(text, jsonb)'::regprocedure);});
	ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL'), 'the dispatcher listens');
	$node->safe_psql('postgres', q{SELECT foundation.broadcast('events', '{"h": 1}')});
	ok(wait_for($node, q{SELECT string_agg(message::text, ',') FROM public.got}, '{"h": 1}'),
		'the handler got {"h": 1}, not its durable wrapper');
}

done_testing();

# Poll $cond until true, at most $FoundationTAP::WAIT_SECONDS.
sub wait_until
{
	my ($cond) = @_;
	my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(20_000);
	}
	return 0;
}
