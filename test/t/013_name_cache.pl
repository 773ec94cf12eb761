# The backend-local name cache (registry.c) must never go stale: lookups in
# one long-lived session follow a child's restarts while other sessions keep
# changing the registry, so that invalidations arrive at every moment,
# including in the middle of a lookup's own scan.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('name_cache');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'foundation'\nfoundation.health_check_interval = 0\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION foundation;
	CREATE PROCEDURE public.idle(args jsonb) LANGUAGE plpgsql AS $$
	BEGIN LOOP PERFORM pg_sleep(0.2); COMMIT; END LOOP; END $$;
	SELECT foundation.register('loop', foundation.start_child(
	  '{"id": "loop", "start": {"module": "public.idle"}, "max_restarts": 100000, "max_seconds": 1}'));
});

my @psql = ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $node->host,
	'-p', $node->port, '-d', 'postgres');

# Churn: many small autocommit registry changes, and restarts of "loop".
my $churn = join('', map {
	"SELECT foundation.register('churn', pg_backend_pid()); SELECT foundation.unregister('churn');\n"
} 1 .. 1500);
my $kill = join('', map {
	"SELECT pg_terminate_backend(foundation.lookup_singleton('loop')); SELECT pg_sleep(0.05);\n"
} 1 .. 60);
my ($o1, $e1, $o2, $e2) = ('', '', '', '');
my $h1 = IPC::Run::start([@psql], '<', \$churn, '>', \$o1, '2>', \$e1);
my $h2 = IPC::Run::start([@psql], '<', \$kill, '>', \$o2, '2>', \$e2);

# One session: for about 5 s, whenever the registry and the lookup
# disagree, they must agree again within a second.
my $checker = $node->safe_psql('postgres', q{
	DO $$
	DECLARE
	  deadline timestamptz := clock_timestamp() + interval '5 s';
	  since timestamptz;
	  worst interval := '0';
	  looked int;
	  stored int;
	BEGIN
	  WHILE clock_timestamp() < deadline LOOP
	    looked := foundation.lookup_singleton('loop');
	    SELECT pid INTO stored FROM foundation.registry WHERE name = 'loop'
	      AND foundation.pid_alive(pid);
	    IF looked IS DISTINCT FROM stored THEN
	      since := coalesce(since, clock_timestamp());
	      worst := greatest(worst, clock_timestamp() - since);
	    ELSE
	      since := NULL;
	    END IF;
	    PERFORM pg_sleep(0.001);
	  END LOOP;
	  RAISE NOTICE 'worst disagreement: %', worst;
	  IF worst > interval '1 s' THEN
	    RAISE EXCEPTION 'the name cache went stale for %', worst;
	  END IF;
	END $$;
	SELECT 'ok';
});
$h1->finish;
$h2->finish;
is($checker, 'ok', 'lookups agree with the registry throughout the churn');
is($h1->result(0), 0, 'the churn ran') or diag($e1);
cmp_ok($node->safe_psql('postgres',
		"SELECT restart_count FROM foundation.children WHERE id = 'loop'"),
	'>=', 10, 'and "loop" was restarted many times meanwhile');
is($node->safe_psql('postgres',
		"SELECT foundation.lookup_singleton('loop') = pid FROM foundation.registry WHERE name = 'loop'"),
	't', 'a fresh session agrees too');

# As benchmark 3 does, where the bug was found: one session terminates the
# child and polls lookup_singleton until it shows the new pid, 100 times.
my $loop = $node->safe_psql('postgres', q{
	CREATE FUNCTION pg_temp.restarts(n int) RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
	  before int;
	  now_pid int;
	  deadline timestamptz;
	BEGIN
	  FOR i IN 1..n LOOP
	    before := foundation.lookup_singleton('loop');
	    PERFORM pg_terminate_backend(before);
	    deadline := clock_timestamp() + interval '10 s';
	    LOOP
	      now_pid := foundation.lookup_singleton('loop');
	      EXIT WHEN now_pid IS NOT NULL AND now_pid <> before;
	      IF clock_timestamp() > deadline THEN
	        RETURN format('restart %s: lookup still %s, registry %s', i,
	          coalesce(now_pid::text, 'NULL'),
	          (SELECT pid FROM foundation.registry WHERE name = 'loop'));
	      END IF;
	      PERFORM pg_sleep(0.001);
	    END LOOP;
	  END LOOP;
	  RETURN 'ok';
	END $$;
	SELECT pg_temp.restarts(100);
});
is($loop, 'ok', '100 restarts, each seen by lookup_singleton in the same session');

$node->stop;
done_testing();
