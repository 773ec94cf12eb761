# Cluster-wide singletons: three members and a control database.  A
# singleton is placed on one member; whereis agrees everywhere; when its
# member dies, another runs it once the lease has expired; a member cut off
# from the control database stops it (fencing) before another starts it; a
# member shutting down hands it over at once.  A sampler counting the
# running copies on every member never sees two.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FoundationTAP;

my $LEASE_MS = 4000;
my $RENEW_MS = 500;

# The control database, on its own server; members log in as their own
# role, with the password from a passfile, never a superuser.
my $ctl = foundation_node('ctl',
	extra_conf => "foundation.health_check_interval = 0\n"
	  . "password_encryption = 'scram-sha-256'\n");
my $passfile = $ctl->basedir . '/members.pgpass';
{
	open my $fh, '>', $passfile or die $!;
	for my $m (qw(m1 m2 m3))
	{
		$ctl->safe_psql('postgres', qq{
			CREATE ROLE fdn_$m LOGIN PASSWORD 'secret-$m';
			SELECT foundation.grant_member_role('fdn_$m');});
		print $fh '*:' . $ctl->port . ":postgres:fdn_$m:secret-$m\n";
	}
	# m4's entry has the wrong password: it must be refused, and say so.
	$ctl->safe_psql('postgres', q{
		CREATE ROLE fdn_m4 LOGIN PASSWORD 'right-m4';
		SELECT foundation.grant_member_role('fdn_m4');});
	print $fh '*:' . $ctl->port . ":postgres:fdn_m4:wrong-m4\n";
	close $fh;
	chmod 0600, $passfile;
}
# Members authenticate with a password; everything else stays trusted.
sub write_ctl_hba
{
	my (%reject) = @_;
	my $hba = '';
	$hba .= "local all fdn_$_ reject\nhost all fdn_$_ 127.0.0.1/32 reject\n"
	  for sort keys %reject;
	my $members = 'fdn_m1,fdn_m2,fdn_m3,fdn_m4';
	$hba .= "local all $members scram-sha-256\nhost all $members 127.0.0.1/32 scram-sha-256\n";
	$hba .= "local all all trust\nhost all all 127.0.0.1/32 trust\n";
	open my $fh, '>', $ctl->data_dir . '/pg_hba.conf' or die $!;
	print $fh $hba;
	close $fh;
	$ctl->reload;
}
write_ctl_hba();

my %m;
for my $name (qw(m1 m2 m3))
{
	my $ci = 'host=' . $ctl->host . ' port=' . $ctl->port
	  . " dbname=postgres user=fdn_$name passfile=$passfile connect_timeout=2";
	$m{$name} = foundation_node($name,
		extra_conf => member_conf($name, $ci,
			renew => "${RENEW_MS}ms", lease => "${LEASE_MS}ms"));
	# How the other members reach this one (it tells the control database).
	# (m1 puts a password in it: it must not reach the control database.)
	$m{$name}->append_conf('postgresql.conf',
		"foundation.node_conninfo = 'host=" . $m{$name}->host . ' port=' . $m{$name}->port
		  . ' dbname=postgres' . ($name eq 'm1' ? ' password=topsecret' : '') . "'\n");
	$m{$name}->reload;
	$m{$name}->safe_psql('postgres', q{
		CREATE ROLE worker LOGIN;
		GRANT USAGE ON SCHEMA public TO worker;
		GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO worker;});
}
ok( wait_for($ctl,
		"SELECT count(*) FROM foundation.members WHERE state = 'up' AND lease_expires > now()",
		'3'),
	'three members hold a lease in the control database');
is($ctl->safe_psql('postgres',
		"SELECT string_agg(node || ':' || epoch, ' ' ORDER BY node) FROM foundation.members"),
	'm1:1 m2:1 m3:1', 'each joined at epoch 1');
is($ctl->safe_psql('postgres',
		"SELECT conninfo LIKE '%dbname=%' AND conninfo NOT LIKE '%topsecret%' FROM foundation.members WHERE node = 'm1'"),
	't', "m1's advertised address reaches the control database without its password");
ok( wait_for($m{m1}, "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'")
	  && slurp_file($m{m1}->logfile) =~ /node_conninfo contains a password; it is not advertised/,
	'and m1 warns about it');

# A member with the wrong password is refused, and reports it.
my $m4 = foundation_node('m4',
	extra_conf => member_conf('m4',
		'host=' . $ctl->host . ' port=' . $ctl->port
		  . " dbname=postgres user=fdn_m4 passfile=$passfile connect_timeout=2",
		renew => "${RENEW_MS}ms"));
my $m4_reported = 0;
for (1 .. 100)
{
	$m4_reported = 1, last
	  if slurp_file($m4->logfile) =~
	  /could not renew this member's lease: .*password authentication failed for user "fdn_m4"/;
	usleep(100_000);
}
ok($m4_reported, 'm4 (wrong password) logs that its lease could not be renewed, and why');
is($ctl->safe_psql('postgres', "SELECT count(*) FROM foundation.members WHERE node = 'm4'"), '0',
	'm4 is not a member');
$m4->stop;

# The sampler: how many copies of a name run, over the members still up.
my %down;
my $max_copies = 0;
sub copies
{
	my ($name) = @_;
	my $n = 0;
	for my $k (sort keys %m)
	{
		next if $down{$k};
		my $c = q1($m{$k}, "SELECT count(*) FROM foundation.registry"
			  . " WHERE name = '$name' AND foundation.pid_alive(pid)");
		$n += $c if defined $c;
	}
	$max_copies = $n if $n > $max_copies;
	return $n;
}
# Poll (sampling copies each time) until $cond returns true, bounded.
sub poll_until
{
	my ($cond, $seconds) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		copies('cs');
		return 1 if $cond->();
		usleep(100_000);
	}
	return 0;
}
# Where the control database says 'cs' runs: (node, pid), pid '' if none.
sub placed
{
	my $r = q1($ctl, "SELECT node || ',' || coalesce(pid::text, '')"
		  . " FROM foundation.cluster_singletons WHERE name = 'cs'");
	return defined $r ? split(/,/, $r, -1) : ();
}

###########################################################################
note '1. a cluster singleton, the same answer everywhere';
###########################################################################
my $pid = $m{m1}->safe_psql('postgres', q{
	SET ROLE worker;
	SELECT foundation.start_singleton('public.ticker', '{"x": 1}', 'cs')});
like($pid, qr/^\d+$/, 'start_singleton from m1 returns a pid');
my ($node, $ppid) = placed();
is($ppid, $pid, 'the control database records that pid');
ok(exists $m{$node}, "placed on a member ($node)");
is($m{$node}->safe_psql('postgres',
		"SELECT pid || ':' || foundation.pid_alive(pid) FROM foundation.registry WHERE name = 'cs'"),
	"$pid:true", "it runs on $node under its name, alive");
is($m{$node}->safe_psql('postgres', "SELECT role FROM foundation.children WHERE id = 'cs'"),
	'worker', 'as the role that started it');
for my $k (sort keys %m)
{
	is($m{$k}->safe_psql('postgres', "SELECT node || ':' || pid FROM foundation.whereis('cs')"),
		"$node:$pid", "whereis on $k agrees");
	is($m{$k}->safe_psql('postgres', "SELECT foundation.lookup_singleton('cs')"),
		$pid, "lookup_singleton on $k returns the pid");
}

# whereis on the member that runs the singleton answers from what that
# member knows (the placement, the child, its lease), without asking the
# control database; every other member keeps one connection to the
# control database per session, opened again if it was closed.
{
	my $other = (grep { $_ ne $node } sort keys %m)[0];
	my $WQ = q{%FROM foundation.cluster_singletons WHERE name OPERATOR(pg_catalog.=) $1%};
	# (test clusters log every statement)
	my $epoch = $ctl->safe_psql('postgres', q{SELECT epoch FROM foundation.cluster_singletons WHERE name = 'cs'});
	my $from = -s $ctl->logfile;
	my $s = $m{$node}->background_psql('postgres');
	is($s->query_safe(q{SELECT node || ':' || pid || ':' || token FROM foundation.whereis('cs')}),
		"$node:$pid:$epoch", "whereis on $node, where it runs: node, pid and the placement's token");
	$s->quit;
	unlike(substr(slurp_file($ctl->logfile), $from), qr/cluster_singletons WHERE name OPERATOR/,
		"and $node did not ask the control database");

	my $o = $m{$other}->background_psql('postgres');
	my $before = $ctl->safe_psql('postgres', qq{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		WHERE usename = 'fdn_$other' AND query LIKE '$WQ'});
	is($o->query_safe(q{SELECT node || ':' || pid FROM foundation.whereis('cs')}),
		"$node:$pid", "whereis on $other asks the control database");
	my $new_conn = sub {
		my %old = map { $_ => 1 } split /,/, $before;
		my $all = $ctl->safe_psql('postgres', qq{SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM pg_stat_activity
			WHERE usename = 'fdn_$other' AND query LIKE '$WQ'});
		return join(',', grep { !$old{$_} } split /,/, $all);
	};
	my $c1 = $new_conn->();
	like($c1, qr/^\d+$/, "one connection of ${other}'s session to the control database");
	$o->query_safe(q{SELECT foundation.whereis('cs'); SELECT foundation.lookup_singleton('cs')});
	is($new_conn->(), $c1, 'kept: the next whereis and lookup_singleton use the same one');
	$ctl->safe_psql('postgres', "SELECT pg_terminate_backend($c1)");
	is($o->query_safe(q{SELECT node || ':' || pid FROM foundation.whereis('cs')}),
		"$node:$pid", 'after the control database closed it, whereis connects again and answers');
	my $c2 = $new_conn->();
	ok($c2 =~ /^\d+$/ && $c2 ne $c1, 'over a new connection');
	$o->quit;
	ok(wait_for($ctl, qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $c2}),
		'which ends with the session');
}
is($m{m2}->safe_psql('postgres',
		q{SET ROLE worker; SELECT foundation.start_singleton('public.ticker', '{}', 'cs')}),
	$pid, 'starting it again from m2 returns the running pid');
is(copies('cs'), 1, 'one copy runs');

# scope => 'local' keeps the single-server behaviour.
my $lpid = $m{m2}->safe_psql('postgres',
	q{SELECT foundation.start_singleton('public.ticker', '{}', 'only_here', scope => 'local')});
is($ctl->safe_psql('postgres',
		"SELECT count(*) FROM foundation.cluster_singletons WHERE name = 'only_here'"),
	'0', "scope => 'local' does not go to the control database");
is($m{m2}->safe_psql('postgres', "SELECT node || ':' || pid FROM foundation.whereis('only_here')"),
	"m2:$lpid", 'whereis finds a local singleton on its node');
my %r = sql_error($m{m2},
	q{SELECT foundation.start_singleton('public.ticker', '{}', 'x', scope => 'planet')});
is($r{sqlstate}, '22023', 'an unknown scope: 22023');

# start_replicated calls every live member.
is($m{m3}->safe_psql('postgres', q{
	SELECT string_agg(node || ':' || (pid IS NOT NULL) || ':' || coalesce(error, ''), ' ' ORDER BY node)
	  FROM foundation.start_replicated('public.ticker', '{}', 'rep')}),
	'm1:true: m2:true: m3:true:', 'start_replicated on three members: three pids');
for my $k (sort keys %m)
{
	is($m{$k}->safe_psql('postgres', "SELECT foundation.pid_alive(pid) FROM foundation.registry WHERE name = 'rep\@$k'"),
		't', "rep\@$k runs on $k");
}
is($ctl->safe_psql('postgres', "SELECT string_agg(node || ':' || (conninfo IS NOT NULL), ' ' ORDER BY node) FROM foundation.members"),
	'm1:true m2:true m3:true', 'each member advertises its address');

###########################################################################
note '2. its member dies: another runs it once the lease has expired';
###########################################################################
my $dead = $node;
my $t0 = time();
$m{$dead}->stop('immediate');
$down{$dead} = 1;
my $alive_one = (grep { !$down{$_} } sort keys %m)[0];
my $rep = $m{$alive_one}->safe_psql('postgres', q{
	SELECT string_agg(node || ':' || (pid IS NOT NULL) || ':' || coalesce((error LIKE 'rpc_failed: %')::text, '-'),
	                  ' ' ORDER BY node)
	  FROM foundation.start_replicated('public.ticker', '{}', 'rep2')});
is($rep, join(' ', map { $_ eq $dead ? "$_:false:true" : "$_:true:-" } sort keys %m),
	"start_replicated with $dead down (its lease still running): two pids and rpc_failed for $dead");
ok( poll_until(sub { my ($n, $p) = placed(); defined $n && $n ne $dead && $p ne '' },
		$LEASE_MS / 1000 + 10),
	"the singleton runs on another member within the lease ($LEASE_MS ms) plus a few seconds");
my $failover = time() - $t0;
note sprintf('failover took %.1f s (lease %d ms, renewal every %d ms)', $failover, $LEASE_MS, $RENEW_MS);
($node, $ppid) = placed();
is($m{$node}->safe_psql('postgres',
		"SELECT foundation.pid_alive(pid) FROM foundation.registry WHERE name = 'cs'"),
	't', "it runs on $node");
is($ctl->safe_psql('postgres', "SELECT epoch FROM foundation.cluster_singletons WHERE name = 'cs'"),
	'2', 'at fencing epoch 2');
for my $k (grep { !$down{$_} } sort keys %m)
{
	is($m{$k}->safe_psql('postgres', "SELECT node || ':' || pid FROM foundation.whereis('cs')"),
		"$node:$ppid", "whereis on $k shows the new place");
}

# The dead member comes back: new epoch, nothing stale.
my $log_from = -s $m{$dead}->logfile;
$m{$dead}->start;
delete $down{$dead};
ok( wait_for($ctl, "SELECT epoch FROM foundation.members WHERE node = '$dead' AND lease_expires > now()",
		'2'),
	"$dead rejoins under epoch 2");
poll_until(sub { 0 }, 2);    # the sampler watches for 2 s after the rejoin
is(q1($m{$dead}, "SELECT count(*) FROM foundation.registry WHERE name = 'cs'"), '0',
	"$dead does not start its old assignment again");
{
	my $log = substr(slurp_file($m{$dead}->logfile), $log_from);
	like($log, qr/forgot 1 cluster singleton\(s\) of a past epoch/,
		"$dead drops its old assignment at start");
	unlike($log, qr/stopping cluster singleton "cs"/,
		'without ever starting it again (it had nothing to stop)');
}

###########################################################################
note '3. a split: the running member loses the control database';
###########################################################################
my $cut = $node;
write_ctl_hba($cut => 1);
$t0 = time();
ok( poll_until(sub {
			q1($m{$cut}, "SELECT count(*) FROM foundation.registry WHERE name = 'cs'") eq '0'
		}, $LEASE_MS / 1000 + 10),
	"$cut stops the singleton itself (fencing) once it cannot renew");
note sprintf('%s fenced after %.1f s', $cut, time() - $t0);
ok( poll_until(sub { my ($n, $p) = placed(); defined $n && $n ne $cut && $p ne '' },
		$LEASE_MS / 1000 + 10),
	'another member takes it over');
($node, $ppid) = placed();
ok(wait_for($m{$cut}, q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'}),
	"the supervisor of $cut is still up");
write_ctl_hba();
ok( wait_for($ctl,
		"SELECT epoch > 1 AND lease_expires > now() FROM foundation.members WHERE node = '$cut'"),
	"after healing, $cut rejoins");
poll_until(sub { 0 }, 2);    # and for 2 s after healing
is(copies('cs'), 1, 'after healing, still one copy');
is(($ctl->safe_psql('postgres', "SELECT node FROM foundation.cluster_singletons WHERE name = 'cs'")),
	$node, 'where the takeover put it');

###########################################################################
note '4. graceful leave hands over without waiting for the lease';
###########################################################################
my $leaving = $node;
$m{$leaving}->stop('fast');
$down{$leaving} = 1;
is($ctl->safe_psql('postgres', "SELECT state FROM foundation.members WHERE node = '$leaving'"),
	'leaving', "$leaving said it was leaving");
like(slurp_file($m{$leaving}->logfile), qr/member "$leaving" left the cluster, its singletons handed over/,
	"$leaving logged that it left");
unlike(slurp_file($m{$leaving}->logfile), qr/FATAL:  BeginInternalSubTransaction/,
	'without an error at exit (reading the answer outside a transaction)');
ok( poll_until(sub { my ($n, $p) = placed(); defined $n && $n ne $leaving && $p ne '' }, 10),
	'the singleton runs on another member');
($node, $ppid) = placed();
is($ctl->safe_psql('postgres', qq{
	SELECT started_at < m.renewed_at + interval '$LEASE_MS ms'
	  FROM foundation.cluster_singletons c, foundation.members m
	 WHERE c.name = 'cs' AND m.node = '$leaving'}),
	't', "it started before the last lease of $leaving would have expired");
$m{$leaving}->start;
delete $down{$leaving};

###########################################################################
note '5. stop_singleton from any member';
###########################################################################
my $other = (grep { $_ ne $node && !$down{$_} } sort keys %m)[0];
is($m{$other}->safe_psql('postgres', "SELECT foundation.stop_singleton('cs')"), 't',
	"stop_singleton('cs') on $other");
ok(wait_for($m{$node}, "SELECT count(*) FROM foundation.registry WHERE name = 'cs'", '0'),
	"$node stops it");
is($m{$other}->safe_psql('postgres', "SELECT count(*) FROM foundation.whereis('cs')"), '0',
	'whereis finds nothing');
is($m{$other}->safe_psql('postgres', "SELECT foundation.stop_singleton('cs')"), 'f',
	'stopping it again: false');


###########################################################################
note '6. foundation.distribution: local, least_loaded, uniform';
###########################################################################
for my $k (sort keys %m)
{
	ok(wait_for($ctl, "SELECT lease_expires > now() FROM foundation.members WHERE node = '$k'"),
		"$k is live");
}
# local: on the calling member, whichever it is.
for my $k (sort keys %m)
{
	$m{$k}->safe_psql('postgres', qq{
		SET ROLE worker;
		SET foundation.distribution = 'local';
		SELECT foundation.start_singleton('public.ticker', '{}', 'loc_$k')});
	is($ctl->safe_psql('postgres', "SELECT node FROM foundation.cluster_singletons WHERE name = 'loc_$k'"),
		$k, "distribution local from $k: placed on $k");
}
# least_loaded: each member has one now; give m1 and m2 one more each, so
# that m3 has the fewest.
for my $k (qw(m1 m2))
{
	$m{$k}->safe_psql('postgres', qq{
		SET ROLE worker;
		SET foundation.distribution = 'local';
		SELECT foundation.start_singleton('public.ticker', '{}', 'extra_$k')});
}
$m{m1}->safe_psql('postgres', q{
	SET ROLE worker;
		SET foundation.distribution = 'least_loaded';
	SELECT foundation.start_singleton('public.ticker', '{}', 'light')});
is($ctl->safe_psql('postgres', "SELECT node FROM foundation.cluster_singletons WHERE name = 'light'"),
	'm3', 'distribution least_loaded: placed on m3, which has the fewest');
# uniform: the placement is the hash ring's, the same from every member.
my $ring = $ctl->safe_psql('postgres',
	"SELECT foundation.cluster_pick_member('ring', 'uniform', NULL)");
$m{m2}->safe_psql('postgres', q{SET ROLE worker; SELECT foundation.start_singleton('public.ticker', '{}', 'ring')});
is($ctl->safe_psql('postgres', "SELECT node FROM foundation.cluster_singletons WHERE name = 'ring'"),
	$ring, "distribution uniform: placed where the ring puts it ($ring), not on the caller by default");
is($ctl->safe_psql('postgres', q{
	SELECT count(DISTINCT foundation.cluster_pick_member('name' || i, 'uniform', NULL))
	  FROM generate_series(1, 60) i}),
	'3', 'the ring spreads 60 names over all three members');

###########################################################################
note '7. a cluster singleton of another database runs on a member that has it';
###########################################################################
# appdb has foundation on m1 and m3; on m2 it exists without it.
for my $k (sort keys %m)
{
	$m{$k}->safe_psql('postgres', 'CREATE DATABASE appdb');
	next if $k eq 'm2';
	$m{$k}->safe_psql('appdb', 'CREATE EXTENSION foundation');
	create_ticker($m{$k}, 'appdb');
	$m{$k}->safe_psql('appdb', q{
		GRANT USAGE ON SCHEMA public TO worker;
		GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO worker;});
}
for my $k (sort keys %m)
{
	ok(wait_for($ctl, "SELECT coalesce('appdb' = ANY (databases), false) FROM foundation.members WHERE node = '$k'",
			$k eq 'm2' ? 'f' : 't'),
		"$k says " . ($k eq 'm2' ? 'it does not have' : 'it has') . ' appdb with foundation');
}
is($ctl->safe_psql('postgres', "SELECT 'postgres' = ANY (databases) FROM foundation.members WHERE node = 'm2'"),
	't', 'and each member lists its foundation.database');

# Placement skips m2: the ring over sixty names, and every distribution.
is($ctl->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT foundation.cluster_pick_member('name' || i, 'uniform', NULL, NULL, 'appdb'), ',')
	  FROM generate_series(1, 60) i}),
	'm1,m3', "the ring puts appdb's singletons on m1 and m3 only");
is($ctl->safe_psql('postgres', q{
	SELECT foundation.cluster_pick_member('x', 'local', 'm2', NULL, 'appdb') <> 'm2'}),
	't', "local from m2: not on m2");

my $apid = $m{m1}->safe_psql('appdb', q{
	SET ROLE worker;
	SELECT foundation.start_singleton('public.ticker', '{}', 'app_cs')});
like($apid, qr/^\d+$/, 'start_singleton in appdb on m1 returns a pid');
my $anode = $ctl->safe_psql('postgres',
	"SELECT node || ':' || database FROM foundation.cluster_singletons WHERE name = 'app_cs'");
like($anode, qr/^m[13]:appdb$/, "placed on m1 or m3, recorded with its database ($anode)");
$anode =~ s/:.*//;
is($m{$anode}->safe_psql('postgres',
		"SELECT datname || ':' || usename FROM pg_stat_activity WHERE pid = $apid"),
	'appdb:worker', "on $anode it runs connected to appdb, as its owner");
is($m{m3}->safe_psql('appdb', "SELECT node || ':' || pid FROM foundation.whereis('app_cs')"),
	"$anode:$apid", 'whereis in appdb on m3 finds it');
is($m{m3}->safe_psql('appdb', "SELECT foundation.lookup_singleton('app_cs')"),
	$apid, 'and so does lookup_singleton');
my $notrun = $anode eq 'm1' ? 'm3' : 'm1';
is($m{$notrun}->safe_psql('postgres', "SELECT count(*) FROM foundation.whereis('app_cs')"),
	'0', 'whereis in postgres (on a member that does not run it) does not see a singleton of appdb');

# The same name from another database: refused, and why.
my %e = sql_error($m{m1}, q{SET ROLE worker;
	SELECT foundation.start_singleton('public.ticker', '{}', 'app_cs')});
is($e{sqlstate}, '42710', 'the same name from postgres: 42710') or diag($e{stderr});
like($e{message} // '', qr/cluster singleton "app_cs" runs in another database/, 'which the message says');
like($e{detail} // '', qr/database "appdb"/, 'the detail names it');

# A database no live member has: placement says why, naming them.
%e = sql_error($ctl, q{SELECT foundation.cluster_place('nowhere', 'public.ticker', '{}', 'permanent',
	'worker', 'uniform', 'm9', 'sig', 'nosuchdb')});
is($e{sqlstate}, '55000', 'a database no member has: 55000');
like($e{message} // '', qr/no live cluster member has database "nosuchdb" with foundation/, 'which the message says');
like($e{detail} // '', qr/"m1", "m2", "m3"/, 'the detail names the members without it');

# A placement's signature covers its database: moved to another in the
# control database (at a new token, so that its member looks again), its
# member stops it and refuses to start it there.
$m{m1}->safe_psql('appdb', q{SET ROLE worker;
	SELECT foundation.start_singleton('public.ticker', '{}', 'sig_cs')});
my $snode = $ctl->safe_psql('postgres', "SELECT node FROM foundation.cluster_singletons WHERE name = 'sig_cs'");
$ctl->safe_psql('postgres', q{
	UPDATE foundation.cluster_singletons
	   SET database = 'postgres', epoch = nextval('foundation.fencing_tokens'), pid = NULL
	 WHERE name = 'sig_cs'});
my $refused = 0;
for (1 .. 600)
{
	$refused = 1, last
	  if slurp_file($m{$snode}->logfile) =~ /cluster singleton "sig_cs".*signature does not match/;
	usleep(100_000);
}
ok($refused, 'a placement whose database was changed in the control database is refused');
ok(wait_for($m{$snode}, "SELECT count(*) FROM foundation.registry WHERE name = 'sig_cs'", '0'),
	'and it no longer runs on that member');
$ctl->safe_psql('postgres', "DELETE FROM foundation.cluster_singletons WHERE name = 'sig_cs'");

# The extension dropped in appdb where it runs: it moves to the other.
my $bnode = $anode eq 'm1' ? 'm3' : 'm1';
$m{$anode}->safe_psql('appdb', 'DROP EXTENSION foundation');
my $moved = 0;
for (1 .. 600)
{
	$moved = 1, last
	  if (q1($ctl, "SELECT node || ':' || coalesce(pid::text, '') FROM foundation.cluster_singletons WHERE name = 'app_cs'") // '')
	  =~ /^$bnode:\d+$/;
	usleep(100_000);
}
ok($moved, "after DROP EXTENSION in appdb on $anode, app_cs runs on $bnode");
my $bpid = $ctl->safe_psql('postgres', "SELECT pid FROM foundation.cluster_singletons WHERE name = 'app_cs'");
is($m{$bnode}->safe_psql('postgres', "SELECT datname FROM pg_stat_activity WHERE pid = $bpid"),
	'appdb', "in appdb on $bnode");
ok(wait_for($m{$anode}, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND backend_type = 'foundation child'", '0'),
	"and no longer on $anode");
is($m{$bnode}->safe_psql('appdb', "SELECT foundation.stop_singleton('app_cs')"), 't',
	'stop_singleton in appdb stops it');
ok(wait_for($m{$bnode}, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND backend_type = 'foundation child'", '0'),
	"$bnode stops it");

is($max_copies, 1, 'the sampler never saw two copies');

$_->stop for values %m;
$ctl->stop;
done_testing();
