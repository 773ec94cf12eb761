# Fault tolerance of foundation's supervisor: a terminated child, a child
# killed with SIGKILL (crash restart), a server restart and a terminated
# supervisor.  One cluster, used in turn by each scenario.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('faults');

# Start a child through the raw layer with a generous restart intensity (the
# scenarios below restart each child several times within seconds) and give
# it a registry name, which then follows the child across restarts.
sub start_named
{
	my ($id, $restart) = @_;
	return $node->safe_psql('postgres', qq{
SELECT foundation.register('$id', foundation.start_child(
  '{"id": "$id", "start": {"module": "public.ticker", "args": {}},
    "restart": "$restart", "max_restarts": 1000, "max_seconds": 1}')) IS NULL;
SELECT pid FROM foundation.children WHERE id = '$id';
}) =~ s/.*\n//sr;
}

sub child_row
{
	my ($id, $cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM foundation.children WHERE id = '$id'");
}

sub alive_in_pg_stat_activity
{
	my ($pid) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid");
}

# Common checks after a crash restart or a server restart: the permanent
# and transient children run again under new pids, the temporary one is
# gone, names follow, nothing points at a dead pid, no child runs twice.
sub check_after_restart
{
	my ($what, $old) = @_;    # $old: id => pid before

	my $old_list = join(',', values %$old);
	my $settled = settled_sql();
	ok( wait_for(
			$node, qq{
SELECT (SELECT count(*) FROM foundation.children
         WHERE id IN ('perm', 'trans') AND status = 'running'
           AND pid IS NOT NULL AND pid NOT IN ($old_list)) = 2
   AND (SELECT count(*) FROM foundation.child_specs
         WHERE id IN ('perm', 'trans') AND pid NOT IN ($old_list)) = 2
   AND ($settled)
}),
		"$what: permanent and transient children run again under new pids");

	for my $id ('perm', 'trans')
	{
		my ($pid, $status, $last_exit) =
		  split /\|/, child_row($id, 'pid, status, last_exit');
		isnt($pid, $old->{$id}, "$what: $id has a new pid");
		is($status, 'running', "$what: $id is running");
		like($last_exit, qr/^lost/, "$what: ${id}'s last_exit says it was lost");
		is( $node->safe_psql('postgres',
				"SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"),
			'foundation child',
			"$what: ${id}'s pid $pid is a live foundation child");
		is( $node->safe_psql('postgres',
				"SELECT foundation.lookup_singleton('$id')"),
			$pid, "$what: the registry name $id points at the new pid");
	}
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.children WHERE id = 'temp'"),
		'0', "$what: the temporary child is gone from foundation.children");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.child_specs WHERE id = 'temp'"),
		'0', "$what: the temporary child's row is gone");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.registry WHERE NOT foundation.pid_alive(pid)"),
		'0', "$what: no registry row points at a dead pid");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'"),
		$node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.children WHERE status = 'running' AND pid IS NOT NULL"),
		"$what: one 'foundation child' process per running child");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'"),
		'1', "$what: exactly one supervisor runs");
}

###########################################################################
note '1. pg_terminate_backend of a permanent child';
###########################################################################
{
	my $pid1 = $node->safe_psql('postgres',
		"SELECT foundation.start_singleton('public.ticker', '{}', 'term1')");
	like($pid1, qr/^\d+$/, 'start_singleton returns a pid');
	is(child_row('term1', 'pid, status, restart_count, restart'),
		"$pid1|running|0|permanent", 'the child runs with that pid');

	is( $node->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)"),
		't', 'pg_terminate_backend of the child');

	ok( wait_for(
			$node, qq{
SELECT pid IS NOT NULL AND pid <> $pid1 AND restart_count = 1
  FROM foundation.children WHERE id = 'term1'}),
		'the supervisor restarted the child under a new pid');
	my ($pid2, $status, $count, $last_exit) =
	  split /\|/, child_row('term1', 'pid, status, restart_count, last_exit');
	isnt($pid2, $pid1, 'new pid differs from the terminated one');
	is($status, 'running', 'status is running');
	is($count, '1', 'restart_count is 1');
	is($last_exit, 'terminated', "last_exit is 'terminated'");
	is(alive_in_pg_stat_activity($pid1), '0', 'the old pid is gone');
	is( $node->safe_psql('postgres',
			"SELECT backend_type FROM pg_stat_activity WHERE pid = $pid2"),
		'foundation child',
		'the new pid is a live foundation child');
	ok( wait_for(
			$node, "SELECT foundation.lookup_singleton('term1')",
			$pid2),
		'lookup_singleton points at the new pid');
	is( $node->safe_psql('postgres',
			"SELECT pid FROM foundation.registry WHERE name = 'term1'"),
		$pid2, 'the registry row holds the new pid');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'"),
		'1', 'exactly one foundation child process runs');

	# Leave it out of the later scenarios.
	is($node->safe_psql('postgres', "SELECT foundation.stop_singleton('term1')"),
		't', 'stop_singleton stops it');
	ok( wait_for(
			$node,
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'",
			'0'),
		'no child runs after stop_singleton');
}

###########################################################################
note '2. kill -9 of a child: crash restart';
###########################################################################
{
	my %old;
	$old{perm} = start_named('perm', 'permanent');
	$old{trans} = start_named('trans', 'transient');
	$old{temp} = start_named('temp', 'temporary');
	for my $id (sort keys %old)
	{
		like($old{$id}, qr/^\d+$/, "crash: child $id started");
	}

	# A plain session with a registered name: it dies in the crash too.
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $session_pid = $session->query_safe(
		"SELECT foundation.register('plain session', pg_backend_pid()); SELECT pg_backend_pid()"
	);
	$session_pid =~ s/.*\n//s;    # the last line
	is( $node->safe_psql('postgres',
			"SELECT pid FROM foundation.registry WHERE name = 'plain session'"),
		$session_pid, 'crash: a plain session registered a name');

	my $sup_before = supervisor_pid($node);
	# Kill the permanent child: the temporary one must then go because of
	# the crash, not because it was the one that died.
	ok(kill('KILL', $old{perm}), "crash: SIGKILL sent to child perm (pid $old{perm})");

	# The crash restart kills the plain session as well.
	ok( wait_for(
			$node,
			"SELECT count(*) FROM pg_stat_activity WHERE pid = $session_pid",
			'0'),
		'crash: the server went through a crash restart (session gone)');
	eval { $session->quit; };

	check_after_restart('crash', \%old);
	isnt(supervisor_pid($node), $sup_before,
		'crash: a new supervisor runs after the crash restart');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM foundation.registry WHERE name = 'plain session'"),
		'0', "crash: the dead session's name was removed");
	ok( $node->log_contains('terminated by signal 9'),
		'crash: the server log shows the child killed by signal 9');
}

###########################################################################
note '3. server restart';
###########################################################################
{
	my %old;
	$old{perm} = child_row('perm', 'pid');
	$old{trans} = child_row('trans', 'pid');
	$old{temp} = start_named('temp', 'temporary');
	like($old{temp}, qr/^\d+$/, 'restart: a new temporary child started');

	$node->restart;

	check_after_restart('restart', \%old);
}

###########################################################################
note '4. the supervisor terminated';
###########################################################################
{
	# Add a temporary child back, so all kinds must be adopted.
	start_named('temp', 'temporary');
	ok(wait_for($node, settled_sql()), 'supervisor: state settled before');

	my $before = $node->safe_psql('postgres',
		"SELECT string_agg(format('%s:%s:%s', id, pid, restart_count), ',' ORDER BY id)
		   FROM foundation.children");
	like($before, qr/^perm:\d+:\d+,temp:\d+:0,trans:\d+:\d+$/,
		"supervisor: children before: $before");
	my $nchildren = $node->safe_psql('postgres',
		"SELECT count(*) FROM foundation.children WHERE pid IS NOT NULL");
	is($nchildren, '3', 'supervisor: three children run');

	my $sup = supervisor_pid($node);
	like($sup, qr/^\d+$/, "supervisor: one supervisor runs (pid $sup)");
	is($node->safe_psql('postgres', "SELECT pg_terminate_backend($sup)"),
		't', 'supervisor: pg_terminate_backend of the supervisor');

	# A new supervisor that has completed at least one reconcile pass.
	ok( wait_for(
			$node, qq{
SELECT count(*) = 1 AND bool_and(pid <> $sup AND state = 'idle'
                                 AND query = 'reconciling children')
  FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'}),
		'supervisor: a new supervisor runs and finished a pass');
	my $sup2 = supervisor_pid($node);
	isnt($sup2, $sup, "supervisor: new supervisor pid $sup2");

	is( $node->safe_psql('postgres',
			"SELECT string_agg(format('%s:%s:%s', id, pid, restart_count), ',' ORDER BY id)
			   FROM foundation.children"),
		$before,
		'supervisor: children kept their pids and restart counts (adopted)');
	is( $node->safe_psql('postgres',
			"SELECT string_agg(format('%s:%s', id, pid), ',' ORDER BY id)
			   FROM foundation.child_specs"),
		join(',', map { s/:\d+$//r } split /,/, $before),
		'supervisor: child_specs rows keep the same pids');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'"),
		$nchildren,
		"supervisor: still $nchildren 'foundation child' processes (none started twice)");
	ok(wait_for($node, settled_sql()), 'supervisor: state settled after');

	# The new supervisor looks after the adopted children.
	my ($perm_pid, $perm_count) = split /\|/, child_row('perm', 'pid, restart_count');
	is($node->safe_psql('postgres', "SELECT pg_terminate_backend($perm_pid)"),
		't', 'supervisor: terminate an adopted child');
	my $want = $perm_count + 1;
	ok( wait_for(
			$node, qq{
SELECT pid IS NOT NULL AND pid <> $perm_pid AND restart_count = $want
       AND last_exit = 'terminated'
  FROM foundation.children WHERE id = 'perm'}),
		'supervisor: the new supervisor restarted the terminated child');
	my $perm_new = child_row('perm', 'pid');
	is($node->safe_psql('postgres', "SELECT foundation.lookup_singleton('perm')"),
		$perm_new, 'supervisor: its name follows the new pid');
	ok(wait_for($node, settled_sql()), 'supervisor: state settled at the end');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'"),
		$nchildren, "supervisor: $nchildren children run at the end");
}

$node->stop;
done_testing();
