# The upgrade path: every earlier release kept in sql/releases/, installed
# and then brought to the current version with ALTER EXTENSION foundation
# UPDATE, has exactly the schema of a fresh install of the current version.
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

###########################################################################
note 'install each kept release and update it; install the current version';
###########################################################################
for my $v (@old)
{
	my $db = db_for($v);
	move_foundation_to($db);
	$node->safe_psql($db, "CREATE EXTENSION foundation VERSION '$v'");
	is(extversion($db), $v, "$db: release $v installed");
	$node->safe_psql($db, 'ALTER EXTENSION foundation UPDATE');
	is(extversion($db), $current, "$db: updated to $current");
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
