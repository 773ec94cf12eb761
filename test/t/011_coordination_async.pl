# Auctions and proposals across transactions: agents owned by other roles
# bid and vote in their own sessions; the supervisor closes an auction or a
# proposal at its deadline (woken for it: its naptime here is 5 s) or as soon
# as every invited agent has answered; concurrent closers get one result and
# one auction_closed / proposal_closed event; bids and votes are sealed until
# the close; bad input is refused with the documented SQLSTATEs.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# A 5 s naptime: a deadline met within a second must come from the
# supervisor's deadline-driven wakeup, not from its regular pass.
my $node = foundation_node('coordination_async',
	extra_conf => "foundation.naptime = '5s'\n");

is($node->safe_psql('postgres', 'SHOW foundation.naptime'),
	'5s', 'the supervisor naps 5 s');

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;

-- The trivial handler every agent has (the async protocols never call it,
-- but an agent needs one to be invited).
CREATE FUNCTION public.trivial(agent text, request text, payload jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;

-- What arrives on events and control, as seen by a server-side handler.
CREATE TABLE public.seen (seq bigserial, channel text, type text, message jsonb);
CREATE FUNCTION public.rec(channel text, message jsonb) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO public.seen (channel, type, message) VALUES (channel, message->>'type', message)
$$;
});

sub as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

sub err_as
{
	my ($role, $sql) = @_;
	return sql_error($node, $sql, extra_params => [ '-U', $role ]);
}

# Agents, registered in this order (seq) by their owners.
my %owner = (a1 => 'alice', a2 => 'alice', b1 => 'bob', b2 => 'bob');
for my $agent (qw(a1 a2 b1 b2))
{
	as($owner{$agent}, qq{
SELECT foundation.register_agent('$agent', '{"handler": "public.trivial(text,text,jsonb)",
  "capabilities": ["auction_bidding", "consensus_voting"],
  "protocols": ["sealed_bid_auction", "majority_consensus"]}')});
}
# One agent that may negotiate only.
as('alice', q{
SELECT foundation.register_agent('n1', '{"handler": "public.trivial(text,text,jsonb)",
  "capabilities": ["negotiation"]}')});
is( $node->safe_psql('postgres', q{
SELECT string_agg(name || ':' || owner::regrole::text, ' ' ORDER BY seq) FROM foundation.agents}),
	'a1:alice a2:alice b1:bob b2:bob n1:alice',
	'agents registered in order, owned by the roles that registered them');

# Everything on events and control is recorded, from here on.
$node->safe_psql('postgres', q{
SELECT foundation.subscribe('events', 'public.rec(text, jsonb)'::regprocedure);
SELECT foundation.subscribe('control', 'public.rec(text, jsonb)'::regprocedure);
});
ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the dispatcher listens');

# Every message committed so far has been handled once this sentinel is:
# one listener gets notifications in commit order.
my $sentinel = 0;
sub sync_events
{
	$sentinel++;
	$node->safe_psql('postgres',
		qq{SELECT foundation.broadcast('events', '{"type": "sentinel", "n": $sentinel}')});
	return wait_for($node, qq{
SELECT count(*) FROM public.seen WHERE type = 'sentinel' AND (message->>'n')::int = $sentinel},
		'1');
}

# One line per bid in a result: agent:bid:priority:error.
# The bids a result lists (run_auction: "bids"; close_auction: "top_bids").
sub bids_of
{
	my ($json, $key) = @_;
	$key //= 'top_bids';
	return $node->safe_psql('postgres', qq{
SELECT string_agg(b->>'agent' || ':' || (b->>'bid') || ':' || (b->>'priority') || ':'
                  || coalesce(b->>'error', '-'), ' ' ORDER BY o)
  FROM jsonb_array_elements('$json'::jsonb->'$key') WITH ORDINALITY x(b, o)});
}

# Every invited agent's bid, as foundation.auction_bids shows it to $role.
sub all_bids
{
	my ($id, $role) = @_;
	return as($role // 'alice', qq{
SELECT string_agg(agent || ':' || coalesce(bid::text, 'null') || ':' || priority || ':'
                  || coalesce(error, '-'), ' ' ORDER BY o)
  FROM foundation.auction_bids($id) WITH ORDINALITY x(agent, bid, priority, details, error, submitted_at, o)});
}

# $n sessions of $role run $sql at once: a row lock held here on
# foundation.$table (FOR SHARE) makes every one of them queue for the
# close's FOR UPDATE; released once all $n wait.  Returns (outputs, errors).
sub race
{
	my ($table, $idcol, $id, $role, $sql, $n) = @_;
	my $ctl = $node->background_psql('postgres');
	$ctl->query_safe('BEGIN');
	$ctl->query_safe("SELECT 1 FROM foundation.$table WHERE $idcol = $id FOR SHARE");
	my (@h, @out, @err);
	for my $i (0 .. $n - 1)
	{
		$out[$i] = '';
		$err[$i] = '';
		$h[$i] = IPC::Run::start(
			[
				'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr('postgres'), '-U', $role,
				'-c', $sql
			],
			'>', \$out[$i], '2>', \$err[$i],
			IPC::Run::timeout($FoundationTAP::WAIT_SECONDS));
	}
	ok( wait_for(
			$node, qq{
SELECT count(*) FROM pg_stat_activity
 WHERE usename = '$role' AND wait_event_type = 'Lock' AND query LIKE '%close_%'},
			$n),
		"all $n closers wait for the row lock");
	$ctl->query_safe('COMMIT');
	$ctl->quit;
	for my $i (0 .. $n - 1)
	{
		my $ok = eval { $h[$i]->finish; 1 };
		ok($ok && $h[$i]->result == 0 && $err[$i] eq '',
			"closer $i finished without error or warning")
		  or diag("closer $i: " . ($@ || '') . $err[$i]);
		chomp $out[$i];
	}
	return (\@out, \@err);
}

# bob, in a REPEATABLE READ transaction whose snapshot was taken before
# alice runs $close, then runs $act; returns what $act printed on stderr
# (verbose: with the SQLSTATE).
sub act_from_snapshot_before
{
	my ($close, $act) = @_;
	my $rr = $node->background_psql('postgres',
		extra_params => [ '-U', 'bob' ], on_error_stop => 0);
	$rr->query_safe('\set VERBOSITY verbose');
	$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$rr->query_safe('SELECT count(*) FROM foundation.agents');
	as('alice', $close);
	$rr->query($act);
	my $stderr = $rr->{stderr};
	$rr->query('ROLLBACK');
	$rr->quit;
	return $stderr;
}

# alice, in a REPEATABLE READ transaction whose snapshot was taken before
# bob runs $act, then runs $close; returns its result, and commits.
sub close_from_snapshot_before
{
	my ($act, $close) = @_;
	my $rc = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
	$rc->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$rc->query_safe('SELECT count(*) FROM foundation.agents');
	as('bob', $act);
	my $res = $rc->query_safe($close);
	$rc->query_safe('COMMIT');
	$rc->quit;
	chomp $res;
	return $res;
}

###########################################################################
note '1. an auction closed by its deadline';
###########################################################################
my $a1;
{
	$a1 = as('alice', q{
SELECT foundation.open_auction('{"type": "sealed_bid", "resources": {"cpu": 4}, "payment_rule": "second_price"}',
                               ARRAY['a1', 'a2', 'b1', 'b2'], '2 seconds')});
	like($a1, qr/^\d+$/, "alice opened auction $a1");
	is( $node->safe_psql('postgres', qq{
SELECT status || ',' || owner::regrole::text || ',' || (result IS NULL) || ','
       || (deadline - opened_at BETWEEN interval '1.9 s' AND interval '2.1 s')
  FROM foundation.auctions WHERE auction_id = $a1}),
		'open,alice,true,true',
		'the auction is open, owned by alice, no result, deadline 2 s after its opening');

	# Bids from both owners; b2 never bids.
	as('alice', qq{
SELECT foundation.submit_bid($a1, 'a1', 10);
SELECT foundation.submit_bid($a1, 'a2', 3, '{"priority": 1}');});
	as('bob', qq{SELECT foundation.submit_bid($a1, 'b1', 7.5)});
	is(as('alice', "SELECT foundation.auction_result($a1) IS NULL"),
		't', 'auction_result is NULL while the auction is open');

	ok( wait_for($node, "SELECT foundation.auction_result($a1) IS NOT NULL",
			't', timeout => 30),
		'the auction closes without anybody closing it');
	is( $node->safe_psql('postgres', qq{
SELECT status || ',' || (closed_at >= deadline) || ',' || (closed_at <= deadline + interval '1 second')
  FROM foundation.auctions WHERE auction_id = $a1}),
		'closed,true,true',
		'closed at its deadline, within 1 s of it (naptime is 5 s)');
	note $node->safe_psql('postgres', qq{
SELECT 'closed ' || (closed_at - deadline) || ' after the deadline' FROM foundation.auctions WHERE auction_id = $a1});

	my $r = as('bob', "SELECT foundation.auction_result($a1)");
	# Second price: 10 wins and pays the second-highest bid, 7.5.
	is( $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'auction_id', r->>'winner', r->>'payment', r->>'allocation',
                 r->>'auction_type', r->>'payment_rule', r->>'reserve_price')
  FROM (SELECT '$r'::jsonb r) s}),
		"$a1,a1,7.5,{\"a1\": {\"cpu\": 4}},sealed_bid,second_price,0",
		'a1 (bid 10) wins the cpus and pays the second price, 7.5');
	is(bids_of($r), 'a1:10:0:- b1:7.5:0:-',
		'the result lists the two bids the rule needed, best first');
	is(all_bids($a1, 'bob'), 'a1:10:0:- a2:3:1:- b1:7.5:0:- b2:null:0:no bid',
		'auction_bids lists every invited agent, b2 with no bid and error "no bid"');
	is(bids_of($r, 'bids'), '', 'the close result has no full "bids" list');
	is( $node->safe_psql('postgres', qq{
SELECT result = '$r'::jsonb FROM foundation.auctions WHERE auction_id = $a1}),
		't', 'foundation.auctions stores that result');

	ok(sync_events(), 'events are caught up');
	is( $node->safe_psql('postgres', qq{
SELECT count(*) || ',' || bool_and(message - 'type' = '$r'::jsonb) FROM public.seen
 WHERE type = 'auction_closed' AND (message->>'auction_id')::bigint = $a1}),
		'1,true', 'one auction_closed event on events, carrying the result');
	is( $node->safe_psql('postgres', qq{
SELECT string_agg(channel || ':' || (message->'agents')::text || ':' || (message->'spec'->>'payment_rule')
                  || ':' || ((message->>'deadline')::timestamptz = a.deadline), ' ')
  FROM public.seen, foundation.auctions a
 WHERE type = 'auction_opened' AND (message->>'auction_id')::bigint = $a1 AND a.auction_id = $a1}),
		'control:["a1", "a2", "b1", "b2"]:second_price:true',
		'the opening was announced once on control, with agents, spec and deadline');
}

###########################################################################
note '2. an auction closed by the last bid';
###########################################################################
{
	my $id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"gpu": 1}}', ARRAY['a1', 'b1'], '1 hour')});
	as('alice', qq{SELECT foundation.submit_bid($id, 'a1', 5)});
	is( $node->safe_psql('postgres', "SELECT status FROM foundation.auctions WHERE auction_id = $id"),
		'open', 'still open with one of two bids in');
	# A tie at 5: b1's priority wins it; the second price is a1's 5.
	as('bob', qq{SELECT foundation.submit_bid($id, 'b1', 5, '{"priority": 2}')});
	ok( wait_for($node, "SELECT foundation.auction_result($id) IS NOT NULL",
			't', timeout => 30),
		'closed once every invited agent has bid');
	is( $node->safe_psql('postgres', qq{
SELECT (closed_at < deadline - interval '59 minutes') || ','
       || (closed_at >= (SELECT max(submitted_at) FROM foundation.bids WHERE auction_id = $id))
  FROM foundation.auctions WHERE auction_id = $id}),
		'true,true', 'closed right after the last bid, long before the deadline');
	my $r = $node->safe_psql('postgres', "SELECT foundation.auction_result($id)");
	is( $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'winner', r->>'payment', r->>'allocation') FROM (SELECT '$r'::jsonb r) s}),
		'b1,5,{"b1": {"gpu": 1}}', 'tie at 5: b1 wins by priority, pays 5');
	is(bids_of($r), 'b1:5:2:- a1:5:0:-', 'both bids, best first, no errors');
	is(all_bids($id), 'a1:5:0:- b1:5:2:-', 'auction_bids: both, in invitation order');
}

###########################################################################
note '3. five concurrent closers';
###########################################################################
my $a3;
{
	$a3 = as('alice', q{
SELECT foundation.open_auction('{"resources": {"disk": 10}, "payment_rule": "first_price"}',
                               ARRAY['a1', 'a2', 'b1', 'b2'], '1 hour')});
	as('alice', qq{
SELECT foundation.submit_bid($a3, 'a1', 8);
SELECT foundation.submit_bid($a3, 'a2', 8);});
	as('bob', qq{SELECT foundation.submit_bid($a3, 'b1', 2)});

	my ($out) = race('auctions', 'auction_id', $a3, 'alice',
		"SELECT foundation.close_auction($a3)::text", 5);
	note "first closer got: $out->[0]";
	like($out->[0], qr/"auction_id": $a3\b/, 'the first closer got the result');
	is(scalar(grep { $_ eq $out->[0] } @$out), 5, 'all 5 closers got the identical result');
	is( $node->safe_psql('postgres', qq{
SELECT result::text FROM foundation.auctions WHERE auction_id = $a3}),
		$out->[0], 'the stored result is that one');
	# First price, tie at 8 with equal priorities: a1, registered first, pays 8.
	is( $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'winner', r->>'payment', r->>'payment_rule') FROM (SELECT '$out->[0]'::jsonb r) s}),
		'a1,8,first_price', 'tie at 8: a1 (registered first) wins and pays its bid');
	is(bids_of($out->[0]), 'a1:8:0:- a2:8:0:-', 'top_bids: the tie at 8, in registration order');
	is(all_bids($a3), 'a1:8:0:- a2:8:0:- b1:2:0:- b2:null:0:no bid', 'auction_bids lists all four');

	ok(sync_events(), 'events are caught up');
	is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM public.seen
 WHERE type = 'auction_closed' AND (message->>'auction_id')::bigint = $a3}),
		'1', 'exactly one auction_closed event for 5 closers');

	# Closing again later: the same result, no new event.
	is(as('alice', "SELECT foundation.close_auction($a3)::text"), $out->[0],
		'close_auction is idempotent');
	ok(sync_events(), 'events are caught up');
	is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM public.seen
 WHERE type = 'auction_closed' AND (message->>'auction_id')::bigint = $a3}),
		'1', 'still exactly one auction_closed event');
}

###########################################################################
note '4. a bid after the close';
###########################################################################
{
	my $closed_at = $node->safe_psql('postgres',
		"SELECT to_json(closed_at)#>>'{}' FROM foundation.auctions WHERE auction_id = $a3");
	my %r = err_as('alice', "SELECT foundation.submit_bid($a3, 'a2', 9)");
	is($r{sqlstate}, '55000', 'a bid after the close: 55000') or diag($r{stderr});
	is($r{message}, "auction $a3 closed at $closed_at",
		'the error names the auction and when it closed');
	%r = err_as('bob', "SELECT foundation.submit_bid($a1, 'b2', 1)");
	is($r{sqlstate}, '55000', 'a late bid on the auction closed by its deadline: 55000')
	  or diag($r{stderr});
	like($r{message}, qr/^auction $a1 closed at /, 'naming that auction');
	is($node->safe_psql('postgres', "SELECT count(bid) || ',' || count(*) || ',' || max(bid) FROM foundation.bids WHERE auction_id = $a3"),
		'3,4,8', 'the late bid was not stored (3 bids in 4 invitations, the highest 8)');
}

###########################################################################
note '4b. bids in flight, and transaction-snapshot isolation';
###########################################################################
{
	# A bid not yet committed holds the auction's lock in share mode; a
	# close waits for it and counts it.
	my $id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'b1', 'b2'], '1 hour')});
	my $bidder = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
	$bidder->query_safe('BEGIN');
	$bidder->query_safe("SELECT foundation.submit_bid($id, 'a1', 11)");
	is( $node->safe_psql('postgres', qq{
SELECT string_agg(mode || ':' || granted || ':' || classid || ':' || objsubid, ' ')
  FROM pg_locks WHERE locktype = 'advisory' AND objid = $id AND objsubid = 17985}),
		'ShareLock:true:0:17985',
		"the uncommitted bid holds the auction's lock (advisory, objsubid 17985) in share mode");
	my ($out, $err) = ('', '');
	my $closer = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
			'-U', 'alice', '-c', "SELECT foundation.close_auction($id)::text"
		],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($FoundationTAP::WAIT_SECONDS));
	ok( wait_for(
			$node, qq{
SELECT count(*) FROM pg_stat_activity
 WHERE usename = 'alice' AND wait_event = 'advisory' AND query LIKE '%close_auction($id)%'}, '1'),
		'the close waits for the bid in flight');
	$bidder->query_safe('COMMIT');
	$bidder->quit;
	my $ok = eval { $closer->finish; 1 };
	ok($ok && $closer->result == 0 && $err eq '', 'the close then finishes')
	  or diag(($@ || '') . $err);
	chomp $out;
	is( $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'winner', r->>'payment') FROM (SELECT '$out'::jsonb r) s}),
		'a1,11', "and counts it: a1, the only bidder, wins and pays its 11");

	# A REPEATABLE READ transaction whose snapshot predates a close cannot
	# bid into the closed auction: 40001, nothing stored.
	$id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'b1'], '1 hour')});
	my $err = act_from_snapshot_before("SELECT foundation.close_auction($id)",
		"SELECT foundation.submit_bid($id, 'b1', 3)");
	like($err, qr/ERROR:  40001:/,
		'a bid from a snapshot older than the close: 40001 (serialization failure)')
	  or diag($err);
	is($node->safe_psql('postgres', "SELECT count(bid) FROM foundation.bids WHERE auction_id = $id"),
		'0', 'the bid was not stored');

	# A REPEATABLE READ close counts a bid committed after its snapshot was
	# taken (it reads the bids as of the latest snapshot, once it holds the
	# auction's lock).
	$id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'b1'], '1 hour')});
	# (The bid itself in a REPEATABLE READ transaction of its own.)
	my $res = close_from_snapshot_before(
		"BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT foundation.submit_bid($id, 'b1', 9); COMMIT;",
		"SELECT foundation.close_auction($id)::text");
	is( $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'winner', r->>'payment') FROM (SELECT '$res'::jsonb r) s}),
		'b1,9', 'a REPEATABLE READ close counts a bid committed after its snapshot');
}

###########################################################################
note '4c. a bidding session remembers what it checked, until it changes';
###########################################################################
{
	# One session bids again and again (it then checks the auction and the
	# agent's owner from what it remembers); whatever another session
	# changes in between must be seen at its next bid.
	my $bidder = $node->background_psql(
		'postgres',
		on_error_stop => 0,
		extra_params => [ '-U', 'alice' ]);
	my $bid = sub {
		my ($sql) = @_;
		$bidder->{stderr} = '';
		my ($out, $ret) = $bidder->query($sql);
		my $err = $bidder->{stderr};
		$bidder->{stderr} = '';
		return $ret ? $err : 'ok';
	};
	my $id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'a2', 'b1'], '1 hour')});
	is($bid->("SELECT foundation.submit_bid($id, 'a1', 1)"), 'ok', 'a first bid');
	is($bid->("SELECT foundation.submit_bid($id, 'a1', 2)"), 'ok', 'a second bid into the same auction');
	like($bid->("SELECT foundation.submit_bid($id, 'b1', 2)"), qr/permission denied to act for agent "b1"/,
		"another role's agent is refused, as before");
	as('alice', "SELECT foundation.close_auction($id)");
	like($bid->("SELECT foundation.submit_bid($id, 'a1', 3)"), qr/auction $id closed at /,
		'a close committed by another session is seen at the next bid');
	is($node->safe_psql('postgres', "SELECT bid FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'"),
		'2', 'and the late bid was not stored');

	# A close in flight: the bid waits for the auction's lock, then sees
	# the close that committed meanwhile.
	$id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'a2'], '1 hour')});
	is($bid->("SELECT foundation.submit_bid($id, 'a1', 1)"), 'ok', 'a bid before a close');
	my $closer = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
	$closer->query_safe('BEGIN');
	$closer->query_safe("SELECT foundation.close_auction($id)");
	$bidder->{stderr} = '';
	$bidder->{stdin} .= "SELECT foundation.submit_bid($id, 'a1', 7);\n";
	$bidder->{run}->pump_nb;
	ok( wait_for(
			$node, qq{
SELECT count(*) FROM pg_stat_activity
 WHERE usename = 'alice' AND wait_event = 'advisory' AND query LIKE '%submit_bid($id, ''a1'', 7)%'}, '1'),
		'the next bid waits for the close in flight');
	$closer->query_safe('COMMIT');
	$closer->quit;
	$bidder->query('SELECT 1');
	like($bidder->{stderr}, qr/auction $id closed at /, 'and then fails: the auction closed');
	$bidder->{stderr} = '';
	is($node->safe_psql('postgres', "SELECT bid FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'"),
		'1', 'the bid that waited was not stored');

	# A superuser's UPDATE of the auction, not through close_auction.
	$id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'a2'], '1 hour')});
	is($bid->("SELECT foundation.submit_bid($id, 'a2', 1)"), 'ok', 'a bid into another auction');
	$node->safe_psql('postgres',
		"UPDATE foundation.auctions SET status = 'closed', closed_at = now() WHERE auction_id = $id");
	like($bid->("SELECT foundation.submit_bid($id, 'a2', 5)"), qr/auction $id closed at /,
		"a superuser's UPDATE of the auction is seen at the next bid");

	# The agent's owner changes (a superuser's UPDATE): the new owner's
	# agent, no longer alice's.
	$id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'a2'], '1 hour')});
	is($bid->("SELECT foundation.submit_bid($id, 'a2', 1)"), 'ok', 'alice bids for a2');
	$node->safe_psql('postgres', "UPDATE foundation.agents SET owner = 'bob' WHERE name = 'a2'");
	like($bid->("SELECT foundation.submit_bid($id, 'a2', 4)"), qr/permission denied to act for agent "a2"/,
		"once a2 is bob's, alice's next bid for it is refused");
	$node->safe_psql('postgres', "UPDATE foundation.agents SET owner = 'alice' WHERE name = 'a2'");
	is($bid->("SELECT foundation.submit_bid($id, 'a2', 6)"), 'ok', "and accepted again once it is alice's");
	is($node->safe_psql('postgres', "SELECT bid FROM foundation.bids WHERE auction_id = $id AND agent = 'a2'"),
		'6', 'the refused bid was not stored');

	# An agent registered in a transaction that rolls back, after a bid for
	# it: what that bid read must not outlive the rollback, when another
	# role registers the same name (an INSERT, which invalidates nothing).
	my $reg = q{SELECT foundation.register_agent('tmp1', '{"handler": "public.trivial(text,text,jsonb)",
  "capabilities": ["auction_bidding"], "protocols": ["sealed_bid_auction"]}')};
	$bidder->query_safe('BEGIN');
	$bidder->query_safe($reg);
	my ($t) = $bidder->query_safe(q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['tmp1'], '1 hour')});
	chomp $t;
	is($bid->("SELECT foundation.submit_bid($t, 'tmp1', 1)"), 'ok', "a bid for alice's uncommitted agent tmp1");
	$bidder->query_safe('ROLLBACK');
	as('bob', $reg);
	$id = as('bob', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1', 'tmp1'], '1 hour')});
	is($bid->("SELECT foundation.submit_bid($id, 'a1', 1)"), 'ok', "alice bids for a1 in bob's auction");
	like($bid->("SELECT foundation.submit_bid($id, 'tmp1', 9)"), qr/permission denied to act for agent "tmp1"/,
		"but not for tmp1, bob's now: the rolled-back registration left nothing behind");
	is($node->safe_psql('postgres', "SELECT count(bid) FROM foundation.bids WHERE auction_id = $id AND agent = 'tmp1'"),
		'0', 'and no bid for tmp1 was stored');
	$node->safe_psql('postgres', "DELETE FROM foundation.agents WHERE name = 'tmp1'");

	# An auction opened in a transaction that rolls back, after a bid into it.
	my ($out) = $bidder->query(q{
BEGIN;
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['a1'], '1 hour');});
	chomp $out;
	is($bid->("SELECT foundation.submit_bid($out, 'a1', 1)"), 'ok', 'a bid into an auction not yet committed');
	$bidder->query('ROLLBACK');
	like($bid->("SELECT foundation.submit_bid($out, 'a1', 1)"), qr/auction $out does not exist/,
		'after the rollback, that auction does not exist for the next bid');
	$bidder->quit;
}

###########################################################################
note '5. sealed bids';
###########################################################################
{
	my $id = as('alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 1}}', ARRAY['a1', 'b1', 'b2'], '1 hour')});
	# a1 bids 20, then replaces it with 4: the last one counts.
	as('alice', qq{SELECT foundation.submit_bid($id, 'a1', 20, '{"priority": 9}')});
	as('alice', qq{SELECT foundation.submit_bid($id, 'a1', 4)});
	as('bob', qq{SELECT foundation.submit_bid($id, 'b1', 6)});

	my %r = err_as('bob', 'SELECT * FROM foundation.bids');
	is($r{sqlstate}, '42501', 'bob cannot read foundation.bids (42501)') or diag($r{stderr});
	%r = err_as('alice', "SELECT bid FROM foundation.bids WHERE auction_id = $id");
	is($r{sqlstate}, '42501', 'nor can alice, who opened the auction (42501)') or diag($r{stderr});
	is(as('bob', "SELECT foundation.auction_result($id) IS NULL"),
		't', "bob's auction_result is NULL before the close");
	is(as('bob', "SELECT status || ',' || (result IS NULL) FROM foundation.auctions WHERE auction_id = $id"),
		'open,true', 'foundation.auctions shows no result while open');
	%r = err_as('alice', "SELECT * FROM foundation.auction_bids($id)");
	is($r{sqlstate}, '55000', 'auction_bids before the close: 55000, even for the owner') or diag($r{stderr});
	is($r{message}, "the bids of auction $id are sealed until it closes", 'saying so');

	%r = err_as('bob', "SELECT foundation.submit_bid($id, 'a1', 100)");
	is($r{sqlstate}, '42501', "bob bidding for alice's agent: 42501") or diag($r{stderr});
	like($r{message}, qr/a1/, 'naming the agent');
	%r = err_as('bob', "SELECT foundation.close_auction($id)");
	is($r{sqlstate}, '42501', "bob cannot close alice's auction: 42501") or diag($r{stderr});
	is($node->safe_psql('postgres', "SELECT bid || ':' || priority FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'"),
		'4:0', 'the replacement bid (and its details) replaced the first');

	my $r = as('alice', "SELECT foundation.close_auction($id)");
	is( $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'winner', r->>'payment') FROM (SELECT '$r'::jsonb r) s}),
		'b1,4', "b1 (6) beats a1's replacement bid 4 and pays 4");
	is(bids_of($r), 'b1:6:0:- a1:4:0:-', 'the result shows the last bid of a1');
	is(all_bids($id, 'bob'), 'a1:4:0:- b1:6:0:- b2:null:0:no bid',
		'after the close bob reads every bid with auction_bids, alice\'s included');
	is(as('bob', "SELECT foundation.auction_result($id)::text"),
		$node->safe_psql('postgres', "SELECT '$r'::jsonb::text"),
		'after the close bob sees the result, with alice\'s bid');
}

###########################################################################
note '6. bad input';
###########################################################################
{
	my $id = as('alice', q{
SELECT foundation.open_auction('{}', ARRAY['a1', 'b1'], '1 hour')});
	my $nauctions = $node->safe_psql('postgres', 'SELECT count(*) FROM foundation.auctions');

	my @bad_bids = (
		[ "'NaN'",      '22023', 'a NaN bid' ],
		[ '-1',         '22023', 'a negative bid' ],
		[ '-0.0001',    '22023', 'a slightly negative bid' ],
		[ "'Infinity'", '22023', 'an infinite bid' ],
		[ "'-Infinity'", '22023', 'a negative infinite bid' ],);
	for my $b (@bad_bids)
	{
		my ($val, $state, $what) = @$b;
		my %r = err_as('alice', "SELECT foundation.submit_bid($id, 'a1', $val)");
		is($r{sqlstate}, $state, "$what: $state") or diag($r{stderr});
	}
	# The bid is double precision: the message shows it as such, and a
	# numeric argument is cast (one too large for a double precision fails
	# in the cast, before the call).
	my %m = err_as('alice', "SELECT foundation.submit_bid($id, 'a1', '-2.5'::numeric)");
	like($m{message}, qr/^invalid bid -2\.5$/, 'a negative numeric bid: the message names it');
	is($m{hint}, 'A bid is a finite number of at least 0.', 'with its hint');
	%m = err_as('alice', "SELECT foundation.submit_bid($id, 'a1', 'NaN'::numeric)");
	like($m{message}, qr/^invalid bid NaN$/, 'a NaN numeric bid: invalid bid NaN');
	%m = err_as('alice', "SELECT foundation.submit_bid($id, 'a1', '1e400'::numeric)");
	is($m{sqlstate}, '22003', 'a numeric bid beyond double precision: 22003') or diag($m{stderr});
	is( $node->safe_psql('postgres', qq{
SELECT count(bid) FROM foundation.bids WHERE auction_id = $id}),
		'0', 'no bad bid was written');
	my %r = err_as('alice', qq{SELECT foundation.submit_bid($id, 'a1', 1, '{"priority": -1}')});
	is($r{sqlstate}, '22023', 'a negative priority: 22023') or diag($r{stderr});
	%r = err_as('alice', "SELECT foundation.submit_bid($id, 'a2', 1)");
	is($r{sqlstate}, '22023', 'an agent not invited: 22023') or diag($r{stderr});
	like($r{message}, qr/"a2" is not invited to auction $id/, 'naming agent and auction');
	%r = err_as('alice', "SELECT foundation.submit_bid($id, 'zz', 1)");
	is($r{sqlstate}, '42704', 'an unknown agent: 42704') or diag($r{stderr});
	%r = err_as('alice', 'SELECT foundation.submit_bid(987654, \'a1\', 1)');
	is($r{sqlstate}, '42704', 'a bid on an unknown auction: 42704') or diag($r{stderr});
	%r = err_as('alice', 'SELECT foundation.close_auction(987654)');
	is($r{sqlstate}, '42704', 'closing an unknown auction: 42704') or diag($r{stderr});
	%r = err_as('alice', 'SELECT foundation.auction_result(987654)');
	is($r{sqlstate}, '42704', 'the result of an unknown auction: 42704') or diag($r{stderr});
	%r = err_as('alice', "SELECT foundation.submit_bid($id, 'a1', NULL)");
	is($r{sqlstate}, '22004', 'a NULL bid: 22004') or diag($r{stderr});
	is($node->safe_psql('postgres', "SELECT count(bid) || ',' || count(*) FROM foundation.bids WHERE auction_id = $id"),
		'0,2', 'no bad bid was stored (0 bids in 2 invitations)');
	# 0 is a valid bid.
	as('alice', "SELECT foundation.submit_bid($id, 'a1', 0)");
	is($node->safe_psql('postgres', "SELECT bid FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'"),
		'0', 'a bid of 0 is accepted');
	as('alice', "SELECT foundation.submit_bid($id, 'a1', 7.25::numeric(10,2))");
	is( $node->safe_psql('postgres', qq{
SELECT pg_typeof(bid)::text || ' ' || bid FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'}),
		'double precision 7.25', 'a numeric(10,2) argument is accepted and stored as double precision');
	as('alice', "SELECT foundation.submit_bid($id, 'a1', 2::float8 * 1.5::float8)");
	is( $node->safe_psql('postgres', qq{
SELECT bid FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'}),
		'3', 'a double precision expression as the bid');

	my @bad_opens = (
		[ q{'{}', ARRAY[]::text[], '1 hour'},            '22023', 'an empty agent list' ],
		[ q{'{}', ARRAY['a1', 'b1', 'a1'], '1 hour'},    '22023', 'an agent listed twice' ],
		[ q{'{}', ARRAY['a1', 'zz'], '1 hour'},          '42704', 'an unknown agent' ],
		[ q{'{}', ARRAY['a1', 'n1'], '1 hour'},          '22023', 'an agent without auction_bidding' ],
		[ q{'{}', ARRAY['a1'], '0 seconds'},             '22023', 'a zero deadline' ],
		[ q{'{}', ARRAY['a1'], '-5 seconds'},            '22023', 'a negative deadline' ],
		[ q{'{"payment_rule": "vickrey"}', ARRAY['a1'], '1 hour'}, '22023', 'an unknown payment rule' ],
		[ q{'{"type": "english"}', ARRAY['a1'], '1 hour'},         '22023', 'an unknown auction type' ],
		[ q{'{"reserve_price": -1}', ARRAY['a1'], '1 hour'},       '22023', 'a negative reserve price' ],
		[ q{'[1]', ARRAY['a1'], '1 hour'},               '22023', 'a spec that is not an object' ],
		[ q{'{}', ARRAY['a1'], NULL},                    '22004', 'a NULL deadline' ],);
	for my $o (@bad_opens)
	{
		my ($args, $state, $what) = @$o;
		%r = err_as('alice', "SELECT foundation.open_auction($args)");
		is($r{sqlstate}, $state, "open_auction with $what: $state") or diag($r{stderr});
	}
	is($node->safe_psql('postgres', 'SELECT count(*) FROM foundation.auctions'),
		$nauctions, 'no auction was opened by the bad calls');

	# A positive deadline of whole days (interval time part 0) is valid.
	%r = err_as('alice', q{SELECT foundation.open_auction('{}', ARRAY['a1'], '1 day')});
	is($r{rc}, 0, "open_auction with a deadline of '1 day' is accepted")
	  or diag($r{stderr});
	%r = err_as('alice', q{SELECT foundation.open_proposal(ARRAY['a1'], '{}', 'majority', '1 day')});
	is($r{rc}, 0, "open_proposal with a deadline of '1 day' is accepted")
	  or diag($r{stderr});
}

###########################################################################
note '7. proposals';
###########################################################################
sub proposal_summary
{
	my ($json) = @_;
	return $node->safe_psql('postgres', qq{
SELECT concat_ws(',', r->>'consensus', r->>'consensus_type', r->>'required_votes',
                 r->>'yes', r->>'no', r->>'abstain', r->>'failed')
  FROM (SELECT '$json'::jsonb r) s});
}

sub votes_of
{
	my ($json) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(v->>'agent' || ':' || (v->>'vote') || ':' || coalesce(v->>'reason', '-'), ' ' ORDER BY o)
  FROM jsonb_array_elements('$json'::jsonb->'votes') WITH ORDINALITY x(v, o)});
}

sub proposal_result
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT result FROM foundation.proposals WHERE proposal_id = $id");
}

{
	# Majority, yes/yes/no: closed when the last vote arrives.
	my $p = as('alice', q{
SELECT foundation.open_proposal(ARRAY['a1', 'a2', 'b1'], '{"plan": "expand"}', 'majority', '1 hour')});
	like($p, qr/^\d+$/, "alice opened proposal $p");
	as('alice', qq{SELECT foundation.cast_vote($p, 'a1', 'yes', 'needed')});
	as('bob', qq{SELECT foundation.cast_vote($p, 'b1', 'no', 'too costly')});

	my %r = err_as('alice', "SELECT foundation.cast_vote($p, 'a1', 'no')");
	is($r{sqlstate}, '23505', 'a second vote from the same agent: 23505') or diag($r{stderr});
	%r = err_as('bob', "SELECT foundation.cast_vote($p, 'a2', 'no')");
	is($r{sqlstate}, '42501', "bob voting for alice's agent: 42501") or diag($r{stderr});
	%r = err_as('alice', "SELECT foundation.cast_vote($p, 'a2', 'maybe')");
	is($r{sqlstate}, '22023', 'an invalid vote: 22023') or diag($r{stderr});
	%r = err_as('bob', "SELECT foundation.cast_vote($p, 'b2', 'yes')");
	is($r{sqlstate}, '22023', 'an agent not invited: 22023') or diag($r{stderr});
	%r = err_as('alice', 'SELECT foundation.cast_vote(987654, \'a1\', \'yes\')');
	is($r{sqlstate}, '42704', 'a vote on an unknown proposal: 42704') or diag($r{stderr});
	%r = err_as('bob', 'SELECT * FROM foundation.votes');
	is($r{sqlstate}, '42501', 'votes are sealed: bob cannot read foundation.votes') or diag($r{stderr});
	%r = err_as('bob', "SELECT foundation.close_proposal($p)");
	is($r{sqlstate}, '42501', "bob cannot close alice's proposal: 42501") or diag($r{stderr});
	is( $node->safe_psql('postgres', "SELECT status || ',' || (result IS NULL) FROM foundation.proposals WHERE proposal_id = $p"),
		'open,true', 'still open with two of three votes');

	as('alice', qq{SELECT foundation.cast_vote($p, 'a2', 'yes')});
	ok( wait_for($node, "SELECT status FROM foundation.proposals WHERE proposal_id = $p",
			'closed', timeout => 30),
		'closed when the last vote arrives');
	is( $node->safe_psql('postgres', qq{
SELECT closed_at < deadline - interval '59 minutes' FROM foundation.proposals WHERE proposal_id = $p}),
		't', 'long before the deadline');
	my $r = proposal_result($p);
	is(proposal_summary($r), 'accepted,majority,3,2,1,0,0', 'majority yes/yes/no: accepted');
	is(votes_of($r), 'a1:yes:needed a2:yes:- b1:no:too costly', 'the votes, in agent order');
	is(as('alice', "SELECT foundation.close_proposal($p)::text"),
		$node->safe_psql('postgres', "SELECT '$r'::jsonb::text"),
		'close_proposal returns the stored result');

	my $closed_at = $node->safe_psql('postgres',
		"SELECT to_json(closed_at)#>>'{}' FROM foundation.proposals WHERE proposal_id = $p");
	%r = err_as('bob', "SELECT foundation.cast_vote($p, 'b1', 'yes')");
	is($r{sqlstate}, '55000', 'a vote after the close: 55000') or diag($r{stderr});
	is($r{message}, "proposal $p closed at $closed_at", 'naming the proposal and when it closed');

	ok(sync_events(), 'events are caught up');
	is( $node->safe_psql('postgres', qq{
SELECT count(*) || ',' || bool_and(message - 'type' = '$r'::jsonb) FROM public.seen
 WHERE type = 'proposal_closed' AND (message->>'proposal_id')::bigint = $p}),
		'1,true', 'one proposal_closed event, carrying the result');
	is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM public.seen
 WHERE channel = 'control' AND type = 'proposal_opened' AND (message->>'proposal_id')::bigint = $p}),
		'1', 'the opening was announced on control');
}

{
	# Deadline closing with a missing vote: by default every agent's vote is
	# required (no_quorum); with 3 required, 3 yes of 4 is a majority.
	my $p_all = as('alice', q{
SELECT foundation.open_proposal(ARRAY['a1', 'a2', 'b1', 'b2'], '{"plan": 2}', 'majority', '2 seconds')});
	my $p_three = as('alice', q{
SELECT foundation.open_proposal(ARRAY['a1', 'a2', 'b1', 'b2'], '{"plan": 3}', 'majority', '2 seconds', 3)});
	for my $p ($p_all, $p_three)
	{
		as('alice', qq{SELECT foundation.cast_vote($p, 'a1', 'yes'); SELECT foundation.cast_vote($p, 'a2', 'yes');});
		as('bob', qq{SELECT foundation.cast_vote($p, 'b1', 'yes')});
	}
	for my $p ($p_all, $p_three)
	{
		ok( wait_for($node, "SELECT status FROM foundation.proposals WHERE proposal_id = $p",
				'closed', timeout => 30),
			"proposal $p closes at its deadline");
		is( $node->safe_psql('postgres', qq{
SELECT (closed_at >= deadline) || ',' || (closed_at <= deadline + interval '1 second')
  FROM foundation.proposals WHERE proposal_id = $p}),
			'true,true', 'within 1 s of its deadline');
	}
	my $r = proposal_result($p_all);
	is(proposal_summary($r), 'no_quorum,majority,4,3,0,0,1',
		'3 yes, b2 missing, every vote required: no_quorum');
	is(votes_of($r), 'a1:yes:- a2:yes:- b1:yes:- b2:failed:no vote',
		'the missing vote counts as failed');
	is(proposal_summary(proposal_result($p_three)), 'accepted,majority,3,3,0,0,1',
		'3 yes, b2 missing, 3 votes required: accepted');
}

{
	# Boundaries: every agent votes, so the supervisor closes each at once.
	my @cases = (
		[ 'supermajority', [qw(yes yes no)],         'accepted', 'supermajority, exactly 2 of 3' ],
		[ 'supermajority', [qw(yes yes abstain no)], 'rejected', 'supermajority, 2 of 4' ],
		[ 'unanimous',     [qw(yes yes yes yes)],    'accepted', 'unanimous, 4 of 4' ],
		[ 'unanimous',     [qw(yes yes abstain)],    'rejected', 'unanimous with an abstention' ],
		[ 'majority',      [qw(yes yes no no)],      'rejected', 'majority, exactly half' ],
		[ 'quorum',        [qw(yes abstain abstain)], 'accepted', 'quorum, 1 yes 0 no' ],
		[ 'quorum',        [qw(yes no abstain)],     'rejected', 'quorum, 1 yes 1 no' ],);
	my @agents = qw(a1 a2 b1 b2);
	my @ids;
	for my $c (@cases)
	{
		my ($type, $votes) = @$c;
		my @who = @agents[ 0 .. $#$votes ];
		my $list = join(', ', map { "'$_'" } @who);
		my $p = as('alice', qq{
SELECT foundation.open_proposal(ARRAY[$list], '{"plan": "b"}', '$type', '1 hour')});
		for my $i (0 .. $#who)
		{
			as($owner{ $who[$i] }, qq{SELECT foundation.cast_vote($p, '$who[$i]', '$votes->[$i]')});
		}
		push @ids, $p;
	}
	ok( wait_for($node, qq{
SELECT count(*) FROM foundation.proposals WHERE proposal_id IN (@{[join(', ', @ids)]}) AND status = 'closed'},
			scalar(@ids), timeout => 30),
		'every boundary proposal closed by its last vote');
	for my $i (0 .. $#cases)
	{
		my ($type, $votes, $expected, $what) = @{ $cases[$i] };
		is( $node->safe_psql('postgres', qq{
SELECT result->>'consensus' FROM foundation.proposals WHERE proposal_id = $ids[$i]}),
			$expected, "$what: $expected");
	}
}

{
	# Three concurrent closers of a proposal with two missing votes.
	my $p = as('alice', q{
SELECT foundation.open_proposal(ARRAY['a1', 'a2', 'b1', 'b2'], '{"plan": "race"}', 'majority', '1 hour', 2)});
	as('alice', qq{SELECT foundation.cast_vote($p, 'a1', 'yes')});
	as('bob', qq{SELECT foundation.cast_vote($p, 'b1', 'no')});
	my ($out) = race('proposals', 'proposal_id', $p, 'alice',
		"SELECT foundation.close_proposal($p)::text", 3);
	note "first closer got: $out->[0]";
	like($out->[0], qr/"proposal_id": $p\b/, 'the first closer got the result');
	is(scalar(grep { $_ eq $out->[0] } @$out), 3, 'all 3 closers got the identical result');
	is(proposal_result($p), $out->[0], 'the stored result is that one');
	is(proposal_summary($out->[0]), 'rejected,majority,2,1,1,0,2',
		'1 yes, 1 no, 2 missing of 4 (2 required): rejected');
	is(votes_of($out->[0]), 'a1:yes:- a2:failed:no vote b1:no:- b2:failed:no vote',
		'the missing votes count as failed');
	ok(sync_events(), 'events are caught up');
	is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM public.seen
 WHERE type = 'proposal_closed' AND (message->>'proposal_id')::bigint = $p}),
		'1', 'exactly one proposal_closed event for 3 closers');
}

{
	# A REPEATABLE READ close counts a vote committed after its snapshot
	# was taken (it reads the votes as of the latest snapshot, once it
	# holds the proposal's row lock), as for auctions.
	my $p = as('alice', q{
SELECT foundation.open_proposal(ARRAY['a1', 'b1'], '{"plan": "rr"}', 'majority', '1 hour')});
	my $res = close_from_snapshot_before("SELECT foundation.cast_vote($p, 'b1', 'yes')",
		"SELECT foundation.close_proposal($p)::text");
	is(votes_of($res), 'a1:failed:no vote b1:yes:-',
		'a REPEATABLE READ close counts a vote committed after its snapshot');

	# And a vote from a snapshot older than the close: 40001, not stored.
	$p = as('alice', q{
SELECT foundation.open_proposal(ARRAY['a1', 'b1'], '{"plan": "rr2"}', 'majority', '1 hour')});
	my $err = act_from_snapshot_before("SELECT foundation.close_proposal($p)",
		"SELECT foundation.cast_vote($p, 'b1', 'yes')");
	like($err, qr/ERROR:  40001:/,
		'a vote from a snapshot older than the close: 40001 (serialization failure)')
	  or diag($err);
	is($node->safe_psql('postgres', "SELECT count(*) FROM foundation.votes WHERE proposal_id = $p"),
		'0', 'the vote was not stored');
}

{
	my @bad = (
		[ q{ARRAY['a1'], '{}', 'plurality', '1 hour'},     '22023', 'an unknown consensus type' ],
		[ q{ARRAY['a1', 'b1'], '{}', 'majority', '1 hour', 0}, '22023', 'required_votes 0' ],
		[ q{ARRAY['a1', 'b1'], '{}', 'majority', '1 hour', 3}, '22023', 'required_votes above the agents' ],
		[ q{ARRAY['a1'], '{}', 'majority', '0 seconds'},   '22023', 'a zero deadline' ],
		[ q{ARRAY[]::text[], '{}', 'majority', '1 hour'},  '22023', 'an empty agent list' ],
		[ q{ARRAY['a1', 'a1'], '{}', 'majority', '1 hour'}, '22023', 'an agent listed twice' ],
		[ q{ARRAY['n1'], '{}', 'majority', '1 hour'},      '22023', 'an agent without consensus_voting' ],);
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM foundation.proposals');
	for my $o (@bad)
	{
		my ($args, $state, $what) = @$o;
		my %r = err_as('alice', "SELECT foundation.open_proposal($args)");
		is($r{sqlstate}, $state, "open_proposal with $what: $state") or diag($r{stderr});
	}
	my %r = err_as('alice', 'SELECT foundation.close_proposal(987654)');
	is($r{sqlstate}, '42704', 'closing an unknown proposal: 42704') or diag($r{stderr});
	is($node->safe_psql('postgres', 'SELECT count(*) FROM foundation.proposals'),
		$before, 'no proposal was opened by the bad calls');
}

# A bid is stored as the double precision its numeric casts to, digit for
# digit: short ones (a quick conversion) and long ones (the long way) alike.
{
	my $id = as('alice', q{
SELECT foundation.open_auction('{}', ARRAY['a1', 'a2'], '1 hour')});
	my @bids = ('0.1', '0.3', '10', '0', '123.456789012345', '0.30000000000000004441',
		'9007199254740992', '9007199254740993', '12345678901234567890',
		'0.0000000000000000000001', '0.00000000000000000000001234',
		'1.7976931348623157e308', '2.5e-5', '999999999999999.999');
	for my $v (@bids)
	{
		my $want = $node->safe_psql('postgres', "SELECT (${v}::numeric::float8)::text");
		as('alice', "SELECT foundation.submit_bid($id, 'a1', $v)");
		is( $node->safe_psql('postgres', qq{
SELECT bid::text || ' ' || (bid = ${v}::numeric::float8)::text
  FROM foundation.bids WHERE auction_id = $id AND agent = 'a1'}),
			"$want true", "a bid of $v is stored as ${v}::numeric::float8 ($want)");
	}
	as('alice', "SELECT foundation.close_auction($id)");
}

$node->stop;
done_testing();
