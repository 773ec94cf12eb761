/*-------------------------------------------------------------------------
 *
 * process/db_guard.c
 *	  DROP DATABASE, ALTER DATABASE ... RENAME and the like, with foundation
 *	  running in the database.
 *
 * Those statements fail while any other session is connected to the
 * database ("database ... is being accessed by other users"), and
 * foundation's supervisor and children are such sessions.  So before the
 * statement runs, a ProcessUtility hook marks the database as stopping
 * (the launcher starts nothing there, start_child refuses it), stops
 * foundation's processes connected to it, and waits for them to be gone;
 * after it, the mark is cleared, also when the statement failed, and the
 * launcher brings the supervisor back if the database still exists: what
 * runs follows the database's OID, not its name.  CREATE and DROP
 * EXTENSION foundation wake the database's supervisor at commit (DROP: it
 * stops the children, then leaves).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "process/db_guard.h"


/* How long the statement waits for foundation to leave the database. */
#define FDN_DB_STOP_MS 10000

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* The database a statement needs to itself, if foundation may be in it. */
static Oid
guarded_database(Node *stmt, bool *dropping)
{
	const char *name = NULL;
	ListCell   *lc;
	Oid			dboid;

	*dropping = false;
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			/* Outside a transaction block only: else it fails at once. */
			if (!IsTransactionBlock())
				name = ((DropdbStmt *) stmt)->dbname;
			*dropping = true;
			break;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				name = ((RenameStmt *) stmt)->subname;
			break;
		case T_CreatedbStmt:
			if (!IsTransactionBlock())
				foreach(lc, ((CreatedbStmt *) stmt)->options)
				{
					DefElem    *opt = lfirst(lc);

					if (strcmp(opt->defname, "template") == 0 && opt->arg)
						name = defGetString(opt);
				}
			break;
		case T_AlterDatabaseStmt:
			/* SET TABLESPACE moves the files: nobody may be connected. */
			if (!IsTransactionBlock())
				foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
				{
					DefElem    *opt = lfirst(lc);

					if (strcmp(opt->defname, "tablespace") == 0)
						name = ((AlterDatabaseStmt *) stmt)->dbname;
				}
			break;
		default:
			break;
	}
	if (name == NULL)
		return InvalidOid;
	dboid = get_database_oid(name, true);

	/*
	 * Only for whoever may run the statement (the database's owner, or a
	 * superuser): anyone else gets PostgreSQL's own error, and must not
	 * get to stop foundation in someone else's database first.
	 */
	if (!OidIsValid(dboid) || dboid == MyDatabaseId ||
		!pg_database_ownercheck(dboid, GetUserId()))
		return InvalidOid;
	return dboid;
}

/*
 * Does the statement create or drop the foundation extension of this
 * database?  Either way its supervisor has something to do: start (it
 * runs for good in foundation.database), or stop the children and leave.
 */
static bool
creates_or_drops_foundation(Node *stmt)
{
	DropStmt   *drop = (DropStmt *) stmt;
	ListCell   *lc;

	if (IsA(stmt, CreateExtensionStmt))
		return strcmp(((CreateExtensionStmt *) stmt)->extname, "foundation") == 0;
	if (!IsA(stmt, DropStmt) || drop->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, drop->objects)
		if (strcmp(strVal(lfirst(lc)), "foundation") == 0)
			return true;
	return false;
}

/*
 * SIGTERM to foundation's processes connected to dboid, and to the
 * children its supervisor watches (they would be restarted there);
 * returns how many are still alive.
 */
static int
signal_database(Oid dboid)
{
	FdnDatabase *db;
	pid_t		sup = 0;
	bool		launching = false;
	int			alive = 0;
	int			i;

	LWLockAcquire(fdn_shared->dblock, LW_SHARED);
	db = fdn_db_lookup(dboid, false);
	if (db != NULL)
	{
		sup = db->supervisor_pid;
		launching = db->launching;
	}
	LWLockRelease(fdn_shared->dblock);
	if (sup != 0 && BackendPidGetProc(sup) != NULL)
	{
		kill(sup, SIGTERM);
		alive++;
	}
	if (launching)
		alive++;				/* it will see the mark and leave */

	for (i = 0; i < fdn_shared->nslots; i++)
	{
		FdnChildSlot *slot = &fdn_shared->slots[i];
		pid_t		pid = slot->pid;

		if (slot->child_id == 0 ||
			(slot->dboid != dboid && slot->home_db != dboid) ||
			!fdn_slot_alive(slot))
			continue;
		if (pid != 0)
			kill(pid, SIGTERM);
		alive++;
	}
	return alive;
}

static void
stop_database(Oid dboid)
{
	FdnDatabase *db;
	TimestampTz deadline;
	int			alive;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(dboid, true);
	if (db != NULL)
		db->stopping = true;
	LWLockRelease(fdn_shared->dblock);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FDN_DB_STOP_MS);
	while ((alive = signal_database(dboid)) > 0)
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("database \"%s\" is still in use by foundation",
							get_database_name(dboid)),
					 errdetail("%d of its supervisor and children did not stop within %d ms of SIGTERM.",
							   alive, FDN_DB_STOP_MS),
					 errhint("Find them in pg_stat_activity (backend_type 'foundation supervisor' or 'foundation child'), stop them with pg_terminate_backend, and run the statement again.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * After the statement: a dropped database is forgotten with the slots of
 * its children; another one is served again.  Every supervisor is woken:
 * children of other databases that ran in this one start again (or learn
 * that their database is gone).
 */
static void
resume_database(Oid dboid, bool dropped)
{
	FdnDatabase *db;
	int			i;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	db = fdn_db_lookup(dboid, false);
	if (db != NULL)
	{
		if (dropped)
			memset(db, 0, sizeof(FdnDatabase));
		else
			db->stopping = false;
	}
	LWLockRelease(fdn_shared->dblock);

	if (dropped)
		for (i = 0; i < fdn_shared->nslots; i++)
		{
			FdnChildSlot *slot = &fdn_shared->slots[i];

			if (slot->child_id != 0 && slot->home_db == dboid &&
				!fdn_slot_alive(slot))
				fdn_slot_release(i);
		}
	fdn_wake_launcher();
	for (i = 0; i < fdn_shared->ndbs; i++)
		if (OidIsValid(fdn_shared->dbs[i].dboid))
			fdn_wake_supervisor_of(fdn_shared->dbs[i].dboid);
}

static void
run_statement(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			  ProcessUtilityContext context, ParamListInfo params,
			  QueryEnvironment *queryEnv, DestReceiver *dest,
			  QueryCompletion *qc)
{
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

static void
guard_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			  ProcessUtilityContext context, ParamListInfo params,
			  QueryEnvironment *queryEnv, DestReceiver *dest,
			  QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		dropping = false;
	volatile bool drop = false;
	Oid			dboid = InvalidOid;

	if (fdn_shared != NULL)
		dboid = guarded_database(stmt, &dropping);
	drop = dropping;
	if (!OidIsValid(dboid))
	{
		run_statement(pstmt, queryString, readOnlyTree, context, params,
					  queryEnv, dest, qc);
		if (fdn_shared != NULL && creates_or_drops_foundation(stmt))
			fdn_wake_supervisor_at_xact_end();
		return;
	}

	PG_TRY();
	{
		stop_database(dboid);
		run_statement(pstmt, queryString, readOnlyTree, context, params,
					  queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		resume_database(dboid, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	resume_database(dboid, drop);
}

void
fdn_db_guard_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = guard_utility;
}
