#!/usr/bin/perl
# scripts/lib/docs-test.pl -- the checker behind scripts/docs-test.
#
# For each page given: read its fenced blocks, start a copy of the template
# instance (DIR/template, prepared by scripts/docs-test) in DIR/page,
# CREATE EXTENSION foundation in postgres, feed the page's runnable blocks
# in order to one psql session, and compare what psql printed on stdout
# with the block of shown output that follows, if any.  The marks (fence
# info strings) are described in docs/testing.md, "The docs test".
use strict;
use warnings;
use IPC::Open3;
use IO::Select;
use Symbol qw(gensym);
use Time::HiRes qw(time sleep);
use Getopt::Long;

my ($dir, $port, $pgbin, $keep) = ('', 0, '/usr/lib/postgresql/15/bin', 0);
GetOptions('dir=s' => \$dir, 'port=i' => \$port, 'pgbin=s' => \$pgbin, 'keep' => \$keep)
  or die "usage: docs-test.pl --dir DIR --port N [--pgbin DIR] [--keep] PAGE...\n";
my @pages = @ARGV;
my $sock = "$dir/run";
my $data = "$dir/page";
my $BLOCK_TIMEOUT = 60;		# seconds psql may take for one block
my $WAIT_TIMEOUT = 30;		# seconds a "wait" block is re-run until it matches
my ($passed, $failed, $other) = (0, 0, 0);

my %tap = map { chomp; s{^test/t/}{}; s{\.pl$}{}; ($_ => 1) }
  do { open my $f, '<', 'tap-files' or die "tap-files: $!"; <$f> };

sub result
{
	my ($what, $where, $note) = @_;
	if ($what eq 'ok') { $passed++ }
	elsif ($what eq 'FAILED') { $failed++ }
	else { $other++ }
	printf "%-8s %s%s\n", $what, $where, defined $note && $note ne '' ? "  $note" : '';
}

# The fenced blocks of a page: {line, lang, words, text, output}.
sub blocks_of
{
	my ($page) = @_;
	open my $f, '<', $page or die "$page: $!";
	my @lines = <$f>;
	close $f;
	my (@blocks, $cur, $fence, $indent);
	my $n = 0;
	for my $l (@lines)
	{
		$n++;
		if (!$cur)
		{
			next unless $l =~ /^(\s*)(`{3,}|~{3,})\s*([^`]*?)\s*$/;
			($indent, $fence) = (length $1, $2);
			my @w = split /\s+/, $3;
			$cur = { line => $n, lang => (shift(@w) // ''), words => \@w, text => '', end => $n };
			next;
		}
		if ($l =~ /^\s*\Q$fence\E\s*$/)
		{
			$cur->{end} = $n;
			push @blocks, $cur;
			undef $cur;
			next;
		}
		(my $t = $l) =~ s/^ {0,$indent}//;
		$cur->{text} .= $t;
	}
	die "$page:$cur->{line}: fence not closed\n" if $cur;
	# an output block belongs to the block it follows (blank lines between)
	for my $i (1 .. $#blocks)
	{
		my ($b, $prev) = ($blocks[$i], $blocks[ $i - 1 ]);
		next unless $b->{lang} eq 'text' && ($b->{words}[0] // '') eq 'output';
		my $between = join '', @lines[ $prev->{end} .. $b->{line} - 2 ];
		die "$page:$b->{line}: an output block must follow its sql block (only blank lines between)\n"
		  if $between =~ /\S/;
		$prev->{output} = $b;
	}
	return @blocks;
}

sub run_cmd
{
	my @cmd = @_;
	my $out = `@cmd 2>&1`;
	return ($? == 0, $out);
}

sub start_instance
{
	system('rm', '-rf', $data) == 0 or die "rm $data\n";
	system('cp', '-a', "$dir/template", $data) == 0 or die "cp template\n";
	my ($ok, $out) = run_cmd("$pgbin/pg_ctl", '-D', $data, '-l', "$sock/server.log", '-w', '-t', '60', 'start');
	return "pg_ctl start failed: $out" unless $ok;
	($ok, $out) = run_cmd("$pgbin/psql", '-X', '-q', '-h', $sock, '-p', $port, '-U', 'postgres', '-d', 'postgres',
		'-v', 'ON_ERROR_STOP=1', '-c', "'CREATE EXTENSION foundation'");
	return "CREATE EXTENSION failed: $out" unless $ok;
	return '';
}

sub stop_instance
{
	system("$pgbin/pg_ctl -D $data -m fast -w -t 60 stop >/dev/null 2>&1") == 0
	  or system("$pgbin/pg_ctl -D $data -m immediate -w stop >/dev/null 2>&1");
}

# One psql session, fed block by block.
my ($pin, $pout, $perr, $ppid, $sel, $seq);

sub psql_open
{
	$perr = gensym;
	$ppid = open3($pin, $pout, $perr, "$pgbin/psql", '-X', '-h', $sock, '-p', $port, '-U', 'postgres', '-d', 'postgres', '-P', 'pager=off');
	$pin->autoflush(1);
	$sel = IO::Select->new($pout, $perr);
	$seq = 0;
}

sub psql_close
{
	close $pin;
	waitpid $ppid, 0;
}

# Feed SQL, return (stdout, stderr, timed_out).
sub psql_run
{
	my ($sql) = @_;
	$seq++;
	my $mark = "\@\@docs-test $seq\@\@";
	print $pin $sql, "\n\\echo $mark\n\\warn $mark\n";
	my %buf = ($pout => '', $perr => '');
	my $deadline = time + $BLOCK_TIMEOUT;
	while (index($buf{$pout}, "$mark\n") < 0 || index($buf{$perr}, "$mark\n") < 0)
	{
		my $left = $deadline - time;
		return ($buf{$pout}, $buf{$perr}, 1) if $left <= 0;
		for my $fh ($sel->can_read($left))
		{
			my $r = sysread $fh, my $chunk, 65536;
			return ($buf{$pout}, $buf{$perr} . "\n(psql exited)\n", 1) unless $r;
			$buf{$fh} .= $chunk;
		}
	}
	s/\Q$mark\E\n// for values %buf;
	return ($buf{$pout}, $buf{$perr}, 0);
}

sub trimmed
{
	my @l = map { s/\s+$//r } split /\n/, $_[0], -1;
	shift @l while @l && $l[0] eq '';
	pop @l while @l && $l[-1] eq '';
	return @l;
}

# Shown lines against printed ones: "…" in a line matches any text; a line
# that is only "…" matches any number of lines.
sub match_lines
{
	my ($want, $got) = @_;
	return !@$got if !@$want;
	my ($w, @wrest) = @$want;
	if ($w eq '…')
	{
		for my $k (0 .. @$got)
		{
			return 1 if match_lines(\@wrest, [ @$got[ $k .. $#$got ] ]);
		}
		return 0;
	}
	return 0 unless @$got;
	my $re = join '.*', map { quotemeta } split /…/, $w, -1;
	return 0 unless $got->[0] =~ /^$re$/;
	return match_lines(\@wrest, [ @$got[ 1 .. $#$got ] ]);
}

sub indent { join '', map { "    | $_\n" } @_ }

sub check_block
{
	my ($page, $b) = @_;
	my $where = "$page:$b->{line}";
	my @sqlines = grep { /\S/ && !/^\s*--/ } split /\n/, $b->{text};
	if (@sqlines && $sqlines[-1] !~ /;\s*(--.*)?$/ && $sqlines[-1] !~ /^\s*\\/ && $sqlines[-1] !~ /\\g\w*(\s.*)?$/)
	{
		result('FAILED', $where, 'the last statement has no terminating semicolon');
		return;
	}
	my %opt = map { $_ => 1 } @{ $b->{words} }[ 1 .. $#{ $b->{words} } ];
	my $deadline = time + $WAIT_TIMEOUT;
	my ($out, $err, $timeout, @want, @got, $why);
	for (;;)
	{
		($out, $err, $timeout) = psql_run($b->{text});
		@got = trimmed($out);
		$why = '';
		my $error = $err =~ /(^|:\s*)(ERROR|FATAL|PANIC|error):/m;
		if ($timeout) { $why = "no answer from psql within ${BLOCK_TIMEOUT}s" }
		elsif ($error && !$opt{fails}) { $why = 'an error' }
		elsif (!$error && $opt{fails}) { $why = 'no error, but the block is marked fails' }
		elsif ($b->{output})
		{
			@want = trimmed($b->{output}{text});
			$why = "output differs from the block at line $b->{output}{line}"
			  unless match_lines(\@want, \@got);
		}
		last if $why eq '' || $timeout || !$opt{wait} || time > $deadline;
		sleep 0.2;
	}
	if ($why eq '')
	{
		result('ok', $where, $b->{output} ? 'output checked' : '');
		return 1;
	}
	result('FAILED', $where, $why);
	print "  shown:\n", indent(@want) if @want && $why =~ /differs/;
	print "  psql printed:\n", indent(@got) if @got;
	print "  on stderr:\n", indent(trimmed($err)) if $err =~ /\S/;
	return !$timeout;
}

for my $page (@pages)
{
	my @blocks = eval { blocks_of($page) };
	if ($@) { result('FAILED', $page, $@ =~ s/\n$//r); next; }
	my (@run, @later);	# @later: results of blocks not run, printed in line order
	my $flush = sub {
		my ($upto) = @_;
		result(@{ shift @later }[ 1 .. 3 ]) while @later && $later[0][0] < $upto;
	};
	for my $b (@blocks)
	{
		next unless $b->{lang} eq 'sql';
		my $mark = $b->{words}[0] // '';
		my $where = "$page:$b->{line}";
		if ($mark eq 'run') { push @run, $b; }
		elsif ($mark eq 'tap')
		{
			my $t = $b->{words}[1] // '';
			if ($tap{$t}) { push @later, [ $b->{line}, 'tap', $where, "run by test/t/$t.pl" ] }
			else { push @later, [ $b->{line}, 'FAILED', $where, "marked tap, but there is no test/t/$t.pl" ] }
		}
		elsif ($mark eq 'static') { push @later, [ $b->{line}, 'static', $where, 'not run: ' . join ' ', @{ $b->{words} }[ 1 .. $#{ $b->{words} } ] ] }
		# every SQL example says whether it runs: an unmarked one fails
		elsif ($mark eq '') { push @later, [ $b->{line}, 'FAILED', $where, 'unmarked: mark it run, tap NNN_name or static' ] }
		else { push @later, [ $b->{line}, 'FAILED', $where, "unknown mark \"$mark\"" ] }
	}
	if (!@run) { $flush->(1e9); next; }
	my $e = start_instance();
	if ($e ne '')
	{
		result('FAILED', "$page:$_->{line}", $e =~ s/\s+/ /gr) for @run;
		$flush->(1e9);
		stop_instance();
		next;
	}
	psql_open();
	for my $i (0 .. $#run)
	{
		$flush->($run[$i]{line});
		next if check_block($page, $run[$i]);
		# psql hangs or is gone: the page's later blocks cannot run
		kill 'KILL', $ppid;
		result('FAILED', "$page:$_->{line}", 'not run: psql did not answer') for @run[ $i + 1 .. $#run ];
		last;
	}
	$flush->(1e9);
	psql_close();
	stop_instance() unless $keep && $page eq $pages[-1];
}
print "(the last page's instance runs: $pgbin/psql -h $sock -p $port -U postgres postgres)\n" if $keep;
print "docs: $other examples not run here (tap, static)\n";
print "$passed passed, $failed failed\n";
exit($failed ? 1 : 0);
