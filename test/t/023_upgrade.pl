# The upgrade path: every earlier release kept in sql/releases/, installed
# and then brought to the current version with ALTER EXTENSION foundation
# UPDATE, has exactly the schema of a fresh install of the current version.
#
# And an install updated with its rows in it: 0.1's tables are filled (as
# 0.1 wrote them, by plain INSERTs: this library is 0.2's) and each row is
# compared by value before and after the update, which runs in one
# transaction with the reading of the new rows (the supervisor acts on them
# as soon as it commits).  Until the update, the 0.2 library runs on 0.1's
# SQL: its supervisor must say once, clearly, that it waits for the update,
# and neither fail at every pass nor start anything; after it, it runs the
# children again, and foundation's own children have moved below zero.
#
# One server with foundation preloaded, as in production.  Each database
# that gets the extension must be foundation.database when it does (the
# install script refuses any other), so the server restarts with that
# setting before each CREATE EXTENSION; the databases made earlier keep
# their extension, and their schemas are compared at the end.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $node = foundation_node('upgrade',
	create => 0,
	extra_conf => "foundation.health_check_interval = 0\n");

# The releases this checkout keeps (sql/releases/foundation--V.sql).
my @old = sort map { m{/foundation--([^/]+)\.sql$} ? $1 : () }
  glob("$FindBin::RealBin/../../sql/releases/foundation--*.sql");
ok(@old >= 1, 'sql/releases/ keeps at least one earlier release')
  or diag('no sql/releases/foundation--*.sql next to test/t');

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'foundation'});
ok(!grep({ $_ eq $current } @old),
	"the current version ($current) is not one of the kept releases (@old)");

sub db_for { my ($v) = @_; (my $d = "from_$v") =~ s/\W/_/g; return $d; }

# Make $db the database foundation may be created in, and restart.
sub move_foundation_to
{
	my ($db) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->append_conf('postgresql.conf', "foundation.database = '$db'\n");
	$node->restart;
}

sub extversion
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT extversion FROM pg_extension WHERE extname = 'foundation'});
}

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;});

# 0.1's tables, filled as 0.1 wrote them (owners and databases by OID).
# Child ids come from the identity, as start_child took them: 1
# alice_worker, 2 the dispatcher (foundation's own), 3 bob_transient
# (exited), 4 alice_failed.
my $seed_01 = q{
CREATE PROCEDURE public.ticker(args jsonb) LANGUAGE plpgsql AS $$
BEGIN LOOP PERFORM pg_sleep(0.05); COMMIT; END LOOP; END $$;
GRANT EXECUTE ON PROCEDURE public.ticker(jsonb) TO PUBLIC;
CREATE FUNCTION public.trivial(agent text, request text, payload jsonb)
  RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION public.pick(agents text[], spec jsonb, context jsonb)
  RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"ok": true}'::jsonb $$;
CREATE TABLE public.seen (channel text, message jsonb, by_role name DEFAULT current_user);
GRANT INSERT ON public.seen TO PUBLIC;
CREATE FUNCTION public.rec(channel text, message jsonb) RETURNS void
  LANGUAGE sql AS $$ INSERT INTO public.seen (channel, message) VALUES (channel, message) $$;

INSERT INTO foundation.child_specs (id, module, args, restart, database, owner, shutdown_ms,
    max_restarts, max_seconds, status, pid, restart_count, restart_times, last_exit)
  SELECT v.id, v.module, v.args::jsonb, v.restart, d.oid, pg_catalog.to_regrole(v.owner::text)::oid, v.shutdown_ms,
         v.max_restarts, v.max_seconds, v.status, v.pid, v.restart_count,
         v.restart_times::timestamptz[], v.last_exit
    FROM pg_database d, (VALUES
      (1, 'alice_worker', 'public.ticker', '{"n": 1}', 'permanent', 'alice', 5000, 3, 5, 'running', 99999, 2,
          '{"2026-12-01 10:00:00+00"}', 'error: boom'),
      (2, 'foundation:dispatcher', 'foundation.handler_dispatcher', '{}', 'permanent',
          (SELECT rolname FROM pg_roles WHERE oid = 10), 5000, 3, 5, 'running', 99998, 0, '{}', NULL),
      (3, 'bob_transient', 'public.ticker', '{}', 'transient', 'bob', 1000, 7, 60, 'exited', NULL, 0, '{}', 'normal'),
      (4, 'alice_failed', 'public.ticker', 'null', 'permanent', 'alice', 5000, 1, 5, 'failed', NULL, 1, '{}', 'error: x'))
      AS v(n, id, module, args, restart, owner, shutdown_ms, max_restarts, max_seconds, status, pid,
           restart_count, restart_times, last_exit)
   WHERE d.datname = current_database() ORDER BY v.n;
INSERT INTO foundation.registry (name, pid, node, metadata, owner, child_id) VALUES
  ('alice_worker', 99999, 'upgrade', '{"pid": 99999, "module": "public.ticker"}', 'alice'::regrole, 1),
  ('foundation:dispatcher', 99998, 'upgrade', '{}', 10, 2),
  ('loose_name', 99997, foundation.node_name(), '{}', 'bob'::regrole, NULL);
INSERT INTO foundation.channel_handlers (channel, handler, owner)
  VALUES ('events', 'public.rec(text, jsonb)', 'alice'::regrole);
INSERT INTO foundation.nodes (name, conninfo) VALUES ('by_hand', 'host=by-hand.invalid');
INSERT INTO foundation.agents (name, args, capabilities, handler, owner) VALUES
  ('a1', '{"secret": 1}', '{auction_bidding,consensus_voting}', 'public.trivial(text,text,jsonb)', 'alice'::regrole),
  ('b1', '{}', '{auction_bidding,consensus_voting}', 'public.trivial(text,text,jsonb)', 'bob'::regrole);
INSERT INTO foundation.orchestration_variables (id, type, agents, coordination_fn, owner)
  VALUES ('v', 'custom', '{a1}', 'public.pick(text[],jsonb,jsonb)', 'alice'::regrole);
INSERT INTO foundation.auctions (spec, agents, status, owner, deadline, closed_at, result) VALUES
  ('{"resources": {"cpu": 1}}', '{a1,b1}', 'closed', 'alice'::regrole, now() - interval '1 hour',
   now() - interval '1 hour', '{"winner": "b1", "price": 4}'),
  ('{"resources": {"gpu": 1}, "payment_rule": "first_price"}', '{a1,b1}', 'open', 'alice'::regrole,
   now() + interval '1 hour', NULL, NULL);
INSERT INTO foundation.bids (auction_id, agent, ord, bid, submitted_at) VALUES
  (1, 'a1', 1, 4, now() - interval '2 hours'), (1, 'b1', 2, 6, now() - interval '2 hours'),
  (2, 'a1', 1, 3, now()), (2, 'b1', 2, NULL, NULL);
INSERT INTO foundation.proposals (proposal, agents, consensus_type, required_votes, owner, deadline)
  VALUES ('{"plan": "y"}', '{a1,b1}', 'unanimous', 2, 'bob'::regrole, now() + interval '1 hour');
INSERT INTO foundation.votes (proposal_id, agent, vote) VALUES (1, 'a1', 'yes');
};

# Each table, by value, as text that reads the same in 0.1 and in 0.2:
# owners by name, a child's database by name, foundation's own children's
# ids (which move below zero) as "own".
my $rows = sub {
	my ($table, $cols) = @_;
	return qq{(SELECT '$table: ' || coalesce(string_agg(t::text, ' ' ORDER BY t::text), '(none)')
	             FROM (SELECT $cols FROM foundation.$table x) t)};
};
my $own_or_id = q{CASE WHEN x.child_id < 0 OR x.id LIKE 'foundation:%' THEN 'own' ELSE x.child_id::text END};
my @same = (
	$rows->('registry', q{x.name, x.pid, x.node, x.metadata, x.registered_at, x.owner::regrole::text,
	   (SELECT c.id || '/' || CASE WHEN c.id LIKE 'foundation:%' THEN 'own' ELSE c.child_id::text END
	      FROM foundation.child_specs c WHERE c.child_id = x.child_id)}),
	$rows->('channel_handlers', q{x.channel, x.handler::text, x.owner::regrole::text, x.created_at}),
	$rows->('nodes', q{x.*}),
	$rows->('agents', q{x.name, x.module, x.args, x.capabilities, x.protocols, x.strategy, x.resources,
	   x.handler::text, x.owner::regrole::text, x.status, x.pid, x.registered_at, x.seq}),
	$rows->('orchestration_variables', q{x.id, x.type, x.agents, x.constraints, x.coordination_fn::text,
	   x.owner::regrole::text, x.created_at, x.last_result}),
	$rows->('auctions', q{x.auction_id, x.spec, x.agents, x.status, x.owner::regrole::text, x.opened_at,
	   x.deadline, x.closed_at, x.result}),
	$rows->('bids', q{x.*}),
	$rows->('proposals', q{x.proposal_id, x.proposal, x.agents, x.consensus_type, x.required_votes,
	   x.status, x.owner::regrole::text, x.opened_at, x.deadline, x.closed_at, x.result}),
	$rows->('votes', q{x.*}));
my $child_cols = q{x.id, x.module, x.args, x.restart, %s, x.owner::regrole::text, x.shutdown_ms,
   x.max_restarts, x.max_seconds, x.status, x.pid, x.started_at, x.restart_count, x.restart_times,
   x.last_exit, x.created_at, } . $own_or_id;
my $rows_01 = 'SELECT concat_ws(E\'\n\', '
  . $rows->('child_specs', sprintf($child_cols,
	  '(SELECT d.datname::text FROM pg_database d WHERE d.oid = x.database)'))
  . ', ' . join(', ', @same) . ')';
my $rows_02 = 'SELECT concat_ws(E\'\n\', '
  . $rows->('child_specs', sprintf($child_cols, 'x.database::text'))
  . ', ' . join(', ', @same) . ')';

# The supervisor's passes, seen from outside: each ends in a new
# state_change of its pg_stat_activity row.  Waits (bounded) for $n.
sub supervisor_passes
{
	my ($db, $n) = @_;
	my %seen;
	my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
	while (time() < $deadline && keys(%seen) < $n)
	{
		my $t = q1($node, q{SELECT state_change FROM pg_stat_activity
		   WHERE backend_type = 'foundation supervisor' AND state = 'idle'}, db => $db);
		$seen{$t} = 1 if defined $t && $t ne '';
		usleep(100_000);
	}
	return scalar(keys %seen);
}

###########################################################################
note 'install each kept release and update it; install the current version';
###########################################################################
for my $v (@old)
{
	my $db = db_for($v);
	move_foundation_to($db);
	$node->safe_psql($db, "CREATE EXTENSION foundation VERSION '$v'");
	is(extversion($db), $v, "$db: release $v installed");
	if ($v eq '0.1')
	{
		# The update replaces foundation.children: a user's view on it must
		# be dropped first (docs/backup.md, "Upgrading foundation").
		$node->safe_psql($db, 'CREATE VIEW public.my_children AS SELECT id FROM foundation.children');
		my %r = sql_error($node, 'ALTER EXTENSION foundation UPDATE', db => $db);
		like($r{message} // '', qr/cannot drop view (?:foundation\.)?children because other objects depend on it/,
			"$db: a user's view on foundation.children stops the update, as documented")
		  or diag($r{stderr});
		is(extversion($db), $v, "$db: still $v");
		$node->safe_psql($db, 'DROP VIEW public.my_children');
	}
	$node->safe_psql($db, 'ALTER EXTENSION foundation UPDATE');
	is(extversion($db), $current, "$db: updated to $current");
}

###########################################################################
note 'update 0.1 with rows in its tables, on a server with the new library';
###########################################################################
# In a database of its own: the schema comparison below is of empty
# installs (a dump of this one holds the test's own objects and sequence
# values).  The rows are written for 0.1's tables.
if (grep { $_ eq '0.1' } @old)
{
	my $v = '0.1';
	my $db = 'rows_0_1';
	move_foundation_to($db);
	my $log_offset = -s $node->logfile;
	$node->safe_psql($db, "CREATE EXTENSION foundation VERSION '$v'");
	is(extversion($db), $v, "$db: release $v installed");
	$node->safe_psql($db, $seed_01);
	my $before = $node->safe_psql($db, $rows_01);
	like($before, qr/^child_specs: .*alice_worker.*\nregistry: .*loose_name/s, "$db: 0.1's tables filled");

	# The library is newer than the installed SQL: one warning, then idle.
	my $warning = qr/WARNING:  foundation supervisor is idle: database "\Q$db\E" has foundation $v installed, but the library is version \Q$current\E/;
	my $log = '';
	for (1 .. 600)
	{
		$log = substr(slurp_file($node->logfile), $log_offset);
		last if $log =~ $warning;
		usleep(100_000);
	}
	like($log, $warning, "$db: the supervisor warns that the library ($current) is newer than the SQL ($v)");
	like($log, qr/HINT:  Run ALTER EXTENSION foundation UPDATE in database "\Q$db\E"\./,
		"$db: its hint says what to run, and where");
	cmp_ok(supervisor_passes($db, 4), '>=', 4, "$db: the supervisor goes on with its passes");
	$log = substr(slurp_file($node->logfile), $log_offset);
	my $warnings = () = $log =~ /$warning/g;
	is($warnings, 1, "$db: the warning is logged once, not at every pass");
	is(join("\n", $log =~ /^.*(?:ERROR|WARNING):.*$/mg),
		($log =~ /^(.*WARNING:  foundation supervisor is idle.*)$/m)[0],
		"$db: no other error or warning in the log, pass after pass");
	is($node->safe_psql($db, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'}),
		'0', "$db: the supervisor starts nothing on 0.1's SQL");

	# The update, and the rows read back in its transaction.
	my $after = $node->safe_psql($db, "BEGIN;\nALTER EXTENSION foundation UPDATE;\n$rows_02;\nCOMMIT;");
	is(extversion($db), $current, "$db: updated to $current");
	ok($after eq $before, "$db: every row of 0.1's tables is kept, by value")
	  or diag_diff("$db.before", "$before\n", "$db.after", "$after\n");

	# The updated install at work.
	is( $node->safe_psql($db, q{
SELECT string_agg(r.name || ':' || c.child_id, ' ' ORDER BY r.name)
  FROM foundation.child_specs c JOIN foundation.registry r USING (child_id)
 WHERE c.id LIKE 'foundation:%'}),
		'foundation:dispatcher:-1', "$db: the dispatcher's spec and name moved below zero");
	ok( wait_for($node, q{
SELECT string_agg(c.id || ':' || a.usename, ' ' ORDER BY c.id)
  FROM foundation.children c JOIN pg_stat_activity a ON a.pid = c.pid
 WHERE a.backend_type = 'foundation child' AND c.id NOT LIKE 'foundation:%'},
			'alice_worker:alice', db => $db),
		"$db: after the update the supervisor runs the permanent child again, as alice");
	ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL', 't', db => $db),
		"$db: and the dispatcher");
	like(substr(slurp_file($node->logfile), $log_offset),
		qr/LOG:  foundation supervisor resumes: database "\Q$db\E" has foundation \Q$current\E/,
		"$db: the supervisor says it resumes");
	$node->safe_psql($db, q{SELECT foundation.broadcast('events', '{"after": "update"}')});
	ok( wait_for($node, q{SELECT string_agg(by_role, ',') FROM public.seen WHERE message->>'after' = 'update'},
			'alice', db => $db),
		"$db: alice's handler, subscribed in 0.1, runs as alice");
	my $new_id = $node->safe_psql($db,
		q{SELECT foundation.start_child('{"id": "alice_new", "start": {"module": "public.ticker"}}') IS NOT NULL;
		  SELECT child_id FROM foundation.child_specs WHERE id = 'alice_new'},
		extra_params => [ '-U', 'alice' ]);
	$new_id =~ s/^t\n//;
	is($new_id, '5', "$db: a new child takes the next id after 0.1's (no collision)");
	$node->safe_psql($db, q{SELECT foundation.submit_bid(2, 'b1', 5)}, extra_params => [ '-U', 'bob' ]);
	ok( wait_for($node, q{SELECT status || ':' || (result->>'winner') FROM foundation.auctions WHERE auction_id = 2},
			'closed:b1', db => $db),
		"$db: 0.1's open auction takes the last bid and is closed by the supervisor");
	$node->safe_psql($db, q{SELECT foundation.cast_vote(1, 'b1', 'yes')}, extra_params => [ '-U', 'bob' ]);
	ok( wait_for($node, q{SELECT status || ':' || (result->>'consensus') FROM foundation.proposals WHERE proposal_id = 1},
			'closed:accepted', db => $db),
		"$db: 0.1's open proposal takes the last vote and closes");
	ok( wait_for($node, q{SELECT count(*) FROM foundation.registry WHERE name = 'loose_name'}, '0', db => $db),
		"$db: 0.1's name of a dead process is removed by the supervisor");
}

move_foundation_to('fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION foundation');
is(extversion('fresh'), $current, "fresh: $current installed");

###########################################################################
note 'compare the schemas';
###########################################################################

# pg_dump leaves an extension's objects out of an ordinary dump (it writes
# CREATE EXTENSION only); in binary-upgrade mode it writes every member
# object, its comment, its privileges (initial ones included) and its
# membership.  That mode also writes the physical identity of each object,
# which differs between any two databases and is dropped here, and nothing
# else is: the blocks that set OIDs and relfilenodes ("-- For binary
# upgrade, must preserve ..."), frozen xids ("... set heap's/toast's
# relfrozenxid ...") and attribute versions; the random key of pg_dump's
# \restrict lines; and the OIDs of configuration tables in
# binary_upgrade_create_empty_extension (compared by name below).  The
# order of the objects is kept: pg_dump sorts them by kind and name.
sub schema_dump
{
	my ($db) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'pg_dump', '--schema-only', '--binary-upgrade', '--no-password',
			'-d', $node->connstr($db) ],
		'>', \$out, '2>', \$err);
	ok($ok, "pg_dump --schema-only --binary-upgrade of $db") or diag($err);
	$out =~ s/^-- For binary upgrade, (?:must preserve|set) [^\n]*\n(?:[^\n]+\n)*\n//mg;
	$out =~ s/^\\restrict \S+$/\\restrict KEY/mg;
	$out =~ s/^\\unrestrict \S+$/\\unrestrict KEY/mg;
	$out =~ s/^(SELECT pg_catalog\.binary_upgrade_create_empty_extension\(.*)'\{[0-9,]*\}'/$1'{OIDS}'/mg;
	return $out;
}

# Print a unified diff of two texts (for a failing comparison).
sub diag_diff
{
	my ($name_a, $a, $name_b, $b) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	append_to_file("$dir/$name_a", $a);
	append_to_file("$dir/$name_b", $b);
	my $diff = '';
	IPC::Run::run([ 'diff', '-u', "$dir/$name_a", "$dir/$name_b" ], '>', \$diff);
	my @lines = split /\n/, $diff;
	splice(@lines, 120, @lines, '... (diff cut at 120 lines)') if @lines > 120;
	diag(join("\n", @lines));
}

my $members_sql = q{
SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n'
                  ORDER BY pg_describe_object(classid, objid, objsubid))
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'foundation')};
my $config_sql = q{
SELECT coalesce(extconfig::regclass[]::text, '(none)') || ' / '
    || coalesce(extcondition::text, '(none)') || ' / '
    || extrelocatable::text || ' / ' || extnamespace::regnamespace::text
  FROM pg_extension WHERE extname = 'foundation'};

my $fresh_dump = schema_dump('fresh');
like($fresh_dump, qr/^ALTER EXTENSION foundation ADD TABLE foundation\.child_specs;$/m,
	'the dump holds the extension\'s member objects');
my $fresh_members = $node->safe_psql('fresh', $members_sql);
my $fresh_config = $node->safe_psql('fresh', $config_sql);

for my $v (@old)
{
	my $db = db_for($v);
	my $dump = schema_dump($db);
	ok($dump eq $fresh_dump,
		"$v updated to $current: pg_dump --schema-only equals a fresh $current install")
	  or diag_diff("$db.sql", $dump, 'fresh.sql', $fresh_dump);

	my $members = $node->safe_psql($db, $members_sql);
	ok($members eq $fresh_members,
		"$v updated to $current: the same member objects as a fresh install")
	  or diag_diff("$db.members", "$members\n", 'fresh.members', "$fresh_members\n");

	is($node->safe_psql($db, $config_sql), $fresh_config,
		"$v updated to $current: the same configuration tables (pg_extension_config_dump), conditions, schema");
}

$node->stop;
done_testing();
