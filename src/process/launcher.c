/*-------------------------------------------------------------------------
 *
 * process/launcher.c
 *	  The launcher: one static worker per server that runs a supervisor in
 *	  each database that has foundation and work.
 *
 * The launcher connects to no database: it reads pg_database, a shared
 * catalog, and the table of databases in shared memory (core/databases.h).
 * A database has work once a commit there said so (fdn_mark_work); the
 * launcher then starts its supervisor, a dynamic worker connected by OID,
 * and starts it again if it dies while the database still has work.  A
 * supervisor with nothing to do gives the work back and exits, so a
 * database with the extension and nothing to supervise holds no worker.
 *
 * At server start (and after a crash) shared memory is empty and nothing
 * says which databases have work.  The launcher then probes every database
 * that accepts connections, two at a time: a probe is a supervisor that
 * leaves at once when its database has no extension or nothing to
 * supervise, and otherwise stays as its supervisor, restoring the children
 * the restart left behind.  Template databases are never probed: a worker
 * connected to one would make CREATE DATABASE fail.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/bgworker.h"
#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "process/child_main.h"
#include "process/launcher.h"


/* How many probes run at once, and how soon a supervisor is started again. */
#define FDN_MAX_PROBES 2
#define FDN_RESTART_DELAY_MS 1000

/* A database as pg_database lists it. */
typedef struct KnownDb
{
	Oid			dboid;
	NameData	name;
	bool		connectable;	/* datallowconn and not a template */
} KnownDb;

/*
 * A worker this launcher started: running (handle set), or stopped less
 * than FDN_RESTART_DELAY_MS after it started (a reminder not to start it
 * again in a tight loop); else the entry is free.
 */
typedef struct Started
{
	Oid			dboid;
	bool		probe;
	TimestampTz at;
	BackgroundWorkerHandle *handle; /* NULL: stopped */
} Started;

static bool
started_recently(Started *st, TimestampTz now)
{
	return OidIsValid(st->dboid) &&
		!TimestampDifferenceExceeds(st->at, now, FDN_RESTART_DELAY_MS);
}

static KnownDb *known = NULL;
static int	nknown = 0;
static Started *started = NULL;
static int	nstarted = 0;

/* Databases still to probe (server start). */
static Oid *to_probe = NULL;
static int	nto_probe = 0;

void
fdn_register_launcher(void)
{
	fdn_register_static_worker("fdn_launcher_main", "foundation launcher", 1);
}

static void
launcher_on_exit(int code, Datum arg)
{
	if (fdn_shared && fdn_shared->launcher_pid == MyProcPid)
	{
		fdn_shared->launcher_procno = -1;
		fdn_shared->launcher_pid = 0;
	}
}

/* Read pg_database into known[] (TopMemoryContext). */
static void
scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			cap = 16;
	KnownDb    *list = MemoryContextAlloc(TopMemoryContext, sizeof(KnownDb) * cap);
	int			n = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (n == cap)
		{
			cap *= 2;
			list = repalloc(list, sizeof(KnownDb) * cap);
		}
		list[n].dboid = d->oid;
		list[n].name = d->datname;
		list[n].connectable = d->datallowconn && !d->datistemplate;
		n++;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	if (known)
		pfree(known);
	known = list;
	nknown = n;
}

static KnownDb *
known_db(Oid dboid)
{
	int			i;

	for (i = 0; i < nknown; i++)
		if (known[i].dboid == dboid)
			return &known[i];
	return NULL;
}

/* The worker started for dboid that runs, or stopped only just. */
static Started *
started_for(Oid dboid)
{
	int			i;
	TimestampTz now = GetCurrentTimestamp();

	for (i = 0; i < nstarted; i++)
		if (started[i].dboid == dboid &&
			(started[i].handle || started_recently(&started[i], now)))
			return &started[i];
	return NULL;
}

/*
 * A dropped database is forgotten, with the slots of its children, which
 * ended with it (DROP DATABASE stopped them; see db_guard.c).
 */
static void
forget_dropped(void)
{
	int			i;
	int			s;

	for (i = 0; i < fdn_shared->ndbs; i++)
	{
		FdnDatabase *db = &fdn_shared->dbs[i];
		Oid			dboid;

		LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
		dboid = db->dboid;
		if (!OidIsValid(dboid) || known_db(dboid) != NULL || db->stopping ||
			(db->supervisor_pid != 0 && BackendPidGetProc(db->supervisor_pid)))
		{
			LWLockRelease(fdn_shared->dblock);
			continue;
		}
		memset(db, 0, sizeof(FdnDatabase));
		LWLockRelease(fdn_shared->dblock);

		for (s = 0; s < fdn_shared->nslots; s++)
		{
			FdnChildSlot *slot = &fdn_shared->slots[s];

			if (slot->child_id != 0 && slot->home_db == dboid &&
				!fdn_slot_alive(slot))
				fdn_slot_release(s);
		}
		elog(DEBUG1, "foundation launcher: database %u is gone, forgotten", dboid);
	}
}

/* Workers that stopped: forget them, and any launch they left pending. */
static void
reap_started(void)
{
	int			i;

	for (i = 0; i < nstarted; i++)
	{
		Started    *st = &started[i];
		pid_t		pid;
		FdnDatabase *db;

		if (st->handle == NULL ||
			GetBackgroundWorkerPid(st->handle, &pid) != BGWH_STOPPED)
			continue;
		LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
		db = fdn_db_lookup(st->dboid, false);
		if (db != NULL)
			db->launching = false;
		LWLockRelease(fdn_shared->dblock);
		pfree(st->handle);
		st->handle = NULL;
		/* A probe that left did its job: its database may start at once. */
		if (st->probe || !started_recently(st, GetCurrentTimestamp()))
			st->dboid = InvalidOid;
	}
}

/* Start the supervisor of db (a probe: it leaves if there is nothing). */
static bool
start_supervisor(KnownDb *db, bool probe)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	Started    *st = NULL;
	MemoryContext oldcxt;
	bool		registered;
	int			i;

	fdn_bgworker_init(&worker, "fdn_supervisor_main", "foundation supervisor",
					  BGW_NEVER_RESTART);
	fdn_clip_copy(worker.bgw_name,
				  psprintf("foundation supervisor %s", NameStr(db->name)),
				  BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(db->dboid);
	memcpy(worker.bgw_extra, &probe, sizeof(bool));
	worker.bgw_notify_pid = MyProcPid;
	/* The handle is kept until the worker stops. */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(oldcxt);
	if (!registered)
	{
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("foundation launcher could not start the supervisor of database \"%s\": no free background worker slot",
						NameStr(db->name)),
				 errhint("Raise \"max_worker_processes\" in postgresql.conf and restart the server; the launcher tries again every \"foundation.naptime\".")));
		return false;
	}
	for (i = 0; i < nstarted; i++)
		if (started[i].handle == NULL &&
			!started_recently(&started[i], GetCurrentTimestamp()))
			st = &started[i];
	if (st == NULL)
	{
		started = started ?
			repalloc(started, sizeof(Started) * (nstarted + 1)) :
			MemoryContextAlloc(TopMemoryContext, sizeof(Started));
		st = &started[nstarted++];
	}
	st->dboid = db->dboid;
	st->probe = probe;
	st->at = GetCurrentTimestamp();
	st->handle = handle;
	return true;
}

/*
 * Start the supervisor of every database that has work and none, and
 * probe what is left to probe.  Returns ms until it must look again (-1:
 * only when woken or after foundation.naptime).
 */
static long
launch_pass(void)
{
	long		next_ms = -1;
	int			nprobes = 0;
	int			i;

	/* A probe that found work stays as the supervisor: no probe then. */
	for (i = 0; i < nstarted; i++)
		if (started[i].handle && started[i].probe)
		{
			FdnDatabase *db;

			LWLockAcquire(fdn_shared->dblock, LW_SHARED);
			db = fdn_db_lookup(started[i].dboid, false);
			if (db == NULL || !db->has_work)
				nprobes++;
			LWLockRelease(fdn_shared->dblock);
		}

	for (i = 0; i < fdn_shared->ndbs; i++)
	{
		FdnDatabase *db = &fdn_shared->dbs[i];
		KnownDb    *k;
		Started    *st;
		bool		want;
		Oid			dboid;

		LWLockAcquire(fdn_shared->dblock, LW_SHARED);
		dboid = db->dboid;
		want = OidIsValid(dboid) && db->has_work && !db->stopping &&
			!db->launching &&
			(db->supervisor_pid == 0 || BackendPidGetProc(db->supervisor_pid) == NULL);
		LWLockRelease(fdn_shared->dblock);
		if (!want || (k = known_db(dboid)) == NULL || !k->connectable)
			continue;
		/* Starting, stopping, or died at once: not in a tight loop. */
		st = started_for(dboid);
		if (st != NULL)
		{
			if (st->handle == NULL)
				next_ms = FDN_RESTART_DELAY_MS;
			continue;
		}
		LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
		db->launching = true;
		LWLockRelease(fdn_shared->dblock);
		if (!start_supervisor(k, false))
		{
			LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
			db->launching = false;
			LWLockRelease(fdn_shared->dblock);
			break;
		}
		elog(DEBUG1, "foundation launcher: started the supervisor of database \"%s\"",
			 NameStr(k->name));
	}

	while (nto_probe > 0 && nprobes < FDN_MAX_PROBES)
	{
		Oid			dboid = to_probe[--nto_probe];
		KnownDb    *k = known_db(dboid);
		FdnDatabase *db;
		bool		skip;

		if (k == NULL || !k->connectable || started_for(dboid) != NULL)
			continue;
		LWLockAcquire(fdn_shared->dblock, LW_SHARED);
		db = fdn_db_lookup(dboid, false);
		skip = db != NULL && (db->stopping || db->launching || db->supervisor_pid != 0);
		LWLockRelease(fdn_shared->dblock);
		if (skip)
			continue;
		if (!start_supervisor(k, true))
		{
			to_probe[nto_probe++] = dboid;	/* tried again later */
			break;
		}
		nprobes++;
	}
	if (nto_probe > 0 && (next_ms < 0 || next_ms > FDN_RESTART_DELAY_MS))
		next_ms = FDN_RESTART_DELAY_MS;
	return next_ms;
}

void
fdn_launcher_main(Datum main_arg)
{
	int			i;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* No database: pg_database is a shared catalog. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("foundation launcher");

	before_shmem_exit(launcher_on_exit, (Datum) 0);
	fdn_shared->launcher_pid = MyProcPid;
	fdn_shared->launcher_procno = MyProc->pgprocno;

	/*
	 * A launcher before us (terminated) may have left launches pending
	 * that never start: forget them.  One that does start anyway finds
	 * our supervisor in the entry and leaves (supervisor.c, take_entry).
	 */
	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	for (i = 0; i < fdn_shared->ndbs; i++)
		fdn_shared->dbs[i].launching = false;
	LWLockRelease(fdn_shared->dblock);

	/* Every database that accepts connections may have children to restore. */
	scan_databases();
	to_probe = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * Max(nknown, 1));
	for (i = nknown - 1; i >= 0; i--)
		if (known[i].connectable)
			to_probe[nto_probe++] = known[i].dboid;

	for (;;)
	{
		long		wait_ms = fdn_naptime_ms;
		long		next_ms;

		CHECK_FOR_INTERRUPTS();
		fdn_worker_reload();
		scan_databases();
		reap_started();
		forget_dropped();
		next_ms = launch_pass();
		if (next_ms >= 0 && next_ms < wait_ms)
			wait_ms = next_ms;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
