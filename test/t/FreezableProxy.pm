# A TCP proxy a test can freeze: a silent network partition.
#
# Not a test itself (prove only runs test/t/*.pl).  The proxy is a child
# process listening on 127.0.0.1 (an ephemeral port) that forwards every
# connection to a target (a Unix-domain socket path, or host and port).
# freeze() stops the process (SIGSTOP): connections already open hang, and
# new ones are accepted by the kernel's backlog and then hear nothing,
# the way a partition that drops packets behaves, unlike a refused
# connection.  thaw() continues it (SIGCONT).
#
#   my $p = FreezableProxy->new(unix => "$dir/.s.PGSQL.$port");
#   ... "host=127.0.0.1 port=" . $p->port ...
#   $p->freeze; ...; $p->thaw; $p->stop;
package FreezableProxy;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();

sub new
{
	my ($class, %target) = @_;
	my $listen = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Listen => 128,
		ReuseAddr => 1,
		Proto => 'tcp') or die "FreezableProxy: listen: $!";
	my $port = $listen->sockport;
	my $pid = fork();
	die "FreezableProxy: fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# The child never returns into the test (its END blocks would tear
		# the test's servers down).
		eval { forward($listen, \%target); };
		POSIX::_exit(0);
	}
	close $listen;
	return bless { pid => $pid, port => $port, frozen => 0 }, $class;
}

sub port { return $_[0]->{port}; }
sub pid { return $_[0]->{pid}; }

sub freeze
{
	my ($self) = @_;
	kill 'STOP', $self->{pid};
	$self->{frozen} = 1;
}

sub thaw
{
	my ($self) = @_;
	kill 'CONT', $self->{pid};
	$self->{frozen} = 0;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'CONT', $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = 0;
}

sub DESTROY { $_[0]->stop; }

sub connect_target
{
	my ($target) = @_;
	return IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $target->{unix})
	  if defined $target->{unix};
	return IO::Socket::INET->new(
		PeerAddr => $target->{host},
		PeerPort => $target->{port},
		Proto => 'tcp',
		Timeout => 5);
}

# The child's loop: accept, pair each client with a new connection to the
# target, copy bytes both ways; either side closing closes both.
sub forward
{
	my ($listen, $target) = @_;
	$SIG{TERM} = sub { POSIX::_exit(0) };
	my $sel = IO::Select->new($listen);
	my %peer;
	for (;;)
	{
		for my $fh ($sel->can_read)
		{
			if ($fh == $listen)
			{
				my $client = $listen->accept or next;
				my $server = connect_target($target);
				if (!$server)
				{
					# The target is down: refuse, as it would.
					close $client;
					next;
				}
				$peer{$client} = $server;
				$peer{$server} = $client;
				$sel->add($client, $server);
				next;
			}
			my $other = $peer{$fh};
			next unless $other;
			my $n = sysread($fh, my $buf, 65536);
			my $ok = $n;
			while ($ok && length $buf)
			{
				my $w = syswrite($other, $buf);
				$ok = 0, last unless defined $w && $w > 0;
				substr($buf, 0, $w) = '';
			}
			next if $ok;
			$sel->remove($fh, $other);
			delete @peer{ $fh, $other };
			close $fh;
			close $other;
		}
	}
}

1;
