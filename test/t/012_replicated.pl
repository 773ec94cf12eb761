# start_replicated across nodes: this node and every node of
# foundation.nodes over libpq, in parallel, each as "<name>@<node>"; a node
# that fails or does not answer gets rpc_failed with the reason.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @nodes;
for my $name (qw(rep_a rep_b))
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'foundation'\n"
		  . "foundation.node_name = '$name'\n"
		  . "foundation.health_check_interval = 0\n"
		  . "max_worker_processes = 16\n");
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION foundation;
		CREATE PROCEDURE public.idle(args jsonb) LANGUAGE plpgsql AS $$
		BEGIN LOOP PERFORM pg_sleep(0.2); COMMIT; END LOOP; END $$;
		CREATE ROLE worker LOGIN;
		GRANT EXECUTE ON PROCEDURE public.idle(jsonb) TO worker;
	});
	push @nodes, $node;
}
my ($a, $b) = @nodes;
my $ci_b = 'host=' . $b->host . ' port=' . $b->port . ' dbname=postgres';
$a->safe_psql('postgres',
	"INSERT INTO foundation.nodes (name, conninfo) VALUES ('rep_b', '$ci_b'),"
	  . " ('gone', 'host=" . $b->host . " port=1 dbname=postgres')");

my $rows = $a->safe_psql('postgres', q{
	SELECT node || ':' || (pid IS NOT NULL) || ':' || coalesce(error, '')
	  FROM foundation.start_replicated('public.idle', '{"k": 1}', 'rep') ORDER BY node});
my @rows = split /\n/, $rows;
is(scalar(@rows), 3, 'one row per node: this one, rep_b and the unreachable one');
like($rows[0], qr/^gone:false:rpc_failed: /, 'the unreachable node: rpc_failed with a reason');
is($rows[1], 'rep_a:true:', 'this node started it');
is($rows[2], 'rep_b:true:', 'rep_b started it');

# Each node runs its own instance under the per-node name.
is($a->safe_psql('postgres',
		"SELECT foundation.lookup_singleton('rep\@rep_a') IS NOT NULL"), 't',
	'rep@rep_a is registered on rep_a');
is($b->safe_psql('postgres',
		"SELECT foundation.lookup_singleton('rep\@rep_b') IS NOT NULL"), 't',
	'rep@rep_b is registered on rep_b');
is($b->safe_psql('postgres',
		"SELECT args::text FROM foundation.children WHERE id = 'rep\@rep_b'"),
	'{"k": 1}', 'with the same args');

# The remote start ran as the caller's role, not the connection's.
$a->safe_psql('postgres', 'GRANT USAGE ON SCHEMA public TO worker');
my $as_worker = $a->safe_psql('postgres', q{
	SET ROLE worker;
	SELECT node || ':' || (pid IS NOT NULL) FROM foundation.start_replicated('public.idle', '{}', 'w')
	 WHERE node = 'rep_b'});
is($as_worker, 'rep_b:true', 'a non-superuser starts it on rep_b');
is($b->safe_psql('postgres',
		"SELECT role FROM foundation.children WHERE id = 'w\@rep_b'"),
	'worker', 'and there it runs as that role');

# Calling it again returns the running instances (already_started).
my $again = $a->safe_psql('postgres', q{
	SELECT count(*) FROM foundation.start_replicated('public.idle', '{}', 'rep') WHERE pid IS NOT NULL});
is($again, '2', 'again: the same two instances');
is($b->safe_psql('postgres',
		"SELECT count(*) FROM foundation.children WHERE id = 'rep\@rep_b'"),
	'1', 'still one instance on rep_b');

$_->stop for @nodes;
done_testing();
