# Security of the cluster layer, tried as an attacker would with two
# ordinary LOGIN roles (alice, bob), a control database and two members:
# no unprivileged path to the network or to another server's superuser
# (gossip, the connections foundation opens, health errors), and the
# cluster's trust model (stop_singleton checks the owner, a member starts
# only signed placements and never as a superuser, credentials stay in
# superuser-only settings).  Every jsonb another server sends is checked
# for its shape: wrong shapes give a clean error or are ignored, and the
# servers stay up.  After each attack: nobody became superuser, the
# attacker's code never ran, and no server log says "terminated by signal".
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Digest::SHA qw(hmac_sha256_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FoundationTAP;

my $SECRET = 'tap-cluster-secret';    # member_conf's default

###########################################################################
# Servers: the control database and two members.
###########################################################################
my $ctl = foundation_node('ctl', extra_conf => "foundation.health_check_interval = 0\n");
$ctl->safe_psql('postgres', q{
	CREATE ROLE fdn_member LOGIN;
	SELECT foundation.grant_member_role('fdn_member');});
my $ctl_ci = 'host=' . $ctl->host . ' port=' . $ctl->port . ' dbname=postgres user=fdn_member';

my %m;
for my $name (qw(m1 m2))
{
	$m{$name} = foundation_node($name,
		extra_conf => member_conf($name, $ctl_ci, renew => '300ms', lease => '4s')
		  # m1 gossips with a secret of its own; m2 has the seed's default,
		  # which must count as none.
		  . ($name eq 'm1'
			? "foundation.gossip_secret = 'm1-gossip-secret'\n"
			: "foundation.gossip_secret = 'foundation-cluster'\n"));
	# How others reach it, with a password that must never be shown.
	$m{$name}->append_conf('postgresql.conf',
		"foundation.node_conninfo = 'host=" . $m{$name}->host . ' port=' . $m{$name}->port
		  . " dbname=postgres password=m-node-pw'\n");
	$m{$name}->reload;
	$m{$name}->safe_psql('postgres', q{
		CREATE ROLE alice LOGIN;
		CREATE ROLE bob LOGIN;
		GRANT CREATE ON DATABASE postgres TO alice;
		-- What an attacker's code would leave behind, if it ever ran.
		CREATE TABLE public.caught (who text, via text);
		GRANT INSERT ON public.caught TO PUBLIC;
		CREATE PROCEDURE public.spy(args jsonb) LANGUAGE plpgsql AS $$
		BEGIN
		  INSERT INTO public.caught VALUES (current_user, 'spy');
		  BEGIN EXECUTE 'ALTER ROLE alice SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
		  COMMIT;
		  LOOP PERFORM pg_sleep(0.05); COMMIT; END LOOP;
		END $$;});
}
my $su = $m{m1}->safe_psql('postgres', 'SELECT current_user');
ok(wait_for($ctl, "SELECT count(*) FROM foundation.members WHERE lease_expires > now()", '2'),
	'both members hold a lease');

sub as
{
	my ($node, $role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

sub err_as
{
	my ($node, $role, $sql) = @_;
	return sql_error($node, $sql, extra_params => [ '-U', $role ]);
}

# Nothing gained, anywhere: the common checks after each attack.
sub nothing_gained
{
	my ($what) = @_;
	for my $k (sort keys %m)
	{
		is( $m{$k}->safe_psql('postgres',
				q{SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles
				   WHERE rolsuper AND rolname IN ('alice', 'bob', 'fdn_member')}),
			'', "$what: nobody became superuser on $k");
		is($m{$k}->safe_psql('postgres', 'SELECT count(*) FROM public.caught'),
			'0', "$what: the attacker's code never ran on $k");
	}
}

# Wait, bounded, until $node's log (from $offset) matches $re.
sub log_waits_for
{
	my ($node, $re, $offset) = @_;
	for (1 .. 300)
	{
		return 1 if $node->log_contains($re, $offset);
		usleep(100_000);
	}
	return 0;
}

###########################################################################
note '1. settings that hold credentials are superuser-only';
###########################################################################
for my $setting (qw(foundation.node_conninfo foundation.cluster_conninfo_options
	foundation.control_conninfo foundation.cluster_secret foundation.gossip_secret
	foundation.cluster_nodes foundation.topology foundation.dispatcher_conninfo))
{
	my %r = err_as($m{m1}, 'alice', "SHOW $setting");
	is($r{sqlstate}, '42501', "alice cannot SHOW $setting");
	is(as($m{m1}, 'alice', "SELECT count(*) FROM pg_settings WHERE name = '$setting'"),
		'0', "nor find it in pg_settings");
}
my %r = err_as($m{m1}, 'alice', q{SELECT current_setting('foundation.cluster_secret')});
is($r{sqlstate}, '42501', "nor read the cluster secret with current_setting");
%r = err_as($m{m1}, 'alice', 'SELECT * FROM foundation.resolve_cluster_config()');
is($r{sqlstate}, '42501', 'resolve_cluster_config (which shows the topology) is not for PUBLIC');

###########################################################################
note '2. gossip: no node added without the secret';
###########################################################################
my $inject = "host=" . $m{m1}->host . " port=" . $m{m1}->port
  . " dbname=postgres user=$su password=pw1 options='-c search_path=evil,pg_catalog'"
  . " service=admin sslkey=/etc/ssl/private/key passfile=/etc/passwd";
(my $inject_sql = $inject) =~ s/'/''/g;
%r = err_as($m{m1}, 'alice',
	"SELECT foundation.gossip_exchange('m1-gossip-secret', 'evil', '$inject_sql')");
is($r{sqlstate}, '42501', 'alice cannot call gossip_exchange (not PUBLIC), even with the secret');
%r = err_as($m{m1}, 'alice', q{INSERT INTO foundation.nodes (name, conninfo) VALUES ('evil', 'host=x')});
is($r{sqlstate}, '42501', 'nor insert into foundation.nodes');

# bob is the role peers log in as: granted EXECUTE.
$m{m1}->safe_psql('postgres',
	'GRANT EXECUTE ON FUNCTION foundation.gossip_exchange(text, text, text) TO bob');
for my $secret ('wrong', '', 'foundation-cluster', 'm1-gossip-secre', 'm1-gossip-secretX')
{
	%r = err_as($m{m1}, 'bob', "SELECT foundation.gossip_exchange('$secret', 'evil', '$inject_sql')");
	is($r{sqlstate}, '28000', "bob with the secret '$secret': refused (28000)");
}
%r = err_as($m{m1}, 'bob', "SELECT foundation.gossip_exchange(NULL, 'evil', 'host=x')");
is($r{sqlstate}, '22004', 'a NULL secret: refused (22004)');
is($m{m1}->safe_psql('postgres', "SELECT count(*) FROM foundation.nodes"), '0',
	'no node was added by any of them');

# m2's secret is the seed's default, ctl has none: gossip is off there.
for my $node ($m{m2}, $ctl)
{
	%r = sql_error($node,
		"SELECT foundation.gossip_exchange('foundation-cluster', 'evil', 'host=x')");
	is($r{sqlstate}, '55000', $node->name . ': gossip is off (55000), even for a superuser');
	like($r{hint} // '', qr/foundation\.gossip_secret/, 'the hint names foundation.gossip_secret');
}

# With the right secret, the caller is noted by its address only, and the
# answer holds no password (m1's node_conninfo has one).
my $answer = as($m{m1}, 'bob',
	"SELECT foundation.gossip_exchange('m1-gossip-secret', 'evil', '$inject_sql')::text");
unlike($answer, qr/m-node-pw|password/, 'the gossip answer holds no password');
my $stored = $m{m1}->safe_psql('postgres', "SELECT conninfo FROM foundation.nodes WHERE name = 'evil'");
like($stored, qr/host=/, "the caller is noted: $stored");
unlike($stored, qr/user=|password|pw1|options|search_path|service|sslkey|passfile/,
	'by its address only: no user, password, options, service, key or passfile of its choosing');
$m{m1}->safe_psql('postgres', "DELETE FROM foundation.nodes");

###########################################################################
note '3. a conninfo cannot redirect what foundation runs over libpq';
###########################################################################
# alice's trap on m1: a domain "text" in her schema whose CHECK runs as
# whoever evaluates it, and shadows of the types and functions foundation
# sends.
as($m{m1}, 'alice', q{
	CREATE SCHEMA evil;
	GRANT USAGE ON SCHEMA evil TO PUBLIC;
	CREATE FUNCTION evil.spy(v pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
	  INSERT INTO public.caught VALUES (current_user, 'domain check');
	  BEGIN EXECUTE 'ALTER ROLE alice SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
	  RETURN true;
	END $$;
	CREATE DOMAIN evil.text AS pg_catalog.text CHECK (evil.spy(VALUE));
	CREATE DOMAIN evil.jsonb AS pg_catalog.jsonb CHECK (evil.spy(VALUE::pg_catalog.text));
	CREATE FUNCTION evil.set_config(pg_catalog.text, pg_catalog.text, boolean) RETURNS pg_catalog.text
	  LANGUAGE sql AS $$ SELECT 'x' WHERE evil.spy('x') $$;});

# A superuser was fooled into adding nodes whose conninfo logs in as the
# superuser with alice's search_path (each form of options an attacker
# would try); the health check connects to each and runs node_metrics().
my $base = 'host=' . $m{m1}->host . ' port=' . $m{m1}->port . " dbname=postgres user=$su";
my %atk = (
	atk_quoted => "$base options='-c search_path=evil,pg_catalog'",
	atk_joined => "$base options=-csearch_path=evil,pg_catalog",
	atk_role => "$base options='-c search_path=evil,pg_catalog -c role=alice'",
	atk_long => "$base options='--search_path=evil,pg_catalog'",
	atk_pgtemp => "$base options='-c search_path=evil,pg_temp,pg_catalog'");
for my $k (sort keys %atk)
{
	(my $v = $atk{$k}) =~ s/'/''/g;
	$m{m1}->safe_psql('postgres', "INSERT INTO foundation.nodes (name, conninfo) VALUES ('$k', '$v')");
}
# Every statement m1 receives is logged, with its backend's pid, so that
# the pin can be seen on each connection (foundation's statements are
# schema-qualified as well: the pin is what protects anything they miss).
$m{m1}->safe_psql('postgres', "ALTER SYSTEM SET log_statement = 'all'; SELECT pg_reload_conf()");
ok(wait_for($m{m1}, q{SELECT current_setting('log_statement')}, 'all'), 'm1 logs every statement');
my $logged_from = -s $m{m1}->logfile;
my $states = $m{m1}->safe_psql('postgres', q{
	SELECT string_agg(n->>'node' || ':' || (n->>'status'), ' ' ORDER BY n->>'node')
	  FROM jsonb_array_elements(foundation.health_check()#>'{cluster,node_health}') n
	 WHERE n->>'node' LIKE 'atk%'});
is($states, join(' ', map { "$_:healthy" } sort keys %atk),
	'the health check reached every node and read its metrics');
$m{m1}->safe_psql('postgres', "ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf()");
{
	my $log = substr(slurp_file($m{m1}->logfile), $logged_from);
	my (%pinned, @metrics_pids);
	for my $line (split /\n/, $log)
	{
		next unless $line =~ /\[(\d+)\]/;
		my $pid = $1;
		$pinned{$pid} = 1
		  if $line =~ /set_config\('search_path', 'pg_catalog, pg_temp', false\)/;
		push @metrics_pids, $pid . ($pinned{$pid} ? ':pinned' : ':not pinned')
		  if $line =~ /foundation\.node_metrics\(\)::pg_catalog\.text/;
	}
	is(scalar(@metrics_pids), scalar(keys %atk), 'one node_metrics() call per attacker node reached m1');
	is(scalar(grep { /:not pinned$/ } @metrics_pids), 0,
		'each came on a connection that had pinned search_path first: ' . join(' ', @metrics_pids));
}
nothing_gained('health check over attacker-chosen options');

###########################################################################
note '4. connection errors of checks are not readable by PUBLIC';
###########################################################################
$m{m1}->safe_psql('postgres', q{
	DELETE FROM foundation.nodes;
	INSERT INTO foundation.nodes (name, conninfo) VALUES ('closed', 'host=127.0.0.1 port=1 dbname=postgres');
	SELECT foundation.health_check();});
like( $m{m1}->safe_psql('postgres',
		q{SELECT report::text FROM foundation.health_history ORDER BY id DESC LIMIT 1}),
	qr/Connection refused|could not connect/, 'the superuser sees the connection error in the report');
%r = err_as($m{m1}, 'alice', 'SELECT report FROM foundation.health_history');
is($r{sqlstate}, '42501', 'alice cannot read the reports');
is(as($m{m1}, 'alice',
		q{SELECT overall_status IS NOT NULL FROM foundation.health_history ORDER BY id DESC LIMIT 1}),
	't', 'but reads the status of each check');
my $h = as($m{m1}, 'alice', q{SELECT overall_status || ' / ' || recommendations FROM foundation.health});
like($h, qr/node closed has not answered/, "and foundation.health: $h");
unlike($h, qr/refused|could not connect|port 1|127\.0\.0\.1/,
	'which names the node but not the connection error');
$m{m1}->safe_psql('postgres', 'DELETE FROM foundation.nodes');

###########################################################################
note '5. stop_singleton of a cluster singleton checks its owner';
###########################################################################
my $apid = as($m{m1}, 'alice',
	q{SELECT foundation.start_singleton('public.ticker', '{"secret": "alice-only"}', 'a_single')});
like($apid, qr/^\d+$/, "alice starts a cluster singleton (pid $apid)");
my ($anode) = split /:/,
  $m{m1}->safe_psql('postgres', q{SELECT node || ':' || pid FROM foundation.whereis('a_single')});
for my $k (sort keys %m)
{
	%r = err_as($m{$k}, 'bob', q{SELECT foundation.stop_singleton('a_single')});
	is($r{sqlstate}, '42501', "bob cannot stop alice's cluster singleton from $k (42501)");
	like($r{message} // '', qr/must be owner of cluster singleton "a_single"/, 'and is told why');
}
is($m{$anode}->safe_psql('postgres',
		"SELECT foundation.pid_alive(pid) FROM foundation.registry WHERE name = 'a_single'"),
	't', 'it still runs');
is($ctl->safe_psql('postgres', "SELECT owner_role FROM foundation.cluster_singletons WHERE name = 'a_single'"),
	'alice', 'and is still placed, as alice\'s');
%r = err_as($m{m1}, $su, q{SELECT foundation.start_singleton('public.spy', '{}', 'su_single')});
is($r{sqlstate}, '42501', 'a superuser cannot start a cluster singleton (42501)');
like($r{hint} // '', qr/cluster_allow_superuser_singletons/, 'the hint names the setting');

###########################################################################
note '5b. no other role of the control database can hold renewals up';
###########################################################################
# Renewals, placing and removing serialize on a lock on foundation.members
# itself, not on a pg_advisory_lock key that any role could take and hold.
$ctl->safe_psql('postgres', 'CREATE ROLE mallory LOGIN');
my $mal = $ctl->background_psql('postgres', extra_params => [ '-U', 'mallory' ]);
$mal->query_safe(q{SELECT pg_advisory_lock(hashtext('foundation.members'))});
is($ctl->safe_psql('postgres', q{
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
 WHERE a.usename = 'mallory' AND l.locktype = 'advisory' AND l.granted}),
	'1', 'mallory holds the advisory key the renewals used to take');
my $before = $ctl->safe_psql('postgres', 'SELECT max(renewed_at) FROM foundation.members');
ok(wait_for($ctl, "SELECT min(renewed_at) > '$before' FROM foundation.members"),
	'both members renew their leases meanwhile');
like(as($m{m1}, 'alice', q{SELECT foundation.start_singleton('public.ticker', '{}', 'l_single')}),
	qr/^\d+$/, 'and a cluster singleton is placed and started');
is(as($m{m1}, 'alice', q{SELECT foundation.stop_singleton('l_single')}), 't', 'and removed');
%r = err_as($ctl, 'mallory', q{BEGIN; LOCK TABLE foundation.members IN SHARE ROW EXCLUSIVE MODE; COMMIT});
is($r{sqlstate}, '42501', 'mallory cannot take the lock renewals use (42501)');
$mal->quit;

###########################################################################
note '6. the control database cannot make a member run code as anyone';
###########################################################################
my $epoch1 = $ctl->safe_psql('postgres', "SELECT epoch FROM foundation.members WHERE node = 'm1'");
my $asig = $ctl->safe_psql('postgres', "SELECT signature FROM foundation.cluster_singletons WHERE name = 'a_single'");
like($asig, qr/^[0-9a-f]{64}$/, 'a placement carries a signature');

sub sign
{
	my ($key, @f) = @_;
	return hmac_sha256_hex('foundation cluster placement v1;'
		  . join('', map { length($_) . ':' . $_ . ';' } @f), $key);
}
is(sign($SECRET, 'a_single', 'public.ticker', '{"secret": "alice-only"}', 'permanent', 'alice'),
	$asig, 'it is the HMAC-SHA256 of name, module, args, restart and owner');

# The member role writes placements directly, each assigned to m1.
my @forged = (
	[ 'f_unsigned', $su, 'NULL', qr/its placement is not signed/ ],
	[ 'f_garbage', $su, "'deadbeef'", qr/signature does not match/ ],
	[ 'f_stolen', $su, "'$asig'", qr/signature does not match/ ],
	[ 'f_empty', 'alice', "''", qr/signature does not match/ ],
	[ 'f_wrongkey', $su, "'" . sign('guess', 'f_wrongkey', 'public.spy', '{}', 'permanent', $su) . "'",
		qr/signature does not match/ ],
	# signed right (a member's secret leaked) but for a superuser: still no
	[ 'f_super', $su, "'" . sign($SECRET, 'f_super', 'public.spy', '{}', 'permanent', $su) . "'",
		qr/its owner "\Q$su\E" is a superuser on this member/ ]);
my $offset = -s $m{m1}->logfile;
for my $f (@forged)
{
	my ($name, $owner, $sig) = @$f;
	as($ctl, 'fdn_member', qq{
		INSERT INTO foundation.cluster_singletons
		  (name, module, args, restart, owner_role, distribution, node, member_epoch, signature)
		VALUES ('$name', 'public.spy', '{}', 'permanent', '$owner', 'uniform', 'm1', $epoch1, $sig)});
}
# and through cluster_place, as the member role, with a forged signature
as($ctl, 'fdn_member', qq{
	SELECT foundation.cluster_place('f_place', 'public.spy', '{}', 'permanent', '$su', 'local', 'm1', 'forged')});
push @forged, [ 'f_place', $su, '', qr/signature does not match/ ];
for my $f (@forged)
{
	my ($name, undef, undef, $why) = @$f;
	ok( log_waits_for($m{m1},
			qr/WARNING:.*refuses to start cluster singleton "$name" \(epoch \d+\): .*$why/, $offset),
		"m1 refuses $name and says why");
}
is($m{m1}->safe_psql('postgres', q{SELECT count(*) FROM foundation.registry WHERE name LIKE 'f\_%'}),
	'0', 'none of them was started');
nothing_gained('placements written by the control database');
$ctl->safe_psql('postgres', q{DELETE FROM foundation.cluster_singletons WHERE name LIKE 'f\_%'});

# The signature a member checks is the one a member makes: a placement
# signed with the members' secret for a superuser runs once the setting
# allows superusers, and not before.
$offset = -s $m{m1}->logfile;
as($ctl, 'fdn_member', qq{
	INSERT INTO foundation.cluster_singletons
	  (name, module, args, restart, owner_role, distribution, node, member_epoch, signature)
	VALUES ('s_allowed', 'public.ticker', '{}', 'permanent', '$su', 'uniform', 'm1', $epoch1,
	        '@{[ sign($SECRET, 's_allowed', 'public.ticker', '{}', 'permanent', $su) ]}')});
ok(log_waits_for($m{m1}, qr/refuses to start cluster singleton "s_allowed".*is a superuser/, $offset),
	'a superuser placement with a valid signature: refused while the setting is off');
$m{m1}->append_conf('postgresql.conf', "foundation.cluster_allow_superuser_singletons = on\n");
$m{m1}->reload;
ok( wait_for($m{m1},
		"SELECT role FROM foundation.children WHERE id = 's_allowed' AND status = 'running'", $su),
	'and started, as that superuser, once foundation.cluster_allow_superuser_singletons is on');
$m{m1}->append_conf('postgresql.conf', "foundation.cluster_allow_superuser_singletons = off\n");
$m{m1}->reload;
$ctl->safe_psql('postgres', q{DELETE FROM foundation.cluster_singletons WHERE name = 's_allowed'});
ok(wait_for($m{m1}, "SELECT count(*) FROM foundation.registry WHERE name = 's_allowed'", '0'),
	'removed from the control database, it stops');

# A member without the secret neither places nor runs cluster singletons.
$m{m2}->append_conf('postgresql.conf', "foundation.cluster_secret = ''\n");
$m{m2}->reload;
ok(wait_for($m{m2}, q{SELECT current_setting('foundation.cluster_secret') = ''}),
	'm2 has no cluster secret now');
%r = err_as($m{m2}, 'alice', q{SELECT foundation.start_singleton('public.ticker', '{}', 'b_single')});
is($r{sqlstate}, '55000', 'start_singleton without foundation.cluster_secret: 55000');
like($r{hint} // '', qr/foundation\.cluster_secret/, 'the hint names foundation.cluster_secret');
$m{m2}->append_conf('postgresql.conf', "foundation.cluster_secret = '$SECRET'\n");
$m{m2}->reload;
ok(wait_for($m{m2}, qq{SELECT current_setting('foundation.cluster_secret') = '$SECRET'}),
	'm2 has its secret back');

# alice stops her own.
is(as($m{m2}, 'alice', q{SELECT foundation.stop_singleton('a_single')}), 't',
	'alice stops her own cluster singleton');
ok(wait_for($m{$anode}, "SELECT count(*) FROM foundation.registry WHERE name = 'a_single'", '0'),
	'and it stops');

###########################################################################
note '7. jsonb from other servers: every wrong shape is refused cleanly';
###########################################################################
# relay_deliver, as a superuser (the role another member's relay uses)
for my $bad ('{}', '1', '"x"', 'null', '[1]', '["x"]', '[[{"id": 1}]]', '[null]',
	'[{"id": "1", "channel": "events", "message": {}}]',
	'[{"id": 1, "channel": 5, "message": {}}]', '[{"id": 1, "channel": "events"}]',
	'[{"id": 1e30, "channel": "events", "message": {}}]',
	'[{"id": 1, "channel": "nope", "message": {}}]')
{
	%r = sql_error($m{m1}, "SELECT foundation.relay_deliver('ctl', '$bad')");
	like($r{sqlstate} // '', qr/^22/, "relay_deliver('$bad'): a clean data error ($r{sqlstate})")
	  or diag($r{stderr});
}

# A peer whose node_metrics() and gossip_exchange() answer in wrong shapes
# (ctl plays it).
$m{m1}->safe_psql('postgres',
	"INSERT INTO foundation.nodes (name, conninfo) VALUES ('shape', 'host="
	  . $ctl->host . ' port=' . $ctl->port . " dbname=postgres')");
for my $bad ('[1, 2]', '"x"', '7', 'null', '{"load_avg": {"a": 1}, "memory_total": "x"}',
	'{"load_avg": 5, "memory_total": [1], "memory_available": {}}', '{"load_avg": [[1]]}')
{
	$ctl->safe_psql('postgres', qq{CREATE OR REPLACE FUNCTION foundation.node_metrics() RETURNS jsonb
		LANGUAGE sql AS \$\$ SELECT '$bad'::jsonb \$\$});
	my $st = $m{m1}->safe_psql('postgres', q{
		SELECT n->>'status' FROM jsonb_array_elements(foundation.health_check()#>'{cluster,node_health}') n
		 WHERE n->>'node' = 'shape'});
	is($st, ($bad =~ /^\{/ ? 'healthy' : 'unreachable'),
		"node_metrics() answering $bad: the check goes on, the node is $st");
}
# ... and answers that are not JSON at all (the function returns text now)
$ctl->safe_psql('postgres', q{
	ALTER EXTENSION foundation DROP FUNCTION foundation.node_metrics();
	DROP FUNCTION foundation.node_metrics();
	CREATE TABLE public.metrics_answer (t text);
	CREATE FUNCTION foundation.node_metrics() RETURNS text LANGUAGE sql
	  AS $$ SELECT t FROM public.metrics_answer $$;});
for my $bad ('not json', '{"a": "\\u0000"}', '{"a": ', '')
{
	$ctl->safe_psql('postgres', "DELETE FROM public.metrics_answer; INSERT INTO public.metrics_answer VALUES ('$bad')");
	my $res = $m{m1}->safe_psql('postgres', q{
		SELECT n->>'status' || ' / ' || (n->>'error')
		  FROM jsonb_array_elements(foundation.health_check()#>'{cluster,node_health}') n
		 WHERE n->>'node' = 'shape'});
	like($res, qr{^unreachable / unusable answer to node_metrics\(\): not JSON},
		"node_metrics() answering the text '$bad': $res");
}
$m{m1}->safe_psql('postgres', q{DELETE FROM foundation.nodes});
$m{m1}->append_conf('postgresql.conf',
	"foundation.cluster = 'gossip'\nfoundation.cluster_nodes = 'host="
	  . $ctl->host . ' port=' . $ctl->port . " dbname=postgres'\n");
$m{m1}->reload;
ok(wait_for($m{m1}, q{SELECT current_setting('foundation.cluster') = 'gossip'}), 'm1 gossips with ctl');
for my $bad ('{"name": "x", "conninfo": "host=x"}', '"x"', '1', '[1, "x", null]', '[[{"name": "x"}]]',
	'[{"name": 1, "conninfo": "host=x"}, {"name": "y", "conninfo": {"host": "x"}}, {"name": ["z"]}]')
{
	$ctl->safe_psql('postgres', qq{CREATE OR REPLACE FUNCTION foundation.gossip_exchange(secret text, node text, conninfo text)
		RETURNS jsonb LANGUAGE sql AS \$\$ SELECT '$bad'::jsonb \$\$});
	%r = sql_error($m{m1}, q{SELECT count(*) FROM foundation.discover_nodes()});
	is($r{rc}, 0, "a gossip answer of $bad: discovery ends without error") or diag($r{stderr});
}
is($m{m1}->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM foundation.nodes}),
	'', 'and learnt no node from them');
$m{m1}->append_conf('postgresql.conf', "foundation.cluster = 'off'\nfoundation.cluster_nodes = ''\n");
$m{m1}->reload;

# The control database answering member_heartbeat in wrong shapes; each
# answer is counted, so that we wait for the members to have read some.
$ctl->safe_psql('postgres', q{CREATE TABLE public.beats (n int); GRANT INSERT ON public.beats TO fdn_member});
for my $bad ('[]', '"x"', '{"epoch": "x"}', '{"epoch": null}', '{"epoch": 0}',
	'{"epoch": 1, "assignments": {"a": 1}, "members": 5}',
	'{"epoch": 1, "assignments": [1, [2], {"name": 5}, {"name": "n", "epoch": "e"}, {"name": "n", "epoch": 9}], "members": [1, {"node": 2}, {"node": "z", "conninfo": 3}]}',
	'{"epoch": 1, "members": [{"node": "z", "conninfo": "host=z service=admin options=-cx=1 password=p"}]}')
{
	$ctl->safe_psql('postgres', qq{
		TRUNCATE public.beats;
		CREATE OR REPLACE FUNCTION foundation.member_heartbeat(p_node text, p_epoch bigint, p_lease_ms integer,
		    p_load double precision, p_running jsonb, p_leaving boolean DEFAULT false, p_conninfo text DEFAULT NULL,
		    p_databases text[] DEFAULT NULL)
		  RETURNS jsonb LANGUAGE sql AS \$\$ INSERT INTO public.beats VALUES (1) RETURNING '$bad'::jsonb \$\$;});
	ok(wait_for($ctl, 'SELECT count(*) >= 6 FROM public.beats'),
		"members go on renewing after member_heartbeat answered $bad");
}
# What the control database said of member z: where it is, not how to log in.
my $z = $m{m1}->safe_psql('postgres', q{SELECT conninfo FROM foundation.cluster_peers WHERE node = 'z'});
like($z, qr/host=/, "the control database's word on a member is kept as an address: $z");
unlike($z, qr/service|options|password/, 'without service, options or password');

for my $k (sort keys %m)
{
	is($m{$k}->safe_psql('postgres', 'SELECT 1'), '1', "$k is up");
}
nothing_gained('after every wrong shape');
for my $node ($ctl, values %m)
{
	ok(!$node->log_contains(qr/terminated by signal/), $node->name . ': no process was terminated by a signal');
}

$_->stop for values %m;
$ctl->stop;
done_testing();
