# A jsonb-shape fuzz: every SQL function or procedure of schema foundation
# that takes a jsonb argument (found in pg_proc, so a new one is covered
# without editing this file) is called by an ordinary role with a list of
# shapes in each of its jsonb arguments, each call in its own transaction.
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
# Well-formed values with one nested key of a wrong shape.
push @shapes, q({"start": {"module": "public.fz_noop", "args": [1, 2, 3]}, "restart": "temporary"});
push @shapes, q({"start": {"module": "public.fz_noop"}, "restart": "temporary", "id": "fz_ok"});
push @shapes, q({"foundation_ref": 1, "bytes": 10});
push @shapes, qq({"start": {"module": "public.fz_noop", "args": $deep}, "restart": "temporary"});

# Every function with a jsonb argument: name, kind, argument names and types.
my $list = $node->safe_psql('postgres', q{
SELECT p.proname || '|' || p.prokind || '|' ||
       coalesce((SELECT string_agg(coalesce(n, ''), ',' ORDER BY i)
                   FROM unnest(p.proargnames,
                               coalesce(p.proargmodes,
                                        array_fill('i'::"char", ARRAY[cardinality(p.proargnames)])))
                        WITH ORDINALITY u(n, m, i)
                  WHERE m IN ('i', 'b', 'v')), '') || '|' ||
       array_to_string(ARRAY(SELECT format_type(t, NULL)
                               FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i)
                              ORDER BY i), ',')
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

# One script: before each call a marker on stderr (so each error is tied
# to its call), after it a query whose answer on stdout proves the server
# still answers.  psql runs each statement in its own transaction.
my $script = "\\set VERBOSITY verbose\n";
my @calls;
for my $f (@funcs)
{
	my ($fn, $kind, $names, $types) = split /\|/, $f, -1;
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
			push @calls, "$fn arg " . ($pos + 1) . " shape $s";
			my $n = $#calls;
			$script .= "\\warn \@\@call $n\n$call;\nSELECT 'alive $n';\n";
		}
	}
}
note scalar(@calls) . ' calls';

my ($stdout, $stderr);
my $log_offset = -s $node->logfile;
$node->psql('postgres', $script,
	stdout => \$stdout, stderr => \$stderr, on_error_stop => 0,
	extra_params => [ '-U', 'alice' ]);

my %alive = map { $_ => 1 } ($stdout =~ /^alive (\d+)$/mg);
my @dead = grep { !$alive{$_} } 0 .. $#calls;
is(scalar(@dead), 0, 'the server answered after every call')
  or diag('first call without an answer: ' . $calls[ $dead[0] ]);

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

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up at the end');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/terminated by signal/, 'no process was terminated by a signal');
unlike($log, qr/server process \(PID \d+\) was terminated/,
	'no server process was terminated');
unlike($log, qr/terminating any other active server processes/,
	'no crash restart');

done_testing();
