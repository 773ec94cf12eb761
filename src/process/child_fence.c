/*-------------------------------------------------------------------------
 *
 * process/child_fence.c
 *	  A child with a lease stops itself when its lease deadline passes.
 *
 * A cluster singleton may run on this member only while this member holds
 * its lease.  The supervisor extends the deadline in the child's slot after
 * every renewal that worked; fencing from the supervisor alone is not
 * enough, since a stopped or blocked supervisor would then leave the child
 * running after another member took its name over.  So the child enforces
 * the deadline itself, on the monotonic clock:
 *
 * - a periodic timer (its handler does only async-signal-safe work: reads
 *   the deadline and the clock, then asks for the same exit as a SIGTERM
 *   would) stops the child when the deadline has passed, whatever the
 *   supervisor is doing;
 * - a pre-commit check refuses any commit once the deadline has passed:
 *   the timer looks only every FENCE_CHECK_MS, and a pause (of the child,
 *   or of the whole member) may fall between a write and its COMMIT.
 *
 * What is left: a pause between the pre-commit check and the commit record
 * itself.  That window is a few microseconds; effects outside this server
 * close it with the fencing token (docs/cluster-singletons.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "process/child_fence.h"

/* How often the child looks at its deadline (ms). */
#define FENCE_CHECK_MS 50

static FdnChildSlot *fence_slot = NULL;
static int64 fence_token = 0;
static volatile sig_atomic_t fenced = false;

static bool
deadline_passed(void)
{
	uint64		deadline = pg_atomic_read_u64(&fence_slot->lease_deadline);

	return fdn_monotonic_ns() >= deadline;
}

/* Stop this process at the next CHECK_FOR_INTERRUPTS, as die() would. */
static void
fence_now(void)
{
	fenced = true;
	InterruptPending = true;
	ProcDiePending = true;
	SetLatch(MyLatch);
}

/* The timer: in a signal handler, so only reads, flags and SetLatch. */
static void
fence_timeout(void)
{
	/* Exiting already: an ordinary exit is not turned into a fence. */
	if (proc_exit_inprogress)
		return;
	if (fence_slot != NULL && !fenced && deadline_passed())
		fence_now();
}

/* The wall-clock time of the deadline, for people. */
static TimestampTz
deadline_wallclock(void)
{
	int64		ago_ns = (int64) (fdn_monotonic_ns() -
								  pg_atomic_read_u64(&fence_slot->lease_deadline));

	return GetCurrentTimestamp() - ago_ns / 1000;
}

void
fdn_lease_expired_error(const char *what)
{
	ereport(ERROR,
			(errcode(FDN_ERRCODE_LEASE_EXPIRED),
			 errmsg("%s: the lease of this cluster singleton ended at %s",
					what, timestamptz_to_str(deadline_wallclock())),
			 errdetail("Its fencing token is " INT64_FORMAT "; another member may run it by now.",
					   fence_token),
			 errhint("This process stops; the cluster runs the singleton again where a member holds the lease.")));
}

/* No commit after the deadline, whenever the timer fires. */
static void
fence_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_PRE_COMMIT || fence_slot == NULL)
		return;
	if (fenced || deadline_passed())
	{
		fence_now();
		fdn_lease_expired_error("commit refused");
	}
}

void
fdn_child_fence_arm(FdnChildSlot *slot)
{
	TimeoutId	id;

	pg_read_barrier();
	if (slot->fence_token == 0)
		return;
	fence_token = slot->fence_token;
	fence_slot = slot;
	RegisterXactCallback(fence_xact_callback, NULL);
	id = RegisterTimeout(USER_TIMEOUT, fence_timeout);
	enable_timeout_every(id, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FENCE_CHECK_MS),
						 FENCE_CHECK_MS);
	/* Started (or restarted) already late: not one statement runs. */
	fence_timeout();
	CHECK_FOR_INTERRUPTS();
}

int64
fdn_child_fence_token(void)
{
	return fence_token;
}

bool
fdn_child_lease_expired(void)
{
	return fence_slot != NULL && (fenced || deadline_passed());
}

bool
fdn_child_fenced(void)
{
	return fenced;
}

void
fdn_child_fence_report(void)
{
	if (!fenced || fence_slot == NULL)
		return;
	ereport(LOG,
			(errmsg("foundation: %s stopped itself: its lease ended at %s (fencing token " INT64_FORMAT ")",
					MyBgworkerEntry ? MyBgworkerEntry->bgw_name : "cluster singleton",
					timestamptz_to_str(deadline_wallclock()), fence_token),
			 errdetail("This member did not renew its lease in time (a stalled supervisor, a pause, or no answer from the control database); another member may run it now.")));
}
