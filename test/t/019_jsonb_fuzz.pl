# A jsonb-shape fuzz: every SQL function or procedure of schema foundation
# that takes a jsonb argument (found in pg_proc, so a new one is covered
# without editing this file) is called by an ordinary role with a list of
# shapes in each of its jsonb arguments, each call in its own transaction
# (and, for the functions that role may not execute, by the superuser, as
# a role they are granted to would).
# Errors are expected; a crash is not: after every call the server must
# answer, and the log must show no backend killed by a signal.  No error
# may be an internal one (SQLSTATE class XX): bad input is the caller's
# error and says so with its own SQLSTATE.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = foundation_node('jsonb_fuzz', max_worker_processes => 32);

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
-- A module that returns at once: started children exit normally.
CREATE PROCEDURE public.fz_noop(args jsonb) LANGUAGE plpgsql AS $$ BEGIN END $$;
-- An agent handler that answers every request well.
CREATE FUNCTION public.fz_handler(agent text, request text, payload jsonb)
RETURNS jsonb LANGUAGE sql AS
$$ SELECT '{"bid": 1, "priority": 0, "vote": "yes", "offer": 1, "accept": true}'::jsonb $$;
ALTER FUNCTION public.fz_handler(text, text, jsonb) OWNER TO alice;
-- An agent handler that answers whatever shape the test stored for it.
CREATE TABLE public.fz_answers (agent text PRIMARY KEY, answer jsonb);
ALTER TABLE public.fz_answers OWNER TO alice;
CREATE FUNCTION public.fz_answer(agent text, request text, payload jsonb)
RETURNS jsonb LANGUAGE sql AS
$$ SELECT a.answer FROM public.fz_answers a WHERE a.agent = fz_answer.agent $$;
ALTER FUNCTION public.fz_answer(text, text, jsonb) OWNER TO alice;
});

sub as_alice
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'alice' ]);
}

# alice's agents, an open auction and a variable, for the calls to refer to.
as_alice(q{
SELECT foundation.register_agent(n, '{"handler": "public.fz_handler(text,text,jsonb)",
  "capabilities": ["auction_bidding", "consensus_voting", "negotiation"]}')
  FROM unnest(ARRAY['fa1', 'fa2']) n;
SELECT foundation.register_orchestration_variable(
  '{"id": "fzvar", "type": "auction", "agents": ["fa1", "fa2"], "constraints": {}}');
});
my $auction = as_alice(
	q{SELECT foundation.open_auction('{"type": "sealed_bid"}', ARRAY['fa1', 'fa2'], '1 hour')});
like($auction, qr/^\d+$/, "alice opened auction $auction");

# The shapes.  Keys: everything foundation reads from a jsonb argument.
my $big = '[' . join(',', 1 .. 2000) . ']';
# An object accessor used on an array reads past the array's end by four
# bytes per element: past this one's, memory is likely unmapped.
my $vast = '[' . join(',', (1) x 150000) . ']';
my $deep = ('[' x 1000) . (']' x 1000);
my $huge = '"' . ('x' x 10000) . '"';
my @keys = qw(id start module args restart database shutdown max_restarts
  max_seconds type payment_rule reserve_price resources agents constraints
  coordination_fn variable_id priority bid vote reason offer accept counter
  telemetry foundation_ref bytes channel message compression total_resources
  max_allocation_time capabilities protocols strategy handler proposal
  context name pid epoch node conninfo assignments members origin);
my @wrong = ('[1, 2]', '12345678901234567890', '-1', '1e300', '0.5',
	'{"a": {"b": []}}', $huge, $deep, $big, 'null', 'true', '"s"', '{}',
	'""');
my @shapes = ('null', '1', '"s"', 'true', '[]', '[1,2,3]', $big, '{}', $deep,
	'[{}]', '[null]');
for my $w (@wrong)
{
	push @shapes, '{' . join(', ', map { "\"$_\": $w" } @keys) . '}';
	push @shapes,
	    qq({"id": "fz", "type": "auction", "agents": ["fa1", "fa2"],)
	  . qq( "start": {"module": $w, "args": $w}, "constraints": {"total_resources": $w},)
	  . qq( "resources": {"cpu": $w}, "variable_id": "fzvar", "coordination_fn": $w,)
	  . qq( "foundation_ref": $w, "bytes": $w});
	push @shapes, "[$w, $w]";
}
push @shapes, $vast;
push @shapes, qq({"start": {"module": "public.fz_noop", "args": $vast},)
  . qq( "constraints": $vast, "resources": $vast, "spec": $vast});
# Well-formed values with one nested key of a wrong shape.
push @shapes, q({"start": {"module": "public.fz_noop", "args": [1, 2, 3]}, "restart": "temporary"});
push @shapes, q({"start": {"module": "public.fz_noop"}, "restart": "temporary", "id": "fz_ok"});
push @shapes, q({"foundation_ref": 1, "bytes": 10});
push @shapes, qq({"start": {"module": "public.fz_noop", "args": $deep}, "restart": "temporary"});

# Every function with a jsonb argument: name, kind, argument names and types.
my $list = $node->safe_psql('postgres', q{
SELECT p.proname || '|' || p.prokind::text || '|' ||
       coalesce((SELECT string_agg(coalesce(n, ''), ',' ORDER BY i)
                   FROM unnest(p.proargnames,
                               coalesce(p.proargmodes,
                                        array_fill('i'::"char", ARRAY[cardinality(p.proargnames)])))
                        WITH ORDINALITY u(n, m, i)
                  WHERE m IN ('i', 'b', 'v')), '') || '|' ||
       array_to_string(ARRAY(SELECT format_type(t, NULL)
                               FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i)
                              ORDER BY i), ',') || '|' ||
       has_function_privilege('alice', p.oid, 'EXECUTE')::text
  FROM pg_proc p
 WHERE p.pronamespace = 'foundation'::regnamespace
   AND 'jsonb'::regtype = ANY (p.proargtypes::oid[])
 ORDER BY p.proname, p.oid});
my @funcs = split /\n/, $list;
cmp_ok(scalar(@funcs), '>=', 20, scalar(@funcs) . ' functions take jsonb');

# Reasonable values for the other arguments, by name, else by type.
my $seq = 0;
sub arg_value
{
	my ($fn, $name, $type) = @_;
	$seq++;
	return 'NULL::text' if $fn eq 'start_coordination_agent' && $name eq 'module';
	my %by_name = (
		module => q{'public.fz_noop'},
		name => "'fz_$seq'",
		restart => q{'temporary'},
		scope => q{'local'},
		channel => q{'events'},
		priority => q{'normal'},
		compression => 'false',
		node => 'foundation.node_name()',
		pid => 'pg_backend_pid()',
		agents => q{ARRAY['fa1', 'fa2']},
		agent_ids => q{ARRAY['fa1', 'fa2']},
		agent => q{'fa1'},
		initiator => q{'fa1'},
		responder => q{'fa2'},
		consensus_type => q{'majority'},
		timeout_ms => '1000',
		required_votes => 'NULL::integer',
		max_rounds => '2',
		deadline => q{'1 hour'::interval},
		auction_id => $auction,
		bid => '1',
		variable_id => q{'fzvar'},
		capabilities => q{ARRAY['auction_bidding', 'consensus_voting', 'negotiation']},
		protocols => q{'{}'::text[]},
		strategy => q{'singleton'},
		handler => q{'public.fz_handler(text,text,jsonb)'::regprocedure},
		origin => q{'fz'});
	return "$by_name{$name}::$type" if exists $by_name{$name};
	my %by_type = (
		text => q{'x'},
		integer => '1',
		bigint => '1',
		boolean => 'false',
		numeric => '1',
		interval => q{'1 second'},
		'text[]' => q{'{}'},
		name => q{'x'},
		'double precision' => '0',
		regprocedure => 'NULL',
		jsonb => q{'{}'});
	return (exists $by_type{$type} ? $by_type{$type} : 'NULL') . "::$type";
}

# Each call: a description, its SQL, and the role that runs it.  alice
# calls everything; a function she may not execute (42501 for her) is also
# called by the superuser, for the roles it is granted to, unless it is a
# procedure (those are modules of foundation's children: they run forever).
my (@calls, @sqls, @roles);
for my $f (@funcs, map { "$_|su" } grep { /\|f\|[^|]*\|[^|]*\|false$/ } @funcs)
{
	my ($fn, $kind, $names, $types, undef, $su) = split /\|/, $f, -1;
	my $role = $su ? 'su' : 'alice';
	my @types = split /,/, $types;
	my @names = split /,/, $names, -1;
	for my $pos (grep { $types[$_] eq 'jsonb' } 0 .. $#types)
	{
		for my $s (0 .. $#shapes)
		{
			my @args;
			for my $i (0 .. $#types)
			{
				push @args, $i == $pos
				  ? "\$fz\$$shapes[$s]\$fz\$::jsonb"
				  : arg_value($fn, $names[$i] // '', $types[$i]);
			}
			my $call = ($kind eq 'p' ? 'CALL' : 'SELECT')
			  . " foundation.$fn(" . join(', ', @args) . ')';
			push @calls, "$fn arg " . ($pos + 1) . " shape $s as $role";
			push @sqls, $call;
			push @roles, $role;
		}
	}
}
# Shapes that foundation stores and reads later, or gets back from user
# code: a variable's constraints (coordinate), an agent's args and
# resources, and an agent handler's answer (auctions, votes, negotiation).
my $caps = q{ARRAY['auction_bidding', 'consensus_voting', 'negotiation']};
for my $s (0 .. $#shapes)
{
	my $j = "\$fz\$$shapes[$s]\$fz\$::jsonb";
	my @stored = (
		"INSERT INTO public.fz_answers VALUES ('fzag_$s', $j)",
		"SELECT foundation._register_agent('fzag_$s', NULL, $j, $caps, '{}',"
		  . " 'singleton', $j, 'public.fz_answer(text,text,jsonb)'::regprocedure)",
		"SELECT foundation.run_auction('{\"type\": \"sealed_bid\"}', ARRAY['fzag_$s', 'fa1'])",
		"SELECT foundation.coordinate_consensus(ARRAY['fzag_$s', 'fa1'], '{}')",
		"SELECT foundation.negotiate('fzag_$s', 'fa1', '{}', 2)",
		"SELECT foundation.negotiate('fa1', 'fzag_$s', '{}', 2)",
		"SELECT foundation.submit_bid($auction, 'fa1', 1, $j)");
	for my $type (qw(auction consensus negotiation custom))
	{
		push @stored,
		    "SELECT foundation.register_orchestration_variable(jsonb_build_object("
		  . "'id', 'fzv_${type}_$s', 'type', '$type', 'agents', '[\"fa1\", \"fzag_$s\"]'::jsonb,"
		  . " 'constraints', $j))",
		  "SELECT foundation.coordinate('fzv_${type}_$s')";
	}
	for my $sql (@stored)
	{
		push @calls, "stored shape $s: " . substr($sql, 0, 60);
		push @sqls, $sql;
		push @roles, 'alice';
	}
}
note scalar(@calls) . ' calls in all';


# One psql per run of calls; a crash ends a run, and the next one starts
# after the crashed call, once the server is back, so every crash is seen.
my $log_offset = -s $node->logfile;
my ($stdout, $stderr) = ('', '');
my (%alive, @crashed);
my $from = 0;
while ($from <= $#calls && @crashed < 10)
{
	# The calls from $from on that run as the same role.
	my $to = $from;
	$to++ while $to < $#calls && $roles[ $to + 1 ] eq $roles[$from];
	my $script = "\\set VERBOSITY verbose\n";
	$script .= "\\warn \@\@call $_\n$sqls[$_];\nSELECT 'alive $_';\n"
	  for $from .. $to;
	my ($out, $err) = ('', '');
	# psql stops reading its input if the server crashes, and IPC::Run
	# dies on the broken pipe: what ran is in its output either way.
	eval {
		$node->psql('postgres', $script,
			stdout => \$out, stderr => \$err, on_error_stop => 0,
			extra_params => $roles[$from] eq 'su' ? [] : [ '-U', 'alice' ]);
	};
	$stdout .= $out // '';
	$stderr .= $err // '';
	$alive{$_} = 1 for (($out // '') =~ /^alive (\d+)$/mg);
	my ($first_dead) = grep { !$alive{$_} } $from .. $to;
	if (!defined $first_dead)
	{
		$from = $to + 1;
		next;
	}
	push @crashed, $calls[$first_dead];
	$from = $first_dead + 1;
	wait_for($node, 'SELECT 1', '1');
}
is(join("\n", @crashed), '', 'the server answered after every call');

# Each call's errors, by the marker before it.
my (%states, @internal);
my $errors = 0;
for my $chunk (split /^\@\@call /m, $stderr)
{
	next unless $chunk =~ /^(\d+)\n/;
	my $n = $1;
	while ($chunk =~ /^(?:psql:[^\n]*?)?ERROR:\s+([0-9A-Z]{5}):\s*(.*)$/mg)
	{
		$errors++;
		$states{$1}++;
		push @internal, "$calls[$n]: $1 $2" if substr($1, 0, 2) eq 'XX';
	}
}
note 'SQLSTATEs seen: ' . join(', ', map { "$_ x$states{$_}" } sort keys %states);
cmp_ok($errors, '>', scalar(@calls) / 4, "$errors calls failed with an error, as most should");
is(scalar(@internal), 0, 'no error is an internal one (class XX)')
  or diag(join("\n", @internal[ 0 .. ($#internal < 20 ? $#internal : 20) ]));

ok(wait_for($node, 'SELECT 1', '1'), 'the server is up at the end');
my $log = slurp_file($node->logfile, $log_offset);
# ok(), not unlike(): a failure must not print the whole log.
for my $pattern (qr/terminated by signal/, qr/server process \(PID \d+\) was terminated/,
	qr/terminating any other active server processes/)
{
	my ($line) = $log =~ /^(.*$pattern.*)$/m;
	ok(!defined $line, "the log has no line matching $pattern")
	  or diag($line);
}

done_testing();
