/*-------------------------------------------------------------------------
 *
 * discovery/health_monitor.c
 *	  The health monitor background worker.
 *
 * Every foundation.health_check_interval (first check 5 s after start; 0
 * disables it, for scheduling with pg_cron instead) it runs discovery when
 * clustering is on, then one stored health check.  A failed pass is logged
 * and the next one runs as usual.  A reload applies at once: the next check
 * is last check + the interval as it is now.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/bgworker.h"
#include "core/ext_version.h"
#include "core/foundation.h"
#include "discovery/health.h"
#include "discovery/health_monitor.h"
#include "discovery/nodes.h"
#include "discovery/nodes_config.h"


#define FDN_FIRST_CHECK_MS 5000

void
fdn_register_health_monitor(void)
{
	fdn_register_static_worker("fdn_health_monitor_main", "foundation health monitor", 5);
}

static void
health_pass(void *arg)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (fdn_ext_version_ready(get_extension_oid("foundation", true),
							  "foundation health monitor"))
	{
		pgstat_report_activity(STATE_RUNNING, "foundation health check");
		if (fdn_cluster && strcmp(fdn_cluster, "off") != 0)
			(void) fdn_discover();
		(void) fdn_health_run(true);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
fdn_health_monitor_main(Datum main_arg)
{
	MemoryContext loopcxt;
	TimestampTz first;
	TimestampTz last = 0;

	fdn_worker_start("foundation health monitor");

	loopcxt = AllocSetContextCreate(TopMemoryContext, "foundation health loop",
									ALLOCSET_DEFAULT_SIZES);
	first = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FDN_FIRST_CHECK_MS);
	for (;;)
	{
		TimestampTz next;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		fdn_worker_reload();

		/*
		 * The next check is computed from the last one and the interval as
		 * it is now, at every wake-up: a reload (which sets our latch) that
		 * shortens the interval moves it sooner at once, instead of waiting
		 * for a check scheduled with the old interval.
		 */
		next = last == 0 ? first :
			TimestampTzPlusMilliseconds(last, fdn_health_check_interval_ms);
		if (fdn_health_check_interval_ms > 0 && GetCurrentTimestamp() >= next)
		{
			fdn_worker_pass(health_pass, NULL, loopcxt);
			last = GetCurrentTimestamp();
			next = TimestampTzPlusMilliseconds(last, fdn_health_check_interval_ms);
		}

		/* Disabled: sleep until a reload (or a minute) wakes us. */
		wait_ms = fdn_health_check_interval_ms > 0 ?
			Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next), 1) :
			60000;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
