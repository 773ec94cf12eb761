# Concurrency and transactions: five sessions starting the same singleton
# at once get one child, and a start in a rolled-back transaction leaves
# nothing behind.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('concurrency');

sub nprocs
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'");
}

###########################################################################
note '6. five sessions start the same singleton at once';
###########################################################################
{
	# A barrier: the five sessions queue on an advisory lock held here, so
	# that their start_singleton calls run at the same moment.
	my $barrier = 4242;
	my $ctl = $node->background_psql('postgres');
	$ctl->query_safe("SELECT pg_advisory_lock($barrier)");

	my $n = 5;
	my (@h, @out, @err);
	for my $i (0 .. $n - 1)
	{
		$out[$i] = '';
		$err[$i] = '';
		$h[$i] = IPC::Run::start(
			[
				'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr('postgres'),
				'-c', "SELECT pg_advisory_lock_shared($barrier) IS NULL",
				'-c', "SELECT foundation.start_singleton('public.ticker', '{}', 'same')"
			],
			'>', \$out[$i], '2>', \$err[$i],
			IPC::Run::timeout($FoundationTAP::WAIT_SECONDS));
	}
	ok( wait_for(
			$node, qq{
SELECT count(*) FROM pg_locks
 WHERE locktype = 'advisory' AND objid = $barrier AND NOT granted},
			$n),
		"all $n sessions wait at the barrier");
	$ctl->query_safe("SELECT pg_advisory_unlock($barrier)");

	my @pids;
	for my $i (0 .. $n - 1)
	{
		my $ok = eval { $h[$i]->finish; 1 };
		ok($ok && $h[$i]->result == 0, "session $i finished without error")
		  or diag("session $i: " . ($@ || '') . $err[$i]);
		my @lines = split /\n/, $out[$i];
		push @pids, $lines[-1] // '';
		is($err[$i], '', "session $i printed no warning or error")
		  or diag($err[$i]);
	}
	$ctl->quit;

	note "pids returned: @pids";
	like($pids[0], qr/^\d+$/, 'the first session got a pid');
	is(scalar(grep { $_ eq $pids[0] } @pids),
		$n, "all $n sessions got the same pid");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.children WHERE id = 'same'"),
		'1', "exactly one child with id 'same'");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.child_specs WHERE id = 'same'"),
		'1', "exactly one child_specs row with id 'same'");
	is( $node->safe_psql('postgres',
			"SELECT pid FROM foundation.children WHERE id = 'same'"),
		$pids[0], 'that child runs with the returned pid');
	is($node->safe_psql('postgres', "SELECT foundation.lookup_singleton('same')"),
		$pids[0], "lookup_singleton('same') is that pid");
	# Children that lost the race would still be running (or winding down).
	ok( wait_for(
			$node, q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'},
			'1'),
		"exactly one 'foundation child' process runs");
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity a JOIN foundation.children c
    ON a.application_name = 'foundation child ' || c.child_id
 WHERE c.id = 'same' AND a.backend_type = 'foundation child'}),
		'1', "one process runs for the child 'same'");
}

###########################################################################
note '7. a start in a rolled-back transaction';
###########################################################################
{
	my $before = nprocs();
	my $rows_before = $node->safe_psql('postgres',
		'SELECT count(*) FROM foundation.child_specs');

	my $out = $node->safe_psql('postgres', q{
BEGIN;
SELECT foundation.start_singleton('public.ticker', '{}', 'rb');
SELECT count(*) FROM foundation.child_specs WHERE id = 'rb';
ROLLBACK;
});
	my ($rb_pid, $rows_in_xact) = split /\n/, $out;
	like($rb_pid, qr/^\d+$/, "start_singleton returned pid $rb_pid inside the transaction");
	is($rows_in_xact, '1', 'inside the transaction the row exists');

	ok( wait_for(
			$node,
			"SELECT count(*) FROM pg_stat_activity WHERE pid = $rb_pid",
			'0'),
		'the rolled-back child process is gone');
	ok( wait_for(
			$node,
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'",
			$before),
		"only the $before other 'foundation child' process(es) remain");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.child_specs WHERE id = 'rb'"),
		'0', "no child_specs row for 'rb'");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.registry WHERE name = 'rb'"),
		'0', "no registry row for 'rb'");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.children WHERE id = 'rb'"),
		'0', "'rb' is not in foundation.children");
	is( $node->safe_psql('postgres',
			"SELECT foundation.lookup_singleton('rb') IS NULL"),
		't', "lookup_singleton('rb') is NULL");
	is( $node->safe_psql('postgres',
			'SELECT count(*) FROM foundation.child_specs'),
		$rows_before, 'child_specs is as before');
	ok( wait_for(
			$node, "SELECT count(*) FROM foundation._child_slots() s
			  WHERE NOT EXISTS (SELECT FROM foundation.child_specs c
			                     WHERE c.child_id = s.child_id)", '0'),
		'no shared-memory slot is left for the rolled-back child');

	# The same with the raw layer, and a name can be reused afterwards.
	$out = $node->safe_psql('postgres', q{
BEGIN;
SELECT foundation.start_child('{"id": "rb2", "start": {"module": "public.ticker"}}');
ROLLBACK;
});
	like($out, qr/^\d+$/, 'start_child returned a pid inside the transaction');
	ok( wait_for(
			$node,
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'",
			$before),
		'the rolled-back raw child is gone');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.child_specs WHERE id = 'rb2'"),
		'0', "no child_specs row for 'rb2'");

	my $pid = $node->safe_psql('postgres',
		"SELECT foundation.start_singleton('public.ticker', '{}', 'rb')");
	like($pid, qr/^\d+$/, "a committed start of 'rb' works afterwards");
	is($node->safe_psql('postgres', "SELECT foundation.lookup_singleton('rb')"),
		$pid, "lookup_singleton('rb') finds it");
	is( $node->safe_psql('postgres', "SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"),
		'foundation child', 'and it runs');
}

$node->stop;
done_testing();
