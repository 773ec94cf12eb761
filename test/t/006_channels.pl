# Channels seen from outside: a plain libpq client (test/listener.c) and
# psql receive broadcasts, decode the three wire forms (plain, compressed,
# stored) themselves, and get exactly what the server has; nothing is sent
# for a rolled-back transaction or subtransaction or a failed call;
# channel_stats counts committed broadcasts only.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use Digest::MD5 qw(md5_hex);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $node = foundation_node('channels');
my $tmp = PostgreSQL::Test::Utils::tempdir;

###########################################################################
note 'the libpq listener compiles without warnings';
###########################################################################
my $listener = compile_client('listener', $tmp, '-lz');

# Start the listener on @channels for $count notifications; returns once it
# has printed READY (its LISTENs are committed).
my $nlisteners = 0;

sub start_listener
{
	my ($count, $timeout, @channels) = @_;
	my %l = (out => "$tmp/listener" . ++$nlisteners . '.out', err => '');
	$l{h} = IPC::Run::start(
		[ $listener, $node->connstr('postgres'), $count, $timeout, @channels ],
		'>', $l{out}, '2>', \$l{err},
		IPC::Run::timeout($timeout + 60));
	my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
	while (time() < $deadline)
	{
		$l{h}->pump_nb;
		return \%l if -s $l{out} && slurp_file($l{out}) =~ /\AREADY\n/;
		last unless $l{h}->pumpable;
		usleep(20_000);
	}
	die "the listener did not get ready: $l{err}";
}

# Wait for the listener to exit; returns its exit status and its messages,
# each [channel, form, length, text].
sub finish_listener
{
	my ($l) = @_;
	eval { $l->{h}->finish; 1 } or diag("listener: $@");
	my $st = $l->{h}->full_result(0);
	my $rc = !defined $st ? 'unknown' : ($st & 127) ? 'signal ' . ($st & 127) : $st >> 8;
	my $out = slurp_file($l->{out});
	$out =~ s/\AREADY\n// or diag('no READY line');
	my @msgs = map { [ split /\t/, $_, 4 ] } split /\n/, $out;
	diag("listener stderr: $l->{err}") if $l->{err} ne '';
	return ($rc, \@msgs);
}

# A short description of a received message, for test names and diagnostics.
sub brief
{
	my ($m) = @_;
	return '(nothing)' unless defined $m;
	my $t = $m->[3] // '';
	$t = substr($t, 0, 60) . '...' if length($t) > 60;
	return "$m->[0] $m->[1] $m->[2] $t";
}

###########################################################################
note '0. the listener itself: timeout, errors';
###########################################################################
{
	# Exit 1 on timeout, after printing what arrived.
	my $l = start_listener(2, 3, 'foundation:events');
	$node->safe_psql('postgres',
		q{SELECT foundation.broadcast('events', '{"only": "one"}')});
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 1, 'listener: exit 1 when fewer than count notifications arrive in time');
	is(brief($msgs->[0]), 'foundation:events plain 15 {"only": "one"}',
		'listener: it printed the one that arrived');

	# Exit 2 on a payload it cannot decode.
	for my $bad ('{"foundation_ref": 987654321, "bytes": 3}',
		'{"foundation_compressed": "aGVsbG8gd29ybGQ="}')
	{
		$l = start_listener(1, $FoundationTAP::WAIT_SECONDS, 'foundation:events');
		$node->safe_psql('postgres',
			"SELECT pg_notify('foundation:events', '$bad')");
		($rc, $msgs) = finish_listener($l);
		is($rc, 2, "listener: exit 2 on an undecodable payload $bad");
		is(scalar(@$msgs), 0, 'listener: and printed no message');
	}
	my $h = IPC::Run::start([ $listener, 'host=/nonexistent port=1', 1, 5, 'x' ],
		'>', \my $out, '2>', \my $err, IPC::Run::timeout(60));
	$h->finish;
	is($h->full_result(0) >> 8, 2, 'listener: exit 2 when it cannot connect');
}

###########################################################################
note '1. one transaction, many messages, all three forms, in order';
###########################################################################
{
	# The messages, in the order they are sent, with the channel (or route)
	# and the wire form they must travel in.
	$node->safe_psql('postgres', q{
CREATE TABLE public.expect (
    n int PRIMARY KEY, op text, topic text, form text, compress bool, msg jsonb);
INSERT INTO public.expect VALUES
 (1, 'broadcast', 'foundation:events', 'plain', false, '{"kind": "small", "n": 1}'),
 (2, 'broadcast', 'foundation:events', 'compressed', true, '{"kind": "forced", "n": 2}'),
 (3, 'broadcast', 'foundation:events', 'compressed', false,
    jsonb_build_object('n', 3, 'rows',
      (SELECT jsonb_agg(jsonb_build_object('name', 'repetitive', 'value', 42))
         FROM generate_series(1, 1500)))),
 (4, 'broadcast', 'foundation:events', 'stored', false,
    jsonb_build_object('n', 4, 'blob',
      (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 32768) i))),
 (5, 'broadcast', 'foundation:events', 'plain', false,
    jsonb_build_object('x', repeat('a', 7990))),
 (6, 'broadcast', 'foundation:events', 'compressed', false,
    jsonb_build_object('x', repeat('a', 7991))),
 (7, 'broadcast', 'foundation:events', 'compressed', false,
    '{"foundation_compressed": "not base64!"}'),
 (8, 'broadcast', 'foundation:events', 'compressed', false,
    '{"bytes": 2, "foundation_ref": 1}'),
 (9, 'broadcast', 'foundation:events', 'plain', false,
    '{"n": 9, "s": "tab\there \"quoted\" \\\\ back ü €"}'),
 (10, 'route', 'foundation:events', 'compressed', false,
    jsonb_build_object('x', repeat('a', 10231))),
 (11, 'route', 'foundation:data', 'compressed', false,
    jsonb_build_object('x', repeat('a', 10232))),
 (12, 'broadcast', 'foundation:events', 'plain', false, '{"kind": "last", "n": 12}');
CREATE TABLE public.routed (n int, channel text);
});
	# The sizes the forms depend on, checked on the server first.
	is( $node->safe_psql('postgres', q{
SELECT string_agg(n || ':' || octet_length(msg::text), ' ' ORDER BY n)
  FROM public.expect WHERE n IN (5, 6, 10, 11)}),
		'5:7999 6:8000 10:10240 11:10241',
		'boundary messages are 7999, 8000, 10240 and 10241 bytes of text');
	my ($len3, $len4) = split /\|/, $node->safe_psql('postgres', q{
SELECT (SELECT octet_length(msg::text) FROM public.expect WHERE n = 3),
       (SELECT octet_length(msg::text) FROM public.expect WHERE n = 4)});
	cmp_ok($len3, '>=', 50_000, "the repetitive message is $len3 bytes (>= 50 KB)");
	cmp_ok($len4, '>=', 1_048_576, "the non-repetitive message is $len4 bytes (>= 1 MB)");

	my $n = $node->safe_psql('postgres', 'SELECT count(*) FROM public.expect');
	my $l = start_listener($n, $FoundationTAP::WAIT_SECONDS,
		'foundation:events', 'foundation:data');
	my $stored_before = $node->safe_psql('postgres',
		'SELECT count(*) FROM foundation.messages');
	$node->safe_psql('postgres', q{
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM public.expect ORDER BY n LOOP
    IF r.op = 'route' THEN
      INSERT INTO public.routed VALUES (r.n, foundation.route_message(r.msg, 'normal', r.compress));
    ELSE
      PERFORM foundation.broadcast(split_part(r.topic, ':', 2), r.msg, r.compress);
    END IF;
  END LOOP;
END $$});
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, "the listener received $n notifications and exited 0");
	is(scalar(@$msgs), $n, "it printed $n messages");

	is( $node->safe_psql('postgres',
			"SELECT string_agg(n || ':' || channel, ' ' ORDER BY n) FROM public.routed"),
		'10:events 11:data',
		'route_message: 10240 bytes -> events, 10241 bytes -> data');
	is( $node->safe_psql('postgres',
			'SELECT count(*) FROM foundation.messages') - $stored_before,
		1, 'exactly one message was stored by reference');
	is( $node->safe_psql('postgres', q{
SELECT string_agg(foundation.explain_routing(msg), ' / ' ORDER BY n)
  FROM public.expect WHERE n IN (10, 11)}),
		'Default routing -> events / Large message (10241 bytes) -> data',
		'explain_routing agrees');

	my @expect = map { [ split /\t/, $_, 5 ] } split /\n/,
	  $node->safe_psql('postgres', q{
SELECT concat_ws(E'\t', n, topic, form, octet_length(msg::text), msg::text)
  FROM public.expect ORDER BY n});
	for my $i (0 .. $#expect)
	{
		my ($en, $etopic, $eform, $elen, $etext) = @{ $expect[$i] };
		my $m = $msgs->[$i] // [];
		is($m->[0], $etopic, "message $en arrived #" . ($i + 1) . " on $etopic");
		is($m->[1], $eform, "message $en ($elen bytes) travelled $eform");
		is($m->[2], $elen, "message $en: the listener decoded $elen bytes");
		ok(defined $m->[3] && $m->[3] eq $etext,
			"message $en: the decoded text equals the server's message::text")
		  or diag("expected: " . substr($etext, 0, 200) . "\ngot:      " . brief($m));
	}
}

###########################################################################
note '2. a 64 MiB message arrives intact';
###########################################################################
{
	my $l = start_listener(1, 600, 'foundation:events');
	my $id_before = $node->safe_psql('postgres',
		'SELECT coalesce(max(id), 0) FROM foundation.messages');
	# 2097152 md5 strings of 32 bytes: 64 MiB of text that does not compress
	# below 7999 bytes.
	my $sql_md5 = $node->safe_psql('postgres', q{
CREATE TEMP TABLE big AS
  SELECT jsonb_build_object('big', string_agg(md5(i::text), '')) AS msg
    FROM generate_series(1, 2097152) i;
SELECT foundation.broadcast('events', msg) FROM big;
SELECT octet_length(msg::text) || ' ' || md5(msg::text) FROM big;
}, timeout => 600);
	my ($sql_len, $md5) = split / /, (split /\n/, $sql_md5)[-1];
	cmp_ok($sql_len, '>=', 64 * 1024 * 1024, "the message text is $sql_len bytes (>= 64 MiB)");
	my ($id, $stored_bytes, $stored_len, $stored_md5) = split /\|/,
	  $node->safe_psql('postgres', qq{
SELECT id, bytes, octet_length(message::text), md5(message::text)
  FROM foundation.messages WHERE id > $id_before ORDER BY id});
	ok(defined $id, "it was stored by reference (id $id)");
	is($stored_bytes, $sql_len, 'foundation.messages.bytes is its size');
	is($stored_md5, $md5, 'the stored message is the broadcast one (md5)');

	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener received it and exited 0');
	is(scalar(@$msgs), 1, 'one message');
	my $m = $msgs->[0] // [];
	is($m->[0], 'foundation:events', 'on foundation:events');
	is($m->[1], 'stored', 'in the stored form');
	is($m->[2], $stored_len, "the listener decoded $stored_len bytes");
	is(length($m->[3] // ''), $stored_len, 'and printed that many');
	is(md5_hex($m->[3] // ''), $stored_md5,
		"md5 of the listener's text equals md5(message::text) of foundation.messages id $id");
	@$msgs = ();
	$m = undef;
	$node->safe_psql('postgres', "DELETE FROM foundation.messages WHERE id = $id");
}

###########################################################################
note '3. nothing is sent by a rolled-back transaction or subtransaction';
###########################################################################
{
	my $l = start_listener(1, $FoundationTAP::WAIT_SECONDS, 'foundation:events',
		'foundation:data', 'foundation:control', 'foundation:telemetry');
	my $stored_before = $node->safe_psql('postgres',
		'SELECT count(*) FROM foundation.messages');
	$node->safe_psql('postgres', q{
BEGIN;
SELECT foundation.broadcast('events', '{"rolled": "back", "form": "plain"}');
SELECT foundation.broadcast('events', '{"rolled": "back", "form": "compressed"}', true);
SELECT foundation.broadcast('events',
  (SELECT jsonb_build_object('rolled', string_agg(md5(i::text), ''))
     FROM generate_series(1, 32768) i));
SELECT foundation.route_message('{"rolled": "back", "priority": "high"}', 'high');
SELECT foundation.route_message('{"type": "metric", "rolled": "back"}');
ROLLBACK;
});
	$node->safe_psql('postgres',
		q{SELECT foundation.broadcast('events', '{"marker": "after rollback"}')});
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener got one message');
	is(scalar(@$msgs), 1, 'exactly one');
	is( brief($msgs->[0]),
		'foundation:events plain 28 {"marker": "after rollback"}',
		'it is the marker: the rolled-back broadcasts were not sent');
	is( $node->safe_psql('postgres', 'SELECT count(*) FROM foundation.messages'),
		$stored_before, 'the rolled-back stored message left no row');

	$l = start_listener(4, $FoundationTAP::WAIT_SECONDS, 'foundation:events');
	$node->safe_psql('postgres', q{
BEGIN;
SELECT foundation.broadcast('events', '{"sp": "before"}');
SAVEPOINT s1;
SELECT foundation.broadcast('events', '{"sp": "rolled back"}');
SAVEPOINT s1a;
SELECT foundation.broadcast('events', '{"sp": "rolled back, nested"}');
RELEASE SAVEPOINT s1a;
ROLLBACK TO SAVEPOINT s1;
DO $$
BEGIN
  BEGIN
    PERFORM foundation.broadcast('events', '{"sp": "exception block"}');
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
END $$;
SAVEPOINT s2;
SELECT foundation.broadcast('events', '{"sp": "released"}');
RELEASE SAVEPOINT s2;
SELECT foundation.broadcast('events', '{"sp": "after"}');
COMMIT;
SELECT foundation.broadcast('events', '{"marker": "after savepoints"}');
});
	($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener got four messages');
	is( join(' ', map { $_->[3] // '' } @$msgs),
		'{"sp": "before"} {"sp": "released"} {"sp": "after"} {"marker": "after savepoints"}',
		"the rolled-back savepoint's and exception block's broadcasts were not sent, the others were, in order");
}

###########################################################################
note '4. psql as a listener';
###########################################################################
{
	$node->safe_psql('postgres', 'CREATE TABLE public.psql_marker (tag text)');
	my ($out, $err) = ('', '');
	my $wait = q{
DO $$
DECLARE deadline timestamptz := clock_timestamp() + interval '60 seconds';
BEGIN
  WHILE NOT EXISTS (SELECT FROM public.psql_marker WHERE tag = 'go') LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'no marker row within 60 seconds';
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
END $$};
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres') . ' application_name=psql_listener',
			'-c', 'LISTEN "foundation:events"',
			'-c', $wait
		],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($FoundationTAP::WAIT_SECONDS + 30));
	ok( wait_for(
			$node, q{
SELECT count(*) FROM pg_stat_activity
 WHERE application_name = 'psql_listener' AND state = 'active'
   AND query LIKE '%psql_marker%'}, '1'),
		'the psql listener is in its polling DO block');

	# Three forms; psql prints each payload as it arrived.
	my $big = q{(SELECT jsonb_build_object('psql', string_agg(md5(i::text), ''))
	               FROM generate_series(1, 32768) i)};
	my $sender = $node->safe_psql('postgres', qq{
SELECT foundation.broadcast('events', '{"via": "psql"}');
SELECT foundation.broadcast('events', '{"via": "psql", "form": "compressed"}', true);
SELECT foundation.broadcast('events', $big);
INSERT INTO public.psql_marker VALUES ('go');
SELECT pg_backend_pid();
});
	($sender) = grep { /^\d+$/ } split /\n/, $sender;
	my $ok = eval { $h->finish; 1 };
	ok($ok && $h->full_result(0) == 0, 'psql finished without error')
	  or diag($@ . $err);
	my @notes = $out =~
	  /^Asynchronous notification "foundation:events" with payload "(.*)" received from server process with PID (\d+)\.$/mg;
	is(scalar(@notes), 6, 'psql printed three notifications') or diag($out);
	my @payloads = @notes[ 0, 2, 4 ];
	is($payloads[0] // '', '{"via": "psql"}', 'the plain one, as sent');
	like($payloads[1] // '', qr/^\{"foundation_compressed": "[A-Za-z0-9+\/=]+"\}$/,
		'the compressed one');
	like($payloads[2] // '', qr/^\{"foundation_ref": \d+, "bytes": \d+\}$/,
		'the stored one');
	is(join(',', @notes[ 1, 3, 5 ]), join(',', ($sender) x 3),
		"all from the broadcasting session's PID $sender");
	my @orig = ('\'{"via": "psql"}\'', '\'{"via": "psql", "form": "compressed"}\'', $big);
	for my $i (0 .. 2)
	{
		my $p = $payloads[$i] // '';
		is( $node->safe_psql('postgres',
				"SELECT foundation.decode_message(\$p\$$p\$p\$) = $orig[$i]"),
			't', "decode_message of the payload psql printed is the original (#$i)");
	}
	my ($id) = ($payloads[2] // '') =~ /"foundation_ref": (\d+)/;
	is( $node->safe_psql('postgres',
			"SELECT foundation.fetch_message($id) = $big"),
		't', 'fetch_message of its foundation_ref is the original');
}

###########################################################################
note '5. channel_stats counts committed broadcasts only';
###########################################################################
{
	$node->safe_psql('postgres', 'SELECT foundation.reset_channel_stats()');
	is( $node->safe_psql('postgres', q{
SELECT string_agg(concat_ws(',', channel, messages, bytes, compressed, stored,
                  routed_high_priority, routed_large, routed_telemetry, routed_default,
                  errors, last_message_at IS NULL), ' ' ORDER BY channel)
  FROM foundation.channel_stats}),
		'control,0,0,0,0,0,0,0,0,0,t data,0,0,0,0,0,0,0,0,0,t events,0,0,0,0,0,0,0,0,0,t telemetry,0,0,0,0,0,0,0,0,0,t',
		'after reset_channel_stats every counter is 0');

	$node->safe_psql('postgres', q{
CREATE TABLE public.stat_msgs (n int, channel text, msg jsonb);
INSERT INTO public.stat_msgs VALUES
 (1, 'events', '{"s": 1}'),
 (2, 'events', '{"s": 2, "form": "compressed"}'),
 (3, 'events', (SELECT jsonb_build_object('s', string_agg(md5(i::text), ''))
                  FROM generate_series(1, 32768) i)),
 (4, 'control', '{"s": 4, "priority": "high"}'),
 (5, 'data', jsonb_build_object('s', repeat('z', 20000))),
 (6, 'telemetry', '{"s": 6, "type": "metric"}'),
 (7, 'events', '{"s": 7, "default": true}');
});
	my $l = start_listener(7, $FoundationTAP::WAIT_SECONDS, 'foundation:events',
		'foundation:data', 'foundation:control', 'foundation:telemetry');
	$node->safe_psql('postgres', q{
BEGIN;
SELECT foundation.broadcast('events', msg) FROM public.stat_msgs WHERE n = 1;
SELECT foundation.broadcast('events', msg, true) FROM public.stat_msgs WHERE n = 2;
SELECT foundation.broadcast('events', msg) FROM public.stat_msgs WHERE n = 3;
SELECT foundation.route_message(msg, 'high') FROM public.stat_msgs WHERE n = 4;
SELECT foundation.route_message(msg) FROM public.stat_msgs WHERE n = 5;
SELECT foundation.route_message(msg, 'low') FROM public.stat_msgs WHERE n = 6;
SAVEPOINT s;
SELECT foundation.broadcast('events', '{"s": "savepoint rolled back"}');
SELECT foundation.route_message('{"s": "savepoint rolled back", "type": "metric"}');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT a;
SELECT foundation.broadcast('control', '{"s": "nested, rolled back"}');
SAVEPOINT b;
SELECT foundation.broadcast('data', '{"s": "nested released, outer rolled back"}');
RELEASE SAVEPOINT b;
ROLLBACK TO SAVEPOINT a;
SAVEPOINT c;
SAVEPOINT d;
SELECT foundation.route_message(msg) FROM public.stat_msgs WHERE n = 7;
RELEASE SAVEPOINT d;
RELEASE SAVEPOINT c;
DO $$
BEGIN
  BEGIN
    PERFORM foundation.broadcast('telemetry', '{"s": "exception block"}');
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
END $$;
COMMIT;
BEGIN;
SELECT foundation.broadcast('events', '{"s": "rolled back"}');
SELECT foundation.route_message('{"s": "rolled back"}', 'high');
SELECT foundation.broadcast('data', '{"s": "rolled back"}', true);
ROLLBACK;
});
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener received the 7 committed messages');
	is( join(' ', map { "$_->[0]:$_->[1]" } @$msgs),
		'foundation:events:plain foundation:events:compressed foundation:events:stored '
		  . 'foundation:control:plain foundation:data:compressed '
		  . 'foundation:telemetry:plain foundation:events:plain',
		'channels and forms as sent');

	# What the listener saw, per channel: messages, bytes, compressed, stored.
	my %seen;
	for my $m (@$msgs)
	{
		my ($ch) = $m->[0] =~ /^foundation:(\w+)$/;
		$seen{$ch}{messages}++;
		$seen{$ch}{bytes} += $m->[2];
		$seen{$ch}{compressed}++ if $m->[1] eq 'compressed';
		$seen{$ch}{stored}++ if $m->[1] eq 'stored';
	}
	my $bytes = $node->safe_psql('postgres', q{
SELECT string_agg(channel || '=' || b, ' ' ORDER BY channel)
  FROM (SELECT channel, sum(octet_length(msg::text)) AS b
          FROM public.stat_msgs GROUP BY channel) s});
	is( join(' ', map { "$_=" . ($seen{$_}{bytes} // 0) } sort keys %seen),
		$bytes, 'the listener decoded as many bytes per channel as were sent');

	my %routed = (
		control => '1,0,0,0',
		data => '0,1,0,0',
		events => '0,0,0,1',
		telemetry => '0,0,1,0');
	my $expected = join ' ', map {
		my $s = $seen{$_} // {};
		join(',', $_, $s->{messages} // 0, $s->{bytes} // 0,
			$s->{compressed} // 0, $s->{stored} // 0, $routed{$_}, 0, 'f')
	} sort keys %routed;
	is( $node->safe_psql('postgres', q{
SELECT string_agg(concat_ws(',', channel, messages, bytes, compressed, stored,
                  routed_high_priority, routed_large, routed_telemetry, routed_default,
                  errors, last_message_at IS NULL), ' ' ORDER BY channel)
  FROM foundation.channel_stats}),
		$expected,
		'channel_stats: the committed messages, bytes, compressed, stored and routed counts only');
	note "expected: $expected";
	is( $node->safe_psql('postgres', q{
SELECT bool_and(last_message_at BETWEEN now() - interval '5 minutes' AND now())
  FROM foundation.channel_stats}),
		't', 'last_message_at is recent on every channel');
}

###########################################################################
note '6. bad input: errors, and nothing is sent';
###########################################################################
{
	my $l = start_listener(1, $FoundationTAP::WAIT_SECONDS, 'foundation:events',
		'foundation:data', 'foundation:control', 'foundation:telemetry');
	my $missing = $node->safe_psql('postgres',
		'SELECT coalesce(max(id), 0) + 1000000 FROM foundation.messages');
	my @cases = (
		[
			q{SELECT foundation.broadcast('nope', '{"bad": "channel"}')},
			'22023', qr/invalid channel: "nope"/, 'unknown channel'
		],
		[
			q{SELECT foundation.broadcast('events', NULL)},
			'22004', qr/message must not be NULL/, 'NULL message'
		],
		[
			q{SELECT foundation.broadcast(NULL, '{"bad": "null channel"}')},
			'22004', qr/channel must not be NULL/, 'NULL channel'
		],
		[
			q{SELECT foundation.route_message('{"bad": "priority"}', 'urgent')},
			'22023', qr/invalid priority "urgent"/, 'unknown priority'
		],
		[
			q{SELECT foundation.decode_message('{"foundation_compressed": "!!not base64!!"}')},
			'22023', qr/malformed foundation payload: .*not valid base64/, 'compressed payload that is not base64'
		],
		[
			q{SELECT foundation.decode_message('{"foundation_compressed": "aGVsbG8gd29ybGQ="}')},
			'22023', qr/malformed foundation payload: .*not a zlib stream/, 'compressed payload that is not zlib'
		],
		[
			q{SELECT foundation.decode_message('{"foundation_compressed": "eJyrVspNLS5OTE9V"}')},
			'22023', qr/malformed foundation payload: .*truncated zlib stream/, 'a truncated zlib stream'
		],
		[
			q{SELECT foundation.decode_message('{"foundation_compressed": 42}')},
			'22023', qr/malformed foundation payload: .*not a string/, 'compressed payload that is not a string'
		],
		[
			"SELECT foundation.fetch_message($missing)",
			'42704', qr/stored message $missing does not exist/, 'fetch_message of an unknown id'
		],
		[
			qq{SELECT foundation.decode_message('{"foundation_ref": $missing, "bytes": 10}')},
			'42704', qr/stored message $missing does not exist/, 'decode_message of an unknown reference'
		],
		# A failing call after a good broadcast aborts the transaction: the
		# good one is not sent either.
		[
			q{BEGIN;
SELECT foundation.broadcast('events', '{"doomed": 1}');
SELECT foundation.broadcast('data', '{"doomed": 2}', true);
SELECT foundation.broadcast('nope', '{"bad": "channel"}');
COMMIT;},
			'22023', qr/invalid channel/, 'unknown channel after good broadcasts in a transaction'
		],
		[
			q{BEGIN;
SELECT foundation.route_message('{"doomed": 3}');
SELECT foundation.route_message('{"doomed": 4}', 'whenever');
COMMIT;},
			'22023', qr/invalid priority/, 'unknown priority after a good route_message in a transaction'
		]);
	for my $c (@cases)
	{
		my ($sql, $state, $re, $what) = @$c;
		my %r = sql_error($node, $sql);
		isnt($r{rc}, 0, "$what: an error");
		is($r{sqlstate}, $state, "$what: SQLSTATE $state") or diag($r{stderr});
		like($r{message} // '', $re, "$what: message") or diag($r{stderr});
	}
	my %r = sql_error($node, q{SELECT foundation.broadcast('nope', '{}')});
	like($r{detail} // '', qr/control, events, data, telemetry/,
		'unknown channel: the detail lists the channels');
	like($r{hint} // '', qr/pg_notify/, 'unknown channel: the hint mentions pg_notify');
	%r = sql_error($node, q{SELECT foundation.route_message('{}', 'urgent')});
	like($r{hint} // '', qr/high.*normal.*low/, 'unknown priority: the hint lists the priorities');

	$node->safe_psql('postgres',
		q{SELECT foundation.broadcast('events', '{"marker": "after bad input"}')});
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener got one message');
	is(scalar(@$msgs), 1, 'exactly one');
	is( brief($msgs->[0]),
		'foundation:events plain 29 {"marker": "after bad input"}',
		'it is the marker: nothing was sent by the failed calls');
}

###########################################################################
note '7. a non-superuser broadcasts in every form';
###########################################################################
{
	$node->safe_psql('postgres', 'CREATE ROLE plainuser LOGIN');
	my $l = start_listener(3, $FoundationTAP::WAIT_SECONDS, 'foundation:events');
	$node->safe_psql('postgres', q{
BEGIN;
SELECT foundation.broadcast('events', '{"by": "plainuser"}');
SELECT foundation.broadcast('events', '{"by": "plainuser", "form": "compressed"}', true);
SELECT foundation.broadcast('events', jsonb_build_object('by', 'plainuser',
  'blob', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 32768) i)));
COMMIT;
}, extra_params => [ '-U', 'plainuser' ]);
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener got the three messages of a non-superuser');
	is(join(' ', map { $_->[1] } @$msgs), 'plain compressed stored', 'in the three forms');
	my ($id) = $node->safe_psql('postgres',
		"SELECT max(id) FROM foundation.messages WHERE message->>'by' = 'plainuser'");
	is( $node->safe_psql('postgres',
			"SELECT message::text FROM foundation.messages WHERE id = $id"),
		$msgs->[2][3] // '', 'the stored one decoded to what was stored');
	is( $node->safe_psql('postgres',
			"SELECT foundation.fetch_message($id)->>'by'",
			extra_params => [ '-U', 'plainuser' ]),
		'plainuser', 'the non-superuser can fetch_message it');
}

###########################################################################
# A plain message travels as exactly its jsonb text (message::text), in
# every shape: escapes, control characters, non-ASCII, numbers, nesting,
# empty containers, scalars; and one with a key of an envelope at its top
# level (only there) travels compressed.
{
	# (a heredoc in single quotes: Perl leaves its backslashes alone)
	$node->safe_psql('postgres', <<'SQL');
CREATE TABLE public.text_msgs (id int PRIMARY KEY, m jsonb NOT NULL);
INSERT INTO public.text_msgs VALUES
 (1, '{"a": "x\"y\\z", "tab": "a\tb", "nl": "1\n2", "ctl": "\u0001\u001f", "del": "\u007f"}'),
 (2, '{"uni": "é€😀", "": "", "k": {"n": [1, 2.50, -3e5, 1.000000000000000000001, 0]}}'),
 (3, '[true, false, null, {}, [], [[1], {"a": []}], "s"]'),
 (4, '"just a string"'), (5, '42'), (6, 'null'), (7, 'true'), (8, '[]'), (9, '{}'),
 (10, '"\\"'), (11, '{"a": {"b": {"c": [{"d": "e"}, 1e-7]}}, "z": [null]}'),
 (12, '{"quote\"key": 1, "back\\key": "\b\f\r"}'),
 (13, '{"x": {"foundation_ref": 1}, "foundation_re": 2, "foundation_sequ": 3}'),
 (14, '{"a": 1, "foundation_seq": 2}'), (15, '{"foundation_compressed": 0, "z": 1}');
-- every ASCII character but NUL, as a key and as a value, and numbers
INSERT INTO public.text_msgs
SELECT 15 + i, jsonb_build_object(chr(i), 'a' || chr(i) || 'b', 'num', i * 1.5 - 100, 'exp', 10.0 ^ (i - 64))
  FROM generate_series(1, 127) i;
SQL
	my ($rc, $out, $err) = $node->psql('postgres', q{
LISTEN "foundation:events";
SELECT foundation.broadcast('events', m) FROM public.text_msgs ORDER BY id;
});
	is($rc, 0, '142 messages broadcast') or diag($err);
	my @payloads = $out =~
	  /^Asynchronous notification "foundation:events" with payload "(.*)" received from server process with PID \d+\.$/mg;
	my @texts = split /\n/,
	  $node->safe_psql('postgres', 'SELECT m::text FROM public.text_msgs ORDER BY id');
	is(scalar(@payloads), 142, '142 notifications') or diag($out);
	for my $i (0 .. 12, 15 .. 141)
	{
		is($payloads[$i] // '', $texts[$i], 'payload ' . ($i + 1) . " is the message's text: $texts[$i]");
	}
	# A top-level key of an envelope (only there) sends it compressed.
	for my $i (13, 14)
	{
		my $p = $payloads[$i] // '';
		like($p, qr/^\{"foundation_compressed": "[A-Za-z0-9+\/=]+"\}$/,
			"$texts[$i] looks like an envelope: it travels compressed");
		is($node->safe_psql('postgres', "SELECT foundation.decode_message(\$p\$$p\$p\$)::text"),
			$texts[$i], '... and decodes back to itself');
	}
}

$node->stop;
done_testing();
