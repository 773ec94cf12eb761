# Documented rules pinned at their boundaries, each by a named assertion
# (issue 12: each section is there because a plausible one-line bug in that
# rule survived the rest of the suite).
#   1. restart intensity counts restarts within max_seconds only, and fails
#      a child at the (max_restarts + 1)-th stop inside the window;
#   2. restart policies after a normal exit (transient kept, permanent
#      restarted) and after an abnormal one;
#   3. second-price auctions whatever the order of the bidders, and ties;
#   4. the 7999/8000-byte NOTIFY payload boundary and the 10240-byte
#      routing boundary;
#   5. the cluster health rule at 1 to 4 expected nodes;
#   6. the health report's infrastructure rules by name: worker slots
#      (exactly 90 %), the pub/sub probe;
#   7. a dead process's (non-child) name, asked about before the
#      supervisor's sweep: lookup, lookup_singleton, start_singleton,
#      register; then the sweep; and supervisor_down.
#   notification_queue_filling is not produced: it needs half of
#   PostgreSQL's 8 GB notification queue filled behind a listener that
#   does not read (see docs/testing.md).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub quote
{
	my ($v) = @_;
	$v =~ s/'/''/g;
	return "'$v'";
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

# One health report, run now and not stored, as a hash.
sub report
{
	my ($node) = @_;
	return decode_json(
		$node->safe_psql('postgres', 'SELECT foundation.cluster_health()::text'));
}

sub rules
{
	my ($rep) = @_;
	return join(',', sort map { $_->{rule} } @{ $rep->{recommendations} });
}

sub has_rule
{
	my ($rep, $rule) = @_;
	return (grep { $_->{rule} eq $rule } @{ $rep->{recommendations} }) ? 1 : 0;
}

# max_worker_processes = 10: section 6 fills exactly nine slots.
my $node = foundation_node('rules', max_worker_processes => 10, extra_conf => <<'EOC');
foundation.node_name = 'rules'
foundation.health_check_interval = 0
EOC

# A module that exits once per row of public.kicks for its tag: with an
# error, or normally when its args say "exit": "normal".
$node->safe_psql('postgres', q{
CREATE TABLE public.kicks (id serial PRIMARY KEY, tag text, done boolean NOT NULL DEFAULT false);
CREATE PROCEDURE public.kickable(args jsonb) LANGUAGE plpgsql AS $$
DECLARE
  k integer;
BEGIN
  LOOP
    SELECT id INTO k FROM public.kicks WHERE tag = args->>'tag' AND NOT done
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF k IS NOT NULL THEN
      UPDATE public.kicks SET done = true WHERE id = k;
      COMMIT;
      IF args->>'exit' = 'normal' THEN
        RETURN;
      END IF;
      RAISE EXCEPTION 'kicked %', k;
    END IF;
    COMMIT;
    PERFORM pg_sleep(0.02);
  END LOOP;
END $$;
});

sub start_kickable
{
	my ($tag, %spec) = @_;
	my $exit = delete $spec{exit} // 'error';
	my $json = encode_json(
		{
			id => $tag,
			start => { module => 'public.kickable', args => { tag => $tag, exit => $exit } },
			%spec
		});
	return $node->safe_psql('postgres',
		'SELECT foundation.start_child(' . quote($json) . ')');
}

sub kick
{
	my ($tag) = @_;
	$node->safe_psql('postgres',
		'INSERT INTO public.kicks (tag) VALUES (' . quote($tag) . ')');
}

# The child's row as "status restart_count last_exit-prefix", once the
# child has taken every kick and is either settled with a live pid (or
# stopped for good).
sub child_after_kicks
{
	my ($tag) = @_;
	my $t = quote($tag);
	wait_for($node, qq{
SELECT NOT EXISTS (SELECT FROM public.kicks WHERE tag = $t AND NOT done)
   AND (c.status IN ('failed', 'exited')
        OR (c.status = 'running' AND c.pid IS NOT NULL
            AND c.restart_count = (SELECT count(*) FROM public.kicks WHERE tag = $t)))
  FROM foundation.children c WHERE c.id = $t})
	  or diag("child $tag did not settle");
	return $node->safe_psql('postgres', qq{
SELECT status || ' ' || restart_count || ' ' || coalesce(split_part(last_exit, ' ', 1), '-')
  FROM foundation.children WHERE id = $t});
}

###########################################################################
note '1. restart intensity: max_restarts within max_seconds';
###########################################################################
{
	# Spaced: one restart allowed per second, and the stops come more than
	# a second apart: the child is restarted every time.
	start_kickable('spaced', max_restarts => 1, max_seconds => 1);
	kick('spaced');
	is(child_after_kicks('spaced'), 'running 1 error:', 'spaced: first stop restarted');
	ok( wait_for(
			$node,
			q{SELECT clock_timestamp() - started_at > interval '1.5 seconds'
			    FROM foundation.children WHERE id = 'spaced'}),
		'spaced: the restart is now older than max_seconds');
	kick('spaced');
	is(child_after_kicks('spaced'), 'running 2 error:',
		'spaced: a stop after max_seconds is restarted again (only restarts within max_seconds count)');

	# Packed: two restarts allowed within an hour: the third stop fails it.
	my $pid = start_kickable('packed', max_restarts => 2, max_seconds => 3600);
	$node->safe_psql('postgres', "SELECT foundation.register('packed_name', $pid)");
	kick('packed');
	is(child_after_kicks('packed'), 'running 1 error:', 'packed: first stop restarted');
	kick('packed');
	is(child_after_kicks('packed'), 'running 2 error:',
		'packed: second stop restarted (max_restarts = 2 restarts are allowed)');
	is($node->safe_psql('postgres',
			q{SELECT pid = (SELECT pid FROM foundation.children WHERE id = 'packed')
			    FROM foundation.lookup('packed_name')}),
		't', 'packed: its name follows it to the new pid');
	kick('packed');
	is(child_after_kicks('packed'), 'failed 2 error:',
		'packed: the third stop within max_seconds marks it failed, not restarted');
	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM foundation.registry WHERE name = 'packed_name'}),
		'0', 'packed: a failed child\'s name is unregistered');
	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity
			   WHERE application_name = 'foundation child ' || (SELECT child_id FROM foundation.children WHERE id = 'packed')}),
		'0', 'packed: a failed child is left stopped');
	$node->safe_psql('postgres',
		q{SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id IN ('spaced', 'packed')});
}

###########################################################################
note '2. restart policies after normal and abnormal exits';
###########################################################################
{
	start_kickable('defaults');
	is($node->safe_psql('postgres',
			q{SELECT max_restarts || ' ' || max_seconds || ' ' || restart FROM foundation.child_specs WHERE id = 'defaults'}),
		'3 5 permanent', 'a spec without them: max_restarts 3, max_seconds 5, restart permanent');
	$node->safe_psql('postgres',
		q{SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'defaults'});

	start_kickable('tr_normal', restart => 'transient', exit => 'normal');
	kick('tr_normal');
	is(child_after_kicks('tr_normal'), 'exited 0 normal',
		'transient, normal exit: kept as exited, not restarted');
	is($node->safe_psql('postgres', q{SELECT pid IS NULL FROM foundation.children WHERE id = 'tr_normal'}),
		't', 'transient, normal exit: no pid');

	start_kickable('tr_error', restart => 'transient');
	kick('tr_error');
	is(child_after_kicks('tr_error'), 'running 1 error:',
		'transient, abnormal exit: restarted');

	start_kickable('perm_normal', restart => 'permanent', exit => 'normal');
	kick('perm_normal');
	is(child_after_kicks('perm_normal'), 'running 1 normal',
		'permanent, normal exit: restarted');
	$node->safe_psql('postgres',
		q{SELECT foundation.terminate_child(child_id) FROM foundation.children});
}

###########################################################################
note '3. second-price auctions whatever the order of the bidders';
###########################################################################
{
	$node->safe_psql('postgres', q{
CREATE FUNCTION public.bidder(agent text, request text, payload jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT args FROM foundation.agents WHERE name = agent $$;
SELECT foundation.register_agent(n, jsonb_build_object(
         'handler', 'public.bidder(text,text,jsonb)',
         'capabilities', '["auction_bidding"]'::jsonb, 'args', a))
  FROM (VALUES ('b10', '{"bid": 10}'::jsonb), ('b7', '{"bid": 7}'), ('b4', '{"bid": 4}'),
               ('tie_first', '{"bid": 10}'), ('tie_second', '{"bid": 10}'),
               ('tie_low', '{"bid": 10, "priority": 1}'), ('tie_high', '{"bid": 10, "priority": 2}'))
       v(n, a)
 ORDER BY CASE n WHEN 'tie_first' THEN 1 WHEN 'tie_second' THEN 2 ELSE 3 END;
});
	my $auction = sub {
		my ($agents, $spec) = @_;
		return $node->safe_psql('postgres',
			"SELECT r->>'winner' || ' pays ' || (r->>'payment')
			   FROM foundation.run_auction('" . ($spec // '{"payment_rule": "second_price"}')
			  . "', ARRAY[" . join(', ', map { quote($_) } @$agents) . "]) r");
	};
	is($auction->([qw(b10 b7 b4)]), 'b10 pays 7', 'second price: highest listed first');
	is($auction->([qw(b4 b10 b7)]), 'b10 pays 7', 'second price: highest listed in the middle');
	is($auction->([qw(b4 b7 b10)]), 'b10 pays 7',
		'second price: highest listed last, second-highest displaced by it');
	is($auction->([qw(b7 b4 b10)]), 'b10 pays 7',
		'second price: highest last, second-highest first');
	is($auction->([qw(b4 b7)]), 'b7 pays 4', 'second price: two bidders, higher last');
	is($auction->([qw(b4 b7 b10)], '{"payment_rule": "first_price"}'), 'b10 pays 10',
		'first price: highest last pays its own bid');
	is($auction->([qw(b4 b7 b10)], '{"payment_rule": "second_price", "reserve_price": 8}'),
		'b10 pays 8', 'second price: never less than the reserve');
	is($auction->([qw(tie_second tie_first)]), 'tie_first pays 10',
		'tie, same priority: the agent registered first wins, whatever the list order, and pays the tied bid');
	is($auction->([qw(tie_first tie_second)]), 'tie_first pays 10',
		'tie, same priority, registered-first listed first');
	is($auction->([qw(tie_high tie_low)]), 'tie_high pays 10',
		'tie: the higher priority wins (listed first)');
	is($auction->([qw(tie_low tie_high)]), 'tie_high pays 10',
		'tie: the higher priority wins (listed last)');
	is($auction->([qw(b7 tie_low b10)]), 'tie_low pays 10',
		'tie between the two highest: the one registered first wins and pays the other\'s equal bid');
}

###########################################################################
note '4. payload and routing boundaries';
###########################################################################
{
	# psql prints each notification it receives; LISTEN and broadcast in
	# one session, so every notification is ours.
	my $payload_of = sub {
		my ($sql) = @_;
		# q1, not safe_psql: a failed broadcast fails the named assertions
		# below instead of ending the file.
		my $out = q1($node,
			"LISTEN \"foundation:events\";\nLISTEN \"foundation:data\";\n$sql") // '';
		my @p = $out =~ /^Asynchronous notification "foundation:(\w+)" with payload "(.*)" received/mg;
		return @p;
	};
	# {"x": "aaa..."} is 9 bytes of JSON plus the a's.
	my ($ch, $p) = $payload_of->(
		q{SELECT foundation.broadcast('events', jsonb_build_object('x', repeat('a', 7990)));});
	is(length($p // ''), 7999, 'a 7999-byte message: payload of 7999 bytes');
	is(($p // '') eq '{"x": "' . ('a' x 7990) . '"}' ? 'plain' : 'not plain', 'plain',
		'a 7999-byte message is sent as it is');
	($ch, $p) = $payload_of->(
		q{SELECT foundation.broadcast('events', jsonb_build_object('x', repeat('a', 7991)));});
	like($p // '', qr/^\{"foundation_compressed": "[A-Za-z0-9+\/=]+"\}$/,
		'an 8000-byte message is sent compressed');
	is(q1($node, 'SELECT length(foundation.decode_message(' . quote($p // '{}') . ')::text)') // '(error)',
		'8000', 'the compressed 8000-byte message decodes to 8000 bytes');

	# route_message: text over 10240 bytes goes to data.  {"x": "..."} again.
	is($node->safe_psql('postgres',
			q{SELECT foundation.route_message(jsonb_build_object('x', repeat('a', 10231)))}),
		'events', 'route_message: a 10240-byte message is not large (events)');
	is($node->safe_psql('postgres',
			q{SELECT foundation.route_message(jsonb_build_object('x', repeat('a', 10232)))}),
		'data', 'route_message: a 10241-byte message is large (data)');
}

###########################################################################
note '5. the cluster health rule at 1 to 4 expected nodes';
###########################################################################
{
	# Healthy nodes: this one plus entries of foundation.nodes that point
	# back at it (each answers node_metrics()); one entry nobody answers.
	my $self = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
	my $set_nodes = sub {
		my ($healthy) = @_;
		my $sql = "DELETE FROM foundation.nodes;\n"
		  . "INSERT INTO foundation.nodes (name, conninfo) VALUES ('nobody', 'host=127.0.0.1 port=1 connect_timeout=2');\n";
		$sql .= "INSERT INTO foundation.nodes (name, conninfo) VALUES ('self$_', " . quote($self) . ");\n"
		  for 2 .. $healthy;
		$node->safe_psql('postgres', $sql);
	};
	my %want = (
		'1/1' => 'healthy',
		'2/2' => 'healthy', '2/1' => 'degraded',
		'3/3' => 'healthy', '3/2' => 'degraded', '3/1' => 'critical',
		'4/4' => 'healthy', '4/3' => 'degraded', '4/2' => 'degraded', '4/1' => 'critical',
		'2/3' => 'healthy');
	for my $expected (1 .. 4)
	{
		set_conf($node, 'foundation.expected_nodes' => $expected);
		for my $healthy (reverse 1 .. ($expected == 2 ? 3 : $expected))
		{
			$set_nodes->($healthy);
			my $rep = report($node);
			my $k = "$expected/$healthy";
			is( "$rep->{cluster}{healthy_nodes}/$rep->{cluster}{status}",
				"$healthy/$want{$k}",
				"$healthy healthy of $expected expected: cluster $want{$k}");
			is(has_rule($rep, 'fewer_nodes_than_expected'), $healthy < $expected ? 1 : 0,
				"$healthy healthy of $expected expected: fewer_nodes_than_expected "
				  . ($healthy < $expected ? 'given' : 'not given'));
		}
	}
	$node->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	set_conf($node, 'foundation.expected_nodes' => 1);
	my $rep = report($node);
	is("$rep->{overall_status} $rep->{cluster}{status} $rep->{infrastructure}{status}",
		'healthy healthy healthy', 'back to one node: healthy');
}

###########################################################################
note '5b. one node added by hand is wizard mode';
###########################################################################
{
	$node->safe_psql('postgres', 'DELETE FROM foundation.nodes');
	is($node->safe_psql('postgres', 'SELECT mode FROM foundation.resolve_cluster_config()'),
		'no_clustering', 'no node added by hand, clustering off: no_clustering');
	$node->safe_psql('postgres',
		"INSERT INTO foundation.nodes (name, conninfo) VALUES ('solo', 'host=127.0.0.1 port=1')");
	is($node->safe_psql('postgres',
			q{SELECT mode || ' ' || (topology #>> '{foundation_manual,config,nodes,0,name}') FROM foundation.resolve_cluster_config()}),
		'wizard solo', 'a single node added by hand: wizard mode, listing it');
	$node->safe_psql('postgres', 'DELETE FROM foundation.nodes');
}

###########################################################################
note '6. infrastructure rules: worker slots, pub/sub probe';
###########################################################################
{
	# Fill background worker slots with children up to 9 of 10.
	my $m = decode_json($node->safe_psql('postgres', 'SELECT foundation.node_metrics()::text'));
	is($m->{worker_slots_allowed}, 10, 'worker slots allowed: max_worker_processes');
	my $need = 9 - $m->{worker_slots_used};
	cmp_ok($need, '>', 0, "room for $need children before 9 of 10 slots are used");
	$node->safe_psql('postgres',
		"SELECT foundation.start_child(jsonb_build_object('id', 'slot' || i, 'start', jsonb_build_object('module', 'public.ticker'), 'restart', 'temporary')) FROM generate_series(1, $need) i");
	my $rep = report($node);
	is("$rep->{infrastructure}{worker_slots_used}/$rep->{infrastructure}{worker_slots_allowed}",
		'9/10', 'the report counts 9 of 10 worker slots used');
	is(has_rule($rep, 'worker_slots_nearly_exhausted'), 1,
		'worker_slots_nearly_exhausted at exactly 90 % of the slots');
	is($rep->{infrastructure}{status}, 'degraded', 'worker slots at 90 %: infrastructure degraded');
	is($rep->{overall_status}, 'degraded', 'worker slots at 90 %: overall degraded');
	$node->safe_psql('postgres',
		q{SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'slot1'});
	$rep = report($node);
	is("$rep->{infrastructure}{worker_slots_used}/" . has_rule($rep, 'worker_slots_nearly_exhausted'),
		'8/0', 'at 8 of 10 slots: no worker_slots_nearly_exhausted');
	is($rep->{infrastructure}{status}, 'healthy', 'at 8 of 10 slots: infrastructure healthy');
	$node->safe_psql('postgres',
		q{SELECT foundation.terminate_child(child_id) FROM foundation.children});

	# The pub/sub probe connects where foundation.dispatcher_conninfo says.
	set_conf($node, 'foundation.dispatcher_conninfo' => 'host=127.0.0.1 port=1 connect_timeout=2');
	$rep = report($node);
	is(has_rule($rep, 'pubsub_unavailable'), 1, 'pubsub_unavailable when the probe cannot connect');
	is("$rep->{infrastructure}{status} $rep->{overall_status}", 'degraded degraded',
		'pub/sub probe failing: infrastructure and overall degraded');
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET foundation.dispatcher_conninfo; SELECT pg_reload_conf()');
	ok(wait_for($node, q{SELECT current_setting('foundation.dispatcher_conninfo') = ''}),
		'dispatcher_conninfo reset');
	$rep = report($node);
	is(has_rule($rep, 'pubsub_unavailable'), 0, 'no pubsub_unavailable once the probe connects again');
}

###########################################################################
note '7. a dead process\'s name before the supervisor\'s sweep; supervisor_down';
###########################################################################
# A second server whose supervisor sleeps an hour between passes unless
# woken (a child's exit, a commit that starts or stops one).
my $quiet = foundation_node('quiet', extra_conf => <<'EOC');
foundation.node_name = 'quiet'
foundation.health_check_interval = 0
foundation.naptime = '1h'
EOC
{
	# A backend of ours that sleeps; its pid gets a name.
	my @victims;
	my $victim = sub {
		my ($tag) = @_;
		my ($in, $out, $err) = ('', '', '');
		my $h = IPC::Run::start(
			[ 'psql', '-X', '-d', $quiet->connstr('postgres') . " application_name=$tag",
				'-c', 'SELECT pg_sleep(600)' ],
			'<', \$in, '>', \$out, '2>', \$err);
		push @victims, $h;
		wait_for($quiet, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$tag'", '1')
		  or die "backend $tag did not start";
		return $quiet->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE application_name = '$tag'");
	};
	my $kill = sub {
		my ($pid) = @_;
		$quiet->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 10000)");
		wait_for($quiet, "SELECT NOT foundation.pid_alive($pid)")
		  or die "backend $pid did not exit";
	};
	# The supervisor asleep (its latch wait), after its passes at start.
	my $asleep = q{SELECT wait_event = 'Extension' FROM pg_stat_activity
	                WHERE backend_type = 'foundation supervisor'};

	my $v1 = $victim->('victim1');
	$quiet->safe_psql('postgres', "SELECT foundation.register('dead1', $v1, '{\"k\": 1}')");
	is($quiet->safe_psql('postgres', q{SELECT foundation.lookup_singleton('dead1')}),
		$v1, 'a live non-child name: lookup_singleton gives its pid');
	ok(wait_for($quiet, $asleep), 'the supervisor sleeps');
	$kill->($v1);
	is( $quiet->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM foundation.registry WHERE name = 'dead1') || ' '
    || (SELECT count(*) FROM foundation.lookup('dead1')) || ' '
    || coalesce(foundation.lookup_singleton('dead1')::text, 'null')}),
		'1 0 null',
		'a dead non-child name, row not swept yet: lookup returns no row and lookup_singleton NULL');
	my $new = $quiet->safe_psql('postgres',
		q{SELECT foundation.start_singleton('public.ticker', '{}', 'dead1')});
	isnt($new, $v1, 'start_singleton on a dead non-child name starts a new child');
	like($new, qr/^\d+$/, 'start_singleton returns its pid');
	is($quiet->safe_psql('postgres', q{SELECT foundation.lookup_singleton('dead1')}),
		$new, 'the name now points at the new child');
	is($quiet->safe_psql('postgres',
			q{SELECT child_id IS NOT NULL FROM foundation.registry WHERE name = 'dead1'}),
		't', 'and is tied to it');
	$quiet->safe_psql('postgres', q{SELECT foundation.stop_singleton('dead1')});

	# register over a dead holder, before the sweep.
	my $v2 = $victim->('victim2');
	$quiet->safe_psql('postgres', "SELECT foundation.register('dead2', $v2)");
	ok(wait_for($quiet, $asleep), 'the supervisor sleeps again');
	$kill->($v2);
	is( q1($quiet, q{
SELECT (SELECT count(*) FROM foundation.registry WHERE name = 'dead2') || ' '
    || foundation.register('dead2', pg_backend_pid())::text}) // '(error)',
		'1 ',
		'register takes a name whose holder is dead, before the sweep');
	my %e = sql_error($quiet, "SELECT foundation.register('dead3', $v2)");
	is($e{sqlstate}, '22023', 'registering a dead pid: 22023');
	like($e{message} // '', qr/no live process with pid $v2/, 'registering a dead pid: message');

	# The sweep: a dead non-child name goes at the supervisor's next pass.
	my $v3 = $victim->('victim3');
	$quiet->safe_psql('postgres', "SELECT foundation.register('dead4', $v3)");
	$kill->($v3);
	# Wake the supervisor with a child's start.
	$quiet->safe_psql('postgres',
		q{SELECT foundation.start_child('{"start": {"module": "public.ticker"}, "restart": "temporary"}')});
	ok( wait_for($quiet, q{SELECT count(*) FROM foundation.registry WHERE name = 'dead4'}, '0'),
		'the supervisor\'s next pass deletes the dead non-child name');
	$_->kill_kill for @victims;

	# supervisor_down: terminated, the supervisor is back after 1 s
	# (bgw_restart_time); a check right after its exit sees it down.
	my $seen = 0;
	my $rep;
	for my $try (1 .. 5)
	{
		ok(wait_for($quiet, q{SELECT count(*) FROM pg_stat_activity
		                       WHERE backend_type = 'foundation supervisor'}, '1'),
			"try $try: the supervisor runs");
		$rep = decode_json($quiet->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE backend_type = 'foundation supervisor';
SELECT foundation.cluster_health()::text}) =~ s/^t\n//r);
		if (has_rule($rep, 'supervisor_down'))
		{
			$seen = 1;
			last;
		}
	}
	ok($seen, 'supervisor_down in a report made while the supervisor is not running');
	is("$rep->{infrastructure}{status} $rep->{overall_status} $rep->{infrastructure}{supervisor_status}",
		'critical critical down', 'supervisor down: infrastructure and overall critical')
	  if $seen;
	ok(wait_for($quiet, q{SELECT count(*) FROM pg_stat_activity
	                       WHERE backend_type = 'foundation supervisor'}, '1'),
		'the postmaster starts the supervisor again');
	$rep = report($quiet);
	is(has_rule($rep, 'supervisor_down'), 0, 'no supervisor_down once it runs again');
}

###########################################################################
note '8. the sweep removes the names of every ended session, and only theirs';
###########################################################################
{
	my @s = map { $node->background_psql('postgres') } 1 .. 3;
	$s[0]->query_safe(q{SELECT foundation.register('sw_a', pg_backend_pid())});
	$s[1]->query_safe(q{SELECT count(foundation.register('sw_b' || g, pg_backend_pid()))
	                      FROM generate_series(1, 2000) g});
	$s[2]->query_safe(q{SELECT foundation.register('sw_c', pg_backend_pid())});
	$s[0]->quit;
	$s[2]->quit;
	ok(wait_for($node, q{SELECT count(*) FROM foundation.registry WHERE name IN ('sw_a', 'sw_c')}, '0'),
		'the names of both ended sessions are swept');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM foundation.registry WHERE name LIKE 'sw_b%'}),
		'2000', 'the live session keeps its 2000 names');
	$s[1]->quit;
	ok(wait_for($node, q{SELECT count(*) FROM foundation.registry WHERE name LIKE 'sw_b%'}, '0'),
		'and once it ends, they go too');
}

$quiet->stop;
$node->stop;
done_testing();
