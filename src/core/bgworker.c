/*-------------------------------------------------------------------------
 *
 * core/bgworker.c
 *	  What foundation's background workers share.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/bgworker.h"
#include "core/foundation.h"

void
fdn_bgworker_init(BackgroundWorker *worker, const char *function,
				  const char *type, int restart_s)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_s;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "foundation");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
}

void
fdn_register_static_worker(const char *function, const char *type,
						   int restart_s)
{
	BackgroundWorker worker;

	fdn_bgworker_init(&worker, function, type, restart_s);
	RegisterBackgroundWorker(&worker);
}

void
fdn_worker_start(const char *appname)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(fdn_database, NULL, 0);
	pgstat_report_appname(appname);
}

void
fdn_worker_reload(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

void
fdn_worker_pass(FdnPassFn pass, void *arg, MemoryContext loopcxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(loopcxt);

	PG_TRY();
	{
		pass(arg);
	}
	PG_CATCH();
	{
		/* Report, clean up and carry on. */
		MemoryContextSwitchTo(loopcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(loopcxt);
}
