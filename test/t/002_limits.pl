# Resource limits: no free background worker slot (max_worker_processes)
# and foundation.max_children.  Either way start_child fails with SQLSTATE
# 53000, a hint naming the setting, and no row left behind.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# foundation's launcher, health monitor and supervisor, and the logical
# replication launcher take four of the five.
my $node = foundation_node('limits', max_worker_processes => 5);

sub start_sql
{
	my ($id) = @_;
	return qq{SELECT foundation.start_child('{"id": "$id", "start": {"module": "public.ticker", "args": {}}}')};
}

sub nrows
{
	return $node->safe_psql('postgres',
		'SELECT count(*) FROM foundation.child_specs');
}

sub nprocs
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'");
}

###########################################################################
note '5a. max_worker_processes = 5';
###########################################################################
{
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'"),
		'1', 'the supervisor runs');

	my $started = 0;
	my %err;
	for my $i (1 .. 10)
	{
		my %r = sql_error($node, start_sql("w$i"));
		if ($r{rc} == 0)
		{
			$started++;
			next;
		}
		%err = %r;
		last;
	}
	note "started $started children before the first failure";
	ok($started >= 1, "at least one child started ($started)");
	ok(%err, 'a start failed before 10 children ran');
	is($err{sqlstate}, '53000', 'the error is insufficient_resources (53000)')
	  or diag($err{stderr});
	like($err{message} // '', qr/background worker/,
		'the message says no background worker slot is free');
	like($err{hint} // '', qr/max_worker_processes/,
		'the hint names max_worker_processes');
	is(nrows(), $started,
		'child_specs holds one row per successful start (no row left behind)');
	is(nprocs(), $started, "exactly $started 'foundation child' processes run");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.children WHERE status = 'running' AND pid IS NOT NULL"),
		$started, 'every started child runs');

	# A failed start leaves nothing that blocks the next one: after
	# stopping one child, a start succeeds again.
	is( $node->safe_psql('postgres',
			"SELECT foundation.terminate_child(min(child_id)) FROM foundation.children"),
		't', 'stop one child');
	my $ok;
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		my %r = sql_error($node, start_sql('again'));
		if ($r{rc} == 0) { $ok = 1; last; }
		last if ($r{sqlstate} // '') ne '53000';
		# The postmaster frees the worker slot once it reaped the child.
		select(undef, undef, undef, 0.1);
	}
	ok($ok, 'a start succeeds once a worker slot is free again');
	is(nrows(), $started, "child_specs again holds $started rows");

	# Stop everything before the next configuration.
	$node->safe_psql('postgres',
		'SELECT foundation.terminate_child(child_id) FROM foundation.children');
	is(nrows(), '0', 'all children stopped');
}

###########################################################################
note '5b. foundation.max_children = 2';
###########################################################################
{
	$node->append_conf('postgresql.conf',
		"max_worker_processes = 16\nfoundation.max_children = 2\n");
	$node->restart;
	is($node->safe_psql('postgres', 'SHOW foundation.max_children'),
		'2', 'foundation.max_children is 2');

	my %r1 = sql_error($node, start_sql('m1'));
	is($r1{rc}, 0, 'first start succeeds') or diag($r1{stderr});
	my %r2 = sql_error($node, start_sql('m2'));
	is($r2{rc}, 0, 'second start succeeds') or diag($r2{stderr});
	my %r3 = sql_error($node, start_sql('m3'));
	isnt($r3{rc}, 0, 'third start fails');
	is($r3{sqlstate}, '53000', 'the error is insufficient_resources (53000)')
	  or diag($r3{stderr});
	like($r3{hint} // '', qr/foundation\.max_children/,
		'the hint names foundation.max_children');
	is(nrows(), '2', 'child_specs holds 2 rows (no row left behind)');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.child_specs WHERE id = 'm3'"),
		'0', 'no row for the failed child');
	is(nprocs(), '2', "exactly 2 'foundation child' processes run");

	# The facade reports the same error.
	my %r4 = sql_error($node,
		"SELECT foundation.start_singleton('public.ticker', '{}', 'm4')");
	is($r4{sqlstate}, '53000', 'start_singleton fails with 53000 as well')
	  or diag($r4{stderr});
	like($r4{hint} // '', qr/foundation\.max_children/,
		'its hint names foundation.max_children');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.registry WHERE name = 'm4'"),
		'0', 'no registry row for the failed singleton');
	is(nrows(), '2', 'still 2 rows');

	# The failed starts leaked no child slot: stop one child and another
	# start succeeds (once the supervisor has freed the stopped one's slot).
	is( $node->safe_psql('postgres',
			"SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'm1'"),
		't', 'stop child m1');
	my $ok;
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		my %r = sql_error($node, start_sql('m5'));
		if ($r{rc} == 0) { $ok = 1; last; }
		last if ($r{sqlstate} // '') ne '53000';
		select(undef, undef, undef, 0.1);
	}
	ok($ok, 'a start succeeds once a child slot is free again');
	is( $node->safe_psql('postgres',
			"SELECT string_agg(id, ',' ORDER BY id) FROM foundation.children WHERE pid IS NOT NULL"),
		'm2,m5', 'children m2 and m5 run');
}

$node->stop;
done_testing();
