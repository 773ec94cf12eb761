# Security: a child runs as the role that started it; other roles neither
# see nor stop it; a NOLOGIN role cannot start one.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('security');

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol NOLOGIN;
CREATE TABLE public.whoami (tag text, cur text, sess text);
CREATE PROCEDURE public.record_user(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.whoami VALUES (args->>'tag', current_user, session_user);
  COMMIT;
  LOOP
    PERFORM pg_sleep(0.05);
    COMMIT;
  END LOOP;
END $$;
REVOKE EXECUTE ON PROCEDURE public.record_user(jsonb) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE public.record_user(jsonb) TO alice, carol;
GRANT INSERT, SELECT ON public.whoami TO alice, carol;
});

my @as_alice = (extra_params => [ '-U', 'alice' ]);
my @as_bob = (extra_params => [ '-U', 'bob' ]);

sub as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

###########################################################################
note '9. roles';
###########################################################################

# Non-superusers may use foundation out of the box: USAGE on the schema
# is granted to PUBLIC, and each call checks what the caller may do.
is( $node->safe_psql('postgres',
		"SELECT has_schema_privilege('alice', 'foundation', 'USAGE')"),
	't', 'a non-superuser has USAGE on schema foundation after CREATE EXTENSION');
my %r = sql_error($node, 'SELECT count(*) FROM foundation.children', @as_alice);
is($r{rc}, 0, 'a non-superuser can read foundation.children out of the box')
  or diag($r{stderr});


my $spec = q{'{"id": "alice1", "start": {"module": "public.record_user", "args": {"tag": "alice1"}}}'};
my $apid = as('alice', "SELECT foundation.start_child($spec)");
like($apid, qr/^\d+$/, "alice starts a child (pid $apid)");

ok( wait_for(
		$node, "SELECT count(*) FROM public.whoami WHERE tag = 'alice1'", '1'),
	"alice's child ran its module");
is( $node->safe_psql('postgres',
		"SELECT cur || ',' || sess FROM public.whoami WHERE tag = 'alice1'"),
	'alice,alice', 'inside the module current_user and session_user are alice');
is( $node->safe_psql('postgres',
		"SELECT usename || ',' || backend_type FROM pg_stat_activity WHERE pid = $apid"),
	'alice,foundation child', 'pg_stat_activity shows the child as alice');
is( as('alice', "SELECT id || ',' || role || ',' || pid FROM foundation.children"),
	"alice1,alice,$apid", 'alice sees her child, owned by alice');
is(as('alice', 'SELECT count(*) FROM foundation.child_specs'),
	'1', 'alice sees her row in child_specs');
my $child_id = $node->safe_psql('postgres',
	"SELECT child_id FROM foundation.children WHERE id = 'alice1'");

# bob
is(as('bob', 'SELECT count(*) FROM foundation.children'),
	'0', "bob does not see alice's child in foundation.children");
is(as('bob', 'SELECT count(*) FROM foundation.child_specs'),
	'0', "bob does not see alice's row in child_specs");
is(as('bob', 'SELECT count(*) FROM foundation.which_children()'),
	'0', "bob does not see alice's child in which_children()");
%r = sql_error($node, "SELECT foundation.terminate_child($child_id)", @as_bob);
isnt($r{rc}, 0, "bob cannot terminate alice's child");
is($r{sqlstate}, '42704', 'terminate_child as bob: undefined_object (42704)')
  or diag($r{stderr});
%r = sql_error($node, "SELECT foundation.terminate_child(987654)", @as_bob);
is($r{sqlstate}, '42704', 'the same error as for a child that does not exist');
is( $node->safe_psql('postgres',
		"SELECT pid FROM foundation.children WHERE child_id = $child_id"),
	$apid, "alice's child still runs with the same pid");

# bob has no EXECUTE on the module.
%r = sql_error($node,
	q{SELECT foundation.start_child('{"id": "bob1", "start": {"module": "public.record_user", "args": {"tag": "bob1"}}}')},
	@as_bob);
is($r{sqlstate}, '42501', 'bob cannot start a module he may not execute (42501)')
  or diag($r{stderr});

# A NOLOGIN role cannot start a child (tested through SET ROLE).
%r = sql_error($node, qq{
SET ROLE carol;
SELECT foundation.start_child('{"id": "carol1", "start": {"module": "public.record_user", "args": {"tag": "carol1"}}}');
});
isnt($r{rc}, 0, 'a NOLOGIN role cannot start a child');
is($r{sqlstate}, '42501', 'NOLOGIN: insufficient_privilege (42501)')
  or diag($r{stderr});
like($r{message} // '', qr/LOGIN/, 'NOLOGIN: the message mentions LOGIN');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM foundation.child_specs WHERE id = 'carol1'"),
	'0', 'NOLOGIN: no row left');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'foundation child'"),
	'1', "only alice's child runs");

# alice can stop her own child.
is(as('alice', "SELECT foundation.terminate_child($child_id)"),
	't', 'alice terminates her child');
ok( wait_for(
		$node, "SELECT count(*) FROM pg_stat_activity WHERE pid = $apid",
		'0'),
	"alice's child is gone");
is($node->safe_psql('postgres', 'SELECT count(*) FROM foundation.child_specs'),
	'0', 'no row left');

$node->stop;
done_testing();
