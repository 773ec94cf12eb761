# The control database as a primary with a streaming standby: the members'
# control_conninfo lists both hosts with target_session_attrs=read-write, so
# after the primary dies and the standby is promoted, their next renewals go
# to the new primary, with no foundation-specific failover code, and the
# cluster singleton keeps running where it was.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FoundationTAP;

# A lease long enough to outlast the promotion: members must not fence.
my $LEASE_MS = 15000;
my $RENEW_MS = 500;

my $primary = foundation_node('ctl_primary',
	init => { allows_streaming => 1 },
	extra_conf => "foundation.health_check_interval = 0\n");
$primary->safe_psql('postgres', q{
	CREATE ROLE fdn_member LOGIN;
	SELECT foundation.grant_member_role('fdn_member');});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('ctl_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $ci = 'host=' . $primary->host . ',' . $standby->host
  . ' port=' . $primary->port . ',' . $standby->port
  . ' dbname=postgres user=fdn_member target_session_attrs=read-write connect_timeout=2';
my %m;
for my $name (qw(s1 s2))
{
	$m{$name} = foundation_node($name,
		extra_conf => member_conf($name, $ci,
			renew => "${RENEW_MS}ms", lease => "${LEASE_MS}ms"));
	# Cluster singletons run as an ordinary role (never a superuser).
	$m{$name}->safe_psql('postgres', q{
		CREATE ROLE worker LOGIN;
		GRANT USAGE ON SCHEMA public TO worker;
		GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO worker;});
}
ok( wait_for($primary,
		"SELECT count(*) FROM foundation.members WHERE lease_expires > now()", '2'),
	'both members hold a lease on the primary');

my $pid = $m{s1}->safe_psql('postgres',
	q{SET ROLE worker; SELECT foundation.start_singleton('public.ticker', '{}', 'ha')});
like($pid, qr/^\d+$/, 'a cluster singleton starts');
my $where = $m{s1}->safe_psql('postgres', q{SELECT node || ':' || pid FROM foundation.whereis('ha')});
like($where, qr/^s[12]:$pid$/, "whereis: $where");
my ($node) = split /:/, $where;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT node FROM foundation.cluster_singletons WHERE name = 'ha'"),
	$node, 'the standby has the assignment too');

# The primary dies; the standby is promoted.
$primary->stop('immediate');
$standby->promote;
ok( wait_for($standby,
		"SELECT count(*) FROM foundation.members WHERE renewed_at > now() - interval '2 seconds'", '2'),
	'both members renew on the promoted standby');
is($standby->safe_psql('postgres', q{SELECT string_agg(node || ':' || epoch, ' ' ORDER BY node) FROM foundation.members}),
	's1:1 s2:1', 'under the same epochs: their leases carried on');
is($m{$node}->safe_psql('postgres',
		"SELECT pid || ':' || foundation.pid_alive(pid) FROM foundation.registry WHERE name = 'ha'"),
	"$pid:true", 'the singleton still runs, same pid, not restarted');
for my $k (sort keys %m)
{
	is($m{$k}->safe_psql('postgres', q{SELECT node || ':' || pid FROM foundation.whereis('ha')}),
		$where, "whereis on $k answers from the new primary");
}
my $other = $node eq 's1' ? 's2' : 's1';
is($m{$other}->safe_psql('postgres', q{SELECT foundation.stop_singleton('ha')}), 't',
	'stop_singleton works against the new primary');
ok(wait_for($m{$node}, "SELECT count(*) FROM foundation.registry WHERE name = 'ha'", '0'),
	'and the singleton stops');

$_->stop for values %m;
$standby->stop;
done_testing();
