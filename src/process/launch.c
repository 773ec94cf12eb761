/*-------------------------------------------------------------------------
 *
 * process/launch.c
 *	  Starting one child worker and waiting until it runs.
 *
 * A child is a dynamic background worker registered with
 * BGW_NEVER_RESTART: restarts are the supervisor's business, not the
 * postmaster's.  Its notify pid is the supervisor, so the supervisor hears
 * of every start and exit.  The module and args travel in a pinned DSM
 * segment, since the child may run in another database and cannot read our
 * tables.  The child is tied to the launching transaction: it waits for it
 * and runs only if it committed, so a rolled-back start leaves nothing
 * running.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "core/bgworker.h"
#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "process/child_main.h"
#include "process/launch.h"


/* Copy module and args into a new pinned segment; returns its handle. */
static dsm_handle
make_spec_segment(const FdnLaunch *launch)
{
	Size		module_len = strlen(launch->module) + 1;
	Size		args_len = strlen(launch->args) + 1;
	Size		size = offsetof(FdnChildSpec, data) + module_len + args_len;
	dsm_segment *seg;
	FdnChildSpec *spec;
	dsm_handle	handle;

	seg = dsm_create(size, 0);
	spec = dsm_segment_address(seg);
	spec->dboid = launch->dboid;
	spec->roleoid = launch->roleoid;
	spec->validate = launch->validate;
	spec->module_len = module_len;
	spec->args_len = args_len;
	memcpy(spec->data, launch->module, module_len);
	memcpy(spec->data + module_len, launch->args, args_len);

	/* Keep it past our detach: the slot owns it until released. */
	dsm_pin_segment(seg);
	handle = dsm_segment_handle(seg);
	dsm_detach(seg);
	return handle;
}

FdnLaunchResult
fdn_launch_child(const FdnLaunch *launch)
{
	FdnLaunchResult result = {0};
	BackgroundWorker worker = {0};
	BackgroundWorkerHandle *handle;
	FdnChildExtra extra;
	FdnChildSlot *slot;
	TimestampTz deadline;
	int			index;

	/* The child waits on this xid; assigning it now is what ties them. */
	TransactionId xid = GetCurrentTransactionId();

	/* DROP or RENAME DATABASE waits for foundation to leave it. */
	if (fdn_db_stopping(launch->dboid) || fdn_db_stopping(MyDatabaseId))
	{
		result.status = FDN_LAUNCH_DB_STOPPING;
		return result;
	}
	index = fdn_slot_reserve(launch->child_id, launch->dboid);
	if (index < 0)
	{
		result.status = index == -2 ? FDN_LAUNCH_DB_LIMIT : FDN_LAUNCH_NO_SLOT;
		return result;
	}
	slot = &fdn_shared->slots[index];
	slot->creator_xid = xid;
	slot->roleoid = launch->roleoid;
	slot->spec_handle = make_spec_segment(launch);
	pg_atomic_write_u64(&slot->lease_deadline, launch->lease_deadline);
	pg_write_barrier();
	slot->fence_token = launch->fence_token;

	fdn_bgworker_init(&worker, "fdn_child_main", "foundation child",
					  BGW_NEVER_RESTART);
	{
		/* The process title: cut on a character boundary, not mid-char. */
		fdn_clip_copy(worker.bgw_name,
					  psprintf("foundation child " INT64_FORMAT " %s",
							   launch->child_id, launch->label),
					  BGW_MAXLEN);
	}
	worker.bgw_main_arg = Int32GetDatum(index);
	extra.child_id = launch->child_id;
	extra.generation = slot->generation;
	memcpy(worker.bgw_extra, &extra, sizeof(extra));
	/* This database's supervisor hears of its start and exit. */
	worker.bgw_notify_pid = fdn_supervisor_pid(MyDatabaseId);

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		fdn_slot_release(index);
		result.status = FDN_LAUNCH_NO_WORKER;
		return result;
	}

	/*
	 * Wait until the child has said it runs (it sets our latch), or has
	 * stopped.  It must not wait for our commit before saying so, or we
	 * would wait for each other.
	 */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   fdn_start_timeout_ms);
	for (;;)
	{
		pid_t		pid;
		BgwHandleStatus status;

		if (slot->start_state == FDN_START_READY)
		{
			result.status = FDN_LAUNCH_OK;
			result.pid = slot->pid;
			return result;
		}
		status = GetBackgroundWorkerPid(handle, &pid);
		if (slot->start_state == FDN_START_FAILED ||
			status == BGWH_STOPPED || slot->exited)
		{
			/* Wait (bounded) for it to be gone, so the slot can be reused. */
			while (GetBackgroundWorkerPid(handle, &pid) == BGWH_STARTED &&
				   GetCurrentTimestamp() < deadline)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT |
								 WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			result.status = FDN_LAUNCH_FAILED;
			result.sqlstate = slot->exit_sqlstate;
			result.message = slot->exit_detail[0] ?
				pstrdup(slot->exit_detail) :
				pstrdup("the worker exited before it started");
			fdn_slot_release(index);
			return result;
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			TerminateBackgroundWorker(handle);
			/* The child will see our transaction fail and exit; the
			 * supervisor frees the slot then. */
			result.status = FDN_LAUNCH_TIMEOUT;
			return result;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT |
						 WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

void
fdn_launch_report(const FdnLaunchResult *result, const char *what)
{
	switch (result->status)
	{
		case FDN_LAUNCH_OK:
			return;
		case FDN_LAUNCH_NO_SLOT:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start %s: all %d child slots are in use",
							what, fdn_max_children),
					 errhint("Raise \"foundation.max_children\" in postgresql.conf and restart the server, or stop children you no longer need.")));
			break;
		case FDN_LAUNCH_DB_LIMIT:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start %s: database \"%s\" already runs %d children",
							what, get_database_name(MyDatabaseId),
							fdn_max_children_per_database),
					 errdetail("\"foundation.max_children_per_database\" limits the children each database runs, out of %d for the server (\"foundation.max_children\").",
							   fdn_max_children),
					 errhint("Stop children you no longer need, or raise \"foundation.max_children_per_database\" and reload the configuration.")));
			break;
		case FDN_LAUNCH_DB_STOPPING:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("could not start %s: its database is being dropped or renamed",
							what),
					 errhint("Try again once the DROP DATABASE or ALTER DATABASE has finished.")));
			break;
		case FDN_LAUNCH_NO_WORKER:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start %s: no free background worker slot",
							what),
					 errhint("Raise \"max_worker_processes\" in postgresql.conf and restart the server.")));
			break;
		case FDN_LAUNCH_TIMEOUT:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start %s: the worker did not start within %d ms",
							what, fdn_start_timeout_ms),
					 errhint("Check the server log; \"foundation.start_timeout\" sets how long to wait.")));
			break;
		case FDN_LAUNCH_FAILED:
			ereport(ERROR,
					(errcode(result->sqlstate ? result->sqlstate :
							 ERRCODE_INTERNAL_ERROR),
					 errmsg("could not start %s: %s", what, result->message),
					 errhint("The child reported this while starting; see the server log for details.")));
			break;
	}
}
