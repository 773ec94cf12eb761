# Channels across nodes: foundation.broadcast reaches LISTEN clients on every
# member exactly once, one publisher's messages in their commit order,
# nothing from a rolled-back transaction; local_broadcast stays here,
# direct_broadcast goes to one member; 10 000 messages sent while a member
# cannot be reached all arrive there, in order, once it can, even when the
# relay is stopped while it sends them.  A transaction that took its
# message id before another but commits after it, once that other message
# was delivered, still gets its message through; so does a message
# restored from another server's dump.  Members relay to each other as a
# dedicated non-superuser role.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FoundationTAP;

my $tmp = PostgreSQL::Test::Utils::tempdir;

# The libpq listener of test/listener.c.
my $listener = "$tmp/listener";
{
	my ($incdir, $libdir);
	IPC::Run::run([ 'pg_config', '--includedir' ], '>', \$incdir) or die;
	IPC::Run::run([ 'pg_config', '--libdir' ], '>', \$libdir) or die;
	chomp($incdir, $libdir);
	IPC::Run::run(
		[
			'cc', '-Wall', '-Wextra', '-Werror', '-o', $listener,
			"$FindBin::RealBin/../listener.c", "-I$incdir", "-L$libdir", '-lpq', '-lz'
		]) or die 'test/listener.c does not compile';
}
my $nl = 0;
sub start_listener
{
	my ($node, $count, $timeout, @channels) = @_;
	my %l = (out => "$tmp/l" . ++$nl . '.out', err => '');
	$l{h} = IPC::Run::start([ $listener, $node->connstr('postgres'), $count, $timeout, @channels ],
		'>', $l{out}, '2>', \$l{err}, IPC::Run::timeout($timeout + 60));
	my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
	while (time() < $deadline)
	{
		$l{h}->pump_nb;
		return \%l if -s $l{out} && slurp_file($l{out}) =~ /\AREADY\n/;
		usleep(20_000);
	}
	die "the listener did not get ready: $l{err}";
}
# (exit status, [decoded texts])
sub finish_listener
{
	my ($l) = @_;
	eval { $l->{h}->finish; 1 };
	my $st = $l->{h}->full_result(0);
	my $out = slurp_file($l->{out});
	$out =~ s/\AREADY\n//;
	return ($st >> 8, [ map { (split /\t/, $_, 4)[3] } split /\n/, $out ]);
}

my ($ctl, %m) = channel_cluster(qw(c1 c2 c3));

###########################################################################
note '1. broadcast from every member reaches every member once, in order';
###########################################################################
{
	my %l = map { $_ => start_listener($m{$_}, 10, 6, 'foundation:events') } sort keys %m;
	for my $k (sort keys %m)
	{
		for my $n (1 .. 3)
		{
			$m{$k}->safe_psql('postgres',
				qq{SELECT foundation.broadcast('events', '{"from": "$k", "n": $n}')});
		}
		# Rolled back: arrives nowhere.
		$m{$k}->safe_psql('postgres', qq{
			BEGIN;
			SELECT foundation.broadcast('events', '{"from": "$k", "rolled_back": true}');
			ROLLBACK;});
	}
	for my $k (sort keys %m)
	{
		my ($rc, $msgs) = finish_listener($l{$k});
		is($rc, 1, "the listener on $k got fewer than 10 (it waited for a 10th)");
		is(scalar(@$msgs), 9, "$k received 9 messages: 3 from each member");
		is(scalar(grep { /rolled_back/ } @$msgs), 0, "nothing rolled back reached $k");
		for my $from (sort keys %m)
		{
			my @n = map { /"n": (\d+)/ ? $1 : () } grep { /"from": "$from"/ } @$msgs;
			is("@n", '1 2 3', "on $k, the messages of $from arrived once each, in order");
		}
	}
}

###########################################################################
note '2. local_broadcast and direct_broadcast';
###########################################################################
{
	my %l = map { $_ => start_listener($m{$_}, 3, 4, 'foundation:data') } sort keys %m;
	$m{c1}->safe_psql('postgres', q{SELECT foundation.local_broadcast('data', '{"local": 1}')});
	$m{c1}->safe_psql('postgres', q{SELECT foundation.direct_broadcast('c2', 'data', '{"direct": 2}')});
	$m{c1}->safe_psql('postgres', q{SELECT foundation.direct_broadcast('c1', 'data', '{"direct": 1}')});
	my %got;
	for my $k (sort keys %m)
	{
		my ($rc, $msgs) = finish_listener($l{$k});
		$got{$k} = join(' ', @$msgs);
	}
	is($got{c1}, '{"local": 1} {"direct": 1}', 'c1 got its local and its direct message');
	is($got{c2}, '{"direct": 2}', 'c2 got only the message sent directly to it');
	is($got{c3}, '', 'c3 got nothing');
	my %r = sql_error($m{c1}, q{SELECT foundation.direct_broadcast('nowhere', 'data', '{}')});
	is($r{sqlstate}, '42704', 'direct_broadcast to an unknown member: 42704');
}

###########################################################################
note '3. 10 000 messages while a member restarts';
###########################################################################
{
	# c3 goes down; the messages are sent meanwhile; it comes back refusing
	# the relays (pg_hba) until its listener is ready, then lets them in.
	$m{c3}->stop('fast');
	my $hba = $m{c3}->data_dir . '/pg_hba.conf';
	my $orig = slurp_file($hba);
	open my $fh, '>', $hba or die $!;
	print $fh "local all fdn_peer reject\nhost all fdn_peer 127.0.0.1/32 reject\n$orig";
	close $fh;

	$m{c1}->safe_psql('postgres', q{
		SELECT count(foundation.broadcast('telemetry', jsonb_build_object('seq', i)))
		  FROM generate_series(1, 5000) i});
	$m{c1}->safe_psql('postgres', q{
		SELECT count(foundation.broadcast('telemetry', jsonb_build_object('seq', i)))
		  FROM generate_series(5001, 10000) i});
	$m{c3}->start;
	ok(wait_for($m{c1}, q{SELECT count(*) FROM foundation.outbox WHERE target = 'c2'}, '0'),
		'c2 got its 10 000');
	is($m{c1}->safe_psql('postgres', q{SELECT count(*) FROM foundation.outbox WHERE target = 'c3'}),
		'10000', "c3's 10 000 wait in c1's outbox (c3 was down, now refuses the relays)");
	like($m{c1}->safe_psql('postgres', q{SELECT foundation.health_check()::jsonb -> 'relay_backlog' ->> 'c3'}),
		qr/^10000$/, "c1's health report shows the backlog for c3");

	my $first = $m{c1}->safe_psql('postgres', q{SELECT min(id) FROM foundation.outbox WHERE target = 'c3'});

	# c3 listens, then lets the relays in.
	ok(wait_for($m{c3}, q{SELECT foundation.lookup_singleton('foundation:relay') IS NOT NULL}),
		'c3 is back, with its relay');
	my $l = start_listener($m{c3}, 10001, 25, 'foundation:telemetry');
	open $fh, '>', $hba or die $!;
	print $fh $orig;
	close $fh;
	$m{c3}->reload;
	# The relay stops while it sends (once c3 has some of them): its
	# successor goes on from where the committed cursor says.
	my $relay = $m{c1}->safe_psql('postgres', q{SELECT foundation.lookup_singleton('foundation:relay')});
	ok(wait_for($m{c3}, "SELECT count(*) > 0 FROM foundation.relay_inbox WHERE origin = 'c1' AND id >= $first"),
		'c3 started receiving its 10 000');
	$m{c1}->safe_psql('postgres', "SELECT pg_terminate_backend($relay)");
	ok(wait_for($m{c1}, qq{SELECT foundation.lookup_singleton('foundation:relay') NOT IN (0, $relay)}),
		"c1's relay was stopped and runs again");
	my ($rc, $msgs) = finish_listener($l);
	is(scalar(@$msgs), 10000, 'c3 received the 10 000 messages, no more');
	my @seq = map { /"seq": (\d+)/ ? $1 : -1 } @$msgs;
	is_deeply(\@seq, [ 1 .. 10000 ], 'once each, in their commit order');
	is($m{c1}->safe_psql('postgres', q{SELECT count(*) FROM foundation.outbox}), '0',
		"c1's outbox is empty");
}

###########################################################################
note '4. a message whose transaction took its id first and commits last';
###########################################################################
{
	my $l = start_listener($m{c2}, 3, 30, 'foundation:control');
	my $s = $m{c1}->background_psql('postgres');
	$s->query_safe('BEGIN');
	$s->query_safe(q{SELECT foundation.broadcast('control', '{"late": 1}')});
	my $late_id = $s->query_safe(q{SELECT max(id) FROM foundation.outbox_messages});
	$late_id =~ s/.*\n//s;
	$m{c1}->safe_psql('postgres', q{SELECT foundation.broadcast('control', '{"early": 2}')});
	# The later id is delivered, and the relay's cursor for c2 past it,
	# while the transaction of the smaller id is still open.
	ok(wait_for($m{c2}, qq{SELECT max(id) > $late_id FROM foundation.relay_inbox WHERE origin = 'c1'}),
		'c2 received a larger id than that of the open transaction');
	ok(wait_for($m{c1}, q{SELECT count(*) FROM foundation.outbox WHERE message ? 'early'}, '0'),
		'the message of the larger id reached both other members');
	$s->query_safe('COMMIT');
	$s->quit;
	$m{c1}->safe_psql('postgres', q{SELECT foundation.broadcast('control', '{"after": 3}')});
	my ($rc, $msgs) = finish_listener($l);
	is($rc, 0, 'the listener on c2 got its 3 messages');
	is(join(' ', @$msgs), '{"early": 2} {"late": 1} {"after": 3}',
		'c2 received the message committed last, in commit order');
	ok(wait_for($m{c1}, q{SELECT count(*) FROM foundation.outbox_messages}, '0'),
		"c1's messages all went: each reached every member it was for");
	is($m{c3}->safe_psql('postgres', qq{SELECT count(*) FROM foundation.relay_inbox WHERE origin = 'c1' AND id = $late_id}),
		'1', 'c3 received it too');
}

###########################################################################
note '5. a message restored from a dump, with another server\'s transaction id';
###########################################################################
{
	# Its xid is in this server's future: no snapshot here sees it as
	# committed until the supervisor gives it one of this server's.
	my $l = start_listener($m{c3}, 1, 30, 'foundation:control');
	$m{c1}->safe_psql('postgres', q{
		INSERT INTO foundation.outbox_messages (targets, channel, message, xid)
		VALUES ('{c2,c3}', 'control', '{"restored": 1}', '999999999')});
	my ($rc, $msgs) = finish_listener($l);
	is(join(' ', @$msgs), '{"restored": 1}', 'c3 received the restored message');
	ok(wait_for($m{c1}, q{SELECT count(*) FROM foundation.outbox_messages}, '0'),
		'it reached c2 too, and went');
}

###########################################################################
note '6. a session\'s broadcasts follow the members as cluster_peers changes';
###########################################################################
{
	# One session on c1 broadcasts throughout, so that what it remembers of
	# the other members is what is tested; each broadcast is rolled back
	# after its outbox row is read, so the relay sends nothing.
	my $s = $m{c1}->background_psql('postgres', on_error_stop => 0);
	my $targets = sub {
		my ($call, $key) = @_;
		my $out = $s->query_safe(qq{BEGIN; SELECT $call;
SELECT targets::text FROM foundation.outbox_messages WHERE message ? '$key'; ROLLBACK;});
		my @lines = grep { /^\{/ } split /\n/, $out;
		return $lines[-1] // '';
	};
	is($targets->(q{foundation.broadcast('control', '{"p1": 1}')}, 'p1'),
		'{c2,c3}', 'a broadcast names the two other members');
	$m{c1}->safe_psql('postgres', q{INSERT INTO foundation.cluster_peers (node) VALUES ('zz')});
	is($targets->(q{foundation.broadcast('control', '{"p2": 1}')}, 'p2'),
		'{c2,c3,zz}', 'the same session: a member added by another session is named once it committed');
	is($targets->(q{foundation.direct_broadcast('zz', 'control', '{"p3": 1}')}, 'p3'),
		'{zz}', 'and direct_broadcast to it works');
	$m{c1}->safe_psql('postgres', q{DELETE FROM foundation.cluster_peers WHERE node = 'zz'});
	$s->query(q{SELECT foundation.direct_broadcast('zz', 'control', '{"p4": 1}')});
	like($s->{stderr}, qr/unknown member "zz"/,
		'the same session: direct_broadcast to the removed member is an error');
	$s->{stderr} = '';    # BackgroundPsql keeps it until cleared
	is($targets->(q{foundation.broadcast('control', '{"p5": 1}')}, 'p5'),
		'{c2,c3}', 'and a broadcast names the two others again');
	# A change the session makes itself and rolls back.
	is( $targets->(q{foundation.broadcast('control', '{"p0": 1}');
INSERT INTO foundation.cluster_peers (node) VALUES ('yy');
SELECT foundation.broadcast('control', '{"p6": 1}')}, 'p6'),
		'{c2,c3,yy}', 'in one transaction: a member it added itself is named at once');
	is($targets->(q{foundation.broadcast('control', '{"p7": 1}')}, 'p7'),
		'{c2,c3}', 'and forgotten after its rollback');
	$s->quit;
	is($m{c1}->safe_psql('postgres', q{SELECT count(*) FROM foundation.outbox_messages}),
		'0', 'nothing left in the outbox');
}

###########################################################################
note '7. large messages: a batch stops at 16 MB';
###########################################################################
{
	# 12 messages of 2 MB each (uncompressed; highly compressible, so the
	# outbox stays small), in one transaction: without a size limit they
	# would go to each member in one batch of 24 MB, as 1000 messages of
	# 300 kB would go in one of 300 MB, more than a receiving server can
	# read as one jsonb (256 MB).  With it: at least two batches, every
	# message once.
	my $before = $m{c2}->safe_psql('postgres',
		q{SELECT coalesce(max(id), 0) FROM foundation.relay_inbox WHERE origin = 'c1'});
	$m{c1}->safe_psql('postgres', q{
SELECT count(foundation.broadcast('data', jsonb_build_object('big', i, 'pad', repeat(md5(i::text), 65536))))
  FROM generate_series(1, 12) i});
	ok(wait_for($m{c1}, q{SELECT count(*) FROM foundation.outbox_messages}, '0'),
		'the 12 large messages reached both other members');
	is( $m{c2}->safe_psql('postgres', qq{
SELECT count(*) || ' ' || count(DISTINCT id) FROM foundation.relay_inbox WHERE origin = 'c1' AND id > $before}),
		'12 12', 'c2 received each of the 12 once');
	cmp_ok(
		$m{c2}->safe_psql('postgres', qq{
SELECT count(DISTINCT received_at) FROM foundation.relay_inbox WHERE origin = 'c1' AND id > $before}),
		'>=', 2, 'in at least two batches (each relay_deliver transaction has its own received_at)');
}

$_->stop for values %m;
$ctl->stop;
done_testing();
