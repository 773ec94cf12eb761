# pg_dump / pg_restore keep foundation's state: one server is filled with
# the state of two ordinary roles, alice and bob (children, named
# singletons, a child in another database, channel handlers, agents, an
# orchestration variable, open and closed auctions with sealed bids, open
# and closed proposals with votes, a node added by hand), dumped by the
# superuser in custom format, and restored into a second fresh server with
# foundation preloaded, whose roles and databases were made in another
# order (so that every OID differs).  There: the same rows, role by role,
# runtime columns aside; the children running as their roles; the
# dispatcher calling the handlers; an open auction still sealed, accepting
# a bid, and closed by the supervisor at its deadline; new ids after the
# restored ones; and nothing of foundation's own or runtime state copied.
# Also: the rows of a role dropped at the source (carol) are left out of
# the dump, not dumped with a bare OID for owner; a durable channel's
# retained messages travel with their numbers, expired ones do not; and
# the dispatcher, started by the target's supervisor in the middle of the
# restore, never takes an id a restored child brings.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $old = foundation_node('dump_source',
	extra_conf => "foundation.health_check_interval = 0\n");
# The target: foundation preloaded, the extension not created (the restore
# creates it).  Its roles and databases are made in another order, after
# others, as pg_dumpall --roles-only and createdb would on a server with a
# history: no OID matches the source's.
my $new = foundation_node('dump_target', create => 0,
	extra_conf => "foundation.health_check_interval = 0\n");

$old->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE DATABASE otherdb;
GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO PUBLIC;
CREATE FUNCTION public.trivial(agent text, request text, payload jsonb)
  RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION public.pick(agents text[], spec jsonb, context jsonb)
  RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"ok": true}'::jsonb $$;
-- What the handlers see, with the role that ran them.
CREATE TABLE public.seen (channel text, message jsonb, by_role name DEFAULT current_user);
GRANT INSERT ON public.seen TO PUBLIC;
CREATE FUNCTION public.rec(channel text, message jsonb) RETURNS void
  LANGUAGE sql AS $$ INSERT INTO public.seen (channel, message) VALUES (channel, message) $$;
});
create_ticker($old, 'otherdb');
$old->safe_psql('otherdb', 'GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO PUBLIC');

$new->safe_psql('postgres', q{
CREATE ROLE pad_1;
CREATE ROLE pad_2;
CREATE ROLE bob LOGIN;
CREATE ROLE alice LOGIN;
CREATE DATABASE pad_db;
});
isnt(
	$old->safe_psql('postgres', q{SELECT string_agg(oid::text, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('alice', 'bob')}),
	$new->safe_psql('postgres', q{SELECT string_agg(oid::text, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('alice', 'bob')}),
	'alice and bob have other OIDs on the target');

sub as
{
	my ($node, $role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

###########################################################################
note '1. fill the source with alice\'s and bob\'s state';
###########################################################################
as($old, 'alice', q{
SELECT foundation.start_singleton('public.ticker', '{"who": "alice"}', 'alice_single');
SELECT foundation.start_child('{"id": "alice_transient", "start": {"module": "public.ticker", "args": {"n": 1}}, "restart": "transient", "max_restarts": 7}');
SELECT foundation.start_child('{"id": "alice_other_db", "start": {"module": "public.ticker"}, "database": "otherdb"}');
SELECT foundation.start_child('{"id": "alice_temporary", "start": {"module": "public.ticker"}, "restart": "temporary"}');
SELECT foundation.subscribe('events', 'public.rec(text, jsonb)'::regprocedure);
SELECT foundation.register_agent('a1', '{"handler": "public.trivial(text,text,jsonb)", "capabilities": ["auction_bidding", "consensus_voting"], "args": {"secret": "alice"}}');
SELECT foundation.register_agent('a2', '{"handler": "public.trivial(text,text,jsonb)", "capabilities": ["auction_bidding", "consensus_voting"]}');
SELECT foundation.register_orchestration_variable('{"id": "v", "type": "custom", "agents": ["a1"], "coordination_fn": "public.pick(text[],jsonb,jsonb)"}');
});
as($old, 'bob', q{
SELECT foundation.start_singleton('public.ticker', '{"who": "bob"}', 'bob_single');
SELECT foundation.subscribe('control', 'public.rec(text, jsonb)'::regprocedure);
SELECT foundation.register_agent('b1', '{"handler": "public.trivial(text,text,jsonb)", "capabilities": ["auction_bidding", "consensus_voting"]}');
SELECT foundation.start_coordination_agent('public.ticker', '{"agent": "b2"}', 'b2',
  capabilities => ARRAY['auction_bidding', 'consensus_voting'], handler => 'public.trivial(text,text,jsonb)');
SELECT foundation.register_orchestration_variable('{"id": "v", "type": "custom", "agents": ["b1"], "coordination_fn": "public.pick(text[],jsonb,jsonb)"}');
});
# A node added by hand is kept, a discovered one is not.
$old->safe_psql('postgres', q{
INSERT INTO foundation.nodes (name, conninfo) VALUES ('by_hand', 'host=by-hand.invalid');
INSERT INTO foundation.nodes (name, conninfo, source) VALUES ('found', 'host=found.invalid', 'static');
});

# A closed auction and a closed proposal, each with every answer in.
my $closed_auction = as($old, 'alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 1}}', ARRAY['a1', 'b1'], '1 hour')});
as($old, 'alice', "SELECT foundation.submit_bid($closed_auction, 'a1', 4)");
as($old, 'bob', "SELECT foundation.submit_bid($closed_auction, 'b1', 6)");
my $closed_proposal = as($old, 'bob', q{
SELECT foundation.open_proposal(ARRAY['a1', 'b1'], '{"plan": "x"}', 'majority', '1 hour')});
as($old, 'alice', "SELECT foundation.cast_vote($closed_proposal, 'a1', 'yes')");
as($old, 'bob', "SELECT foundation.cast_vote($closed_proposal, 'b1', 'no', 'too slow')");
ok(wait_for($old, qq{
SELECT (SELECT status FROM foundation.auctions WHERE auction_id = $closed_auction) = 'closed'
   AND (SELECT status FROM foundation.proposals WHERE proposal_id = $closed_proposal) = 'closed'}),
	'the auction and the proposal with every answer are closed');

# An open proposal, with one vote of two.
my $open_proposal = as($old, 'alice', q{
SELECT foundation.open_proposal(ARRAY['a2', 'b1'], '{"plan": "y"}', 'unanimous', '1 hour')});
as($old, 'alice', "SELECT foundation.cast_vote($open_proposal, 'a2', 'yes')");

ok(wait_for($old, settled_sql()), 'the source\'s children are settled');
ok(wait_for($old, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the source\'s dispatcher listens');

# carol's state, then carol is dropped.  DROP ROLE leaves her rows
# (PostgreSQL records no dependency on a role stored in a column), with
# her old OID as owner: the dump must leave them out, since that number is
# nobody, or somebody else, on another server.  Her auction's and
# proposal's bids and votes go with them (votes would fail their foreign
# key without the proposal).
$old->safe_psql('postgres', 'CREATE ROLE carol LOGIN');
as($old, 'carol', q{
SELECT foundation.start_singleton('public.ticker', '{"who": "carol"}', 'carol_single');
SELECT foundation.subscribe('data', 'public.rec(text, jsonb)'::regprocedure);
SELECT foundation.register_agent('c1', '{"handler": "public.trivial(text,text,jsonb)", "capabilities": ["auction_bidding", "consensus_voting"]}');
SELECT foundation.register_orchestration_variable('{"id": "v", "type": "custom", "agents": ["c1"], "coordination_fn": "public.pick(text[],jsonb,jsonb)"}');
});
my $carol_auction = as($old, 'carol', q{
SELECT foundation.open_auction('{"resources": {"cpu": 2}}', ARRAY['c1', 'a1'], '1 hour')});
as($old, 'carol', "SELECT foundation.submit_bid($carol_auction, 'c1', 5)");
my $carol_proposal = as($old, 'carol', q{
SELECT foundation.open_proposal(ARRAY['c1', 'b1'], '{"plan": "c"}', 'majority', '1 hour')});
as($old, 'carol', "SELECT foundation.cast_vote($carol_proposal, 'c1', 'yes')");
$old->safe_psql('postgres', 'DROP ROLE carol');
is( $old->safe_psql('postgres', q{
SELECT count(*) FROM foundation.child_specs WHERE id = 'carol_single' AND owner::text ~ '^[0-9]+$'}),
	'1', 'DROP ROLE carol left her child\'s spec, owned by a bare OID');

# A durable channel: three messages, the first aged past the retention.
# The supervisor's retention would remove it at once; a statement trigger
# that fails its DELETE keeps it until the dump is made, so the dump's
# filter is what leaves it out.
$old->safe_psql('postgres', q{SELECT foundation.configure_channel('telemetry', '1 day')});
$old->safe_psql('postgres', qq{SELECT foundation.broadcast('telemetry', '{"d": $_}')}) for 1 .. 3;
$old->safe_psql('postgres', q{
CREATE FUNCTION public.keep_messages() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'kept for the dump'; END $$;
CREATE TRIGGER keep BEFORE DELETE ON foundation.durable_messages
  FOR EACH STATEMENT EXECUTE FUNCTION public.keep_messages();
UPDATE foundation.durable_messages SET sent_at = now() - interval '2 days'
 WHERE seq = (SELECT min(seq) FROM foundation.durable_messages WHERE channel = 'telemetry');});
my @durable_seqs = split /\n/, $old->safe_psql('postgres', q{
SELECT seq FROM foundation.durable_messages WHERE channel = 'telemetry' ORDER BY seq});
is(scalar(@durable_seqs), 3, 'the source holds the three telemetry messages, the first expired');

# An open auction last, with a deadline the dump and restore leave well
# ahead: a1 bids before the dump, b1 after the restore, a2 never (so the
# supervisor closes it at its deadline, not when every agent has bid).
my $open_auction = as($old, 'alice', q{
SELECT foundation.open_auction('{"resources": {"gpu": 1}, "payment_rule": "first_price"}',
                               ARRAY['a1', 'a2', 'b1'], '30 seconds')});
as($old, 'alice', "SELECT foundation.submit_bid($open_auction, 'a1', 3)");

###########################################################################
note '2. pg_dump the source, pg_restore into the target';
###########################################################################
my $dir = PostgreSQL::Test::Utils::tempdir();
for my $db (qw(postgres otherdb))
{
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'pg_dump', '--format=custom', '--no-password', "--file=$dir/$db.dump",
			'-d', $old->connstr($db) ],
		'>', \$out, '2>', \$err);
	ok($ok, "pg_dump --format=custom of $db, as the superuser") or diag($err);
}
$old->safe_psql('postgres', 'DROP TRIGGER keep ON foundation.durable_messages');

# What the dump holds: the data of foundation's tables as pg_restore would
# load it (the target's supervisor acts on rows as they arrive, so what was
# filtered out is checked here, before it could hide anything).
my (%copy, %columns);
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_restore', '--data-only', '-f', '-', "$dir/postgres.dump" ],
		'>', \$out, '2>', \$err) or diag($err);
	while ($out =~ /^COPY foundation\.(\w+) \(([^)]*)\) FROM stdin;\n(.*?)^\\\.$/msg)
	{
		$copy{$1} = $3;
		$columns{$1} = [ split /, /, $2 ];
	}
}
like($copy{child_specs} // '', qr/\talice_single\t/, 'the dump holds alice\'s singleton\'s spec');
unlike($copy{child_specs} // '', qr/\t(?:alice_temporary|foundation:dispatcher)\t/,
	'but neither the temporary child\'s nor the dispatcher\'s');
like($copy{registry} // '', qr/^bob_single\t/m, 'it holds the names of the kept children');
unlike($copy{registry} // '', qr/^foundation:/m, 'but not the dispatcher\'s');
like($copy{agents} // '', qr/^a1\t.*\talice\t/m, 'agents are dumped with their owner\'s name');
is(join(',', map { (split /\t/)[0] } split /\n/, $copy{nodes} // ''), 'by_hand',
	'of the nodes, only the one added by hand is dumped');
ok(!exists $copy{$_}, "$_ is not dumped")
  for qw(health_history messages members cluster_local cluster_peers relay_inbox);

# Every owner the dump holds is a role's name: none of the dropped carol's
# rows, whose owner would be a bare OID.
for my $t (qw(child_specs registry channel_handlers agents orchestration_variables auctions proposals))
{
	my ($col) = grep { ($columns{$t}[$_] // '') eq 'owner' } 0 .. $#{ $columns{$t} // [] };
	my @owners = defined $col ? map { (split /\t/)[$col] } split /\n/, $copy{$t} // '' : ();
	my %seen = map { $_ => 1 } @owners;
	# alice opened every auction
	is(join(',', sort keys %seen), $t eq 'auctions' ? 'alice' : 'alice,bob',
		"$t: the dump's owners are roles' names (not carol's bare OID)");
}
unlike($copy{bids} // '', qr/^$carol_auction\t/m, 'the dump holds no bid of carol\'s auction');
unlike($copy{votes} // '', qr/^$carol_proposal\t/m, 'nor a vote of her proposal');
like($copy{bids} // '', qr/^$closed_auction\t/m, 'but the other auctions\' bids');

# A durable channel's retained messages are dumped with their numbers;
# the expired one is not.
is( join(',', map { (split /\t/)[1] } grep { /^telemetry\t/ } split /\n/, $copy{durable_messages} // ''),
	join(',', @durable_seqs[ 1 .. 2 ]),
	'the dump holds the retained telemetry messages, not the expired one');
like($copy{channel_config} // '', qr/^telemetry\t1 day$/m, 'and which channel is durable');

# What the source holds, to compare with.  Per role, what that role sees
# (row-level security shows its own rows); then, as the superuser, what
# no role may read (bids and votes are sealed).  Runtime columns (pids,
# start times, restart counts, last exits) are left out.
my %per_role = (
	child_specs => q{SELECT child_id, id, module, args, restart, database, owner, shutdown_ms,
	   max_restarts, max_seconds, status, created_at FROM foundation.child_specs
	   WHERE restart <> 'temporary' ORDER BY child_id},
	agents => q{SELECT name, module, args, capabilities, protocols, strategy, resources, handler,
	   owner, status, registered_at, seq FROM foundation.agents ORDER BY seq},
	orchestration_variables => q{SELECT id, type, agents, constraints, coordination_fn, owner,
	   created_at, last_result FROM foundation.orchestration_variables ORDER BY id},
	channel_handlers => q{SELECT channel, handler, owner, created_at FROM foundation.channel_handlers
	   WHERE owner = current_user::regrole ORDER BY channel},
	registry => q{SELECT r.name, r.owner, c.id FROM foundation.registry r
	   JOIN foundation.child_specs c USING (child_id) ORDER BY r.name},
	auctions => q{SELECT auction_id, spec, agents, status, opened_at, deadline, closed_at, result
	   FROM foundation.auctions WHERE owner = current_user::regrole ORDER BY auction_id},
	proposals => q{SELECT proposal_id, proposal, agents, consensus_type, required_votes, status,
	   opened_at, deadline, closed_at, result
	   FROM foundation.proposals WHERE owner = current_user::regrole ORDER BY proposal_id},
);
my %superuser = (
	bids => qq{SELECT * FROM foundation.bids WHERE auction_id <> $carol_auction ORDER BY auction_id, agent},
	votes => qq{SELECT * FROM foundation.votes WHERE proposal_id <> $carol_proposal ORDER BY proposal_id, agent},
	# every user's child arrives with its id (foundation's own are below
	# zero on both servers)
	child_ids => q{SELECT string_agg(child_id || ':' || id, ' ' ORDER BY child_id) FROM foundation.child_specs
	   WHERE child_id > 0 AND restart <> 'temporary' AND id <> 'carol_single'},
	durable => qq{SELECT string_agg(seq || ' ' || message::text || ' ' || sent_at, E'\\n' ORDER BY seq)
	   FROM foundation.replay('telemetry', $durable_seqs[0])},
	channel_config => q{SELECT string_agg(channel || ' ' || retention, ',') FROM foundation.channel_config},
	nodes => q{SELECT name, conninfo, source, added_at FROM foundation.nodes
	   WHERE source = 'manual' ORDER BY name},
	sequences => q{SELECT string_agg(c.relname || '=' || pg_sequence_last_value(c.oid)::text, ' ' ORDER BY c.relname)
	   FROM pg_class c WHERE c.relkind = 'S' AND c.relnamespace = 'foundation'::regnamespace
	    AND c.relname IN ('agents_seq_seq', 'auctions_auction_id_seq', 'proposals_proposal_id_seq')},
);
my %before;
for my $role (qw(alice bob))
{
	$before{"$role/$_"} = as($old, $role, $per_role{$_}) for keys %per_role;
}
$before{$_} = $old->safe_psql('postgres', $superuser{$_}) for keys %superuser;
like($before{'alice/child_specs'}, qr/alice_other_db/, 'alice sees her child in otherdb at the source');
like($before{'bob/agents'}, qr/\bb2\b/, 'bob sees his agents at the source');
like($before{bids}, qr/\|a1\|/, 'the source holds a1\'s sealed bid');

# Restore postgres only: the child in otherdb waits for its database.
sub restore
{
	my ($db, $what, @options) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'pg_restore', '--exit-on-error', '--no-password', @options, '-d', $new->connstr($db),
			"$dir/$db.dump" ],
		'>', \$out, '2>', \$err);
	ok($ok, "pg_restore of $db into the target$what") or diag($err);
}

# pg_restore loads one table per transaction, and the target's supervisor
# acts on each as it arrives: once the subscriptions are in, it starts the
# dispatcher, which may be before child_specs' rows arrive.  That order is
# made certain here: the schema, then channel_handlers' rows alone, then
# the dispatcher runs, then the rest.  The dispatcher must not take an id
# a restored child brings (the restore of child_specs would fail on it).
restore('postgres', ' (the schema)', '--section=pre-data');
restore('postgres', ' (channel_handlers\' rows)', '--data-only', '--schema=foundation',
	'--table=channel_handlers');
ok(wait_for($new, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the target\'s supervisor starts the dispatcher for the subscriptions, mid-restore');
is( $new->safe_psql('postgres', q{
SELECT string_agg(child_id::text, ',') FROM foundation.child_specs WHERE id = 'foundation:dispatcher'}),
	'-1', 'it takes an id below zero (foundation\'s own children count down from -1)');
{
	my ($list, $err) = ('', '');
	IPC::Run::run([ 'pg_restore', '--list', "$dir/postgres.dump" ], '>', \$list, '2>', \$err)
	  or diag($err);
	my @rest = grep { !/ TABLE DATA foundation channel_handlers / } split /\n/, $list;
	ok(@rest < scalar(split /\n/, $list), 'the list without channel_handlers\' rows');
	append_to_file("$dir/rest.list", join("\n", @rest) . "\n");
}
restore('postgres', ' (the other rows)', '--section=data', "--use-list=$dir/rest.list");
restore('postgres', ' (indexes, constraints, triggers)', '--section=post-data');

###########################################################################
note '3. the same rows on the target';
###########################################################################
for my $role (qw(alice bob))
{
	for my $t (sort keys %per_role)
	{
		is(as($new, $role, $per_role{$t}), $before{"$role/$t"},
			"$t: what $role sees is restored unchanged");
	}
}
for my $t (sort keys %superuser)
{
	is($new->safe_psql('postgres', $superuser{$t}), $before{$t},
		"$t: restored unchanged");
}
# The target's dispatcher is its own (id -1), not the source's.
my $last_child_id = $old->safe_psql('postgres',
	q{SELECT last_value FROM foundation.child_specs_child_id_seq});
is( $new->safe_psql('postgres', q{
SELECT string_agg(child_id || ':' || id, ' ') FROM foundation.child_specs
 WHERE restart = 'temporary' OR (id LIKE 'foundation:%' AND child_id <> -1)}),
	'', 'neither foundation\'s own children nor a temporary one were copied');

# Nothing of the dropped carol's arrived, and every owner is a role.
is( $new->safe_psql('postgres', qq{
SELECT concat_ws(' ',
  (SELECT count(*) FROM foundation.child_specs WHERE id = 'carol_single'),
  (SELECT count(*) FROM foundation.registry WHERE name = 'carol_single'),
  (SELECT count(*) FROM foundation.channel_handlers WHERE channel = 'data'),
  (SELECT count(*) FROM foundation.agents WHERE name = 'c1'),
  (SELECT count(*) FROM foundation.orchestration_variables WHERE agents = '{c1}'),
  (SELECT count(*) FROM foundation.auctions WHERE auction_id = $carol_auction),
  (SELECT count(*) FROM foundation.bids WHERE auction_id = $carol_auction),
  (SELECT count(*) FROM foundation.proposals WHERE proposal_id = $carol_proposal),
  (SELECT count(*) FROM foundation.votes WHERE proposal_id = $carol_proposal))}),
	'0 0 0 0 0 0 0 0 0', 'no row of the dropped role carol was restored');
is( $new->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT owner FROM foundation.child_specs UNION ALL SELECT owner FROM foundation.registry
  UNION ALL SELECT owner FROM foundation.channel_handlers UNION ALL SELECT owner FROM foundation.agents
  UNION ALL SELECT owner FROM foundation.orchestration_variables
  UNION ALL SELECT owner FROM foundation.auctions UNION ALL SELECT owner FROM foundation.proposals) o
 WHERE owner::oid NOT IN (SELECT oid FROM pg_roles)}),
	'0', 'every restored owner is a role of the target');
is( $new->safe_psql('postgres', qq{
SELECT last_value >= $last_child_id FROM foundation.child_specs_child_id_seq}),
	't', 'the child ids\' sequence goes on from the source\'s');
is($new->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM foundation.nodes}),
	'by_hand', 'of the nodes, only the one added by hand was copied');

###########################################################################
note '4. the children run on the target, as their roles';
###########################################################################
my $running_sql = q{
SELECT string_agg(c.id || ':' || a.usename || ':' || c.database, ' ' ORDER BY c.id)
  FROM foundation.children c JOIN pg_stat_activity a ON a.pid = c.pid
 WHERE c.id NOT LIKE 'foundation:%' AND a.backend_type = 'foundation child'};
ok( wait_for($new, $running_sql,
		'alice_single:alice:postgres alice_transient:alice:postgres b2:bob:postgres bob_single:bob:postgres'),
	'the permanent and transient children run, each as its role');
is( $new->safe_psql('postgres', q{
SELECT string_agg(id || ':' || status, ' ') FROM foundation.children WHERE database = 'otherdb'}),
	'alice_other_db:restarting',
	'the child in otherdb waits for its database (not failed)');
ok( wait_for($new, q{
SELECT string_agg(name || ':' || (foundation.lookup_singleton(name) = c.pid)::text, ' ' ORDER BY name)
  FROM foundation.registry r JOIN foundation.children c USING (child_id)
 WHERE r.name NOT LIKE 'foundation:%'},
		'alice_single:true b2:true bob_single:true'),
	'each restored name leads to its child\'s new pid');

# A name whose row arrives after its child started (pg_restore loads one
# table per transaction) holds the old server's pid and node: the next
# pass gives it the child's.
$new->safe_psql('postgres', q{
UPDATE foundation.registry SET pid = 1, node = 'old-server',
       metadata = metadata || '{"pid": 1}' WHERE name = 'alice_single'});
ok( wait_for($new, q{
SELECT r.pid = c.pid AND r.node = foundation.node_name() AND (r.metadata->>'pid')::int = c.pid
  FROM foundation.registry r JOIN foundation.children c USING (child_id)
 WHERE r.name = 'alice_single'}),
	'a name with a stale pid and node gets its running child\'s on the next pass');

# Now otherdb arrives (a later database of pg_dumpall, say).
$new->safe_psql('postgres', 'CREATE DATABASE otherdb');
restore('otherdb');
ok( wait_for($new, q{
SELECT string_agg(c.id || ':' || a.usename || ':' || a.datname, ' ')
  FROM foundation.children c JOIN pg_stat_activity a ON a.pid = c.pid
 WHERE c.id = 'alice_other_db'},
		'alice_other_db:alice:otherdb'),
	'the child in otherdb starts once its database is restored, as alice, in otherdb');
ok(wait_for($new, settled_sql()), 'the target\'s children are settled');

# The child is bound to that database now.  Dropped and created again under
# the same name (anyone with CREATEDB could), with a procedure of the
# child's module name in it, the new one is never taken for the old: the
# child waits, and the impostor's procedure never runs as alice.
$new->safe_psql('postgres', 'DROP DATABASE otherdb WITH (FORCE)');
my $drop_offset = -s $new->logfile;
$new->safe_psql('postgres', 'CREATE DATABASE otherdb');
$new->safe_psql('otherdb', q{
CREATE TABLE public.caught (who text);
GRANT INSERT ON public.caught TO PUBLIC;
CREATE PROCEDURE public.ticker(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.caught VALUES (current_user);
  COMMIT;
  LOOP PERFORM pg_sleep(0.05); END LOOP;
END $$;
GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO PUBLIC;});
my $refusals = 0;
for (1 .. 600)
{
	my $log = substr(slurp_file($new->logfile), $drop_offset);
	$refusals = () = $log =~ /cannot start child \d+ \("alice_other_db"\): its database "otherdb" does not exist/g;
	last if $refusals >= 3;
	usleep(100_000);
}
cmp_ok($refusals, '>=', 3,
	'the supervisor does not take the new otherdb for the child\'s (refused on each pass)');
is($new->safe_psql('otherdb', 'SELECT count(*) FROM public.caught'), '0',
	'the procedure planted in the new otherdb never ran');
is($new->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE datname = 'otherdb' AND usename = 'alice'}),
	'0', 'no process of alice\'s is connected to it');

###########################################################################
note '5. handlers and agents work on the target';
###########################################################################
ok(wait_for($new, 'SELECT foundation.dispatcher_pid() IS NOT NULL'),
	'the supervisor started the dispatcher for the restored subscriptions');
is( $new->safe_psql('postgres', q{
SELECT owner::text FROM foundation.child_specs WHERE id = 'foundation:dispatcher'}),
	$new->safe_psql('postgres', q{SELECT rolname FROM pg_roles WHERE oid = 10}),
	'it runs as the target\'s bootstrap superuser');
$new->safe_psql('postgres', q{
SELECT foundation.broadcast('events', '{"after": "restore"}');
SELECT foundation.broadcast('control', '{"after": "restore"}');});
ok( wait_for($new, q{
SELECT string_agg(channel || ':' || by_role, ' ' ORDER BY channel) FROM public.seen
 WHERE message->>'after' = 'restore'},
		'control:bob events:alice'),
	'each role\'s handler gets its channel\'s messages, as that role');

# A listener that moved with the last seq it saw replays from there, and
# the numbering goes on after the restored messages.
$new->safe_psql('postgres', q{SELECT foundation.broadcast('telemetry', '{"d": 4}')});
is( $new->safe_psql('postgres', qq{
SELECT string_agg(message->>'d', ',' ORDER BY seq) || ' ' || (min(seq) = $durable_seqs[2])::text
  FROM foundation.replay('telemetry', $durable_seqs[1])}),
	'3,4 true', 'the durable channel replays after a restored seq, and new messages number after it');

as($new, 'alice', q{
SELECT foundation.register_agent('a3', '{"handler": "public.trivial(text,text,jsonb)"}')});
is( $new->safe_psql('postgres', q{
SELECT (SELECT seq FROM foundation.agents WHERE name = 'a3') > max(seq) FROM foundation.agents WHERE name <> 'a3'}),
	't', 'a new agent\'s seq follows the restored ones');

###########################################################################
note '6. the open auction: sealed, accepting a bid, closed at its deadline';
###########################################################################
my %r = sql_error($new, "SELECT * FROM foundation.auction_bids($open_auction)",
	extra_params => [ '-U', 'alice' ]);
is($r{sqlstate}, '55000', 'its bids are still sealed from its owner') or diag($r{stderr});
%r = sql_error($new, 'SELECT * FROM foundation.bids', extra_params => [ '-U', 'bob' ]);
is($r{sqlstate}, '42501', 'and the bids table is still closed to roles');
as($new, 'bob', "SELECT foundation.submit_bid($open_auction, 'b1', 2)");
is($new->safe_psql('postgres', "SELECT status FROM foundation.auctions WHERE auction_id = $open_auction"),
	'open', 'it accepted b1\'s bid and stays open (a2 has not bid)');
ok( wait_for($new, qq{SELECT status FROM foundation.auctions WHERE auction_id = $open_auction},
		'closed', timeout => 120),
	'the supervisor closes it');
is( $new->safe_psql('postgres', qq{
SELECT closed_at >= deadline AND result->>'winner' = 'a1'
  FROM foundation.auctions WHERE auction_id = $open_auction}),
	't', 'at its deadline, won by the bid made before the dump');
is( as($new, 'alice', qq{
SELECT string_agg(agent || ':' || coalesce(bid::text, '-'), ' ') FROM foundation.auction_bids($open_auction)}),
	'a1:3 a2:- b1:2', 'once closed, its bids show: the one from before the dump among them');

my $next = as($new, 'alice', q{
SELECT foundation.open_auction('{"resources": {"cpu": 1}}', ARRAY['a1'], '1 hour')});
ok($next > $open_auction, "a new auction's id ($next) follows the restored ones");
as($new, 'bob', "SELECT foundation.cast_vote($open_proposal, 'b1', 'yes')");
ok( wait_for($new, qq{
SELECT status || ':' || (result->>'consensus') FROM foundation.proposals WHERE proposal_id = $open_proposal},
		'closed:accepted'),
	'the open proposal takes the last vote after the restore and closes');

$old->stop;
$new->stop;
done_testing();
