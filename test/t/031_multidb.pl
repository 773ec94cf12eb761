# foundation in several databases of one server: postgres and two
# application databases owned by different roles, each with its own
# children, names, channels and handlers; a database with the extension and
# nothing to supervise holds no worker; the per-database limit; DROP
# EXTENSION, DROP DATABASE and ALTER DATABASE ... RENAME with children
# running; a server restart and a crash restore every database's children.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = foundation_node('multidb', max_worker_processes => 24,
	extra_conf => "foundation.max_children = 16\n");

# foundation's processes connected to $db, as "backend_type=n,..."
sub foundation_procs
{
	my ($db) = @_;
	return q1($node, qq{
SELECT coalesce(string_agg(backend_type || '=' || n, ',' ORDER BY backend_type), '')
  FROM (SELECT backend_type, count(*) n FROM pg_stat_activity
         WHERE datname = '$db' AND backend_type LIKE 'foundation %'
         GROUP BY backend_type) s}) // '(query failed)';
}

# "datname:usename" of a backend.
sub who
{
	my ($pid) = @_;
	return q1($node,
		"SELECT datname || ':' || usename FROM pg_stat_activity WHERE pid = $pid")
	  // '';
}

# The live pid of singleton 'worker' in $db, or ''.
sub worker_pid
{
	my ($db) = @_;
	return q1($node, q{
SELECT coalesce(foundation.lookup_singleton('worker')::text, '')}, db => $db)
	  // '';
}

###########################################################################
note '1. three databases, the same singleton name in each, each as its own role';
###########################################################################
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE DATABASE app_a OWNER alice;
CREATE DATABASE app_b OWNER bob;
CREATE DATABASE app_c OWNER bob;
CREATE DATABASE idle_db;
});
for my $db (qw(app_a app_b app_c idle_db))
{
	$node->safe_psql($db, 'CREATE EXTENSION foundation');
	create_ticker($node, $db);
}
my %owner = (postgres => 'foundation', app_a => 'alice', app_b => 'bob', app_c => 'bob');
my %pid;
for my $db (qw(postgres app_a app_b app_c))
{
	my $set = $db eq 'postgres' ? '' : "SET ROLE $owner{$db};";
	$pid{$db} = $node->safe_psql($db,
		"$set SELECT foundation.start_singleton('public.ticker', '{}', 'worker')");
	like($pid{$db}, qr/^\d+$/, "$db: start_singleton('worker') returns a pid");
}
is(who($pid{postgres}), 'postgres:' . q1($node, 'SELECT current_user'),
	'postgres: its worker runs in postgres as the superuser that started it');
is(who($pid{app_a}), 'app_a:alice', 'app_a: its worker runs in app_a as alice');
is(who($pid{app_b}), 'app_b:bob', 'app_b: its worker runs in app_b as bob');
is(scalar(keys %{ { map { $_ => 1 } values %pid } }), 4,
	'four different processes share the name');
for my $db (qw(postgres app_a app_b))
{
	is(worker_pid($db), $pid{$db}, "$db: lookup_singleton('worker') is its own");
	is( $node->safe_psql($db, 'SELECT count(*) FROM foundation.children'),
		'1', "$db: foundation.children lists its own child only");
}

ok( wait_for(
		$node, q{
SELECT string_agg(datname || '=' || application_name, ',' ORDER BY datname)
  FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'
   AND datname <> 'idle_db'},
		'app_a=foundation supervisor app_a,app_b=foundation supervisor app_b,'
		  . 'app_c=foundation supervisor app_c,postgres=foundation supervisor postgres'),
	'one supervisor per database with work, named after it');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation launcher' AND datname IS NULL}),
	'1', 'one launcher, connected to no database');

###########################################################################
note '2. a database with the extension and nothing to supervise holds no worker';
###########################################################################
# CREATE EXTENSION started its supervisor, which found nothing to do.
ok( eval {
		$node->wait_for_log(
			qr/foundation supervisor of database "idle_db" has nothing to supervise; it exits/);
		1;
	},
	'idle_db: its supervisor exits, having nothing to supervise');
ok(wait_for($node, q{
SELECT count(*) FROM pg_stat_activity
 WHERE datname = 'idle_db' AND backend_type LIKE 'foundation %'}, '0'),
	'idle_db: no foundation process is connected to it');

# One that never had work leaves after its first pass, not after six
# naptimes: with a naptime of an hour, it is still gone.
$node->safe_psql('postgres', q{ALTER SYSTEM SET foundation.naptime = '1h'; SELECT pg_reload_conf()});
ok(wait_for($node, q{SELECT current_setting('foundation.naptime') = '1h'}), 'naptime is an hour');
$node->safe_psql('postgres', 'CREATE DATABASE idle_db2');
$node->safe_psql('idle_db2', 'CREATE EXTENSION foundation');
ok( eval {
		$node->wait_for_log(
			qr/foundation supervisor of database "idle_db2" has nothing to supervise; it exits/);
		1;
	},
	'idle_db2: the supervisor CREATE EXTENSION started leaves after its first pass');
ok(wait_for($node, q{
SELECT count(*) = 0 FROM pg_stat_activity
 WHERE datname = 'idle_db2' AND backend_type LIKE 'foundation %'}),
	'idle_db2: no foundation process is connected to it');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET foundation.naptime; SELECT pg_reload_conf()});
ok(wait_for($node, q{SELECT current_setting('foundation.naptime') = '1s'}), 'naptime is 1 s again');
$node->safe_psql('postgres', 'DROP DATABASE idle_db2');

###########################################################################
note '3. LISTEN in one database never sees another database\'s broadcasts';
###########################################################################
{
	# A plain libpq client, LISTENing in app_a; it exits after the first
	# notification.  app_b's and postgres's broadcasts commit before
	# app_a's: had they reached it, it would have printed one of them.
	my $tmp = PostgreSQL::Test::Utils::tempdir;
	my $listener = compile_client('listener', $tmp, '-lz');
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ $listener, $node->connstr('app_a'), 1, $FoundationTAP::WAIT_SECONDS, 'foundation:events' ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($FoundationTAP::WAIT_SECONDS + 30));
	my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
	while ($out !~ /\AREADY\n/ && $h->pumpable && time() < $deadline)
	{
		$h->pump_nb;
		usleep(20_000);
	}
	like($out, qr/\AREADY\n/, 'the listener in app_a listens') or diag($err);
	$node->safe_psql('app_b', q{SELECT foundation.broadcast('events', '{"from": "app_b"}')});
	$node->safe_psql('postgres', q{SELECT foundation.broadcast('events', '{"from": "postgres"}')});
	$node->safe_psql('app_a', q{SELECT foundation.broadcast('events', '{"from": "app_a"}')});
	my $ok = eval { $h->finish; 1 };
	ok($ok && $h->full_result(0) == 0, 'the listener got a notification') or diag($@ . $err);
	my ($first) = $out =~ /\AREADY\n[^\t]*\t[^\t]*\t[^\t]*\t(.*)$/m;
	is($first // '', '{"from": "app_a"}', 'the first it got is app_a\'s own broadcast');
}

###########################################################################
note '4. handlers per database';
###########################################################################
for my $db (qw(app_a app_b))
{
	$node->safe_psql($db, qq{
CREATE TABLE public.seen (message jsonb, db text);
CREATE FUNCTION public.record(channel text, message jsonb) RETURNS void
  LANGUAGE sql AS \$\$INSERT INTO public.seen VALUES (message, current_database())\$\$;
SELECT foundation.subscribe('events', 'public.record(text, jsonb)'::regprocedure);
});
	ok( wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL', 't', db => $db),
		"$db: its dispatcher listens");
	is( who(q1($node, 'SELECT foundation.dispatcher_pid()', db => $db)),
		"$db:" . q1($node, 'SELECT current_user'),
		"$db: the dispatcher runs in $db");
}
$node->safe_psql('app_b', q{SELECT foundation.broadcast('events', '{"n": "b1"}')});
$node->safe_psql('app_a', q{SELECT foundation.broadcast('events', '{"n": "a1"}')});
ok(wait_for($node, q{SELECT count(*) FROM public.seen}, '1', db => 'app_b'),
	'app_b: its handler got its message');
ok(wait_for($node, q{SELECT count(*) FROM public.seen}, '1', db => 'app_a'),
	'app_a: its handler got its message');
is($node->safe_psql('app_a', q{SELECT message->>'n' FROM public.seen}), 'a1',
	'app_a\'s handler saw app_a\'s message only');
is($node->safe_psql('app_b', q{SELECT message->>'n' FROM public.seen}), 'b1',
	'app_b\'s handler saw app_b\'s message only');

# Each database counts its own channels' messages.
is( join(' ', map { $node->safe_psql($_,
			q{SELECT messages FROM foundation.channel_stats WHERE channel = 'events'}) }
		  qw(app_a app_b postgres)),
	'2 2 1', 'channel_stats: each database counts its own broadcasts only');

# The health report lists every database foundation serves.
is( $node->safe_psql('postgres', q{
SELECT string_agg(d->>'database' || ':' || (d->>'supervisor') || ':' || (d->>'children'), ' '
                  ORDER BY d->>'database')
  FROM jsonb_array_elements(foundation.cluster_health()->'infrastructure'->'databases') d}),
	'app_a:running:2 app_b:running:2 app_c:running:1 idle_db:idle:0 postgres:running:1',
	'cluster_health lists each database: its supervisor and how many children it runs');

# An explicit foundation.dispatcher_conninfo names a database: each
# dispatcher still listens in its own.
{
	my $boot = $node->safe_psql('postgres', 'SELECT rolname FROM pg_authid WHERE oid = 10');
	my ($host, $port) = ($node->host, $node->port);
	$node->safe_psql('postgres', qq{
ALTER SYSTEM SET foundation.dispatcher_conninfo =
  'host=$host port=$port dbname=postgres user=$boot application_name=fdn_custom_listener';
SELECT pg_reload_conf()});
	for my $db (qw(app_a app_b))
	{
		ok(wait_for($node, qq{SELECT count(*) FROM pg_stat_activity
		                       WHERE application_name = 'fdn_custom_listener' AND datname = '$db'
		                         AND query LIKE 'LISTEN%'}, '1'),
			"with dbname=postgres in it, ${db}'s dispatcher listens in $db");
	}
	$node->safe_psql('app_a', q{SELECT foundation.broadcast('events', '{"n": "a2"}')});
	ok(wait_for($node, q{SELECT string_agg(message->>'n', ',' ORDER BY message->>'n') FROM public.seen}, 'a1,a2',
			db => 'app_a'),
		'and app_a\'s handler gets app_a\'s next message');
	$node->safe_psql('postgres', q{
ALTER SYSTEM RESET foundation.dispatcher_conninfo;
SELECT pg_reload_conf()});
	ok(wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fdn_custom_listener'}, '0'),
		'reset: the dispatchers connect as before');
}

###########################################################################
note '5. the per-database limit';
###########################################################################
{
	# app_a runs its worker and its dispatcher: 2.
	$node->safe_psql('postgres',
		'ALTER SYSTEM SET foundation.max_children_per_database = 2; SELECT pg_reload_conf()');
	ok(wait_for($node, 'SHOW foundation.max_children_per_database', '2'),
		'the limit is 2 after a reload');
	my %r = sql_error($node, q{SET ROLE alice;
SELECT foundation.start_child('{"id": "third", "start": {"module": "public.ticker"}}')},
		db => 'app_a');
	is($r{sqlstate}, '53400', 'a third child in app_a: configuration_limit_exceeded (53400)')
	  or diag($r{stderr});
	like($r{message} // '', qr/database "app_a" already runs 2 children/,
		'the message names the database and the limit');
	like($r{hint} // '', qr/foundation\.max_children_per_database/,
		'the hint names the setting');
	is($node->safe_psql('app_a', q{SELECT count(*) FROM foundation.child_specs WHERE id = 'third'}),
		'0', 'no row is left behind');
	my $second = $node->safe_psql('postgres',
		q{SELECT foundation.start_child('{"id": "second", "start": {"module": "public.ticker"}}') > 0});
	is($second, 't', 'postgres, with one child, may start a second');
	$node->safe_psql('postgres',
		q{SELECT foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'second'});
	$node->safe_psql('postgres',
		'ALTER SYSTEM RESET foundation.max_children_per_database; SELECT pg_reload_conf()');
	ok(wait_for($node, 'SHOW foundation.max_children_per_database', '-1'),
		'the limit is reset');
}

###########################################################################
note '6. DROP EXTENSION in one database stops only its children';
###########################################################################
# The drop stops them first and waits for them (they would read the
# tables being dropped): when it returns they are gone, no wait needed.
# (Its supervisor was stopped too; once the drop commits, the launcher may
# start one more that finds no extension and leaves at once.)
is($node->safe_psql('app_b', q{DROP EXTENSION foundation;
SELECT count(*) FROM pg_stat_activity
 WHERE datname = 'app_b' AND backend_type = 'foundation child'}), '0',
	'app_b: its children are gone when DROP EXTENSION returns');
ok(wait_for($node, q{SELECT count(*) FROM pg_stat_activity
 WHERE datname = 'app_b' AND backend_type LIKE 'foundation %'}, '0'),
	'app_b: and no supervisor stays');
is(worker_pid('app_a'), $pid{app_a}, 'app_a: its worker runs on, same pid');
is(worker_pid('postgres'), $pid{postgres}, 'postgres: its worker runs on, same pid');

###########################################################################
note '7. DROP DATABASE of a database with running children';
###########################################################################
is(foundation_procs('app_c'), 'foundation child=1,foundation supervisor=1',
	'app_c runs its supervisor and its worker');
{
	my %r = sql_error($node, 'DROP DATABASE app_c', extra_params => [ '-U', 'bob' ]);
	is($r{rc}, 0, 'DROP DATABASE app_c, by its owner, succeeds') or diag($r{stderr});
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'app_c'}),
	'0', 'app_c is gone');
is(worker_pid('app_a'), $pid{app_a}, 'app_a: its worker was not disturbed');

###########################################################################
note '8. ALTER DATABASE ... RENAME of a database with running children';
###########################################################################
{
	my %r = sql_error($node, 'ALTER DATABASE app_a RENAME TO app_a2');
	is($r{rc}, 0, 'ALTER DATABASE app_a RENAME TO app_a2 succeeds') or diag($r{stderr});
	ok( wait_for(
			$node, q{
SELECT count(*) FROM pg_stat_activity
 WHERE datname = 'app_a2' AND backend_type = 'foundation supervisor'
   AND application_name = 'foundation supervisor app_a2'}, '1'),
		'app_a2: its supervisor is back, under the new name');
	ok(wait_for($node, q{SELECT foundation.lookup_singleton('worker') IS NOT NULL}, 't', db => 'app_a2'),
		'app_a2: its worker runs again');
	$pid{app_a} = worker_pid('app_a2');
	is(who($pid{app_a}), 'app_a2:alice', 'in app_a2, as alice');
	ok(wait_for($node, 'SELECT foundation.dispatcher_pid() IS NOT NULL', 't', db => 'app_a2'),
		'app_a2: its dispatcher listens again');
}

###########################################################################
note '9. with a control database, start_singleton in any database goes to it';
###########################################################################
{
	# Nothing answers there: that the call goes there is what counts (the
	# cluster tests run it against a real one, 014 section 7).
	$node->safe_psql('postgres', q{
ALTER SYSTEM SET foundation.control_conninfo = 'host=/nonexistent port=1 dbname=none connect_timeout=1';
ALTER SYSTEM SET foundation.cluster_secret = 's3cret';
SELECT pg_reload_conf()});
	ok(wait_for($node, q{SELECT current_setting('foundation.control_conninfo') <> ''}, 't', db => 'app_a2'),
		'foundation.control_conninfo is set');
	for my $scope ("scope => 'cluster'", 'no scope')
	{
		my $arg = $scope eq 'no scope' ? '' : ", $scope";
		my %r = sql_error($node,
			qq{SET ROLE alice; SELECT foundation.start_singleton('public.ticker', '{}', 'cl'$arg)},
			db => 'app_a2');
		is($r{sqlstate}, '08006', "$scope in app_a2: it asks the control database (08006 here)")
		  or diag($r{stderr});
		like($r{message} // '', qr/could not place the singleton: the control database did not answer/,
			'which the message says');
	}
	my $local = $node->safe_psql('app_a2',
		q{SET ROLE alice; SELECT foundation.start_singleton('public.ticker', '{}', 'local_one', scope => 'local')});
	is(who($local), 'app_a2:alice', "with scope => 'local', a singleton in app_a2 is this server's");
	$node->safe_psql('postgres', q{
ALTER SYSTEM RESET foundation.control_conninfo;
ALTER SYSTEM RESET foundation.cluster_secret;
SELECT pg_reload_conf()});
	ok(wait_for($node, q{SELECT current_setting('foundation.control_conninfo') = ''}, 't', db => 'app_a2'),
		'foundation.control_conninfo is reset');
	is($node->safe_psql('app_a2', q{SELECT foundation.stop_singleton('local_one')}), 't',
		'the local one stops');
}

###########################################################################
note '10. a server restart and a crash restore every database\'s children';
###########################################################################
# A third database with a child: at server start the launcher probes two
# databases at a time, and a probe that finds work stays as the supervisor;
# the databases after those must be probed too.
$node->safe_psql('postgres', 'CREATE DATABASE app_d OWNER bob');
$node->safe_psql('app_d', 'CREATE EXTENSION foundation');
create_ticker($node, 'app_d');
$pid{app_d} = $node->safe_psql('app_d',
	q{SET ROLE bob; SELECT foundation.start_singleton('public.ticker', '{}', 'worker')});
$node->restart;
for my $db (qw(postgres app_a2 app_d))
{
	ok(wait_for($node, q{SELECT foundation.lookup_singleton('worker') IS NOT NULL}, 't', db => $db),
		"restart: ${db}'s worker runs again");
	my $new = worker_pid($db);
	my $key = $db eq 'app_a2' ? 'app_a' : $db;
	isnt($new, $pid{$key}, "restart: ${db}'s worker has a new pid");
	like(who($new), qr/^$db:/, "restart: ${db}'s worker runs in $db");
	$pid{$key} = $new;
}
ok(wait_for($node, q{
SELECT count(*) FROM pg_stat_activity
 WHERE datname = 'idle_db' AND backend_type LIKE 'foundation %'}, '0'),
	'restart: idle_db holds no worker');
ok( wait_for(
		$node, q{
SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity
 WHERE backend_type = 'foundation supervisor'}, 'app_a2,app_d,postgres'),
	'restart: supervisors run in app_a2, app_d and postgres only');

ok(kill('KILL', $pid{app_a}), "crash: SIGKILL to app_a2's worker (pid $pid{app_a})");
for my $db (qw(postgres app_a2 app_d))
{
	my $key = $db eq 'app_a2' ? 'app_a' : $db;
	ok( wait_for(
			$node, qq{
SELECT coalesce(foundation.lookup_singleton('worker') <> $pid{$key}, false)}, 't', db => $db),
		"crash: ${db}'s worker runs again, under a new pid");
	like(who(worker_pid($db)), qr/^$db:/, "crash: ${db}'s worker runs in $db");
}

$node->stop;
done_testing();
