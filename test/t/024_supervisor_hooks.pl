# The supervisor's error boundary: each feature's hook runs in its own
# subtransaction, so one feature's error is logged and rolls back only its
# own work, while the children are still reconciled and the other features'
# hooks still run.
#
# The channels feature's cleanup hook (stored messages past
# foundation.message_retention go) is made to fail by a statement trigger on
# foundation.messages; the cluster feature's cleanup hook (the outbox past
# its time goes) runs in the same pass, after it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('hooks');

my $pid1 = $node->safe_psql('postgres',
	"SELECT foundation.start_singleton('public.ticker', '{}', 'hooked')");
ok($pid1 > 0, 'a permanent singleton runs');
my $sup = supervisor_pid($node);
ok($sup ne '', 'the supervisor runs');

# Break the channels feature's cleanup; leave one stored message and one
# outbox row, both past any retention.
my $log_offset = -s $node->logfile;
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION public.keep_messages() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'messages are kept by a test trigger'; END$$;
CREATE TRIGGER keep_messages BEFORE DELETE ON foundation.messages
  FOR EACH STATEMENT EXECUTE FUNCTION public.keep_messages();
INSERT INTO foundation.messages (channel, message, bytes, created_at)
  VALUES ('events', '{"old": true}', 13, now() - interval '2 hours');
INSERT INTO foundation.outbox (target, channel, message, created_at)
  VALUES ('nowhere', 'events', '{"old": true}', now() - interval '2 hours');
});

ok(wait_for($node, 'SELECT count(*) = 0 FROM foundation.outbox'),
	'the next feature\'s cleanup hook still runs: the old outbox row is gone');
ok( eval {
		$node->wait_for_log(
			qr/WARNING:  foundation supervisor: the cleanup hook of channels failed: messages are kept by a test trigger/,
			$log_offset);
		1;
	},
	'the failing hook is logged, naming the hook and the feature');

$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)");
ok( wait_for(
		$node,
		"SELECT coalesce(foundation.lookup_singleton('hooked') NOT IN (0, $pid1), false)"),
	'the children are still reconciled: the terminated singleton is restarted');
ok(wait_for($node, settled_sql()), 'and the supervisor settles');

is($node->safe_psql('postgres', 'SELECT count(*) FROM foundation.messages'),
	'1', 'the failing hook\'s own work is rolled back: the old message stays');
is(supervisor_pid($node), $sup, 'the same supervisor ran every pass');

# Once the cause is gone, the feature's hook does its work again.
$node->safe_psql('postgres',
	'DROP TRIGGER keep_messages ON foundation.messages');
ok(wait_for($node, 'SELECT count(*) = 0 FROM foundation.messages'),
	'with the trigger dropped, the old message goes');

$node->stop;
done_testing();
