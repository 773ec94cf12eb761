# Cluster configuration and discovery: resolve_cluster_config's four modes
# with the settings' environment variable fallbacks (read from the
# postmaster's environment), bad settings rejected with a hint, and
# discovery (static, DNS, Kubernetes DNS, gossip, failures) between servers
# on this machine.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# Every environment variable foundation reads; each server below starts
# with exactly the ones its scenario sets.
my @ENV_VARS = qw(KUBERNETES_SERVICE_HOST CONSUL_HTTP_ADDR FOUNDATION_APP_NAME
  FOUNDATION_K8S_SELECTOR POD_NAMESPACE FOUNDATION_SERVICE_NAME
  FOUNDATION_DNS_SERVICE FOUNDATION_GOSSIP_SECRET FOUNDATION_EXPECTED_NODES);

# Run $code with the foundation variables of the test process's environment
# replaced by %env (PostgreSQL::Test::Cluster->start passes %ENV on to
# pg_ctl, hence to the postmaster).
sub with_env
{
	my ($env, $code) = @_;
	local %ENV = %ENV;
	delete @ENV{@ENV_VARS};
	$ENV{$_} = $env->{$_} for keys %$env;
	return $code->();
}

sub quote
{
	my ($v) = @_;
	$v =~ s/'/''/g;
	return "'$v'";
}

# ALTER SYSTEM SET each setting (they are SIGHUP settings), reload, and
# wait until a new session sees every value.
sub set_conf
{
	my ($node, %s) = @_;
	my $sql = '';
	my @checks;
	for my $k (sort keys %s)
	{
		$sql .= "ALTER SYSTEM SET $k = " . quote($s{$k}) . ";\n";
		push @checks, "current_setting('$k') = " . quote($s{$k});
	}
	$node->safe_psql('postgres', $sql . 'SELECT pg_reload_conf();');
	wait_for($node, 'SELECT ' . join(' AND ', @checks))
	  or die 'the new settings did not take effect on ' . $node->name;
}

# A jsonb value in its canonical text form (to compare with is()).
sub canon
{
	my ($node, $json) = @_;
	return $node->safe_psql('postgres', 'SELECT ' . quote($json) . '::jsonb::text');
}

# resolve_cluster_config() as "mode|topology", plus the client's stderr.
sub resolve
{
	my ($node) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres',
		'SELECT mode || \'|\' || topology::text FROM foundation.resolve_cluster_config()',
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($out, $err);
}

sub expect_mode
{
	my ($node, $mode, $topology, $name) = @_;
	my ($got, $err) = resolve($node);
	is($got, "$mode|" . canon($node, $topology), $name) or diag($err);
	return $err;
}

sub conninfo_of
{
	my ($node) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
}

# A node named $name (foundation.node_name) telling others how to reach it.
# Its health monitor checks nothing: with clustering on it would run
# discovery too, behind the tests' backs.
sub cluster_node
{
	my ($name, $env, %opt) = @_;
	my $node = with_env(
		$env,
		sub {
			foundation_node($name,
				extra_conf => "foundation.node_name = '$name'\n"
				  . "foundation.health_check_interval = 0\n"
				  . ($opt{extra_conf} // ''));
		});
	set_conf($node, 'foundation.node_conninfo' => conninfo_of($node));
	return $node;
}

my $app_default_topologies = {
	kubernetes => '{"foundation_k8s": {"strategy": "kubernetes", "config": {"mode": "hostname",
      "kubernetes_node_basename": "foundation-app", "kubernetes_selector": "app=foundation-app",
      "namespace": "default", "dns_name": "foundation-app.default.svc.cluster.local", "port": 5432}}}',
	consul => '{"foundation_consul": {"strategy": "consul", "config": {"service_name": "foundation-app",
      "dns_name": "foundation-app.service.consul", "port": 5432}}}',
	dns => '{"foundation_dns": {"strategy": "dns", "config": {"service": "foundation-app",
      "application_name": "foundation-app", "port": 5432}}}',
	static => '{"foundation_static": {"strategy": "static", "config": {"nodes":
      ["host=10.0.0.2 port=5433", "host=10.0.0.3"]}}}',
	gossip => '{"foundation_gossip": {"strategy": "gossip", "config": {"seeds":
      ["host=10.0.0.2 port=5433", "host=10.0.0.3"], "secret": "(foundation.gossip_secret)"}}}',
};

###########################################################################
note '1. modes, with no clustering environment variable set';
###########################################################################
# node_d: only FOUNDATION_GOSSIP_SECRET (used again in the gossip scenario).
my $node_d = cluster_node('node_d', { FOUNDATION_GOSSIP_SECRET => 'd-secret' });
{
	expect_mode($node_d, 'no_clustering', '[]',
		'foundation.cluster = off (default): no_clustering, empty topology');

	set_conf($node_d, 'foundation.cluster' => 'on');
	expect_mode($node_d, 'mortal',
		'{"foundation_gossip": {"strategy": "gossip", "config": {"seeds": [], "secret": "(foundation.gossip_secret)"}}}',
		'on without KUBERNETES_SERVICE_HOST or CONSUL_HTTP_ADDR: mortal, gossip');
	is( $node_d->safe_psql('postgres', 'SELECT foundation.auto_detect_strategy()::text'),
		canon($node_d,
			'{"foundation_gossip": {"strategy": "gossip", "config": {"seeds": [], "secret": "(foundation.gossip_secret)"}}}'),
		'auto_detect_strategy() picks gossip too');

	set_conf($node_d,
		'foundation.cluster_nodes' => 'host=10.0.0.2 port=5433; host=10.0.0.3');
	for my $strategy (qw(kubernetes consul dns static gossip))
	{
		set_conf($node_d, 'foundation.cluster' => $strategy);
		expect_mode($node_d, 'apprentice', $app_default_topologies->{$strategy},
			"foundation.cluster = $strategy: apprentice with the translated topology");
		is( $node_d->safe_psql('postgres',
				"SELECT foundation.translate_cluster_config('$strategy')::text"),
			canon($node_d, $app_default_topologies->{$strategy}),
			"translate_cluster_config('$strategy') gives the same shape");
	}

	my $offset = -s $node_d->logfile;
	set_conf($node_d, 'foundation.cluster' => 'sometimes');
	my $err = expect_mode($node_d, 'mortal',
		'{"foundation_gossip": {"strategy": "gossip", "config": {"seeds": ["host=10.0.0.2 port=5433", "host=10.0.0.3"], "secret": "(foundation.gossip_secret)"}}}',
		"an unknown value ('sometimes'): mortal, auto-detected (gossip)");
	like($err,
		qr/WARNING:.*unknown foundation\.cluster value "sometimes"; falling back to auto-detection/,
		'the client gets a WARNING naming the unknown value');
	like($err, qr/HINT:.*off, on, static, dns, kubernetes, consul or gossip/,
		'with a hint listing the values');
	ok( $node_d->log_contains(
			qr/WARNING:.*unknown foundation\.cluster value "sometimes"/, $offset),
		'the server log has the WARNING too');

	# wizard: an explicit topology wins over foundation.cluster
	my $topo = '{"my_topology": {"strategy": "static", "config": {"nodes": ["host=10.9.9.9"]}}}';
	set_conf($node_d, 'foundation.cluster' => 'static', 'foundation.topology' => $topo);
	expect_mode($node_d, 'wizard', $topo,
		'foundation.topology set: wizard mode returning it as is');

	# wizard: nodes added by hand (once the topology is unset)
	set_conf($node_d, 'foundation.topology' => '');
	expect_mode($node_d, 'apprentice', $app_default_topologies->{static},
		'topology unset again: back to apprentice');
	$node_d->safe_psql('postgres', q{
INSERT INTO foundation.nodes (name, conninfo) VALUES
  ('zeta', 'host=10.1.1.2'), ('alpha', 'host=10.1.1.1')});
	is( $node_d->safe_psql('postgres',
			"SELECT source || ',' || status FROM foundation.nodes WHERE name = 'alpha'"),
		'manual,unknown', 'a row inserted by hand is manual, status unknown');
	expect_mode($node_d, 'wizard',
		'{"foundation_manual": {"strategy": "manual", "config": {"nodes": [
		   {"name": "alpha", "conninfo": "host=10.1.1.1"},
		   {"name": "zeta", "conninfo": "host=10.1.1.2"}]}}}',
		'rows added by hand in foundation.nodes: wizard with foundation_manual (ordered by name)');
	set_conf($node_d, 'foundation.topology' => $topo);
	expect_mode($node_d, 'wizard', $topo,
		'foundation.topology takes precedence over rows added by hand');
	$node_d->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node_d, 'foundation.topology' => '', 'foundation.cluster' => 'off',
		'foundation.cluster_nodes' => '');
	expect_mode($node_d, 'no_clustering', '[]', 'back to no_clustering');

	# foundation.gossip_secret comes from FOUNDATION_GOSSIP_SECRET and only
	# superusers may read it.
	is($node_d->safe_psql('postgres', 'SHOW foundation.gossip_secret'),
		'd-secret', 'foundation.gossip_secret defaults to FOUNDATION_GOSSIP_SECRET');
	$node_d->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
	my %r = sql_error($node_d, 'SHOW foundation.gossip_secret',
		extra_params => [ '-U', 'plain' ]);
	is($r{sqlstate}, '42501', 'a non-superuser cannot read foundation.gossip_secret')
	  or diag($r{stderr});
	is($node_d->safe_psql('postgres', 'SHOW foundation.app_name'),
		'foundation-app', 'foundation.app_name defaults to foundation-app');
	is($node_d->safe_psql('postgres', 'SHOW foundation.expected_nodes'),
		'1', 'foundation.expected_nodes defaults to 1');
}

###########################################################################
note '2. on, in a Kubernetes environment';
###########################################################################
{
	$node_d->stop;
	with_env(
		{
			KUBERNETES_SERVICE_HOST => '10.96.0.1',
			CONSUL_HTTP_ADDR => '127.0.0.1:8500',    # Kubernetes wins
			FOUNDATION_APP_NAME => 'shop',
			FOUNDATION_K8S_SELECTOR => 'app.kubernetes.io/name=shop',
			POD_NAMESPACE => 'prod',
			FOUNDATION_GOSSIP_SECRET => 'd-secret',
		},
		sub { $node_d->start });
	my $offset = -s $node_d->logfile;
	set_conf($node_d, 'foundation.cluster' => 'on');
	my $k8s = '{"foundation_k8s": {"strategy": "kubernetes", "config": {"mode": "hostname",
      "kubernetes_node_basename": "shop", "kubernetes_selector": "app.kubernetes.io/name=shop",
      "namespace": "prod", "dns_name": "shop.prod.svc.cluster.local", "port": 5432}}}';
	expect_mode($node_d, 'mortal', $k8s,
		'on with KUBERNETES_SERVICE_HOST: mortal, foundation_k8s with the app name, selector and namespace from the environment'
	);
	is( $node_d->safe_psql('postgres', 'SELECT foundation.auto_detect_strategy()::text'),
		canon($node_d, $k8s), 'auto_detect_strategy() picks Kubernetes');
	ok( $node_d->log_contains(
			qr/Foundation\.ClusterConfig:   Detected: Kubernetes environment \(KUBERNETES_SERVICE_HOST present\)/,
			$offset),
		'the server log says what was detected and why');
	is($node_d->safe_psql('postgres', 'SHOW foundation.app_name'),
		'shop', 'foundation.app_name comes from FOUNDATION_APP_NAME');

	# no selector given: app=<app name>
	set_conf($node_d, 'foundation.k8s_selector' => '');
	is( $node_d->safe_psql('postgres',
			q{SELECT topology #>> '{foundation_k8s,config,kubernetes_selector}' FROM foundation.resolve_cluster_config()}),
		'app=shop', 'an empty selector means app=<app name>');
	is( $node_d->safe_psql('postgres',
			q{SELECT foundation.translate_cluster_config('dns')::text}),
		canon($node_d,
			'{"foundation_dns": {"strategy": "dns", "config": {"service": "shop", "application_name": "shop", "port": 5432}}}'
		),
		'dns without a service name uses the app name from FOUNDATION_APP_NAME');
	set_conf($node_d, 'foundation.cluster' => 'off');
}

###########################################################################
note '3. on, with Consul available (no Kubernetes)';
###########################################################################
{
	$node_d->stop;
	with_env(
		{
			CONSUL_HTTP_ADDR => '127.0.0.1:8500',
			FOUNDATION_SERVICE_NAME => 'billing',
			FOUNDATION_DNS_SERVICE => 'nodes.example.test',
			FOUNDATION_EXPECTED_NODES => '3',
			FOUNDATION_GOSSIP_SECRET => 'd-secret',
		},
		sub { $node_d->start });
	set_conf($node_d, 'foundation.cluster' => 'on');
	my $consul = '{"foundation_consul": {"strategy": "consul", "config": {"service_name": "billing",
      "dns_name": "billing.service.consul", "port": 5432}}}';
	expect_mode($node_d, 'mortal', $consul,
		'on with CONSUL_HTTP_ADDR: mortal, foundation_consul with the service name from FOUNDATION_SERVICE_NAME'
	);
	set_conf($node_d, 'foundation.cluster' => 'dns', 'foundation.cluster_port' => '6543');
	expect_mode($node_d, 'apprentice',
		'{"foundation_dns": {"strategy": "dns", "config": {"service": "nodes.example.test",
		  "application_name": "foundation-app", "port": 6543}}}',
		'dns: the service from FOUNDATION_DNS_SERVICE, the port from foundation.cluster_port');
	is($node_d->safe_psql('postgres', 'SHOW foundation.expected_nodes'),
		'3', 'foundation.expected_nodes comes from FOUNDATION_EXPECTED_NODES');
	set_conf($node_d, 'foundation.cluster' => 'off', 'foundation.cluster_port' => '5432');
}

###########################################################################
note '4. bad settings are rejected with a hint';
###########################################################################
{
	my %r = sql_error($node_d,
		q{ALTER SYSTEM SET foundation.cluster_nodes = 'host=a port=notaport; =bad'});
	is($r{sqlstate}, '22023', 'a malformed cluster_nodes entry: 22023') or diag($r{stderr});
	like($r{message} // '', qr/invalid value for parameter "foundation\.cluster_nodes"/,
		'the error names the setting');
	like($r{detail} // '', qr/Entry 2, "=bad", is not a connection string/,
		'the detail names the bad entry (the second)');
	like($r{hint} // '', qr/connection strings separated by semicolons/,
		'the hint says what is expected');
	is( $node_d->safe_psql('postgres', q{
SELECT count(*) FROM pg_file_settings WHERE name = 'foundation.cluster_nodes' AND setting LIKE '%bad%'}),
		'0', 'nothing was written to postgresql.auto.conf');

	%r = sql_error($node_d, q{SET foundation.cluster_nodes = 'host=b'});
	is($r{sqlstate}, '55P02', 'SET in a session: cannot be changed now (a SIGHUP setting)')
	  or diag($r{stderr});

	for my $bad ('not json', '[1]', '{"unterminated": ')
	{
		%r = sql_error($node_d, 'ALTER SYSTEM SET foundation.topology = ' . quote($bad));
		is($r{sqlstate}, '22023', "foundation.topology = '$bad' is rejected (22023)")
		  or diag($r{stderr});
		like($r{detail} // '', qr/must be a JSON object/,
			"  '$bad': the detail says it must be a JSON object");
		like($r{hint} // '', qr/For example: '\{"my_topology"/,
			"  '$bad': the hint shows an example");
	}

	%r = sql_error($node_d, q{SELECT foundation.translate_cluster_config('nope')});
	is($r{sqlstate}, '22023', "translate_cluster_config('nope'): 22023") or diag($r{stderr});
	like($r{message} // '', qr/unknown clustering strategy "nope"/,
		'the message names the strategy');
	like($r{hint} // '', qr/static, dns, kubernetes, consul or gossip/,
		'the hint lists the strategies');
	%r = sql_error($node_d, q{SELECT foundation.translate_cluster_config(NULL)});
	is($r{sqlstate}, '22004', 'translate_cluster_config(NULL): 22004') or diag($r{stderr});
}

###########################################################################
note '5. static discovery';
###########################################################################
my %secret = (FOUNDATION_GOSSIP_SECRET => 'abc-secret');
my $node_a = cluster_node('node_a', \%secret);
my $node_b = cluster_node('node_b', \%secret,
	extra_conf => "listen_addresses = '127.0.0.1'\n");
my $node_c = cluster_node('node_c', \%secret);
my ($ci_a, $ci_b, $ci_c) = map { conninfo_of($_) } ($node_a, $node_b, $node_c);

# A's foundation.nodes as "name,source,status,conninfo" lines.
sub nodes_of
{
	my ($node, $cols) = @_;
	$cols //= q{name || ',' || source || ',' || status};
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg($cols, E'\\n' ORDER BY name), '') FROM foundation.nodes");
}

# discover_nodes() on $node: (rows as "name,source,status", client stderr, rc).
sub discover
{
	my ($node) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres',
		q{SELECT name || ',' || source || ',' || status FROM foundation.discover_nodes()},
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($out, $err, $rc);
}

{
	set_conf($node_a, 'foundation.cluster' => 'static',
		'foundation.cluster_nodes' => "$ci_b; $ci_c;$ci_a");
	my ($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'discover_nodes() succeeds') or diag($err);
	is($out, "node_b,static,up\nnode_c,static,up",
		'static: B and C found under their node names, up, source static (A itself skipped)');
	is( nodes_of($node_a, q{name || ' ' || conninfo}),
		"node_b $ci_b\nnode_c $ci_c",
		'each stored with the conninfo it was reached by');
	is( $node_a->safe_psql('postgres', q{
SELECT count(*) FROM foundation.nodes
 WHERE ping_time_us > 0 AND last_seen_at > now() - interval '1 minute'}),
		'2', 'both have ping_time_us > 0 and a recent last_seen_at');

	# A node that stops: marked unreachable by the next discovery.
	$node_c->stop;
	($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'discover_nodes() with C stopped succeeds') or diag($err);
	is($out, "node_b,static,up\nnode_c,static,unreachable",
		'C (stopped) is marked unreachable, B stays up');
	with_env(\%secret, sub { $node_c->start });
	($out, $err, $rc) = discover($node_a);
	is($out, "node_b,static,up\nnode_c,static,up", 'C is up again once it runs');

	# An entry nothing listens on: not added as up.
	my $nobody = 'host=' . $node_a->host . ' port='
	  . PostgreSQL::Test::Cluster::get_free_port() . ' dbname=postgres';
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node_a, 'foundation.cluster_nodes' => "$ci_b; $nobody");
	my $t0 = time();
	($out, $err, $rc) = discover($node_a);
	my $took = time() - $t0;
	is($rc, 0, 'discovery with an entry nothing listens on succeeds') or diag($err);
	is($out, 'node_b,static,up', 'only B is in foundation.nodes');
	is( $node_a->safe_psql('postgres',
			'SELECT count(*) FROM foundation.nodes WHERE conninfo = ' . quote($nobody)),
		'0', 'the entry nothing listens on was not added');
	ok($took < 5 + 3, sprintf('and discovery did not wait past the timeout (%.1f s)', $took));
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');
}

###########################################################################
note '6. DNS discovery (localhost -> B over TCP)';
###########################################################################
{
	my $pb = $node_b->port;
	set_conf($node_a, 'foundation.cluster' => 'dns',
		'foundation.dns_service' => 'localhost',
		'foundation.cluster_port' => $pb,
		'foundation.cluster_conninfo_options' => 'application_name=fdn_discovery',
		'foundation.cluster_nodes' => '');
	my $addrs = join(' ', sort map { $_->[0] } resolve_localhost());
	note "localhost resolves to: $addrs";
	my ($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'dns: discover_nodes() succeeds') or diag($err);
	my $want = "host=127.0.0.1 port=$pb dbname=postgres application_name=fdn_discovery";
	is( nodes_of($node_a,
			q{name || ',' || source || ',' || status || ',' || conninfo || ',' || (ping_time_us > 0)}),
		"node_b,dns,up,$want,true",
		'dns: the node behind 127.0.0.1 is found by its name, with the address, cluster_port and cluster_conninfo_options'
	);
	# other addresses of localhost (::1, where nothing listens) were not added
	is( $node_a->safe_psql('postgres',
			"SELECT count(*) FROM foundation.nodes WHERE status = 'up'"),
		'1', 'dns: only the reachable address is up');

	# Kubernetes discovery resolves the headless service's DNS name the same way.
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node_a, 'foundation.cluster' => 'kubernetes',
		'foundation.k8s_dns_name' => 'localhost');
	($out, $err, $rc) = discover($node_a);
	is($out, 'node_b,kubernetes,up',
		'kubernetes (k8s_dns_name = localhost): B found, source kubernetes')
	  or diag($err);
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');

	# Wizard mode: discovery follows the explicit topology, not the settings
	# it replaces (with foundation.cluster_nodes empty and cluster_port at
	# its default).
	set_conf($node_a, 'foundation.cluster' => 'off', 'foundation.cluster_port' => '5432',
		'foundation.topology' => qq({"mine": {"strategy": "static", "config": {"nodes": ["$ci_b"]}}}));
	($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'wizard (static topology): discover_nodes() succeeds') or diag($err);
	is($out, 'node_b,static,up',
		"wizard: the topology's own config.nodes are discovered");
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node_a,
		'foundation.topology' => qq({"mine": {"strategy": "dns", "config": {"service": "localhost", "port": $pb}}}));
	($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'wizard (dns topology): discover_nodes() succeeds') or diag($err);
	is($out, 'node_b,dns,up', "wizard: the topology's own config.port is used for DNS discovery");
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node_a, 'foundation.topology' => '');

	# A name that does not resolve: a WARNING naming it, no error.
	my $offset = -s $node_a->logfile;
	set_conf($node_a, 'foundation.cluster' => 'dns',
		'foundation.dns_service' => 'no-such-host.invalid');
	($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'a name that does not resolve: discover_nodes() returns without error')
	  or diag($err);
	is($out, '', 'and finds nothing');
	like($err, qr/WARNING:.*"no-such-host\.invalid" does not resolve/,
		'the client gets a WARNING naming it');
	ok( $node_a->log_contains(qr/WARNING:.*"no-such-host\.invalid" does not resolve/, $offset),
		'the server log has the WARNING');
	set_conf($node_a, 'foundation.cluster' => 'off', 'foundation.dns_service' => '',
		'foundation.cluster_port' => '5432', 'foundation.cluster_conninfo_options' => '',
		'foundation.k8s_dns_name' => '');
}

sub resolve_localhost
{
	require Socket;
	my ($err, @res) = Socket::getaddrinfo('localhost', '',
		{ socktype => Socket::SOCK_STREAM() });
	return () if $err;
	my @out;
	for my $r (@res)
	{
		my ($e, $host) = Socket::getnameinfo($r->{addr}, Socket::NI_NUMERICHOST());
		push @out, [$host] unless $e;
	}
	return @out;
}

###########################################################################
note '7. gossip: A seeds B, B seeds C';
###########################################################################
{
	$_->safe_psql('postgres', 'DELETE FROM foundation.nodes') for ($node_a, $node_b, $node_c);
	is($node_a->safe_psql('postgres', 'SHOW foundation.gossip_secret'),
		'abc-secret', 'A, B and C have the secret from FOUNDATION_GOSSIP_SECRET');
	set_conf($node_a, 'foundation.cluster' => 'gossip', 'foundation.cluster_nodes' => $ci_b);
	set_conf($node_b, 'foundation.cluster' => 'gossip', 'foundation.cluster_nodes' => $ci_c);
	set_conf($node_c, 'foundation.cluster' => 'gossip', 'foundation.cluster_nodes' => '');

	my ($out, $err, $rc) = discover($node_b);
	is($rc, 0, 'discovery on B succeeds') or diag($err);
	is($out, 'node_c,gossip,up', 'B learns C (its seed)');
	is(nodes_of($node_c), 'node_b,gossip,up', 'C noted B, the caller');

	($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'discovery on A succeeds') or diag($err);
	is($out, "node_b,gossip,up\nnode_c,gossip,unknown",
		'A learns B (its seed, up) and C through B, two hops away (unknown until contacted)');
	is( nodes_of($node_a, q{name || ' ' || conninfo}),
		"node_b $ci_b\nnode_c $ci_c", 'with the conninfos B and C give');
	is(nodes_of($node_b), "node_a,gossip,up\nnode_c,gossip,up", 'B noted A, the caller');

	($out, $err, $rc) = discover($node_a);
	is($out, "node_b,gossip,up\nnode_c,gossip,up",
		'the next discovery on A contacts C directly: up');
	is(nodes_of($node_c), "node_a,gossip,up\nnode_b,gossip,up",
		'and C noted A');

	# D has another secret (from its FOUNDATION_GOSSIP_SECRET): it refuses.
	$node_d->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	my $ci_d = conninfo_of($node_d);
	my $offset_a = -s $node_a->logfile;
	my $offset_d = -s $node_d->logfile;
	set_conf($node_a, 'foundation.cluster_nodes' => "$ci_b; $ci_d");
	($out, $err, $rc) = discover($node_a);
	is($rc, 0, 'discovery on A with D (another secret) as a seed succeeds') or diag($err);
	is($out, "node_b,gossip,up\nnode_c,gossip,up", 'D is not among A\'s nodes');
	like($err, qr/WARNING:.*did not answer:.*gossip secret mismatch: node "node_d" is not trusted/,
		'A warns that D refused: gossip secret mismatch');
	ok( $node_a->log_contains(
			qr/WARNING:.*foundation discovery: \Q$ci_d\E did not answer:.*gossip secret/, $offset_a),
		"A's log has the WARNING naming D's conninfo");
	ok( $node_d->log_contains(
			qr/WARNING:.*foundation gossip: refused node "node_a": wrong gossip secret/, $offset_d),
		"D's log has a WARNING naming A as refused");
	is(nodes_of($node_d), '', 'D did not note A');

	# and gossip_exchange itself refuses with 28000
	my %r = sql_error($node_d,
		q{SELECT foundation.gossip_exchange('abc-secret', 'intruder', 'host=x')});
	is($r{sqlstate}, '28000', 'gossip_exchange with the wrong secret: 28000') or diag($r{stderr});
	like($r{hint} // '', qr/foundation\.gossip_secret/, 'the hint names foundation.gossip_secret');
	is(nodes_of($node_d), '', 'and notes nobody');
	set_conf($node_a, 'foundation.cluster_nodes' => $ci_b);
}

$_->stop for ($node_a, $node_b, $node_c, $node_d);
done_testing();
