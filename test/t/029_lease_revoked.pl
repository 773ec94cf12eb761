# A member whose lease the control database no longer holds (its row
# deleted, as an administrator declaring it dead would) stops its cluster
# singletons at its next renewal, not at its own lease deadline: by then
# another member may already run them.  The lease here is long (120 s) so
# that the two are told apart: the bounded waits below (60 s at most) end
# long before the old deadline would have stopped anything.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FoundationTAP;

my $ctl = foundation_node('ctl', extra_conf => "foundation.health_check_interval = 0\n");
my %m;
for my $name (qw(a b))
{
	$ctl->safe_psql('postgres',
		"CREATE ROLE fdn_$name LOGIN; SELECT foundation.grant_member_role('fdn_$name');");
	my $ci = 'host=' . $ctl->host . ' port=' . $ctl->port . " dbname=postgres user=fdn_$name";
	$m{$name} = foundation_node($name,
		extra_conf => member_conf($name, $ci, renew => '300ms', lease => '120s'));
	$m{$name}->safe_psql('postgres', q{
		CREATE ROLE worker LOGIN;
		GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO worker;});
}
ok(wait_for($ctl, "SELECT count(*) FROM foundation.members WHERE lease_expires > now()", '2'),
	'both members hold a lease');

my $pid = $m{a}->safe_psql('postgres',
	q{SET ROLE worker; SELECT foundation.start_singleton('public.ticker', '{}', 'rv')});
like($pid, qr/^\d+$/, "a cluster singleton starts (pid $pid)");
my ($node, $token) = split /\|/,
  $ctl->safe_psql('postgres', "SELECT node, epoch FROM foundation.cluster_singletons WHERE name = 'rv'");
my $other = $node eq 'a' ? 'b' : 'a';
ok(wait_for($m{$node}, "SELECT foundation.pid_alive($pid)"), "it runs on $node");

# The control database forgets the member that runs it.
my $offset = -s $m{$node}->logfile;
$ctl->safe_psql('postgres', "DELETE FROM foundation.members WHERE node = '$node'");

ok(wait_for($m{$other}, q{SELECT count(*) FROM foundation.registry r
  WHERE r.name = 'rv' AND foundation.pid_alive(r.pid)}, '1'),
	"$other runs it now");
ok(wait_for($m{$node}, "SELECT NOT foundation.pid_alive($pid)"),
	"$node stopped its copy at its next renewal, long before its 120 s lease would have run out");
ok($m{$node}->log_contains(qr/lease \(epoch \d+\) is gone: fencing and rejoining/, $offset),
	"$node says why: its lease is gone");
ok(wait_for($ctl, "SELECT count(*) FROM foundation.members WHERE node = '$node' AND lease_expires > now()", '1'),
	"$node rejoined");
my $new_token = $ctl->safe_psql('postgres', "SELECT epoch FROM foundation.cluster_singletons WHERE name = 'rv'");
cmp_ok($new_token, '>', $token, "the new placement has a higher fencing token ($token -> $new_token)");
is($m{$node}->safe_psql('postgres', "SELECT count(*) FROM foundation.cluster_local WHERE name = 'rv'"),
	'0', "$node keeps no placement of it");

$_->stop for values %m;
$ctl->stop;
done_testing();
