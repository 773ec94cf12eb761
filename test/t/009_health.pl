# The health check and the health monitor, with three servers on this
# machine: node states as servers stop and start again, status changes
# announced on the control channel, the monitor's checks and the history's
# retention, failed services, performance figures, and nodes that refuse
# or never answer.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

sub quote
{
	my ($v) = @_;
	$v =~ s/'/''/g;
	return "'$v'";
}

sub conninfo_of
{
	my ($node) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
}

# ALTER SYSTEM SET + reload, then wait until a new session sees the values.
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

my $node_a = foundation_node('node_a', extra_conf => <<'EOC');
foundation.node_name = 'node_a'
foundation.health_check_interval = 0
foundation.health_check_timeout = '2s'
foundation.expected_nodes = 3
EOC
my $node_b = foundation_node('node_b', extra_conf => "foundation.node_name = 'node_b'\n");
my $node_c = foundation_node('node_c', extra_conf => "foundation.node_name = 'node_c'\n");

# One stored check on A: (report as a hash, client stderr, seconds taken).
sub check
{
	my ($node) = @_;
	$node //= $node_a;
	my ($out, $err) = ('', '');
	my $t0 = time();
	my $rc = $node->psql('postgres', 'SELECT foundation.health_check()::text',
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	my $took = time() - $t0;
	die "health_check() failed: $err" if $rc != 0;
	return (decode_json($out), $err, $took);
}

# node_health as "name:status ..." in report order.
sub node_states
{
	my ($rep) = @_;
	return join(' ',
		map { "$_->{node}:$_->{status}" } @{ $rep->{cluster}{node_health} });
}

sub recs
{
	my ($rep, $rule) = @_;
	return grep { $_->{rule} eq $rule } @{ $rep->{recommendations} };
}

# The health_status_changed messages a handler on A recorded, "from>to".
sub transitions
{
	return $node_a->safe_psql('postgres', q{
SELECT coalesce(string_agg(coalesce(message->>'from', 'null') || '>' || (message->>'to'), ' ' ORDER BY seq), '')
  FROM public.ctl WHERE message->>'type' = 'health_status_changed'});
}

sub wait_transitions
{
	my ($n) = @_;
	return wait_for($node_a,
		q{SELECT count(*) FROM public.ctl WHERE message->>'type' = 'health_status_changed'}, $n);
}

# A records every health_status_changed message on the control channel and
# every health summary on telemetry, with server-side handlers.
$node_a->safe_psql('postgres', q{
CREATE TABLE public.ctl (seq bigserial, message jsonb);
CREATE TABLE public.tel (seq bigserial, message jsonb);
CREATE FUNCTION public.record_ctl(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO public.ctl (message) VALUES (message) $$;
CREATE FUNCTION public.record_tel(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO public.tel (message) SELECT message
   WHERE message->>'name' = 'foundation.health' $$;
CREATE FUNCTION public.refuse(channel text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused %', message->>'n'; END $$;
CREATE PROCEDURE public.boom(args jsonb) LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'boom'; END $$;
SELECT foundation.subscribe('control', 'public.record_ctl(text, jsonb)'::regprocedure);
SELECT foundation.subscribe('telemetry', 'public.record_tel(text, jsonb)'::regprocedure);
});
ok(wait_for($node_a, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the handler dispatcher listens on A');
$node_a->safe_psql('postgres',
	"INSERT INTO foundation.nodes (name, conninfo) VALUES ('node_b', "
	  . quote(conninfo_of($node_b)) . "), ('node_c', " . quote(conninfo_of($node_c)) . ')');

###########################################################################
note '1. all three nodes healthy';
###########################################################################
{
	is( $node_a->safe_psql('postgres', 'SELECT count(*) FROM foundation.health_history'),
		'0', 'no check yet (health_check_interval = 0 on A)');
	my ($rep, $err) = check();
	is($rep->{overall_status}, 'healthy', 'overall healthy')
	  or diag(explain($rep));
	is($rep->{cluster}{status}, 'healthy', 'cluster healthy');
	is($rep->{cluster}{healthy_nodes}, 3, 'cluster.healthy_nodes = 3');
	is($rep->{cluster}{connected_nodes}, 3, 'cluster.connected_nodes = 3');
	is($rep->{cluster}{expected_nodes}, 3, 'cluster.expected_nodes = 3');
	is(node_states($rep), 'node_a:healthy node_b:healthy node_c:healthy',
		'node_health: all three healthy');
	is( scalar(grep { $_->{node} ne 'node_a' && $_->{ping_time_us} > 0 }
			  @{ $rep->{cluster}{node_health} }),
		2, 'B and C have ping_time_us > 0');
	is( scalar(grep { $_->{memory_usage} > 0 && $_->{memory_usage} < 1 }
			  @{ $rep->{cluster}{node_health} }),
		3, 'every node reports its memory usage (a fraction)');
	is($rep->{services}{status}, 'healthy', 'services healthy');
	is($rep->{infrastructure}{status}, 'healthy', 'infrastructure healthy');
	is($rep->{infrastructure}{supervisor_status}, 'running', 'the supervisor runs');
	is($rep->{infrastructure}{pubsub_status}, 'ok', 'the pubsub probe works');
	is_deeply($rep->{recommendations}, [], 'no recommendation');
	is($err, '', 'no warning');
	is( $node_a->safe_psql('postgres', q{
SELECT string_agg(name || ':' || status || ':' || (last_seen_at IS NOT NULL) || ':' || failed_checks, ' ' ORDER BY name)
  FROM foundation.nodes}),
		'node_b:up:true:0 node_c:up:true:0',
		'foundation.nodes on A: B and C up, last_seen_at set');
	is( $node_a->safe_psql('postgres', q{
SELECT overall_status || ',' || cluster || ',' || healthy_nodes || ',' || expected_nodes
  FROM foundation.health}),
		'healthy,healthy,3,3', 'the check is stored: foundation.health shows it');
	my $cluster_health = decode_json($node_a->safe_psql('postgres',
			'SELECT foundation.cluster_health()::text'));
	is($cluster_health->{overall_status} . ',' . $cluster_health->{cluster}{healthy_nodes},
		'healthy,3', 'cluster_health() returns a report too');
	is( $node_a->safe_psql('postgres', 'SELECT count(*) FROM foundation.health_history'),
		'1', 'cluster_health() stores nothing');
	ok(wait_transitions(1), 'one status change announced');
	is(transitions(), 'null>healthy', 'the first: from null to healthy');
	is( $node_a->safe_psql('postgres',
			q{SELECT message->>'node' FROM public.ctl WHERE message->>'type' = 'health_status_changed'}),
		'node_a', 'the message names the node');
	ok( wait_for($node_a, 'SELECT count(*) FROM public.tel', '1'),
		'the summary arrived on the telemetry channel');
	is( $node_a->safe_psql('postgres', q{
SELECT (message->>'type') || ',' || (message->>'overall_status') || ',' || (message->>'healthy_nodes')
  FROM public.tel}),
		'measurement,healthy,3', 'a measurement with the overall status and healthy nodes');
}

###########################################################################
note '2. C stops, then B: degraded, critical, healthy again';
###########################################################################
{
	$node_c->stop;
	my $offset = -s $node_a->logfile;
	my ($rep, $err) = check();
	is($rep->{overall_status}, 'degraded', 'C stopped: overall degraded')
	  or diag(explain($rep));
	is($rep->{cluster}{status}, 'degraded', 'cluster degraded');
	is($rep->{cluster}{healthy_nodes}, 2, 'healthy_nodes = 2');
	is(node_states($rep), 'node_a:healthy node_b:healthy node_c:unreachable',
		'node_health: C unreachable');
	my ($c) = grep { $_->{node} eq 'node_c' } @{ $rep->{cluster}{node_health} };
	like($c->{error} // '', qr/\S/, "C's entry carries the error: " . ($c->{error} // ''));
	is( $node_a->safe_psql('postgres',
			"SELECT status || ':' || failed_checks FROM foundation.nodes WHERE name = 'node_c'"),
		'unreachable:1', 'foundation.nodes: C unreachable, 1 failed check');
	my @r = recs($rep, 'node_unreachable');
	is(scalar(@r), 1, 'one node_unreachable recommendation');
	like($r[0]{reason} // '', qr/node node_c has not answered for 1 consecutive checks/,
		'its reason names C');
	like($r[0]{action} // '', qr/\Q${\ conninfo_of($node_c)}\E/,
		"its action names C's conninfo");
	like( (recs($rep, 'fewer_nodes_than_expected'))[0]{reason} // '',
		qr/2 of 3 expected nodes are healthy/,
		'a fewer_nodes_than_expected recommendation: 2 of 3');
	like($err, qr/WARNING:.*foundation health: status changed from healthy to degraded/,
		'the client gets a WARNING: healthy to degraded');
	ok( $node_a->log_contains(
			qr/WARNING:.*foundation health: status changed from healthy to degraded/, $offset),
		'the server log has it');

	$node_b->stop;
	$offset = -s $node_a->logfile;
	($rep, $err) = check();
	is($rep->{overall_status}, 'critical', 'B stopped too: overall critical');
	is($rep->{cluster}{healthy_nodes}, 1, 'healthy_nodes = 1');
	is(node_states($rep), 'node_a:healthy node_b:unreachable node_c:unreachable',
		'node_health: B and C unreachable');
	is( $node_a->safe_psql('postgres',
			q{SELECT string_agg(name || ':' || status || ':' || failed_checks, ' ' ORDER BY name) FROM foundation.nodes}),
		'node_b:unreachable:1 node_c:unreachable:2',
		'foundation.nodes counts consecutive failures');
	like( join("\n", map { $_->{reason} } recs($rep, 'node_unreachable')),
		qr/\Anode node_b has not answered for 1 consecutive checks.*\nnode node_c has not answered for 2 consecutive checks/s,
		'a recommendation per unreachable node, each naming it');
	ok( $node_a->log_contains(
			qr/LOG:.*CRITICAL: foundation health: status changed from degraded to critical/, $offset),
		'the server log has the CRITICAL line');

	$node_b->start;
	$node_c->start;
	($rep, $err) = check();
	is($rep->{overall_status}, 'healthy', 'B and C back: healthy again')
	  or diag(explain($rep));
	is(node_states($rep), 'node_a:healthy node_b:healthy node_c:healthy',
		'node_health: all healthy');
	is( $node_a->safe_psql('postgres',
			q{SELECT string_agg(name || ':' || status || ':' || failed_checks, ' ' ORDER BY name) FROM foundation.nodes}),
		'node_b:up:0 node_c:up:0', 'foundation.nodes: up, failure counts reset');

	ok(wait_transitions(4), 'four status changes announced');
	is(transitions(), 'null>healthy healthy>degraded degraded>critical critical>healthy',
		'on foundation:control, in order: null>healthy, healthy>degraded, degraded>critical, critical>healthy');
	is( $node_a->safe_psql('postgres',
			q{SELECT string_agg(overall_status, ' ' ORDER BY id) FROM foundation.health_history}),
		'healthy degraded critical healthy', 'health_history has the four checks');
	note 'other messages the control handler saw: ' . $node_a->safe_psql('postgres', q{
SELECT coalesce(string_agg(t || ' x' || n, ', '), 'none') FROM
 (SELECT message->>'type' AS t, count(*) AS n FROM public.ctl
   WHERE message->>'type' IS DISTINCT FROM 'health_status_changed' GROUP BY 1) s});
}

###########################################################################
note '3. a failed child: services degraded';
###########################################################################
{
	my $pid = $node_a->safe_psql('postgres', q{
SELECT foundation.start_child('{"id": "boom", "start": {"module": "public.boom", "args": {}},
  "restart": "permanent", "max_restarts": 0, "max_seconds": 5}')});
	like($pid, qr/^\d+$/, 'a child whose module raises started');
	ok( wait_for($node_a,
			"SELECT status FROM foundation.children WHERE id = 'boom'", 'failed'),
		'it fails (max_restarts 0)');
	my $cid = $node_a->safe_psql('postgres',
		"SELECT child_id FROM foundation.children WHERE id = 'boom'");
	my ($rep, $err) = check();
	is($rep->{overall_status}, 'degraded', 'overall degraded') or diag(explain($rep));
	is($rep->{cluster}{status}, 'healthy', 'the cluster is still healthy');
	is($rep->{services}{status}, 'degraded', 'services degraded');
	ok($rep->{services}{unhealthy} >= 1, "services.unhealthy = $rep->{services}{unhealthy}");
	my ($svc) = grep { $_->{id} eq 'boom' } @{ $rep->{services}{services} };
	is($svc->{status} // '', 'failed', 'services lists boom as failed');
	my @r = recs($rep, 'child_failed');
	is(scalar(@r), 1, 'one child_failed recommendation');
	like($r[0]{reason} // '', qr/child $cid \("boom"\) exceeded its restart intensity; last exit: .*boom/,
		'its reason names the child and its last exit');
	like($r[0]{action} // '', qr/foundation\.terminate_child\($cid\)/,
		'its action says how to remove it');

	$node_a->safe_psql('postgres', "SELECT foundation.terminate_child($cid)");
	($rep, $err) = check();
	is($rep->{overall_status}, 'healthy', 'child removed: healthy again');
	is($rep->{services}{status}, 'healthy', 'services healthy');
	ok(wait_transitions(6), 'two more status changes announced');
	is(transitions(),
		'null>healthy healthy>degraded degraded>critical critical>healthy healthy>degraded degraded>healthy',
		'healthy>degraded, degraded>healthy');
}

###########################################################################
note '4. performance: latency, throughput, error rate';
###########################################################################
{
	my $n = 20;
	$node_a->safe_psql('postgres',
		q{SELECT foundation.subscribe('events', 'public.refuse(text, jsonb)'::regprocedure)});
	my $errors0 = $node_a->safe_psql('postgres',
		"SELECT errors FROM foundation.channel_stats WHERE channel = 'events'");
	my $t0 = time();
	my ($rep1) = check();
	$node_a->safe_psql('postgres',
		join("\n", map { qq{SELECT foundation.broadcast('events', '{"n": $_}');} } 1 .. $n));
	ok( wait_for($node_a,
			"SELECT errors FROM foundation.channel_stats WHERE channel = 'events'",
			$errors0 + $n),
		"the failing handler failed on all $n messages");
	my ($rep2) = check();
	my $elapsed = time() - $t0;
	my $perf = $rep2->{performance};
	note explain($perf);
	ok(defined $perf->{avg_message_latency_ms} && $perf->{avg_message_latency_ms} > 0,
		'avg_message_latency_ms > 0: ' . ($perf->{avg_message_latency_ms} // 'null'));
	ok($perf->{message_throughput_per_sec} > 0,
		"message_throughput_per_sec > 0: $perf->{message_throughput_per_sec}");
	# throughput = messages / seconds between the two checks, and fewer
	# seconds than $elapsed passed: throughput * $elapsed >= $n.
	ok($perf->{message_throughput_per_sec} * $elapsed >= $n,
		sprintf('throughput (%.3f/s) accounts for the %d messages within %.2f s',
			$perf->{message_throughput_per_sec}, $n, $elapsed));
	ok($perf->{error_rate_percent} > 50 && $perf->{error_rate_percent} <= 100,
		"error_rate_percent from the handler errors: $perf->{error_rate_percent}");
	$node_a->safe_psql('postgres',
		q{SELECT foundation.unsubscribe('events', 'public.refuse(text, jsonb)'::regprocedure)});
	my ($rep3) = check();
	cmp_ok($rep3->{performance}{error_rate_percent}, '==', 0,
		'no handler error since the previous check: error rate 0');
}

###########################################################################
note '5. the monitor: periodic checks and the history retention';
###########################################################################
my $monitor_pid;
{
	$monitor_pid = $node_a->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation health monitor'");
	like($monitor_pid, qr/^\d+$/, 'the health monitor runs');
	my $last = $node_a->safe_psql('postgres', 'SELECT max(id) FROM foundation.health_history');
	set_conf($node_a, 'foundation.health_check_interval' => '1s');
	ok( wait_for($node_a,
			"SELECT count(*) >= 2 FROM foundation.health_history WHERE id > $last"),
		'health_check_interval = 1s: the monitor stores checks');
	is( $node_a->safe_psql('postgres',
			"SELECT string_agg(DISTINCT overall_status, ',') FROM foundation.health_history WHERE id > $last"),
		'healthy', "the monitor's checks are healthy");

	my $before = $node_a->safe_psql('postgres', 'SELECT count(*) FROM foundation.health_history');
	ok($before > 3, "history holds $before checks");
	set_conf($node_a, 'foundation.health_history_size' => '3');
	my $m = $node_a->safe_psql('postgres', 'SELECT max(id) FROM foundation.health_history');
	ok( wait_for($node_a,
			"SELECT max(id) >= $m + 2 AND count(*) <= 3 FROM foundation.health_history"),
		'health_history_size = 3: after more checks the history holds at most 3');
	$m = $node_a->safe_psql('postgres', 'SELECT max(id) FROM foundation.health_history');
	ok( wait_for($node_a,
			"SELECT max(id) >= $m + 2 FROM foundation.health_history"),
		'the monitor goes on checking');
	is( $node_a->safe_psql('postgres',
			'SELECT count(*) || \',\' || (max(id) - min(id)) FROM foundation.health_history'),
		'3,2', 'and keeps the newest 3');
}

###########################################################################
note '6. nodes that refuse or never answer';
###########################################################################
{
	# A port nothing listens on (refused at once), and a socket that
	# accepts connections but never answers (only the deadline ends it).
	my $refused = 'host=' . $node_a->host . ' port='
	  . PostgreSQL::Test::Cluster::get_free_port() . ' dbname=postgres';
	my $silent = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Listen => 128,
		Proto => 'tcp') or die "cannot listen: $!";
	my $silent_ci = 'host=127.0.0.1 port=' . $silent->sockport . ' dbname=postgres';
	$node_a->safe_psql('postgres',
		"INSERT INTO foundation.nodes (name, conninfo) VALUES ('refusing', "
		  . quote($refused) . "), ('silent', " . quote($silent_ci) . ')');

	my ($rep, $err, $took) = check();
	is(node_states($rep),
		'node_a:healthy node_b:healthy node_c:healthy refusing:unreachable silent:unreachable',
		'both unreachable, B and C still healthy');
	my %e = map { $_->{node} => $_->{error} // '' } @{ $rep->{cluster}{node_health} };
	like($e{silent}, qr/no answer within 2000 ms/, "silent: $e{silent}");
	like($e{refusing}, qr/\S/, "refusing: $e{refusing}");
	ok($took >= 1.9 && $took < 2 + 3,
		sprintf('the check ends with the 2 s timeout (took %.2f s)', $took));
	ok($rep->{check_duration_ms} >= 1900 && $rep->{check_duration_ms} < 5000,
		"check_duration_ms = $rep->{check_duration_ms}");
	is($rep->{cluster}{healthy_nodes}, 3, 'healthy_nodes = 3 (expected 3)');
	is(scalar(recs($rep, 'node_unreachable')), 2, 'a node_unreachable recommendation for each');

	my $id = $node_a->safe_psql('postgres', 'SELECT max(id) FROM foundation.health_history');
	ok( wait_for($node_a, qq{
SELECT count(*) >= 2 FROM foundation.health_history
 WHERE id > $id AND report #>> '{cluster,healthy_nodes}' = '3'
   AND jsonb_path_exists(report, '\$.cluster.node_health[*] ? (\@.node == "silent" && \@.status == "unreachable")')}),
		'the monitor goes on with its checks, silent unreachable in them');
	is( $node_a->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation health monitor'"),
		$monitor_pid, 'the same monitor process runs (pid unchanged)');
	ok( $node_a->safe_psql('postgres',
			"SELECT failed_checks FROM foundation.nodes WHERE name = 'silent'") >= 3,
		'failed_checks counts up for silent');
	$silent->close;
}

###########################################################################
note '7. the monitor runs discovery first when clustering is on';
###########################################################################
{
	# No row added by hand any more: static discovery from cluster_nodes.
	$node_a->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node_a, 'foundation.cluster' => 'static',
		'foundation.cluster_nodes' => conninfo_of($node_b) . '; ' . conninfo_of($node_c));
	ok( wait_for($node_a, q{
SELECT string_agg(name || ':' || source || ':' || status, ' ' ORDER BY name) FROM foundation.nodes},
			'node_b:static:up node_c:static:up'),
		'the monitor discovered B and C (source static, up)');
	my $id = $node_a->safe_psql('postgres', 'SELECT max(id) FROM foundation.health_history');
	ok( wait_for($node_a, qq{
SELECT count(*) > 0 FROM foundation.health_history
 WHERE id > $id AND overall_status = 'healthy'
   AND report #>> '{cluster,healthy_nodes}' = '3'
   AND jsonb_array_length(report->'recommendations') = 0}),
		'and its next checks see all three nodes healthy, with no recommendation');
}

$_->stop for ($node_a, $node_b, $node_c);
done_testing();
