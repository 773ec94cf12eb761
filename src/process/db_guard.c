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
 * when the transaction ends, committed or not, the mark is cleared, and
 * the launcher brings the supervisor back if the database still exists:
 * what runs follows the database's OID, not its name.
 *
 * DROP EXTENSION foundation stops the database's supervisor and children
 * the same way first; CREATE EXTENSION foundation marks the database as
 * having work, so its supervisor starts at commit.
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
#include "core/xact_end.h"
#include "process/db_guard.h"


/* How long the statement waits for foundation to leave the database. */
#define FDN_DB_STOP_MS 10000

static ProcessUtility_hook_type prev_utility_hook = NULL;

/*
 * The databases this transaction stopped foundation in: they are served
 * again when it ends, committed or not (a DROP DATABASE that committed
 * leaves a database the launcher then forgets).
 */
#define MAX_STOPPED 4
static Oid	stopped[MAX_STOPPED];
static int	nstopped = 0;

/* The database a statement needs to itself, if foundation may be in it. */
static Oid
guarded_database(Node *stmt)
{
	const char *name = NULL;
	ListCell   *lc;
	Oid			dboid;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			/* Outside a transaction block only: else it fails at once. */
			if (!IsTransactionBlock())
				name = ((DropdbStmt *) stmt)->dbname;
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

/* Does the statement name the foundation extension (CREATE or DROP)? */
static bool
names_foundation(Node *stmt)
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
 * SIGTERM to dboid's supervisor and the children it watches, and (all:
 * the database itself is needed alone) to every child connected to dboid,
 * whoever watches it; returns how many are still alive.
 */
static int
signal_database(Oid dboid, bool all)
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
			!(slot->home_db == dboid || (all && slot->dboid == dboid)) ||
			!fdn_slot_alive(slot))
			continue;
		if (pid != 0)
			kill(pid, SIGTERM);
		alive++;
	}
	return alive;
}

/*
 * When the transaction ends: serve the stopped databases again.  The
 * launcher starts their supervisors, which restore the children; every
 * supervisor is woken, for children of other databases that ran there.
 */
static void
resume_stopped(bool committed)
{
	int			i;

	LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
	for (i = 0; i < nstopped; i++)
	{
		FdnDatabase *db = fdn_db_lookup(stopped[i], false);

		if (db != NULL)
			db->stopping = false;
	}
	LWLockRelease(fdn_shared->dblock);
	nstopped = 0;

	fdn_wake_launcher();
	for (i = 0; i < fdn_shared->ndbs; i++)
		if (OidIsValid(fdn_shared->dbs[i].dboid))
			fdn_wake_supervisor_of(fdn_shared->dbs[i].dboid);
}

/*
 * Stop foundation in dboid until the transaction ends: nothing starts
 * there (launcher, start_child, restarts), and what runs is asked to stop
 * and waited for, at most FDN_DB_STOP_MS.
 */
static void
stop_database(Oid dboid, bool all)
{
	FdnDatabase *db;
	TimestampTz deadline;
	int			alive;
	int			i;

	for (i = 0; i < nstopped; i++)
		if (stopped[i] == dboid)
			break;
	if (i == nstopped)
	{
		if (nstopped >= MAX_STOPPED)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many databases stopped in one transaction"),
					 errhint("Commit, then run the statement again.")));
		LWLockAcquire(fdn_shared->dblock, LW_EXCLUSIVE);
		db = fdn_db_lookup(dboid, true);
		if (db != NULL)
			db->stopping = true;
		LWLockRelease(fdn_shared->dblock);
		stopped[nstopped++] = dboid;
		fdn_at_xact_end(resume_stopped);
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FDN_DB_STOP_MS);
	while ((alive = signal_database(dboid, all)) > 0)
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

static void
extension_created(bool committed)
{
	if (committed)
		fdn_db_set_has_extension(MyDatabaseId, true);
}

static void
extension_dropped(bool committed)
{
	if (committed)
		fdn_db_set_has_extension(MyDatabaseId, false);
}

static void
guard_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			  ProcessUtilityContext context, ParamListInfo params,
			  QueryEnvironment *queryEnv, DestReceiver *dest,
			  QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (fdn_shared != NULL)
	{
		Oid			dboid = guarded_database(stmt);
		Oid			ext;

		if (OidIsValid(dboid))
			stop_database(dboid, true);

		/*
		 * DROP EXTENSION: the supervisor and the children would read the
		 * tables being dropped, each holding locks the other waits for (a
		 * deadlock).  They stop first; if the drop rolls back, they come
		 * back.  Only for the extension's owner (or a superuser).
		 */
		if (IsA(stmt, DropStmt) && names_foundation(stmt) &&
			OidIsValid(ext = fdn_current_extension()) &&
			pg_extension_ownercheck(ext, GetUserId()))
			stop_database(MyDatabaseId, false);
	}

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	/*
	 * CREATE EXTENSION: the supervisor has something to do at commit.
	 * Either statement changes what this member tells the cluster it has.
	 */
	if (fdn_shared != NULL && names_foundation(stmt))
	{
		if (IsA(stmt, CreateExtensionStmt))
		{
			fdn_wake_supervisor_at_xact_end();
			fdn_at_xact_end(extension_created);
		}
		else
			fdn_at_xact_end(extension_dropped);
	}
}

void
fdn_db_guard_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = guard_utility;
}
