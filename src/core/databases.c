/*-------------------------------------------------------------------------
 *
 * core/databases.c
 *	  The databases foundation serves, in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/procarray.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "core/xact_end.h"


FdnDatabase *
fdn_db_lookup(Oid dboid, bool create)
{
	FdnDatabase *free_entry = NULL;
	int			i;

	if (fdn_shared == NULL || !OidIsValid(dboid))
		return NULL;
	for (i = 0; i < fdn_shared->ndbs; i++)
	{
		FdnDatabase *db = &fdn_shared->dbs[i];

		if (db->dboid == dboid)
			return db;
		if (!OidIsValid(db->dboid) && free_entry == NULL)
			free_entry = db;
	}
	if (!create)
		return NULL;
	if (free_entry == NULL)
	{
		if (fdn_shared->ndbs >= FDN_MAX_DATABASES)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("foundation serves at most %d databases; database %u is not served",
							FDN_MAX_DATABASES, dboid),
					 errhint("Drop the extension in databases that no longer use it.")));
			return NULL;
		}
		free_entry = &fdn_shared->dbs[fdn_shared->ndbs++];
	}
	memset(free_entry, 0, sizeof(FdnDatabase));
	free_entry->dboid = dboid;
	free_entry->supervisor_procno = -1;
	return free_entry;
}

int
fdn_db_index(void)
{
	FdnDatabase *db;
	int			index = -1;

	if (fdn_shared == NULL || !OidIsValid(MyDatabaseId))
		return -1;
	LWLockAcquire(fdn_shared->dblock, LW_SHARED);
	db = fdn_db_lookup(MyDatabaseId, false);
	LWLockRelease(fdn_shared->dblock);
	if (db == NULL)
	{
		LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
		db = fdn_db_lookup(MyDatabaseId, true);
		LWLockRelease(fdn_shared->dblock);
	}
	if (db != NULL)
		index = db - fdn_shared->dbs;
	return index;
}

/*
 * A copy of dboid's entry, read under the lock (no entry, or foundation
 * not preloaded: a zeroed one with no supervisor).
 */
static FdnDatabase
entry_copy(Oid dboid)
{
	FdnDatabase copy = {0};
	FdnDatabase *db;

	copy.supervisor_procno = -1;
	if (fdn_shared == NULL)
		return copy;
	LWLockAcquire(fdn_shared->dblock, LW_SHARED);
	db = fdn_db_lookup(dboid, false);
	if (db != NULL)
		copy = *db;
	LWLockRelease(fdn_shared->dblock);
	return copy;
}

static void
set_latch_of(int procno)
{
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

void
fdn_wake_launcher(void)
{
	if (fdn_shared != NULL)
		set_latch_of(fdn_shared->launcher_procno);
}

/*
 * Counted (as fdn_mark_work is), so that the supervisor tells a wake-up
 * with news for it from the postmaster's notices of its children's starts
 * and exits, which set its latch too (see supervisor.c).
 */
void
fdn_wake_supervisor_of(Oid dboid)
{
	FdnDatabase *db;
	int			procno = -1;

	if (fdn_shared == NULL)
		return;
	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(dboid, false);
	if (db != NULL)
	{
		db->wakes++;
		procno = db->supervisor_procno;
	}
	LWLockRelease(fdn_shared->dblock);
	set_latch_of(procno);
}

void
fdn_wake_supervisor(void)
{
	fdn_wake_supervisor_of(MyDatabaseId);
}

pid_t
fdn_supervisor_pid(Oid dboid)
{
	return entry_copy(dboid).supervisor_pid;
}

bool
fdn_db_has_work(Oid dboid)
{
	return entry_copy(dboid).has_work;
}

/* news: the supervisor has something to do now, so wake it for a pass. */
static void
mark_work(bool news)
{
	FdnDatabase *db;
	int			procno = -1;
	bool		wake_launcher = false;

	if (fdn_shared == NULL || !OidIsValid(MyDatabaseId))
		return;
	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(MyDatabaseId, true);
	/* The supervisor's own changes (its registry sweep) are no new work. */
	if (db != NULL && db->supervisor_pid != MyProcPid)
	{
		/* The supervisor reads work_gen before its pass: see supervisor.c */
		db->work_gen++;
		wake_launcher = !db->has_work || db->supervisor_pid == 0;
		db->has_work = true;
		if (news)
		{
			db->wakes++;
			procno = db->supervisor_procno;
		}
	}
	LWLockRelease(fdn_shared->dblock);
	set_latch_of(procno);
	if (wake_launcher)
		fdn_wake_launcher();
}

void
fdn_mark_work(void)
{
	mark_work(true);
}

static void
mark_work_at_end(bool committed)
{
	mark_work(true);
}

void
fdn_wake_supervisor_at_xact_end(void)
{
	fdn_at_xact_end(mark_work_at_end);
}

static void
mark_quiet_work_at_end(bool committed)
{
	mark_work(false);
}

void
fdn_mark_work_at_xact_end(void)
{
	fdn_at_xact_end(mark_quiet_work_at_end);
}

bool
fdn_db_set_flag(uint32 flag)
{
	FdnDatabase *db;
	bool		was_set = true;

	if (fdn_shared == NULL)
		return false;
	/* A burst of bids finds it set: a shared lock is enough then. */
	if (fdn_db_test_flag(flag, false))
		return false;
	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(MyDatabaseId, true);
	if (db != NULL)
	{
		was_set = (db->flags & flag) != 0;
		db->flags |= flag;
	}
	LWLockRelease(fdn_shared->dblock);
	return !was_set;
}

bool
fdn_db_test_flag(uint32 flag, bool clear)
{
	FdnDatabase *db;
	bool		set = false;

	if (fdn_shared == NULL)
		return false;
	LWLockAcquire(fdn_shared->dblock, clear ? LW_EXCLUSIVE : LW_SHARED);
	db = fdn_db_lookup(MyDatabaseId, false);
	if (db != NULL)
	{
		set = (db->flags & flag) != 0;
		if (clear)
			db->flags &= ~flag;
	}
	LWLockRelease(fdn_shared->dblock);
	return set;
}

void
fdn_db_set_has_extension(Oid dboid, bool has)
{
	FdnDatabase *db;

	if (fdn_shared == NULL)
		return;
	/* Every pass sets it: a shared lock to see that it is already so. */
	if (entry_copy(dboid).has_extension == has)
		return;
	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(dboid, has);
	if (db != NULL)
		db->has_extension = has;
	LWLockRelease(fdn_shared->dblock);
}

static int
name_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

List *
fdn_db_names_with_extension(void)
{
	Oid			oids[FDN_MAX_DATABASES];
	int			n = 0;
	int			i;
	List	   *names = NIL;

	if (fdn_shared == NULL)
		return NIL;
	LWLockAcquire(fdn_shared->dblock, LW_SHARED);
	for (i = 0; i < fdn_shared->ndbs; i++)
		if (OidIsValid(fdn_shared->dbs[i].dboid) && fdn_shared->dbs[i].has_extension)
			oids[n++] = fdn_shared->dbs[i].dboid;
	LWLockRelease(fdn_shared->dblock);
	for (i = 0; i < n; i++)
	{
		/* NULL: dropped since */
		char	   *name = get_database_name(oids[i]);

		if (name != NULL)
			names = lappend(names, name);
	}
	list_sort(names, name_cmp);
	return names;
}

bool
fdn_db_stopping(Oid dboid)
{
	return entry_copy(dboid).stopping;
}

Oid
fdn_home_database(void)
{
	return fdn_database ? get_database_oid(fdn_database, true) : InvalidOid;
}

bool
fdn_in_home_database(void)
{
	static bool known = false;
	static bool home = false;

	if (!known)
	{
		home = OidIsValid(MyDatabaseId) && MyDatabaseId == fdn_home_database();
		known = true;
	}
	return home;
}

/* Give up this database's supervisor entry (ours, if still ours). */
void
fdn_db_leave_supervisor(void)
{
	FdnDatabase *db;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(MyDatabaseId, false);
	if (db != NULL && db->supervisor_pid == MyProcPid)
	{
		db->supervisor_pid = 0;
		db->supervisor_procno = -1;
	}
	LWLockRelease(fdn_shared->dblock);
}

/*
 * Take this database's supervisor entry.  false: nothing to do here (the
 * database is being dropped or renamed, another supervisor runs, or the
 * table of databases is full).
 */
bool
fdn_db_take_supervisor(void)
{
	FdnDatabase *db;
	bool		ok = false;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(MyDatabaseId, true);
	if (db != NULL)
	{
		db->launching = false;
		if (!db->stopping &&
			(db->supervisor_pid == 0 ||
			 BackendPidGetProc(db->supervisor_pid) == NULL))
		{
			db->supervisor_pid = MyProcPid;
			db->supervisor_procno = MyProc->pgprocno;
			ok = true;
		}
	}
	LWLockRelease(fdn_shared->dblock);
	return ok;
}

void
fdn_db_keep_work(void)
{
	FdnDatabase *db;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(MyDatabaseId, false);
	if (db != NULL)
		db->has_work = true;
	LWLockRelease(fdn_shared->dblock);
	fdn_wake_launcher();
}

uint32
fdn_db_work_gen(void)
{
	return entry_copy(MyDatabaseId).work_gen;
}

uint32
fdn_db_wakes(void)
{
	return entry_copy(MyDatabaseId).wakes;
}

/*
 * Nothing to do: give the work back, unless a commit brought new work
 * since the pass began (gen was read before its snapshot, so the pass saw
 * all work marked before).  true: leave.  forget: the database has no
 * foundation, its entry goes too (unless DROP/RENAME DATABASE holds it).
 */
bool
fdn_db_give_back_work(uint32 gen, bool forget)
{
	FdnDatabase *db;
	bool		leave = false;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(MyDatabaseId, false);
	if (db != NULL && db->work_gen == gen)
	{
		db->has_work = false;
		leave = true;
		if (forget && !db->stopping && !db->launching)
			memset(db, 0, sizeof(FdnDatabase));
	}
	LWLockRelease(fdn_shared->dblock);
	return leave;
}
