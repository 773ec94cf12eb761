# Settings applied on reload: a worker that schedules work from a setting
# uses the new value at its next wake-up (a reload wakes it), not after a
# wait computed from the old value.  The health monitor with
# foundation.health_check_interval (30 s -> 1 s, on -> 0, 0 -> on), the
# supervisor with foundation.naptime, a member's lease renewal with
# foundation.lease_renew_interval, and a child's own transactions.
#
# The bounds below are correctness bounds, not speed goals: each one is
# well below the old interval (30 s, or an hour), so a worker that keeps
# the wait it computed before the reload cannot pass, while a correct one
# passes in about a second.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Half the old 30 s interval: with the bug the next check comes only when
# the check scheduled with 30 s is due.
my $BOUND = 15;

# ALTER SYSTEM SET + reload, then wait until a new session sees the value
# (the postmaster has read the file and signalled every process).
sub set_conf
{
	my ($node, $name, $value) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET $name = '$value'; SELECT pg_reload_conf();");
	wait_for($node, "SELECT current_setting('$name') = '$value'")
	  or die "$name = $value did not take effect";
}

# naptime 1 h from the start (this line comes after foundation_node's own):
# a supervisor that did not apply a reload would keep it.
my $node = foundation_node('reload',
	extra_conf => "foundation.health_check_interval = '30s'\n"
	  . "foundation.naptime = '1h'\n");

# A child that records, in each transaction, the interval it sees.
$node->safe_psql('postgres', q{
CREATE TABLE public.seen (v text);
INSERT INTO public.seen VALUES ('');
CREATE PROCEDURE public.reader(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    UPDATE public.seen SET v = current_setting('foundation.health_check_interval');
    COMMIT;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
SELECT foundation.start_child('{"id": "reader", "start": {"module": "public.reader"}}');
});
ok(wait_for($node, q{SELECT v FROM public.seen}, '30s'),
	'a child sees the interval it started with');

# ---- health_check_interval 30 s -> 1 s ----
my $count = q{SELECT count(*) FROM foundation.health_history};
ok(wait_for($node, "SELECT ($count) >= 1"), 'the monitor ran its first check');
my $c0 = q1($node, $count);
set_conf($node, 'foundation.health_check_interval', '1s');
ok(wait_for($node, "SELECT ($count) >= $c0 + 2", 't', timeout => $BOUND),
	'30 s -> 1 s: two checks follow the reload within the bound, not after the old 30 s');
ok(wait_for($node, q{SELECT v FROM public.seen}, '1s', timeout => $BOUND),
	'a running child applies the reload at its next commit');

# ---- on -> 0: the checks stop ----
set_conf($node, 'foundation.health_check_interval', '0');
# A check already running when the reload came may still finish.
my $c1 = q1($node, $count);
# A window of three intervals of 1 s, on the server's clock: a monitor
# still checking every second would store about three more.
my $t1 = q1($node, 'SELECT now()');
ok(wait_for($node, "SELECT now() > '$t1'::timestamptz + interval '3 s'"),
	'three seconds passed');
cmp_ok(q1($node, $count), '<=', $c1 + 1, 'on -> 0: no more checks');

# ---- 0 -> on ----
my $c2 = q1($node, $count);
set_conf($node, 'foundation.health_check_interval', '1s');
ok(wait_for($node, "SELECT ($count) >= $c2 + 2", 't', timeout => $BOUND),
	'0 -> 1 s: checks start again within the bound');
set_conf($node, 'foundation.health_check_interval', '0');

# ---- naptime: the supervisor's passes ----
# A name of a session that is gone is removed only by a supervisor pass
# (no event wakes the supervisor for it): it shows when passes happen.
my $ghost = q{SELECT count(*) FROM foundation.registry WHERE name = 'ghost'};
$node->safe_psql('postgres', q{SELECT foundation.register('ghost', pg_backend_pid())});
set_conf($node, 'foundation.naptime', '200ms');
ok(wait_for($node, $ghost, '0', timeout => $BOUND),
	'naptime 1 h -> 200 ms: the reload wakes the supervisor for a pass');
$node->safe_psql('postgres', q{SELECT foundation.register('ghost', pg_backend_pid())});
ok(wait_for($node, $ghost, '0', timeout => $BOUND),
	'naptime 1 h -> 200 ms: the next passes follow the new naptime, not the hour');

# ---- dispatcher_conninfo: the dispatcher listens again ----
$node->safe_psql('postgres', q{
CREATE TABLE public.got (n integer);
CREATE FUNCTION public.got_it(channel text, message jsonb) RETURNS void
  LANGUAGE sql AS $$ INSERT INTO public.got VALUES ((message->>'n')::integer) $$;
SELECT foundation.subscribe('events', 'public.got_it(text, jsonb)'::regprocedure);
});
ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the dispatcher listens');
my $d0 = q1($node, 'SELECT foundation.dispatcher_pid()');
$node->safe_psql('postgres', q{SELECT foundation.broadcast('events', '{"n": 1}')});
ok(wait_for($node, 'SELECT count(*) FROM public.got', '1'),
	'the handler gets a message');
my $su = q1($node, 'SELECT rolname FROM pg_roles WHERE oid = 10');
set_conf($node, 'foundation.dispatcher_conninfo',
	'host=' . $node->host . ' port=' . $node->port
	  . " dbname=postgres user=$su application_name=reloaded");
ok( wait_for(
		$node,
		q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reloaded'},
		'1', timeout => $BOUND),
	'the dispatcher listens again with the new foundation.dispatcher_conninfo');
ok(wait_for($node, "SELECT foundation.dispatcher_pid() NOT IN ($d0)"),
	'a new dispatcher took over');
$node->safe_psql('postgres', q{SELECT foundation.broadcast('events', '{"n": 2}')});
ok(wait_for($node, 'SELECT count(*) FROM public.got', '2'),
	'the handler gets the next message');

# ---- lease_renew_interval: a member of a control database ----
my $ctl = foundation_node('ctl', extra_conf => "foundation.health_check_interval = 0\n");
# Every renewal on the control database, counted by a trigger.
$ctl->safe_psql('postgres', q{
CREATE ROLE fdn_m LOGIN;
SELECT foundation.grant_member_role('fdn_m');
CREATE TABLE public.beats (at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION public.count_beat() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO public.beats DEFAULT VALUES;
  RETURN NULL;
END $$;
CREATE TRIGGER count_beat AFTER INSERT OR UPDATE ON foundation.members
  FOR EACH ROW EXECUTE FUNCTION public.count_beat();
});
my $ci = 'host=' . $ctl->host . ' port=' . $ctl->port . ' dbname=postgres user=fdn_m';
my $m = foundation_node('m',
	extra_conf => member_conf('m', $ci, renew => '30s', lease => '90s'));
ok(wait_for($ctl, q{SELECT count(*) > 0 FROM foundation.members WHERE node = 'm'}),
	'the member joined');
my $t2 = q1($ctl, 'SELECT clock_timestamp()');
set_conf($m, 'foundation.lease_renew_interval', '300ms');
# With the old 30 s interval there is at most one renewal in the bound.
ok( wait_for(
		$ctl, "SELECT count(*) >= 3 FROM public.beats WHERE at > '$t2'",
		't', timeout => $BOUND),
	'renew 30 s -> 300 ms: the member renews at the new interval after the reload');

done_testing();
