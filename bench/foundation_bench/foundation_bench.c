/*-------------------------------------------------------------------------
 *
 * foundation_bench.c
 *	  Raw PostgreSQL baselines for foundation's benchmarks (bench/run).
 *
 * Not part of foundation.  It gives the benchmarks something to compare
 * foundation with that does the same work with nothing but PostgreSQL's
 * own background worker machinery:
 *
 *   foundation_bench.bare_worker_cycle() registers a dynamic background
 *   worker that connects to the caller's database as the calling role and
 *   idles on its latch, waits until it has connected, then terminates it
 *   and waits until the postmaster has seen it exit.  That is what
 *   start_singleton + stop_singleton do, minus foundation's bookkeeping.
 *
 *   When preloaded, a static background worker "foundation_bench static"
 *   (bgw_restart_time = 1) that connects to database postgres and idles:
 *   the postmaster restarts it about a second after it is killed.
 *
 * Must be listed in shared_preload_libraries: the "connected" handshake
 * uses a little shared memory, and static workers only exist that way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"

PG_MODULE_MAGIC;

/* What a bare worker needs to know, passed in bgw_extra. */
typedef struct FdnbWorkerArgs
{
	Oid			dboid;
	Oid			roleoid;
	int			launcher_procno;	/* -1: a static worker */
} FdnbWorkerArgs;

/* One "connected" flag per PGPROC, set by a worker for its launcher. */
typedef struct FdnbShared
{
	int			nprocs;
	pg_atomic_uint32 ready[FLEXIBLE_ARRAY_MEMBER];
} FdnbShared;

void		_PG_init(void);
PGDLLEXPORT void fdnb_worker_main(Datum main_arg);
PGDLLEXPORT Datum fdnb_bare_worker_cycle(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(fdnb_bare_worker_cycle);

static FdnbShared *fdnb_shared = NULL;
static int	fdnb_nprocs = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static volatile sig_atomic_t fdnb_got_sigterm = false;

static Size
fdnb_shmem_size(void)
{
	return add_size(offsetof(FdnbShared, ready),
					mul_size(sizeof(pg_atomic_uint32), fdnb_nprocs));
}

static void
fdnb_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	/* Every backend and background worker has a PGPROC below this. */
	fdnb_nprocs = MaxBackends + NUM_AUXILIARY_PROCS;
	RequestAddinShmemSpace(fdnb_shmem_size());
}

static void
fdnb_shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (fdnb_nprocs == 0)
		fdnb_nprocs = MaxBackends + NUM_AUXILIARY_PROCS;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fdnb_shared = ShmemInitStruct("foundation_bench", fdnb_shmem_size(), &found);
	if (!found)
	{
		fdnb_shared->nprocs = fdnb_nprocs;
		for (i = 0; i < fdnb_nprocs; i++)
			pg_atomic_init_u32(&fdnb_shared->ready[i], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	BackgroundWorker worker;
	FdnbWorkerArgs args;

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = fdnb_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = fdnb_shmem_startup;

	/* The static worker for the postmaster-restart baseline. */
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "foundation_bench");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fdnb_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "foundation_bench static");
	snprintf(worker.bgw_type, BGW_MAXLEN, "foundation_bench static");
	args.dboid = InvalidOid;
	args.roleoid = InvalidOid;
	args.launcher_procno = -1;
	memcpy(worker.bgw_extra, &args, sizeof(args));
	RegisterBackgroundWorker(&worker);
}

static void
fdnb_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	fdnb_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Both workers: connect, say so, idle on the latch until SIGTERM.
 * Signals stay blocked while connecting, so a worker always connects
 * fully before it can stop.
 */
void
fdnb_worker_main(Datum main_arg)
{
	FdnbWorkerArgs args;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, fdnb_sigterm);

	if (args.launcher_procno < 0)
		BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	else
		BackgroundWorkerInitializeConnectionByOid(args.dboid, args.roleoid, 0);
	BackgroundWorkerUnblockSignals();

	if (args.launcher_procno >= 0 && fdnb_shared != NULL &&
		args.launcher_procno < fdnb_shared->nprocs)
	{
		pg_atomic_write_u32(&fdnb_shared->ready[args.launcher_procno], 1);
		SetLatch(&ProcGlobal->allProcs[args.launcher_procno].procLatch);
	}

	while (!fdnb_got_sigterm)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	/*
	 * A static worker must exit with a non-zero code, or the postmaster
	 * forgets it instead of restarting it.
	 */
	proc_exit(args.launcher_procno < 0 ? 1 : 0);
}

/*
 * Start a bare dynamic worker, wait until it has connected, terminate it,
 * wait until it is gone.
 */
Datum
fdnb_bare_worker_cycle(PG_FUNCTION_ARGS)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	FdnbWorkerArgs args;
	pid_t		pid;
	int			procno = MyProc->pgprocno;

	if (fdnb_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("foundation_bench is not loaded through shared_preload_libraries"),
				 errhint("Add foundation_bench to shared_preload_libraries and restart the server.")));
	if (procno < 0 || procno >= fdnb_shared->nprocs)
		elog(ERROR, "foundation_bench: pgprocno %d out of range", procno);
	pg_atomic_write_u32(&fdnb_shared->ready[procno], 0);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "foundation_bench");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fdnb_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "foundation_bench bare");
	snprintf(worker.bgw_type, BGW_MAXLEN, "foundation_bench bare");
	worker.bgw_notify_pid = MyProcPid;
	args.dboid = MyDatabaseId;
	args.roleoid = GetUserId();
	args.launcher_procno = procno;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not register background worker"),
				 errhint("Raise max_worker_processes.")));

	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start background worker")));

	/* Until it has connected, as start_singleton waits for its child. */
	while (pg_atomic_read_u32(&fdnb_shared->ready[procno]) == 0)
	{
		if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("background worker exited before it connected")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	TerminateBackgroundWorker(handle);
	status = WaitForBackgroundWorkerShutdown(handle);
	if (status != BGWH_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster died while waiting for the worker to stop")));
	pfree(handle);
	PG_RETURN_VOID();
}
