# Setup errors: foundation without shared_preload_libraries; CREATE
# EXTENSION in a database other than foundation.database (it works).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('setup', preload => 0, create => 0);

###########################################################################
note '8a. without shared_preload_libraries';
###########################################################################
{
	is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
		'', 'foundation is not preloaded');

	my %c = sql_error($node, 'CREATE EXTENSION foundation');
	if ($c{rc} == 0)
	{
		pass('CREATE EXTENSION works without the library preloaded');
		create_ticker($node);

		my $spec = q{'{"id": "np", "start": {"module": "public.ticker"}}'};
		my %r = sql_error($node, "SELECT foundation.start_child($spec)");
		isnt($r{rc}, 0, 'start_child fails');
		is($r{sqlstate}, '55000',
			'start_child: object_not_in_prerequisite_state (55000)')
		  or diag($r{stderr});
		like($r{hint} // '', qr/shared_preload_libraries/,
			'start_child: the hint mentions shared_preload_libraries');

		%r = sql_error($node,
			"SELECT foundation.start_singleton('public.ticker', '{}', 'np')");
		is($r{sqlstate}, '55000', 'start_singleton fails with 55000 too')
		  or diag($r{stderr});
		like($r{hint} // '', qr/shared_preload_libraries/,
			'start_singleton: the hint mentions shared_preload_libraries');

		%r = sql_error($node, 'SELECT foundation.terminate_child(1)');
		is($r{sqlstate}, '55000', 'terminate_child fails with 55000 too')
		  or diag($r{stderr});

		is( $node->safe_psql('postgres',
				'SELECT count(*) FROM foundation.child_specs'),
			'0', 'no child_specs row was left');
		is( $node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'foundation%'"),
			'0', 'no foundation process runs');
		is( $node->safe_psql('postgres', 'SELECT count(*) FROM foundation.children'),
			'0', 'foundation.children is empty (and readable)');

		$node->safe_psql('postgres',
			'DROP EXTENSION foundation; DROP PROCEDURE public.ticker(jsonb)');
	}
	else
	{
		# Refusing CREATE EXTENSION is fine too, with the same explanation.

		# It must be an ERROR, not a FATAL that drops the session (a
		# restart-only setting defined after startup would do that).
		unlike($c{stderr}, qr/FATAL|connection to server was lost/,
			'CREATE EXTENSION fails with an ERROR, not by killing the session')
		  or diag($c{stderr});
		is($c{sqlstate}, '55000',
			'CREATE EXTENSION fails with 55000 without the library preloaded')
		  or diag($c{stderr});
		like($c{hint} // '', qr/shared_preload_libraries/,
			'CREATE EXTENSION: the hint mentions shared_preload_libraries');
		is( $node->safe_psql('postgres',
				"SELECT count(*) FROM pg_extension WHERE extname = 'foundation'"),
			'0', 'the extension was not created');
	}
}

###########################################################################
note '8b. CREATE EXTENSION outside foundation.database';
###########################################################################
{
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'foundation'\n");
	$node->restart;
	ok( wait_for(
			$node, q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation launcher'},
			'1'),
		'with the library preloaded the launcher runs');

	# Any database may have the extension; its children run there.
	$node->safe_psql('postgres', 'CREATE DATABASE other');
	my %r = sql_error($node, 'CREATE EXTENSION foundation', db => 'other');
	is($r{rc}, 0, 'CREATE EXTENSION in database "other" works') or diag($r{stderr});
	is( $node->safe_psql('other',
			"SELECT count(*) FROM pg_extension WHERE extname = 'foundation'"),
		'1', 'the extension is created in "other"');

	# In foundation.database it works, and children start.
	$node->safe_psql('postgres', 'CREATE EXTENSION foundation');
	create_ticker($node);
	my $pid = $node->safe_psql('postgres',
		"SELECT foundation.start_singleton('public.ticker', '{}', 'ok')");
	like($pid, qr/^\d+$/, 'in postgres the extension works');
	is( $node->safe_psql('postgres',
			"SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"),
		'foundation child', 'its child runs');

	# A child may run in another database (the spec's "database"): the
	# spec stays in this database, whose supervisor restarts it.
	create_ticker($node, 'other');
	my $opid = $node->safe_psql('postgres', q{
SELECT foundation.start_child('{"id": "in_other", "database": "other",
                                "start": {"module": "public.ticker"}}')});
	like($opid, qr/^\d+$/, 'a child can run in database "other"');
	is( $node->safe_psql('postgres',
			"SELECT datname FROM pg_stat_activity WHERE pid = $opid"),
		'other', 'it is connected to "other"');
	is( $node->safe_psql('postgres',
			"SELECT database FROM foundation.children WHERE id = 'in_other'"),
		'other', 'foundation.children shows its database');
	is( $node->safe_psql('other', 'SELECT count(*) FROM foundation.children'),
		'0', 'and "other"\'s own foundation does not list it');

	# A spec naming a database that does not exist.
	%r = sql_error($node, q{
SELECT foundation.start_child('{"database": "nope", "start": {"module": "public.ticker"}}')});
	is($r{sqlstate}, '3D000', 'an unknown database fails with 3D000')
	  or diag($r{stderr});
	is( $node->safe_psql('postgres',
			'SELECT count(*) FROM foundation.child_specs'),
		'2', 'and leaves no row');
}

$node->stop;
done_testing();
