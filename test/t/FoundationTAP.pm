# Shared helpers for foundation's TAP tests (test/t/*.pl).
#
# Not a test itself: prove only runs test/t/*.pl.  Each test file does
#   use FindBin; use lib $FindBin::RealBin; use FoundationTAP;
package FoundationTAP;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(
  foundation_node create_ticker wait_for sql_error q1
  settled_sql supervisor_pid member_conf compile_client channel_cluster start_burst
);

# The longest any bounded wait in these tests may take.  Only reached when
# something is broken; a passing run never waits this long.
our $WAIT_SECONDS = 60;

# A new cluster (init options in init => {...}) with foundation preloaded
# (unless preload => 0), started, with
# the extension created in postgres (unless create => 0) and the ticker module.
sub foundation_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opt{init} // {} });
	my $conf = '';
	$conf .= "shared_preload_libraries = 'foundation'\n"
	  unless defined $opt{preload} && !$opt{preload};
	$conf .= "max_worker_processes = "
	  . ($opt{max_worker_processes} // 16) . "\n";
	$conf .= "foundation.naptime = '1s'\n";
	# PostgreSQL::Test::Cluster turns crash restarts off; foundation's
	# fault tests need them.
	$conf .= "restart_after_crash = on\n";
	$conf .= "log_min_messages = debug1\n" if $opt{debug};
	$conf .= $opt{extra_conf} if defined $opt{extra_conf};
	$node->append_conf('postgresql.conf', $conf);
	$node->start;
	unless (defined $opt{create} && !$opt{create})
	{
		$node->safe_psql('postgres', 'CREATE EXTENSION foundation');
		create_ticker($node);
		# The launcher starts the database's supervisor once the extension
		# is committed (with preload): tests start from there.
		wait_for($node, q{SELECT count(*) = 1 FROM pg_stat_activity
		                   WHERE backend_type = 'foundation supervisor'
		                     AND datname = 'postgres'})
		  or die 'the supervisor of database postgres did not start'
		  unless defined $opt{preload} && !$opt{preload};
	}
	return $node;
}

# The postgresql.conf lines of a cluster member named $name: no health
# checks, the control database at $control (a conninfo), the members'
# shared secret that signs placements (cluster_secret =>, default
# 'tap-cluster-secret'; '' for none), and the lease timing (renew => and
# lease =>, each a setting's value, both optional).
sub member_conf
{
	my ($name, $control, %opt) = @_;
	my $secret = $opt{cluster_secret} // 'tap-cluster-secret';
	my $conf = "foundation.node_name = '$name'\n"
	  . "foundation.health_check_interval = 0\n"
	  . "foundation.control_conninfo = '$control'\n";
	$conf .= "foundation.cluster_secret = '$secret'\n" if $secret ne '';
	$conf .= "foundation.lease_renew_interval = '$opt{renew}'\n" if defined $opt{renew};
	$conf .= "foundation.lease_duration = '$opt{lease}'\n" if defined $opt{lease};
	return $conf;
}

# The module every test child runs: loops forever, committing.
sub create_ticker
{
	my ($node, $db) = @_;
	$node->safe_psql($db // 'postgres', q{
CREATE PROCEDURE public.ticker(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    PERFORM pg_sleep(0.05);
    COMMIT;
  END LOOP;
END $$;
});
}

# One value from a query, or undef if the query failed (e.g. during a crash
# restart).  Never dies.
sub q1
{
	my ($node, $sql, %opt) = @_;
	my ($stdout, $stderr);
	# psql may exit before reading its input while the server restarts,
	# and IPC::Run dies on the broken pipe: that is a failed query too.
	my $rc = eval {
		$node->psql($opt{db} // 'postgres', $sql,
			stdout => \$stdout, stderr => \$stderr,
			on_error_stop => 1,
			extra_params => $opt{extra_params} // []);
	};
	return undef if !defined $rc || $rc != 0;
	return $stdout;
}

# Run $sql until it returns $expected (default 't'), at most $WAIT_SECONDS.
# Returns true if it did.  Connection failures (a restarting server) count
# as "not yet".
sub wait_for
{
	my ($node, $sql, $expected, %opt) = @_;
	$expected = 't' unless defined $expected;
	my $deadline = time() + ($opt{timeout} // $WAIT_SECONDS);
	my $last;
	while (time() < $deadline)
	{
		$last = q1($node, $sql, %opt);
		return 1 if defined $last && $last eq $expected;
		usleep(100_000);
	}
	diag("wait_for timed out after "
		  . ($opt{timeout} // $WAIT_SECONDS)
		  . "s:\n$sql\nexpected: $expected\nlast: "
		  . (defined $last ? $last : '(query failed)'));
	return 0;
}

# Run $sql expecting an error.  Returns a hash: rc, stdout, stderr, sqlstate
# (of the first ERROR), message, detail, hint.
sub sql_error
{
	my ($node, $sql, %opt) = @_;
	my ($stdout, $stderr);
	my $rc = $node->psql($opt{db} // 'postgres',
		"\\set VERBOSITY verbose\n$sql",
		stdout => \$stdout, stderr => \$stderr,
		on_error_stop => 1,
		extra_params => $opt{extra_params} // []);
	my %r = (rc => $rc, stdout => $stdout, stderr => $stderr);
	if ($stderr =~ /^(?:psql:[^\n]*?)?ERROR:\s+([0-9A-Z]{5}):\s*(.*)$/m)
	{
		$r{sqlstate} = $1;
		$r{message} = $2;
	}
	$r{detail} = $1 if $stderr =~ /^DETAIL:\s+(.*)$/m;
	$r{hint} = $1 if $stderr =~ /^HINT:\s+(.*)$/m;
	return %r;
}

# The pid of the running supervisor, or '' if none.
sub supervisor_pid
{
	my ($node) = @_;
	return q1($node,
		q{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		   WHERE backend_type = 'foundation supervisor'});
}

# A query that is 't' once the supervisor's state is settled: every child
# that should run runs under the pid its row records, no registry row names
# a dead pid, and exactly one 'foundation child' process runs per running
# child.
sub settled_sql
{
	return q{
SELECT (SELECT bool_and(c.pid IS NOT NULL AND c.pid = s.pid)
          FROM foundation.children c
          JOIN foundation.child_specs s USING (child_id)
         WHERE s.status = 'running') IS NOT FALSE
   AND (SELECT count(*) FROM foundation.registry
         WHERE NOT foundation.pid_alive(pid)) = 0
   AND (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'foundation child')
     = (SELECT count(*) FROM foundation.children
         WHERE status = 'running' AND pid IS NOT NULL)
};
}

# Compile test/<name>.c, a libpq client, into $dir with -Wall -Wextra
# -Werror and the extra libraries (e.g. '-lz'); two tests: it compiled,
# and the compiler printed nothing.  Ends the test file if it failed.
# Returns the program's path.
sub compile_client
{
	my ($name, $dir, @libs) = @_;
	my $bin = "$dir/$name";
	my ($incdir, $libdir);
	IPC::Run::run([ 'pg_config', '--includedir' ], '>', \$incdir)
	  or die 'pg_config --includedir failed';
	IPC::Run::run([ 'pg_config', '--libdir' ], '>', \$libdir)
	  or die 'pg_config --libdir failed';
	chomp($incdir, $libdir);
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[
			'cc', '-Wall', '-Wextra', '-Werror', '-o', $bin,
			"$FindBin::RealBin/../$name.c",
			"-I$incdir", "-L$libdir", '-lpq', @libs
		],
		'>', \$out, '2>', \$err);
	ok($ok, "test/$name.c compiles with -Wall -Wextra -Werror")
	  or diag($err);
	is($err, '', 'the compiler printed nothing');
	unless ($ok)
	{
		done_testing();
		exit 1;
	}
	return $bin;
}

# A control database and members named @names that relay channel messages
# to each other as fdn_peer, a role that may do only that; two tests per
# member (it knows the others, it runs its relay).  Returns the control
# node and a hash of the members by name.
sub channel_cluster
{
	my (@names) = @_;
	my $ctl = foundation_node('ctl', extra_conf => "foundation.health_check_interval = 0\n");
	$ctl->safe_psql('postgres', q{
	CREATE ROLE fdn_member LOGIN;
	SELECT foundation.grant_member_role('fdn_member');});

	my %m;
	for my $name (@names)
	{
		my $ci = 'host=' . $ctl->host . ' port=' . $ctl->port . ' dbname=postgres user=fdn_member';
		$m{$name} = foundation_node($name,
			extra_conf => member_conf($name, $ci, renew => '500ms', lease => '4s'));
		# The other members relay to this one as fdn_peer, which may do that only.
		$m{$name}->safe_psql('postgres', q{
		CREATE ROLE fdn_peer LOGIN;
		GRANT USAGE ON SCHEMA foundation TO fdn_peer;
		GRANT EXECUTE ON FUNCTION foundation.relay_deliver(text, jsonb) TO fdn_peer;});
		$m{$name}->append_conf('postgresql.conf',
			"foundation.node_conninfo = 'host=" . $m{$name}->host . ' port=' . $m{$name}->port
			  . " dbname=postgres user=fdn_peer'\n");
		$m{$name}->reload;
	}
	my $others = scalar(@names) - 1;
	for my $k (sort keys %m)
	{
		ok( wait_for($m{$k},
				qq{SELECT count(*) = $others AND bool_and(conninfo LIKE '%user=fdn_peer%') FROM foundation.cluster_peers}),
			"$k knows the other members ($others)");
		ok(wait_for($m{$k}, q{SELECT foundation.lookup_singleton('foundation:relay') IS NOT NULL}),
			"$k runs its relay");
	}
	return ($ctl, %m);
}

# Start psql broadcasting on $channel of $node the messages {"n": 1} to
# {"n": $total}, one transaction each, and after every 500th a message
# {"rolled": i} in a transaction that rolls back.  Returns the IPC::Run
# handle and a reference to psql's stderr.
sub start_burst
{
	my ($node, $channel, $total) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', qq{
DO \$\$
BEGIN
  FOR i IN 1..$total LOOP
    PERFORM foundation.broadcast('$channel', jsonb_build_object('n', i));
    COMMIT;
    IF i % 500 = 0 THEN
      PERFORM foundation.broadcast('$channel', jsonb_build_object('rolled', i));
      ROLLBACK;
    END IF;
  END LOOP;
END \$\$;} ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(360));
	return ($h, \$err);
}

1;
