# Durable channels across members: messages relayed from another member
# are replayable on the member that received them.  A member restarted in
# the middle of a 10 000-message burst from another member: its listener
# reconnects, replays and ends with every message exactly once, in order.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

use FoundationTAP;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $listener = compile_client('replay_listener', $tmp);
my ($ctl, %m) = channel_cluster(qw(c1 c2));
my $total = 10000;

# c2 keeps what it receives on events; c1 (the publisher) does not.
$m{c2}->safe_psql('postgres', q{SELECT foundation.configure_channel('events', '1 hour')});

my $out1 = "$tmp/l1.out";
my $l1 = IPC::Run::start([ $listener, $m{c2}->connstr('postgres'), 'events', 0, $total, 300 ],
	'>', $out1, '2>', \my $err1, IPC::Run::timeout(360));
my $deadline = time() + $FoundationTAP::WAIT_SECONDS;
usleep(20_000) until (-s $out1 && slurp_file($out1) =~ /\AREADY\n/) || time() > $deadline;

my ($burst, $berr) = start_burst($m{c1}, 'events', $total);

$deadline = time() + $FoundationTAP::WAIT_SECONDS;
usleep(20_000) until (() = slurp_file($out1) =~ /\n/g) > 1000 || time() > $deadline;
$m{c2}->restart;    # the listener's connection goes with it
eval { $l1->finish; 1 };
my @got = grep { !/^READY$/ } split /\n/, slurp_file($out1);
my ($last) = @got ? $got[-1] =~ /^(\d+)\t/ : (0);
note(scalar(@got) . " messages before c2 restarted, last seq $last");
ok(@got > 0 && @got < $total, 'c2 restarted in the middle of the burst');

# The relayed backlog arrives before the listener is back: it is replayed.
ok(wait_for($m{c2}, "SELECT count(*) > 0 FROM foundation.replay('events', $last)"),
	'c2 received messages while no listener was connected');

my $out2 = "$tmp/l2.out";
my $l2 = IPC::Run::start([ $listener, $m{c2}->connstr('postgres'), 'events', $last, $total - @got, 300 ],
	'>', $out2, '2>', \my $err2, IPC::Run::timeout(360));
$burst->finish;
is($$berr, '', 'the burst on c1 ran without error');
$l2->finish;
is($l2->full_result(0) >> 8, 0, 'the listener on c2, reconnected, got the rest') or diag($err2);
my @got2 = grep { !/^READY$/ } split /\n/, slurp_file($out2);
my $replayed = grep { /\treplay\t/ } @got2;
note(sprintf('after the restart: %d replayed, %d notified', $replayed, @got2 - $replayed));
ok($replayed > 0, 'the reconnected listener replayed what it missed');
push @got, @got2;

my @n = map { /\t\{"n": (\d+)\}$/ ? $1 : -1 } @got;
is(scalar(@n), $total, "$total messages in all");
is_deeply(\@n, [ 1 .. $total ], 'every message from c1 exactly once, in order');
is(join(',', map { /^(\d+)\t/ ? $1 : -1 } @got),
	$m{c2}->safe_psql('postgres', q{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM foundation.replay('events', 0)}),
	"the seqs are c2's replay");
is($m{c2}->safe_psql('postgres', q{SELECT count(*) FROM foundation.replay('events', 0) WHERE message ? 'rolled'}),
	'0', 'no rolled-back message is replayable on c2');
is($m{c1}->safe_psql('postgres', q{SELECT count(*) FROM foundation.durable_messages}), '0',
	'c1, where events is plain, kept nothing');

$_->stop for values %m;
$ctl->stop;
done_testing();
