# Scheduling the health check with pg_cron instead of the health monitor
# (foundation.health_check_interval = 0): a cron job runs
# foundation.health_check() and its report lands in foundation.health_history.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir;
IPC::Run::run([ 'pg_config', '--pkglibdir' ], '>', \$pkglibdir)
  or die 'pg_config --pkglibdir failed';
chomp $pkglibdir;
plan skip_all => "pg_cron is not installed ($pkglibdir/pg_cron.so is missing)"
  unless -f "$pkglibdir/pg_cron.so";

# pg_cron runs its jobs in background workers here (by default it would
# connect over TCP to localhost, and these test servers only listen on a
# Unix socket).
my $node = foundation_node('cron', extra_conf => <<'EOC');
shared_preload_libraries = 'foundation,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
foundation.health_check_interval = 0
EOC

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation health monitor'"),
	'1', 'the health monitor runs (idle: health_check_interval = 0)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM foundation.health_history'),
	'0', 'no health check has run yet');

my $jobid = $node->safe_psql('postgres',
	q{SELECT cron.schedule('foundation-health', '* * * * *', 'SELECT foundation.health_check()')});
like($jobid, qr/^\d+$/, "the job is scheduled (job $jobid)");

# cron is minute-granular: the first run starts at the next minute.
ok( wait_for(
		$node, qq{
SELECT EXISTS (SELECT 1 FROM cron.job_run_details WHERE jobid = $jobid AND status = 'succeeded')
   AND EXISTS (SELECT 1 FROM foundation.health_history)},
		't', timeout => 150),
	'the cron job ran and succeeded, and a health report was stored');

is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM cron.job_run_details
 WHERE jobid = $jobid AND status NOT IN ('succeeded', 'running', 'starting')}),
	'0', 'no run failed');
note $node->safe_psql('postgres', qq{
SELECT string_agg(status || ': ' || coalesce(return_message, ''), E'\\n' ORDER BY runid)
  FROM cron.job_run_details WHERE jobid = $jobid});
is( $node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM foundation.health_history)
       BETWEEN (SELECT count(*) FROM cron.job_run_details WHERE jobid = $jobid AND status = 'succeeded')
           AND (SELECT count(*) FROM cron.job_run_details WHERE jobid = $jobid)}),
	't', 'one report per run of the job (the monitor itself checks nothing)');
is( $node->safe_psql('postgres', q{
SELECT overall_status || ',' || cluster || ',' || healthy_nodes || ',' || expected_nodes
  FROM foundation.health}),
	'healthy,healthy,1,1', 'the report: a healthy single node');
is( $node->safe_psql('postgres', q{
SELECT report #>> '{infrastructure,supervisor_status}'
  FROM foundation.health_history ORDER BY id DESC LIMIT 1}),
	'running', 'it saw the supervisor running');

is( $node->safe_psql('postgres', q{SELECT cron.unschedule('foundation-health')}),
	't', 'the job is unscheduled');

$node->stop;
done_testing();
