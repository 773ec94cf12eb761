# A cluster singleton never runs twice, under the faults a real cluster
# sees.  Three members and a control database on loopback; each member
# reaches the control database through its own TCP proxy (FreezableProxy),
# so that the test can cut one off silently.  The singleton records every
# write itself, on whichever member runs it: (member, pid, fencing token,
# clock_timestamp()), one committed row every ~20 ms.  All servers run on
# this machine, so their clocks are one clock, and after each fault the
# rows of all members show, with no margin:
#   (a) no two copies interleave: the longest overlap between one copy's
#       [first write, last write] and another's is 0;
#   (b) no write carries a token lower than one already written earlier
#       (no write of the old token after the new token's first write);
#   (c) exactly one copy runs again, within the lease plus a few seconds.
# The faults, each lasting three lease lengths and always undone:
#   1. the supervisor of the member running it stopped (SIGSTOP);
#   2. that supervisor blocked on a lock on foundation.cluster_local, held
#      by an administrator's session;
#   3. every process of that member stopped (a VM or GC pause);
#   4. that member cut off from the control database, silently (its proxy
#      frozen: packets go nowhere, nothing is refused);
#   5. the control database's postmaster killed (kill -9), restarted 10 s
#      later.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FoundationTAP;
use FreezableProxy;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $LEASE_MS = 3000;
my $RENEW_MS = 300;
my $FAULT_S = 3 * $LEASE_MS / 1000;
# Bounded polls for what must happen "within the lease plus a few seconds";
# generous, since only a broken run reaches them.
my $AGAIN_S = $LEASE_MS / 1000 + 7;
my @MEMBERS = qw(m1 m2 m3);

# Whatever a fault did is undone here if the test dies mid-fault (before
# PostgreSQL::Test::Cluster's own END stops the servers).
my %undo;
END { $_->() for values %undo; }

my $ctl = foundation_node('ctl', extra_conf => "foundation.health_check_interval = 0\n");
my %proxy;
my %m;
for my $name (@MEMBERS)
{
	$ctl->safe_psql('postgres',
		"CREATE ROLE fdn_$name LOGIN; SELECT foundation.grant_member_role('fdn_$name');");
	$proxy{$name} = FreezableProxy->new(unix => $ctl->host . '/.s.PGSQL.' . $ctl->port);
	my $ci = 'host=127.0.0.1 port=' . $proxy{$name}->port
	  . " dbname=postgres user=fdn_$name connect_timeout=2";
	$m{$name} = foundation_node($name,
		extra_conf => member_conf($name, $ci,
			renew => "${RENEW_MS}ms", lease => "${LEASE_MS}ms"));
	$m{$name}->append_conf('postgresql.conf',
		"foundation.node_conninfo = 'host=" . $m{$name}->host . ' port=' . $m{$name}->port
		  . " dbname=postgres'\n");
	$m{$name}->reload;
	# The sampler is the singleton itself, running as an ordinary role.
	$m{$name}->safe_psql('postgres', q{
CREATE TABLE public.writes (node text, pid integer, token bigint, at timestamptz);
CREATE PROCEDURE public.sampler(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    INSERT INTO public.writes
    VALUES (current_setting('foundation.node_name'), pg_backend_pid(),
            foundation.fencing_token(), clock_timestamp());
    COMMIT;
    PERFORM pg_sleep(0.02);
  END LOOP;
END $$;
-- A singleton that never commits: only its own timer can stop it.
CREATE PROCEDURE public.idler(args jsonb) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
CREATE ROLE worker LOGIN;
GRANT USAGE ON SCHEMA public TO worker;
GRANT INSERT ON public.writes TO worker;
GRANT EXECUTE ON PROCEDURE public.sampler(jsonb), public.idler(jsonb) TO worker;});
}
ok( wait_for($ctl,
		"SELECT count(*) FROM foundation.members WHERE state = 'up' AND lease_expires > now()", '3'),
	'three members hold a lease, each through its proxy');
# Without fencing_token() the sampler cannot write at all: say so and stop
# here rather than wait for every fault's bounds to run out.
is(q1($m{m1}, 'SET ROLE worker; SELECT foundation.fencing_token() IS NULL'),
	't', 'fencing_token() is NULL outside a cluster singleton')
  or do
{
	diag 'foundation.fencing_token() is missing or fails: the faults are not run';
	$_->stop for values %proxy;
	$_->stop for values %m;
	$ctl->stop;
	done_testing();
	exit;
};

# Where the control database places fw: (node, pid, token); () if unknown.
sub placed
{
	my $r = q1($ctl, "SELECT coalesce(node, '') || ',' || coalesce(pid::text, '') || ',' || epoch"
		  . " FROM foundation.cluster_singletons WHERE name = 'fw'");
	return defined $r && $r ne '' ? split(/,/, $r, -1) : ();
}

# The live copies of fw on the members not in %$skip: [node, pid] each.
sub live_copies
{
	my (%skip) = @_;
	my @c;
	for my $k (@MEMBERS)
	{
		next if $skip{$k};
		my $p = q1($m{$k}, "SELECT string_agg(pid::text, ',') FROM foundation.registry"
			  . " WHERE name = 'fw' AND foundation.pid_alive(pid)");
		push @c, map { [ $k, $_ ] } split /,/, ($p // '');
	}
	return @c;
}

# Poll until exactly one copy runs on all members and has written in the
# last second; returns its [node, pid], or undef after $seconds.
sub one_copy_runs
{
	my ($seconds) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		my @c = live_copies();
		if (@c == 1)
		{
			my ($k, $pid) = @{ $c[0] };
			return $c[0]
			  if (q1($m{$k}, "SELECT count(*) > 0 FROM public.writes WHERE pid = $pid"
					  . " AND at > clock_timestamp() - interval '1 second'") // '') eq 't';
		}
		usleep(100_000);
	}
	return undef;
}

# Everything back to normal before the next fault: three live leases, fw
# placed with a pid, and exactly one copy writing.
sub settled
{
	my ($label) = @_;
	ok( wait_for($ctl,
			"SELECT count(*) FROM foundation.members WHERE state = 'up' AND lease_expires > now()",
			'3')
		  && wait_for($ctl,
			"SELECT pid IS NOT NULL FROM foundation.cluster_singletons WHERE name = 'fw'")
		  && one_copy_runs($AGAIN_S),
		"$label: three members up, fw placed, one copy writing");
	my ($node, $pid, $token) = placed();
	return ($node, $pid, $token);
}

# Sleep until $until (a time()), polling $each meanwhile (a fault's fixed
# duration: the fault lasts that long whatever happens).
sub during
{
	my ($until, $each) = @_;
	while (time() < $until)
	{
		$each->() if $each;
		usleep(100_000);
	}
}

# (a) and (b) over every write since $since (time()), on all members.
sub check_writes
{
	my ($label, $since) = @_;
	my @w;
	my %copy;
	for my $k (@MEMBERS)
	{
		my $out = $m{$k}->safe_psql('postgres',
			"SELECT node, pid, coalesce(token::text, ''), (extract(epoch FROM at) * 1000000)::bigint"
			  . " FROM public.writes WHERE at >= to_timestamp($since) ORDER BY at");
		for my $line (split /\n/, $out)
		{
			my ($node, $pid, $token, $at) = split /\|/, $line, -1;
			push @w, { node => $node, pid => $pid, token => $token, at => $at };
			my $c = $copy{"$node pid $pid"} //= { from => $at, n => 0, tokens => {} };
			$c->{to} = $at;
			$c->{n}++;
			$c->{tokens}{ $token eq '' ? 'NULL' : $token } = 1;
		}
	}
	my @names = sort { $copy{$a}{from} <=> $copy{$b}{from} } keys %copy;
	note "$label: " . join('; ', map {
		sprintf('%s: %d writes, token %s, %.3f s from the start', $_, $copy{$_}{n},
			join('/', sort keys %{ $copy{$_}{tokens} }),
			($copy{$_}{from} - $since * 1e6) / 1e6) } @names);

	# (a) The longest overlap between two copies' [first, last] intervals.
	# Touching counts as interleaving (a zero-length copy inside another).
	my $longest = 0;
	my @inter;
	for my $i (0 .. $#names)
	{
		for my $j ($i + 1 .. $#names)
		{
			my ($p, $q) = @copy{ @names[ $i, $j ] };
			my $ov = ($p->{to} < $q->{to} ? $p->{to} : $q->{to}) - $q->{from};
			next if $ov < 0;
			push @inter, "$names[$i] until $p->{to}, $names[$j] from $q->{from}";
			$longest = $ov if $ov > $longest;
		}
	}
	ok(!@inter, sprintf('%s: no two copies interleave (longest overlap %.1f ms)', $label,
			$longest / 1000))
	  or diag(join("\n", @inter));

	# (b) In time order, no token lower than the highest written before it.
	@w = sort { $a->{at} <=> $b->{at} } grep { $_->{token} ne '' } @w;
	my ($max, $late, $latest_ms) = (undef, 0, 0);
	my %first;    # token => time of its first write
	for my $x (@w)
	{
		$first{ $x->{token} } //= $x->{at};
		if (defined $max && $x->{token} < $max)
		{
			my ($newer) = sort { $a <=> $b }
			  map { $first{$_} } grep { $_ > $x->{token} } keys %first;
			$late++;
			my $ms = ($x->{at} - $newer) / 1000;
			$latest_ms = $ms if $ms > $latest_ms;
		}
		$max = $x->{token} if !defined $max || $x->{token} > $max;
	}
	is($late, 0, sprintf('%s: no write of an old token after a newer token\'s first write'
			  . ' (%d late, the last %.1f ms after)', $label, $late, $latest_ms));
	is(join(', ', grep { exists $copy{$_}{tokens}{NULL} } @names), '',
		"$label: every write carries a fencing token");
	return $longest;
}

# A fault: apply it (registering its undo), keep it for $FAULT_S while
# $watch runs, undo it, then check (c) and the writes.
sub fault
{
	my (%f) = @_;
	my $label = $f{label};
	my ($runner, $rpid, $token) = settled("before $label");
	note "$label: fw runs on $runner (pid $rpid, token $token)";
	my $log_offset = -s $m{$runner}->logfile;
	my $since = time();
	my $took;
	eval {
		$undo{$label} = sub { $f{undo}->($runner) };
		$f{apply}->($runner);
		my $start = time();
		# Someone else takes over while the fault lasts (else it tests
		# nothing).
		during($start + $FAULT_S, sub {
			$f{watch}->($runner, $start) if $f{watch};
			return if $took || $f{no_takeover};
			my ($n, $p, $t) = placed();
			$took = "$n, token $t"
			  if defined $p && $p ne '' && $n ne $runner && $t > $token
			  && grep { $_->[0] eq $n } live_copies(map { $_ => 1 } grep { $_ ne $n } @MEMBERS);
		});
		1;
	} or fail("$label: $@");
	if (my $u = delete $undo{$label}) { $u->(); }
	ok($took, "$label: another member took over while it lasted (" . ($took // 'none') . ')')
	  unless $f{no_takeover};
	$f{after}->($runner) if $f{after};
	my $t0 = time();
	my $one = one_copy_runs($AGAIN_S);
	ok($one, "$label: exactly one copy runs again within ${AGAIN_S} s"
		  . ($one ? sprintf(' (%s pid %s, after %.1f s)', @$one, time() - $t0) : ''));
	check_writes($label, $since);
	# With its supervisor stalled, only the copy itself can have stopped
	# it: its log line names it, its token and the deadline.
	if ($f{self_fenced})
	{
		like(slurp_file($m{$runner}->logfile, $log_offset),
			qr/foundation child \d+ fw stopped itself: its lease ended at \S+ \S+ \(fencing token $token\)/,
			"$label: the old copy stopped itself for its lease (token $token)");
	}
	# whereis shows the new placement's token, the same on every member.
	my ($node, $pid, $now) = placed();
	is(join(' ', map { q1($m{$_}, "SELECT node || ':' || pid || ':' || token FROM foundation.whereis('fw')") // 'error' } @MEMBERS),
		join(' ', ("$node:$pid:$now") x @MEMBERS),
		"$label: whereis shows the new token $now on every member");
}

my $first = $m{m1}->safe_psql('postgres',
	q{SET ROLE worker; SELECT foundation.start_singleton('public.sampler', '{}', 'fw')});
like($first, qr/^\d+$/, 'start_singleton as worker returns a pid');
{
	my ($node, $pid, $token) = placed();
	ok(wait_for($m{$node}, "SELECT count(*) > 10 FROM public.writes WHERE pid = $pid"),
		"fw writes on $node, from pid $pid");
	is($m{$node}->safe_psql('postgres',
			"SELECT min(token) || ' ' || max(token) FROM public.writes WHERE pid = $pid"),
		"$token $token", "each write carries the placement's fencing token ($token)");
	is(join(' ', map { q1($m{$_}, "SELECT node || ':' || pid || ':' || token FROM foundation.whereis('fw')") // 'error' } @MEMBERS),
		join(' ', ("$node:$pid:$token") x @MEMBERS),
		"whereis shows node, pid and fencing token $token on every member");
	is(q1($m{$node}, q{SET ROLE worker; SELECT 'returned' FROM foundation.check_lease()}), 'returned',
		'check_lease() returns outside a cluster singleton (a session on the member that runs it)');
}

###########################################################################
# 1. The supervisor of the member running fw stopped.
###########################################################################
{
	my ($spid, $idle_pid, $idle_old_alive);
	fault(
		label => 'fault 1 (supervisor stopped)',
		apply => sub {
			# A second singleton on the same member, one that never commits
			# (so no commit can be refused): only its own timer stops it.
			$idle_pid = $m{ $_[0] }->safe_psql('postgres',
				q{SET ROLE worker; SET foundation.distribution = 'local';
				  SELECT foundation.start_singleton('public.idler', '{}', 'fi')});
			die "fi did not start on $_[0]" unless $idle_pid =~ /^\d+$/;
			$spid = supervisor_pid($m{ $_[0] });
			die "no supervisor on $_[0]" unless $spid =~ /^\d+$/;
			kill 'STOP', $spid;
		},
		# Once fi's new copy runs elsewhere, is its old copy still alive?
		watch => sub {
			my ($runner) = @_;
			return if defined $idle_old_alive;
			my $w = q1($ctl, "SELECT node || ',' || pid FROM foundation.cluster_singletons"
				  . " WHERE name = 'fi' AND node <> '$runner' AND pid IS NOT NULL") // '';
			my ($n, $p) = split /,/, $w;
			return unless defined $p && (q1($m{$n}, "SELECT foundation.pid_alive($p)") // '') eq 't';
			$idle_old_alive = q1($m{$runner}, "SELECT foundation.pid_alive($idle_pid)") // 'error';
		},
		undo => sub { kill 'CONT', $spid; },
		self_fenced => 1);
	is($idle_old_alive // 'fi never moved', 'f',
		'fault 1: a copy that never commits had stopped itself before its new copy started elsewhere');
	$m{m1}->safe_psql('postgres', q{SELECT foundation.stop_singleton('fi')});
}

###########################################################################
# 2. That supervisor blocked on a lock on foundation.cluster_local: every
# membership pass reads it first (what runs here, for the renewal), and the
# singleton never touches it.
###########################################################################
{
	my ($h, $out, $err) = (undef, '', '');
	my $blocked = 0;
	fault(
		label => 'fault 2 (supervisor blocked on a lock)',
		apply => sub {
			my $node = $m{ $_[0] };
			$h = IPC::Run::start(
				[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
					"BEGIN; LOCK TABLE foundation.cluster_local IN ACCESS EXCLUSIVE MODE;"
					  . " SELECT pg_sleep($FAULT_S + 1); COMMIT;" ],
				'<', \undef, '>', \$out, '2>', \$err);
			die 'the administrator\'s lock was not granted'
			  unless wait_for($node, q{SELECT count(*) > 0 FROM pg_locks
				WHERE relation = 'foundation.cluster_local'::regclass
				  AND mode = 'AccessExclusiveLock' AND granted}, 't', timeout => 10);
		},
		watch => sub {
			$blocked ||= (q1($m{ $_[0] }, q{SELECT count(*) FROM pg_stat_activity
				WHERE backend_type = 'foundation supervisor' AND wait_event_type = 'Lock'}) // '') eq '1';
		},
		undo => sub {
			my $node = $m{ $_[0] };
			q1($node, q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
				WHERE query LIKE 'BEGIN; LOCK TABLE foundation.cluster_local%'});
			$h->finish if $h;
			$h = undef;
		},
		self_fenced => 1);
	ok($blocked, 'fault 2: the supervisor did wait on that lock');
}

###########################################################################
# 3. Every process of the member stopped (postmaster and all its children),
# then continued.
###########################################################################
# A process and its descendants, from /proc.
sub process_tree
{
	my ($root) = @_;
	my %children;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh> // next;
		close $fh;
		# pid (comm) state ppid ...: comm may hold spaces and parentheses.
		next unless $line =~ /^(\d+) \(.*\) \S+ (\d+)/s;
		push @{ $children{$2} }, $1;
	}
	my @all = ($root);
	for (my $i = 0; $i < @all; $i++)
	{
		push @all, @{ $children{ $all[$i] } // [] };
	}
	return @all;
}

sub postmaster_pid
{
	my ($node) = @_;
	open my $fh, '<', $node->data_dir . '/postmaster.pid' or die $!;
	my $pid = <$fh>;
	chomp $pid;
	return $pid;
}

{
	my ($pm, @stopped);
	fault(
		label => 'fault 3 (whole member stopped)',
		apply => sub {
			$pm = postmaster_pid($m{ $_[0] });
			# The postmaster first, so that it forks nothing meanwhile.
			kill 'STOP', $pm;
			@stopped = process_tree($pm);
			kill 'STOP', @stopped;
			note "stopped $_[0]: " . scalar(@stopped) . ' processes';
		},
		# Nothing is asked of the stopped member while it is stopped: the
		# takeover check asks the control database and the new runner.
		undo => sub { kill 'CONT', reverse(@stopped), $pm // (); },
		self_fenced => 1);
}

###########################################################################
# 4. A silent partition: the member's proxy to the control database frozen.
###########################################################################
{
	my ($fenced, @answers);
	fault(
		label => 'fault 4 (silent partition)',
		apply => sub { $proxy{ $_[0] }->freeze; },
		watch => sub {
			my ($runner, $start) = @_;
			return if defined $fenced;
			$fenced = sprintf('%.1f', time() - $start)
			  unless grep { $_->[0] eq $runner } live_copies(map { $_ => 1 } grep { $_ ne $runner } @MEMBERS);
			return unless defined $fenced;
			# Nobody hangs: every member answers, the cut-off one included.
			for my $k (@MEMBERS)
			{
				for my $sql ('SELECT 1', q{SELECT count(*) FROM foundation.whereis('fw')})
				{
					my $timed_out = 0;
					my $t = time();
					eval {
						$m{$k}->psql('postgres', $sql, timeout => 20,
							timed_out => \$timed_out);
					};
					push @answers, sprintf('%s "%s" %s after %.1f s', $k, $sql,
						$timed_out ? 'timed out' : 'answered', time() - $t);
				}
			}
		},
		undo => sub { $proxy{ $_[0] }->thaw; });
	ok(defined $fenced, 'fault 4: the cut-off member stopped its copy while cut off'
		  . (defined $fenced ? " ($fenced s after the freeze)" : ''));
	note join("\n", @answers);
	is(scalar(grep { /timed out/ } @answers), 0,
		'fault 4: every member answers (SELECT 1, whereis) during the partition, within 20 s');
	ok(@answers == 2 * @MEMBERS, 'fault 4: all of them were asked');
}

###########################################################################
# 5. The control database's postmaster killed (kill -9), restarted 10 s
# later: nothing duplicated, nothing lost.
###########################################################################
{
	my ($runner, $rpid, $token) = settled('before fault 5');
	my $since = time();
	$ctl->kill9;
	$undo{ctl} = sub { $ctl->start(fail_ok => 1) };
	my $start = time();
	my $gone;
	during($start + 10, sub {
		$gone //= sprintf('%.1f', time() - $start) if !live_copies();
	});
	my $started = 0;
	for (1 .. 60)
	{
		# Its orphaned backends may still hold the shared memory a moment.
		last if $started = $ctl->start(fail_ok => 1);
		usleep(500_000);
	}
	delete $undo{ctl};
	ok($started, 'fault 5: the control database restarts');
	ok(defined $gone, 'fault 5: with the control database gone, every member stopped its copy'
		  . (defined $gone ? " (none left $gone s after the kill)" : ''));
	my $one = one_copy_runs(10 + $AGAIN_S);
	ok($one, 'fault 5: exactly one copy runs again after the restart'
		  . ($one ? " ($one->[0] pid $one->[1])" : ''));
	my (undef, undef, $after) = placed();
	ok(defined $after && $after > $token,
		"fault 5: at a higher fencing token (" . ($after // 'none') . " > $token)");
	check_writes('fault 5 (control database killed)', $since);
}

$_->stop for values %proxy;
$_->stop for values %m;
$ctl->stop;
done_testing();
