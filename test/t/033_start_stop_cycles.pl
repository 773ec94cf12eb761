# start_singleton then stop_singleton, back to back, many times: each stop
# frees the name at once, and the supervisor's passes that run between a
# start and its stop neither fail nor hold the stop up.  (A pass used to
# bind each new child to its database itself; its foreign key check then
# locked the spec's row against the stop, or failed with an error when the
# stop had deleted it, rolling the whole pass back.)  Also: a child started
# in one session and stopped from another.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('start_stop');
my $log_start = -s $node->logfile;

# 1. Forty cycles in one session, two autocommit statements each, with the
#    name checked right after every stop.
my $cycles = 40;
my $script = '';
for my $i (1 .. $cycles)
{
	# (the process too: out of pg_stat_activity, no longer connected)
	$script .= "SELECT foundation.start_singleton('public.ticker', '{}', 'cyc') IS NOT NULL;\n"
	  . "SELECT foundation.stop_singleton('cyc');\n"
	  . "SELECT foundation.lookup_singleton('cyc') IS NULL"
	  . " AND NOT EXISTS (SELECT FROM foundation.registry WHERE name = 'cyc')"
	  . " AND NOT EXISTS (SELECT FROM foundation.child_specs WHERE id = 'cyc')"
	  . " AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'foundation child');\n";
}
my $out = $node->safe_psql('postgres', $script);
my @lines = split /\n/, $out;
is(scalar(@lines), 3 * $cycles, "$cycles cycles ran");
is(scalar(grep { $_ ne 't' } @lines), 0,
	'every start returned a pid, every stop stopped it, and the name and the process were gone right after');

# The supervisor catches up: no slot, no spec, no binding left.
ok( wait_for($node, q{SELECT NOT EXISTS (SELECT FROM foundation._child_slots())
                         AND NOT EXISTS (SELECT FROM foundation.child_specs)
                         AND NOT EXISTS (SELECT FROM foundation.child_db)}),
	'nothing is left once the supervisor has caught up');

# Its passes did not fail (each failure is logged by the supervisor).
my $log = slurp_file($node->logfile, $log_start);
my @fk = ($log =~ /(violates foreign key constraint "child_db_child_id_fkey")/g);
is(scalar(@fk), 0, 'no supervisor pass failed on a child_db binding');
unlike($log, qr/ERROR:/, 'no error in the server log during the cycles');

# 2. start_child binds the child to its database itself, before any pass.
my $bound = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT foundation.start_singleton('public.ticker', '{}', 'bound') IS NOT NULL;
	SELECT b.dboid = (SELECT oid FROM pg_database WHERE datname = current_database())
	  FROM foundation.child_db b JOIN foundation.child_specs s USING (child_id)
	 WHERE s.id = 'bound';
	COMMIT;
});
is($bound, "t\nt", 'the start binds the child to its database in its own transaction');

# 3. Stopped from another session than the one that started it: the stop
#    returns once the child is gone, and the name is free.
my $pid = $node->safe_psql('postgres', q{SELECT foundation.lookup_singleton('bound')});
like($pid, qr/^\d+$/, 'the child of "bound" runs');
my $after = $node->safe_psql('postgres', q{
	SELECT foundation.stop_singleton('bound');
	SELECT foundation.lookup_singleton('bound') IS NULL
	   AND NOT EXISTS (SELECT FROM foundation._child_slots() s WHERE s.alive)
	   AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'foundation child');
});
is($after, "t\nt", 'a stop from another session returns with the child gone and the name free');

done_testing();
