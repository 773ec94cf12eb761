# Monitoring: foundation's metrics views, the status view, the shipped
# postgres_exporter queries file and the Prometheus alerting rules.
#   1. after a known series of actions (children started in two databases
#      and by two roles, one failing past its restart intensity, a
#      transient one exiting normally, broadcasts of every wire form on
#      known channels, one rolled back, a handler erroring and one timing
#      out, an auction and a proposal opened, outbox rows by hand), each
#      metrics view holds exactly the expected values, read as a pg_monitor
#      role; PUBLIC reads none of them;
#   2. foundation.status says the same on one screen;
#   3. Debian's prometheus-postgres-exporter, run with
#      contrib/prometheus/queries.yaml against this server as the
#      pg_monitor role, serves the same values on /metrics;
#   4. promtool accepts contrib/prometheus/alerts.yaml and its unit tests
#      (alerts_test.yaml) fire every alert;
#   5. a cluster member's lease: a member, then, with the control database
#      stopped, not a member, in the view and in the status.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $contrib = "$FindBin::RealBin/../../contrib/prometheus";
my $exporter_bin = '/usr/bin/prometheus-postgres-exporter';
my $promtool = '/usr/bin/promtool';

# Health checks by hand only (a check broadcasts on control and telemetry);
# handler calls time out after 500 ms.
my $node = foundation_node('metrics', extra_conf => <<'EOC');
foundation.health_check_interval = 0
foundation.handler_timeout = '500ms'
EOC
$node->safe_psql('postgres', 'CREATE DATABASE other');
create_ticker($node, 'other');

$node->safe_psql('postgres', q{
CREATE ROLE mon LOGIN IN ROLE pg_monitor;
CREATE ROLE alice LOGIN;
CREATE ROLE nobody LOGIN;
CREATE PROCEDURE public.crasher(args jsonb) LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'crasher fails on purpose'; END $$;
CREATE PROCEDURE public.once(args jsonb) LANGUAGE plpgsql AS $$ BEGIN END $$;
-- Fails on a message with a "fail" key.
CREATE FUNCTION public.picky(channel text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF message ? 'fail' THEN RAISE EXCEPTION 'picky refuses %', message; END IF;
END $$;
-- Outlasts foundation.handler_timeout.
CREATE FUNCTION public.slow(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT pg_sleep(60) $$;
CREATE FUNCTION public.trivial(agent text, request text, payload jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
});

sub as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

# A view's rows as read by the pg_monitor role, "col=value ..." per row.
sub rows_of
{
	my ($sql) = @_;
	return as('mon', $sql);
}

note '1. the metrics views, after a known series of actions';

# Children: two singletons and one of alice's in postgres, one in other;
# the handler dispatcher (started by subscribe below) runs too.
$node->safe_psql('postgres', q{
SELECT foundation.start_singleton('public.ticker', '{}', 'tick1');
SELECT foundation.start_singleton('public.ticker', '{}', 'tick2');
SELECT foundation.start_child('{"id": "elsewhere", "start": {"module": "public.ticker", "args": {}}, "database": "other"}');
});
as('alice', q{SELECT foundation.start_singleton('public.ticker', '{}', 'alice_tick')});
# A transient child that returns at once: exited, never restarted.
$node->safe_psql('postgres', q{
SELECT foundation.start_child('{"id": "once", "start": {"module": "public.once", "args": {}}, "restart": "transient"}')});
# A child that fails at once, twice restarted, then failed.
$node->safe_psql('postgres', q{
SELECT foundation.start_child('{"id": "crasher", "start": {"module": "public.crasher", "args": {}}, "max_restarts": 2, "max_seconds": 3600}')});

# Handlers: picky on events, slow on data (not on control or telemetry,
# where the health check below broadcasts).
$node->safe_psql('postgres', q{
SELECT foundation.subscribe('events', 'public.picky(text,jsonb)'::regprocedure);
SELECT foundation.subscribe('data', 'public.slow(text,jsonb)'::regprocedure);
});
ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the handler dispatcher listens');

ok( wait_for(
		$node, q{SELECT string_agg(id || ':' || status, ' ' ORDER BY id)
		   FROM foundation.children WHERE id IN ('crasher', 'once')},
		'crasher:failed once:exited'),
	'the crasher failed past its restart intensity, the transient child exited');
ok(wait_for($node, settled_sql()), 'the supervisor has settled');

# Broadcasts: events 3 plain (one the handler refuses), data one
# compressed and one by reference (the slow handler times out on both),
# telemetry one plain; a rolled-back broadcast counts nowhere.
$node->safe_psql('postgres', q{
SELECT foundation.broadcast('events', '{"n": 1}');
SELECT foundation.broadcast('events', '{"n": 2, "fail": true}');
SELECT foundation.broadcast('events', '{"n": 3}');
SELECT foundation.broadcast('data', jsonb_build_object('x', repeat('a', 9000)), true);
SELECT foundation.broadcast('data', jsonb_build_object('x',
  (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 800) i)));
SELECT foundation.broadcast('telemetry', '{"slow": 1}');
BEGIN;
SELECT foundation.broadcast('events', '{"rolled": "back"}');
ROLLBACK;
});
ok( wait_for(
		$node, q{SELECT calls_total FROM foundation.metrics_handlers WHERE channel = 'events'},
		'3'),
	'the dispatcher called the events handler three times');
ok( wait_for(
		$node, q{SELECT calls_total FROM foundation.metrics_handlers WHERE channel = 'data'},
		'2'),
	'and the data handler twice');

# Coordination: one open auction, one open proposal (each announced on
# control at commit).
$node->safe_psql('postgres', q{
SELECT foundation.register_agent(a, '{"handler": "public.trivial(text,text,jsonb)",
  "capabilities": ["auction_bidding", "consensus_voting"],
  "protocols": ["sealed_bid_auction", "majority_consensus"]}')
  FROM unnest(ARRAY['ag1', 'ag2']) a;
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['ag1', 'ag2'], '1 hour');
SELECT foundation.open_proposal(ARRAY['ag1', 'ag2'], '{"plan": "grow"}', 'majority', '1 hour');
});

# The relay's outbox, by hand: two messages for b (the older 120 s old),
# none for c, which is a known peer.
$node->safe_psql('postgres', q{
INSERT INTO foundation.cluster_peers (node, conninfo) VALUES ('c', 'host=nowhere');
INSERT INTO foundation.outbox (target, channel, message, created_at)
  VALUES ('b', 'events', '{"m": 1}', now() - interval '120 seconds'),
         ('b', 'events', '{"m": 2}', now());
});

# PUBLIC reads nothing of it.
for my $obj (
	qw(metrics_supervisor metrics_children metrics_registry metrics_channels
	metrics_handlers metrics_notification_queue metrics_relay metrics_health
	metrics_lease metrics_coordination status))
{
	my %r = sql_error($node, "SELECT * FROM foundation.$obj",
		extra_params => [ '-U', 'nobody' ]);
	is($r{sqlstate}, '42501', "a role without pg_monitor cannot read foundation.$obj");
}
my %r = sql_error($node, 'SELECT * FROM foundation._metrics_slots()',
	extra_params => [ '-U', 'nobody' ]);
is($r{sqlstate}, '42501', 'nor execute foundation._metrics_slots()');

my $sup = supervisor_pid($node);
is( rows_of('SELECT database, up, needed, pid, restarts_total, intensity_failures_total FROM foundation.metrics_supervisor'),
	"postgres|1|1|$sup|2|1",
	'metrics_supervisor: up, needed, its pid, 2 restarts (the crasher\'s), 1 intensity failure');

# A database with the extension and nothing to supervise has no
# supervisor, by design: not up, not needed, and the status says idle.
$node->safe_psql('postgres', 'CREATE DATABASE quietdb');
$node->safe_psql('quietdb', 'CREATE EXTENSION foundation; GRANT pg_monitor TO CURRENT_USER');
ok(wait_for($node, q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE datname = 'quietdb' AND backend_type = 'foundation supervisor'}),
	'quietdb: its supervisor left (nothing to supervise)');
is($node->safe_psql('quietdb', 'SELECT database, up, needed FROM foundation.metrics_supervisor'),
	'quietdb|0|0', 'metrics_supervisor in a database without work: up 0, needed 0');
is($node->safe_psql('quietdb', q{SELECT state FROM foundation.status WHERE item = 'supervisor'}),
	'idle', 'status: idle, not "not running"');

# Every role's children, as pg_monitor sees them: postgres runs tick1,
# tick2, alice_tick and the dispatcher.
is( rows_of(q{SELECT string_agg(database || ':' || state || '=' || children, ' '
  ORDER BY database, state) FROM foundation.metrics_children}),
	'other:exited=0 other:failed=0 other:restarting=0 other:running=1 '
	  . 'postgres:exited=1 postgres:failed=1 postgres:restarting=0 postgres:running=4',
	'metrics_children: every role\'s children by database and state, zeros included');

is(rows_of('SELECT names, child_names FROM foundation.metrics_registry'),
	'4|4', 'metrics_registry: tick1, tick2, alice_tick and the dispatcher, all children');

is( rows_of(q{SELECT string_agg(channel || ':' || form || '=' || messages_total || '/' || bytes_total, ' '
  ORDER BY channel, form) FROM foundation.metrics_channels WHERE channel <> 'control'}),
	'data:compressed=1/9009 data:plain=0/0 data:reference=1/25609 '
	  . 'events:compressed=0/0 events:plain=3/38 events:reference=0/0 '
	  . 'telemetry:compressed=0/0 telemetry:plain=1/11 telemetry:reference=0/0',
	'metrics_channels: messages and bytes by channel and wire form, nothing of the rollback');
is( rows_of(q{SELECT string_agg(form || '=' || messages_total, ' ' ORDER BY form)
  FROM foundation.metrics_channels WHERE channel = 'control'}),
	'compressed=0 plain=2 reference=0',
	'control: the auction and the proposal announced');
is( rows_of(q{SELECT sum(m.bytes_total) = s.bytes AND sum(m.messages_total) = s.messages
  FROM foundation.metrics_channels m JOIN foundation.channel_stats s USING (channel)
  GROUP BY s.channel, s.bytes, s.messages ORDER BY s.channel}),
	"t\nt\nt\nt", 'the forms add up to foundation.channel_stats on every channel');

is( rows_of(q{SELECT string_agg(channel || '=' || calls_total || '/' || errors_total || '/' || timeouts_total || '/' || dropped_total, ' '
  ORDER BY channel) FROM foundation.metrics_handlers}),
	'control=0/0/0/0 data=2/2/2/0 events=3/1/0/0 telemetry=0/0/0/0',
	'metrics_handlers: calls, errors, timeouts, drops by channel');

like(rows_of('SELECT usage FROM foundation.metrics_notification_queue'),
	qr/^[0-9.e-]+$/, 'metrics_notification_queue: a number');
is(rows_of('SELECT usage = pg_notification_queue_usage() FROM foundation.metrics_notification_queue'),
	't', 'equal to pg_notification_queue_usage()');

is( rows_of(q{SELECT string_agg(member || '=' || backlog_messages || ',' ||
  (oldest_message_seconds >= 120 AND oldest_message_seconds < 3600), ' ' ORDER BY member)
  FROM foundation.metrics_relay}),
	'b=2,true c=0,false',
	'metrics_relay: 2 messages wait for b, the oldest over 120 s; none for peer c');
is(rows_of(q{SELECT oldest_message_seconds FROM foundation.metrics_relay WHERE member = 'c'}),
	'0', 'c\'s oldest message age is 0: none');

is(rows_of('SELECT monitor_up, status, status_name IS NULL FROM foundation.metrics_health'),
	'1|-1|t', 'metrics_health: the monitor runs, no report yet (-1)');
my $overall = $node->safe_psql('postgres',
	q{SELECT foundation.health_check()->>'overall_status'});
my %code = (healthy => 0, degraded => 1, critical => 2);
is( rows_of(q{SELECT m.status || ',' || m.status_name || ',' || (abs(m.check_duration_seconds * 1000 - h.check_duration_ms) < 1e-9)
  FROM foundation.metrics_health m, foundation.health h}),
	"$code{$overall},$overall,true",
	"metrics_health: the report's status ($overall) as a number, its duration in seconds");

is(rows_of('SELECT clustered, member, epoch IS NULL, seconds_since_renewal IS NULL FROM foundation.metrics_lease'),
	'0|0|t|t', 'metrics_lease: not clustered, no lease');

is( rows_of(q{SELECT string_agg(kind || '=' || open || '/' || overdue, ' ' ORDER BY kind)
  FROM foundation.metrics_coordination}),
	'auction=1/0 proposal=1/0',
	'metrics_coordination: one open auction, one open proposal');

note '2. foundation.status';

my %status;
for my $line (split /\n/,
	rows_of('SELECT area, item, state, detail, look_next FROM foundation.status'))
{
	my ($area, $item, $state, $detail, $next) = split /\|/, $line, 5;
	$status{"$area/$item"} = [ $state, $detail, $next ];
}
is($status{'processes/supervisor'}[0], 'running', 'status: the supervisor runs');
like($status{'processes/supervisor'}[1], qr/^pid $sup in database postgres; 2 restarts, 1 failed/,
	'status: its pid and counters');
is($status{'processes/health monitor'}[0], 'running', 'status: the health monitor runs');
is(join(',', map { $status{"children/$_"}[0] } qw(running restarting exited failed)),
	'5,0,1,1', 'status: children by state over both databases');
is($status{'children/running'}[1], '1 in other, 4 in postgres', 'status: by database');
is($status{'failed child/crasher'}[0], 'failed', 'status: the failed child by name');
like($status{'failed child/crasher'}[1], qr/2 restarts; last exit: error: crasher fails on purpose/,
	'status: with its restarts and last exit');
like($status{'failed child/crasher'}[2], qr/^SELECT \* FROM foundation\.children WHERE child_id = \d+$/,
	'status: and where to look');
ok(!exists $status{'failed child/once'}, 'status: an exited child is not listed as failed');
is($status{'channel/events'}[0], '3 messages', 'status: channel traffic');
is($status{'channel/data'}[1], '34618 bytes; 1 compressed, 0 plain, 1 reference',
	'status: bytes and forms');
is($status{'handlers/events'}[0], '1 errors', 'status: handler errors');
is($status{'handlers/data'}[1], '2 calls, 2 timeouts, 0 dropped', 'status: handler timeouts');
is($status{'health/overall'}[0], $overall, 'status: health');
is($status{'cluster/lease'}[0], 'not clustered', 'status: no lease');
is($status{'cluster/relay to b'}[0], '2 waiting', 'status: the relay backlog');
is($status{'coordination/auctions'}[0], '1 open', 'status: open auctions');
is($status{'coordination/proposals'}[0], '1 open', 'status: open proposals');
is( rows_of(q{SELECT count(*) FROM foundation.status WHERE look_next IS NULL OR look_next = ''}),
	'0', 'status: every row names where to look next');
# Every look_next that is a query runs, as pg_monitor.
for my $k (sort keys %status)
{
	my $q = $status{$k}[2];
	next unless $q =~ /^SELECT /;
	my ($ok) = eval { $node->safe_psql('postgres', $q); 1 };
	ok($ok, "status: the look_next of $k runs: $q");
}

note '3. postgres_exporter with contrib/prometheus/queries.yaml';

my ($exporter, $exp_out);
END { $exporter->kill_kill if $exporter; }
SKIP:
{
	ok(-x $exporter_bin, "$exporter_bin is installed (package prometheus-postgres-exporter)")
	  or skip 'no exporter', 1;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dsn = 'host=' . $node->host . ' port=' . $node->port
	  . ' dbname=postgres user=mon sslmode=disable';
	$exporter = IPC::Run::start(
		[
			$exporter_bin, "--web.listen-address=127.0.0.1:$port",
			"--extend.query-path=$contrib/queries.yaml",
			'--disable-default-metrics', '--disable-settings-metrics',
			'--no-collector.database', '--no-collector.bgwriter'
		],
		'<', \undef, '>&', \$exp_out,
		init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

	# Bounded poll until a scrape carries foundation's metrics.
	my $http = HTTP::Tiny->new(timeout => 10);
	my $body;
	my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
	while (time() < $deadline)
	{
		my $res = $http->get("http://127.0.0.1:$port/metrics");
		if ($res->{success} && $res->{content} =~ /^foundation_supervisor_up/m)
		{
			$body = $res->{content};
			last;
		}
		$exporter->pump_nb;
		usleep(200_000);
	}
	ok(defined $body, 'the exporter serves foundation\'s metrics')
	  or diag("exporter output:\n" . ($exp_out // ''));
	$body //= '';

	# name{labels} -> value, without the exporter's own server label.
	my %scraped;
	for my $line (split /\n/, $body)
	{
		next unless $line =~ /^(foundation_\w+)(?:\{([^}]*)\})?\s+(\S+)$/;
		my ($name, $labels, $value) = ($1, $2 // '', $3);
		my @l = sort grep { !/^server=/ } split /,/, $labels;
		$scraped{ $name . '{' . join(',', @l) . '}' } = $value;
	}

	# What the views say, as the same series; the ages (which move between
	# the two reads) only as present.
	my %expected;
	my %ages = map { $_ => 1 } qw(foundation_relay_oldest_message_seconds
	  foundation_health_last_check_seconds foundation_lease_seconds_since_renewal);
	my @views = (
		[ 'foundation_supervisor', 'metrics_supervisor', [qw(database)],
			[qw(up needed restarts_total intensity_failures_total)] ],
		[ 'foundation_children', 'metrics_children', [qw(database state)], [qw(children)], 'count' ],
		[ 'foundation_registry', 'metrics_registry', [], [qw(names child_names)] ],
		[ 'foundation_channel', 'metrics_channels', [qw(channel form)],
			[qw(messages_total bytes_total)] ],
		[ 'foundation_handler', 'metrics_handlers', [qw(channel)],
			[qw(calls_total errors_total timeouts_total dropped_total)] ],
		[ 'foundation_notification_queue', 'metrics_notification_queue', [], [qw(usage)] ],
		[ 'foundation_relay', 'metrics_relay', [qw(member)],
			[qw(backlog_messages oldest_message_seconds)] ],
		[ 'foundation_health', 'metrics_health', [],
			[qw(monitor_up status check_duration_seconds last_check_seconds)] ],
		[ 'foundation_lease', 'metrics_lease', [],
			[qw(clustered member epoch seconds_since_renewal seconds_left renew_interval_seconds duration_seconds)] ],
		[ 'foundation_coordination', 'metrics_coordination', [qw(kind)], [qw(open overdue)] ]);
	for my $v (@views)
	{
		my ($ns, $view, $labels, $values, $rename) = @$v;
		my $cols = join(', ', @$labels, @$values);
		for my $row (split /\n/, rows_of("SELECT $cols FROM foundation.$view"))
		{
			my @f = split /\|/, $row, -1;
			my @l = map { "$labels->[$_]=\"$f[$_]\"" } 0 .. $#$labels;
			for my $i (0 .. $#$values)
			{
				my $name = $ns . '_' . ($rename // $values->[$i]);
				my $val = $f[ @$labels + $i ];
				$val = 'NaN' if $val eq '';
				$expected{ $name . '{' . join(',', sort @l) . '}' } = $val;
			}
		}
	}
	my @missing = grep { !exists $scraped{$_} } sort keys %expected;
	is("@missing", '', 'every value of the views is on /metrics');
	my @extra = grep { !exists $expected{$_} } sort keys %scraped;
	is("@extra", '', 'and /metrics has no foundation series the views do not have');
	my @differ;
	for my $k (sort keys %expected)
	{
		next unless exists $scraped{$k};
		(my $name = $k) =~ s/\{.*//;
		next if $ages{$name};
		my ($a, $b) = ($expected{$k}, $scraped{$k});
		next if $a eq $b;
		next if $a ne 'NaN' && $b ne 'NaN' && $a =~ /^-?[0-9.e+-]+$/ && abs($a - $b) <= 1e-9 * (1 + abs($a));
		push @differ, "$k: view $a, scraped $b";
	}
	is(join("\n", @differ), '', 'every scraped value equals the view\'s');
	# A few by value, so that a wrong mapping cannot pass by matching
	# itself.
	is($scraped{'foundation_supervisor_intensity_failures_total{database="postgres"}'},
		'1', 'scraped: 1 intensity failure');
	is($scraped{'foundation_children_count{database="postgres",state="failed"}'},
		'1', 'scraped: 1 failed child in postgres');
	is($scraped{'foundation_channel_bytes_total{channel="data",form="reference"}'},
		'25609', 'scraped: the bytes sent by reference on data');
	is($scraped{'foundation_handler_timeouts_total{channel="data"}'},
		'2', 'scraped: 2 handler timeouts on data');
	is($scraped{'foundation_relay_backlog_messages{member="b"}'},
		'2', 'scraped: 2 messages wait for b');
	is($scraped{'foundation_lease_seconds_since_renewal{}'},
		'NaN', 'scraped: no renewal (NaN) without a control database');

	$exporter->kill_kill;
	$exporter = undef;
}

note '4. promtool on the alerting rules';

SKIP:
{
	ok(-x $promtool, "$promtool is installed (package prometheus)")
	  or skip 'no promtool', 2;
	my ($out, $err);
	IPC::Run::run([ $promtool, 'check', 'rules', "$contrib/alerts.yaml" ],
		'>', \$out, '2>', \$err);
	like($out, qr/SUCCESS: 7 rules found/, 'promtool check rules: alerts.yaml is valid, 7 rules')
	  or diag("$out\n$err");
	# promtool resolves rule_files relative to the test file.
	IPC::Run::run([ $promtool, 'test', 'rules', "$contrib/alerts_test.yaml" ],
		'>', \$out, '2>', \$err);
	like($out, qr/SUCCESS/, 'promtool test rules: every alert fires on its prepared series')
	  or diag("$out\n$err");
	my $rules = slurp_file("$contrib/alerts.yaml");
	my $tests = slurp_file("$contrib/alerts_test.yaml");
	for my $alert ($rules =~ /^\s*- alert: (\w+)$/mg)
	{
		like($tests, qr/alertname: $alert\n\s+exp_alerts:\n\s+- exp_labels:/,
			"alerts_test.yaml fires $alert");
	}
}

note '5. a cluster member\'s lease';

my $ctl = foundation_node('ctl', extra_conf => "foundation.health_check_interval = 0\n");
$ctl->safe_psql('postgres',
	'CREATE ROLE fdn_m LOGIN; SELECT foundation.grant_member_role(\'fdn_m\');');
my $ci = 'host=' . $ctl->host . ' port=' . $ctl->port . ' dbname=postgres user=fdn_m';
my $member = foundation_node('m', extra_conf => member_conf('m', $ci, renew => '300ms', lease => '3s'));
$member->safe_psql('postgres', 'CREATE ROLE mon LOGIN IN ROLE pg_monitor');
ok(wait_for($member, 'SELECT member FROM foundation.metrics_lease', '1'),
	'metrics_lease: the member holds a lease');
my $epoch = $ctl->safe_psql('postgres', q{SELECT epoch FROM foundation.members WHERE node = 'm'});
is( $member->safe_psql('postgres', q{SELECT clustered || ',' || epoch || ',' ||
  (seconds_since_renewal BETWEEN 0 AND duration_seconds) || ',' || renew_interval_seconds || ',' || duration_seconds
  FROM foundation.metrics_lease}, extra_params => [ '-U', 'mon' ]),
	"1,$epoch,true,0.3,3",
	'metrics_lease: clustered, the control database\'s epoch, renewed within the lease, the settings in seconds');
is( $member->safe_psql('postgres', q{SELECT state FROM foundation.status WHERE item = 'lease'}),
	'member', 'status: member');
$ctl->stop;
ok(wait_for($member, 'SELECT member FROM foundation.metrics_lease', '0'),
	'with the control database down, the member loses its lease');
is( $member->safe_psql('postgres', q{SELECT clustered || ',' || (epoch IS NULL) || ',' ||
  (seconds_since_renewal > 3 * renew_interval_seconds) FROM foundation.metrics_lease}),
	'1,true,true', 'metrics_lease: clustered, no epoch, the last renewal more than three intervals ago');
like( $member->safe_psql('postgres', q{SELECT state || ': ' || detail FROM foundation.status WHERE item = 'lease'}),
	qr/^not a member: last renewal: \d{4}-/, 'status: not a member, with its last renewal');

$member->stop;
$node->stop;
done_testing();
