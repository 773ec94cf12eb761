/*-------------------------------------------------------------------------
 *
 * process/supervisor.c
 *	  The supervisor background worker (DynamicSupervisor), one per
 *	  database that has the extension and work.
 *
 * A reconciler: foundation.child_specs says what should run, the slots in
 * shared memory say what runs.  Each pass (on a child's exit, on the end
 * of a transaction that started or stopped a child, or every
 * foundation.naptime) it applies the restart policy to every child that
 * stopped, restarts what a crash or a server restart left behind, and
 * removes registry names of dead processes.  The launcher starts it when
 * its database has work; it adopts the children still running from the
 * slots, and exits once it found nothing to supervise for a while, giving
 * its worker slot back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/bgworker.h"
#include "core/databases.h"
#include "core/ext_version.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "process/launch.h"
#include "process/supervisor.h"


/* One row of foundation.child_specs that should be running. */
typedef struct FdnRow
{
	int64		child_id;
	char	   *id;
	char	   *restart;
	char	   *module;
	char	   *args;
	char	   *dbname;
	Oid			dboid;			/* InvalidOid: no such database (yet) */
	Oid			owner;
	int			max_restarts;
	int			max_seconds;
	bool		seen;			/* a slot runs it */
} FdnRow;

/* The features' hooks, in the order _PG_init registered them. */
#define FDN_MAX_SUPERVISOR_HOOKS 16
static const FdnSupervisorHooks *hooks[FDN_MAX_SUPERVISOR_HOOKS];
static int	nhooks = 0;

void
fdn_supervisor_add_hooks(const FdnSupervisorHooks *h)
{
	if (nhooks >= FDN_MAX_SUPERVISOR_HOOKS)
		elog(ERROR, "too many foundation supervisor hooks");
	hooks[nhooks++] = h;
}

typedef enum HookKind
{
	HOOK_PASS_START,
	HOOK_CLEANUP,
	HOOK_AFTER_PASS,
	HOOK_HAS_WORK
} HookKind;

static const char *const hook_names[] = {"pass_start", "cleanup", "after_pass",
"has_work"};

/*
 * A supervisor that found nothing to do for this many passes' worth of
 * foundation.naptime exits; the launcher starts it again when its database
 * has work.  Long enough that a child restarted now and then does not make
 * it come and go.
 */
#define FDN_SUPERVISOR_IDLE_NAPS 6

/* Is this the supervisor of foundation.database (set at start)? */
static bool is_home = false;

typedef struct HookCall
{
	const FdnSupervisorHooks *hooks;
	HookKind	kind;
	long		next_ms;
} HookCall;

static void
call_hook(void *arg)
{
	HookCall   *call = arg;

	switch (call->kind)
	{
		case HOOK_PASS_START:
			call->hooks->pass_start();
			break;
		case HOOK_CLEANUP:
			call->hooks->cleanup();
			break;
		case HOOK_AFTER_PASS:
			call->next_ms = call->hooks->after_pass();
			break;
		case HOOK_HAS_WORK:
			call->next_ms = call->hooks->has_work() ? 1 : -1;
			break;
	}
}

/*
 * Run one kind of hook of every feature, each in its own subtransaction:
 * a feature's error is logged and rolls back only its own work, and the
 * other features and the children's reconciliation go on.  Returns the
 * soonest wake-up an after_pass asked for (ms), or -1; for has_work, 1 if
 * a feature has work (or failed to say), else -1.
 */
static long
run_hooks(HookKind kind)
{
	long		next_ms = -1;
	int			i;

	for (i = 0; i < nhooks; i++)
	{
		HookCall	call = {hooks[i], kind, -1};
		ErrorData  *edata;

		if ((kind == HOOK_PASS_START && !hooks[i]->pass_start) ||
			(kind == HOOK_CLEANUP && !hooks[i]->cleanup) ||
			(kind == HOOK_AFTER_PASS && !hooks[i]->after_pass) ||
			(kind == HOOK_HAS_WORK && !hooks[i]->has_work) ||
			(hooks[i]->home_only && !is_home))
			continue;
		edata = fdn_try_subxact(call_hook, &call);
		if (edata != NULL)
		{
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("foundation supervisor: the %s hook of %s failed: %s",
							hook_names[kind], hooks[i]->feature, edata->message),
					 edata->detail ? errdetail("%s", edata->detail) : 0,
					 errhint("Its work is rolled back and tried again at the next pass (an after_pass hook within a second); the children and the other features are not affected.")));
			FreeErrorData(edata);
			/*
			 * Tried again soon, not after foundation.naptime: a lease
			 * renewal that failed once must not wait until the lease is
			 * gone.
			 */
			if (kind == HOOK_AFTER_PASS && (next_ms < 0 || next_ms > 1000))
				next_ms = 1000;
			/* A feature that cannot tell keeps the supervisor. */
			if (kind == HOOK_HAS_WORK)
				next_ms = 1;
			continue;
		}
		if (call.next_ms >= 0 && (next_ms < 0 || call.next_ms < next_ms))
			next_ms = call.next_ms;
	}
	return next_ms;
}

/* An on_exit hook's error is reported; the next one still runs. */
static void
run_exit_hook(const FdnSupervisorHooks *h)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		h->on_exit();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
}

static void
supervisor_on_exit(int code, Datum arg)
{
	int			i;

	if (fdn_shared == NULL || fdn_supervisor_pid(MyDatabaseId) != MyProcPid)
		return;
	for (i = 0; i < nhooks; i++)
		if (hooks[i]->on_exit && (!hooks[i]->home_only || is_home))
			run_exit_hook(hooks[i]);
	fdn_db_leave_supervisor();
	/* The launcher may have to start another (work arrived meanwhile). */
	fdn_wake_launcher();
}

static char *
text_col(int row, int col)
{
	bool		isnull;
	Datum		d = fdn_spi_getdatum(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Load every row that should be running. */
static FdnRow *
load_rows(int *nrows)
{
	FdnRow	   *rows;
	uint64		i;
	bool		isnull;

	/*
	 * A spec names its database (a dump restored elsewhere keeps it by
	 * name); start_child binds the child it starts to its database
	 * (foundation.child_db), and the first pass that finds a database of
	 * that name binds a spec that came without one (restored from a dump);
	 * the child runs there from then on, renamed or not.  Bound specs are
	 * left alone: inserting their binding again would lock their rows (the
	 * foreign key check) against a terminate_child.  A database created later under the same name is
	 * never taken for it: whoever may create databases could otherwise make
	 * the child's owner run their procedure of the same name.
	 */
	fdn_spi_exec("INSERT INTO foundation.child_db (child_id, dboid)"
				 " SELECT c.child_id, d.oid FROM foundation.child_specs c"
				 " JOIN pg_catalog.pg_database d ON d.datname OPERATOR(pg_catalog.=) c.database"
				 " WHERE c.status OPERATOR(pg_catalog.=) 'running'"
				 " AND NOT EXISTS (SELECT FROM foundation.child_db b"
				 "   WHERE b.child_id OPERATOR(pg_catalog.=) c.child_id)"
				 " ON CONFLICT (child_id) DO NOTHING",
				 0, NULL, NULL, NULL, SPI_OK_INSERT);
	/* A renamed database: the spec (and so a dump) shows its new name. */
	fdn_spi_exec("UPDATE foundation.child_specs c SET database = d.datname"
				 " FROM foundation.child_db b, pg_catalog.pg_database d"
				 " WHERE b.child_id OPERATOR(pg_catalog.=) c.child_id"
				 " AND d.oid OPERATOR(pg_catalog.=) b.dboid"
				 " AND c.database OPERATOR(pg_catalog.<>) d.datname",
				 0, NULL, NULL, NULL, SPI_OK_UPDATE);
	fdn_spi_exec("SELECT c.child_id, c.id, c.restart, c.module, c.args::text, d.oid, c.owner,"
				 " c.max_restarts, c.max_seconds, c.database::text"
				 " FROM foundation.child_specs c"
				 " LEFT JOIN foundation.child_db b ON b.child_id OPERATOR(pg_catalog.=) c.child_id"
				 " LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) b.dboid"
				 " WHERE c.status OPERATOR(pg_catalog.=) 'running'",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	*nrows = (int) SPI_processed;
	rows = palloc0(sizeof(FdnRow) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		rows[i].child_id = DatumGetInt64(fdn_spi_getdatum(i, 1, &isnull));
		rows[i].id = text_col(i, 2);
		rows[i].restart = text_col(i, 3);
		rows[i].module = text_col(i, 4);
		rows[i].args = text_col(i, 5);
		rows[i].dboid = DatumGetObjectId(fdn_spi_getdatum(i, 6, &isnull));
		if (isnull)
			rows[i].dboid = InvalidOid;
		rows[i].owner = DatumGetObjectId(fdn_spi_getdatum(i, 7, &isnull));
		rows[i].max_restarts = DatumGetInt32(fdn_spi_getdatum(i, 8, &isnull));
		rows[i].max_seconds = DatumGetInt32(fdn_spi_getdatum(i, 9, &isnull));
		rows[i].dbname = text_col(i, 10);
	}
	return rows;
}

/*
 * A child that stays stopped: keep its row for inspection with the status
 * and last exit, and drop its name, which must not point at a dead pid.
 */
static void
mark_stopped(int64 child_id, const char *status, const char *exit_text)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = Int64GetDatum(child_id);
	values[1] = CStringGetTextDatum(exit_text);
	values[2] = CStringGetTextDatum(status);
	fdn_spi_exec("UPDATE foundation.child_specs SET status = $3, pid = NULL,"
				 " last_exit = $2 WHERE child_id = $1",
				 3, types, values, NULL, SPI_OK_UPDATE);
	fdn_spi_exec("DELETE FROM foundation.registry WHERE child_id = $1",
				 1, types, values, NULL, SPI_OK_DELETE);
}

/*
 * Apply the restart policy to a child that stopped (slot_index < 0: it
 * vanished with its slot, in a crash or a server restart).
 */
static void
handle_exit(FdnRow *row, int slot_index, FdnExitKind kind,
				const char *detail)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	char	   *exit_text = fdn_exit_text(kind, detail);
	bool		abnormal = (kind != FDN_EXIT_NORMAL);
	bool		isnull;
	int			recent;
	FdnLaunch	launch = {0};
	FdnLaunchResult res;

	values[0] = Int64GetDatum(row->child_id);
	values[1] = CStringGetTextDatum(exit_text);

	/*
	 * Skip a row someone else is changing (terminate_child in an open
	 * transaction): its end wakes us again.
	 */
	fdn_spi_exec("SELECT count(*) FILTER (WHERE t > now() - make_interval(secs => max_seconds))::int4"
				 " FROM foundation.child_specs, unnest(restart_times) t"
				 " WHERE child_id = $1",
				 1, types, values, NULL, SPI_OK_SELECT);
	recent = DatumGetInt32(fdn_spi_getdatum(0, 1, &isnull));
	fdn_spi_exec("SELECT 1 FROM foundation.child_specs WHERE child_id = $1"
				 " FOR NO KEY UPDATE SKIP LOCKED",
				 1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;

	if (slot_index >= 0)
	{
		/* A child restarted here keeps its lease (cluster singletons). */
		FdnChildSlot *slot = &fdn_shared->slots[slot_index];

		launch.fence_token = slot->fence_token;
		launch.lease_deadline = pg_atomic_read_u64(&slot->lease_deadline);
		fdn_slot_release(slot_index);
	}

	/*
	 * A child that stopped itself because its lease ended is not restarted
	 * here: another member may run it by now.  Its feature (cluster/) fences
	 * the member and rejoins.
	 */
	if (kind == FDN_EXIT_FENCED)
	{
		elog(LOG, "foundation supervisor: child " INT64_FORMAT " (\"%s\") fenced itself; not restarted here",
			 row->child_id, row->id);
		mark_stopped(row->child_id, "exited", exit_text);
		return;
	}

	if (strcmp(row->restart, "temporary") == 0)
	{
		elog(DEBUG1, "foundation supervisor: temporary child " INT64_FORMAT " exited (%s), removed",
			 row->child_id, exit_text);
		fdn_spi_exec("DELETE FROM foundation.child_specs WHERE child_id = $1",
					 1, types, values, NULL, SPI_OK_DELETE);
		return;
	}
	if (strcmp(row->restart, "transient") == 0 && !abnormal)
	{
		elog(DEBUG1, "foundation supervisor: transient child " INT64_FORMAT " exited normally",
			 row->child_id);
		mark_stopped(row->child_id, "exited", exit_text);
		return;
	}

	/* Restart intensity: at most max_restarts within max_seconds. */
	if (recent >= row->max_restarts)
	{
		ereport(WARNING,
				(errmsg("foundation child " INT64_FORMAT " (\"%s\") reached its restart intensity and is marked failed",
						row->child_id, row->id),
				 errdetail("It stopped more than %d times within %d seconds; last exit: %s.",
						   row->max_restarts, row->max_seconds, exit_text),
				 errhint("Fix the cause, then start it again with foundation.start_child or foundation.start_singleton.")));
		mark_stopped(row->child_id, "failed", exit_text);
		pg_atomic_fetch_add_u64(&fdn_shared->intensity_failures, 1);
		return;
	}

	/*
	 * Its database is missing: not restored yet (a dump of this database
	 * restored before the child's), or dropped since the child was bound to
	 * it.  The row waits as it is.
	 */
	if (!OidIsValid(row->dboid))
	{
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("foundation supervisor cannot start child " INT64_FORMAT " (\"%s\"): its database \"%s\" does not exist",
						row->child_id, row->id, row->dbname),
				 errdetail("A child runs only in the database it was first started in on this server; one created again under the same name is not taken for it."),
				 errhint("It starts once its database is restored; stop it with foundation.terminate_child(" INT64_FORMAT ") if the database is gone for good.",
						 row->child_id)));
		return;
	}

	launch.child_id = row->child_id;
	launch.label = row->id;
	launch.dboid = row->dboid;
	launch.roleoid = row->owner;
	launch.module = row->module;
	launch.args = row->args;
	launch.validate = false;
	res = fdn_launch_child(&launch);
	if (res.status != FDN_LAUNCH_OK)
	{
		/* Leave the row as it is: the next pass tries again. */
		ereport(WARNING,
				(errmsg("foundation supervisor could not restart child " INT64_FORMAT " (\"%s\")",
						row->child_id, row->id),
				 errdetail("%s", res.message ? res.message :
						   res.status == FDN_LAUNCH_NO_SLOT ? "All foundation.max_children slots are in use." :
						   res.status == FDN_LAUNCH_DB_LIMIT ? "This database runs foundation.max_children_per_database children already." :
						   res.status == FDN_LAUNCH_DB_STOPPING ? "Its database is being dropped or renamed." :
						   res.status == FDN_LAUNCH_NO_WORKER ? "No free background worker slot." :
						   "The worker did not start in time."),
				 errhint("It will be retried every \"foundation.naptime\".")));
		return;
	}
	pg_atomic_fetch_add_u64(&fdn_shared->restarts, 1);
	elog(DEBUG1, "foundation supervisor: restarted child " INT64_FORMAT " (%s) as pid %d",
		 row->child_id, exit_text, (int) res.pid);
	values[2] = Int32GetDatum(res.pid);
	fdn_spi_exec("UPDATE foundation.child_specs SET pid = $3, started_at = now(),"
				 " restart_count = restart_count + 1, last_exit = $2,"
				 " restart_times = ARRAY(SELECT t FROM unnest(restart_times) t"
				 "   WHERE t > now() - make_interval(secs => max_seconds)) || now()"
				 " WHERE child_id = $1",
				 3, types, values, NULL, SPI_OK_UPDATE);
	fdn_spi_exec("UPDATE foundation.registry SET pid = $3,"
				 " metadata = CASE WHEN jsonb_typeof(metadata) = 'object' AND metadata ? 'pid'"
				 "   THEN jsonb_set(metadata, '{pid}', to_jsonb($3)) ELSE metadata END"
				 " WHERE child_id = $1",
				 3, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * One pass; returns ms until a feature needs the next one, or -1.  *work:
 * whether this database still has something to supervise.
 */
static long
reconcile(bool *work, bool *has_extension)
{
	long		next_deadline_ms = -1;
	FdnPrivState priv;
	FdnRow	   *rows = NULL;
	int			nrows = 0;
	int			i;
	int			r;
	bool		installed;
	bool		live = false;
	Oid			ext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reconciling children");
	fdn_priv_begin(&priv);

	ext = fdn_current_extension();
	*has_extension = OidIsValid(ext);
	/* Another version's SQL: idle, with one warning, until it is updated. */
	installed = fdn_ext_version_ready(ext, "foundation supervisor");
	if (installed)
	{
		(void) run_hooks(HOOK_PASS_START);
		rows = load_rows(&nrows);
	}

	for (i = 0; i < fdn_shared->nslots; i++)
	{
		FdnChildSlot *slot = &fdn_shared->slots[i];
		int64		child_id = slot->child_id;
		FdnRow	   *row = NULL;

		/* Other databases' children are their supervisors' business. */
		if (child_id == 0 || slot->home_db != MyDatabaseId)
			continue;

		/*
		 * DROP EXTENSION took the specs: the children go with them, also
		 * when it was created again since (its child ids start anew).
		 */
		if (slot->ext_oid != ext)
		{
			if (fdn_slot_alive(slot) && slot->pid != 0)
			{
				kill(slot->pid, SIGTERM);
				live = true;
			}
			else if (!fdn_slot_alive(slot))
				fdn_slot_release(i);
			else
				live = true;
			continue;
		}
		for (r = 0; r < nrows; r++)
			if (rows[r].child_id == child_id)
				row = &rows[r];

		/*
		 * A worker the postmaster never started (its launcher gave up or
		 * died while waiting): count it as stopped.  Should it start after
		 * all, it finds its slot reused and leaves.
		 */
		if (slot->pid == 0 && !slot->exited &&
			TimestampDifferenceExceeds(slot->launched_at, GetCurrentTimestamp(),
									   2 * fdn_start_timeout_ms) &&
			!TransactionIdIsInProgress(slot->creator_xid))
		{
			slot->exit_kind = FDN_EXIT_ERROR;
			strlcpy(slot->exit_detail, "the worker never started",
					FDN_EXIT_DETAIL_LEN);
			slot->exited = true;
		}

		if (fdn_slot_alive(slot))
		{
			live = true;
			if (row)
				row->seen = true;
			continue;
		}
		if (row)
		{
			row->seen = true;
			handle_exit(row, i, slot->exit_kind, slot->exit_detail);
		}
		else if (!TransactionIdIsInProgress(slot->creator_xid))
		{
			/* Gone from the table (or never committed): forget it. */
			fdn_slot_release(i);
		}
		else
			live = true;
	}

/* Rows nothing runs: left behind by a crash or a server restart. */
	for (r = 0; r < nrows; r++)
		if (!rows[r].seen)
			handle_exit(&rows[r], -1, FDN_EXIT_LOST, "");

	/*
	 * Names of dead processes that are not children go.  The pids are
	 * walked one index descent each (the distinct pids, not every name), so
	 * a pass costs the same with a hundred thousand names of live sessions
	 * as with ten.
	 */
	if (installed)
	{
		Datum		node = CStringGetTextDatum(fdn_node());

		fdn_spi_exec("WITH RECURSIVE p(pid) AS ("
					 "  (SELECT pid FROM foundation.registry"
					 "    WHERE child_id IS NULL AND node = $1 ORDER BY pid LIMIT 1)"
					 "  UNION ALL"
					 "  SELECT (SELECT r.pid FROM foundation.registry r"
					 "           WHERE r.child_id IS NULL AND r.node = $1 AND r.pid > p.pid"
					 "           ORDER BY r.pid LIMIT 1)"
					 "    FROM p WHERE p.pid IS NOT NULL)"
					 " DELETE FROM foundation.registry r USING p"
					 " WHERE p.pid IS NOT NULL AND NOT foundation.pid_alive(p.pid)"
					 "   AND r.child_id IS NULL AND r.node = $1 AND r.pid = p.pid",
					 1, (Oid[]) {TEXTOID}, &node, NULL, SPI_OK_DELETE);

		/*
		 * A name that follows a running child carries its pid and this
		 * node, also when the name arrived after the child started (rows
		 * restored by pg_restore, one table at a time, come with the old
		 * server's pid and node).
		 */
		fdn_spi_exec("UPDATE foundation.registry r SET pid = s.pid, node = $1,"
					 " metadata = CASE WHEN jsonb_typeof(r.metadata) = 'object' AND r.metadata ? 'pid'"
					 "   THEN r.metadata || jsonb_build_object('pid', s.pid)"
					 "     || CASE WHEN r.metadata ? 'node' THEN jsonb_build_object('node', $1) ELSE '{}' END"
					 "   ELSE r.metadata END"
					 " FROM foundation._child_slots() s"
					 " WHERE s.child_id = r.child_id AND s.alive AND s.pid IS NOT NULL"
					 " AND (r.pid <> s.pid OR r.node <> $1)",
					 1, (Oid[]) {TEXTOID}, &node, NULL, SPI_OK_UPDATE);
	}

	/* What the features keep past its time goes. */
	if (installed)
		(void) run_hooks(HOOK_CLEANUP);

	/*
	 * Work: children that should run or still run, names of sessions to
	 * remove once they end, and what the features keep (deadlines, rows
	 * past their retention).  foundation.database always has work while
	 * the extension is there: it holds what is once per server.  A
	 * database whose SQL awaits ALTER EXTENSION foundation UPDATE keeps its
	 * supervisor, which resumes once the update is done.
	 */
	*work = live || nrows > 0 || (installed && is_home) ||
		(*has_extension && !installed);
	if (installed && !*work)
	{
		Datum		node = CStringGetTextDatum(fdn_node());
		bool		isnull;

		fdn_spi_exec("SELECT EXISTS (SELECT FROM foundation.registry"
					 " WHERE child_id IS NULL AND node = $1)",
					 1, (Oid[]) {TEXTOID}, &node, NULL, SPI_OK_SELECT);
		*work = DatumGetBool(fdn_spi_getdatum(0, 1, &isnull));
	}
	if (installed && !*work)
		*work = run_hooks(HOOK_HAS_WORK) > 0;

	fdn_priv_end(&priv);

	/* The features' work after the pass: deadlines, the lease. */
	if (installed)
		next_deadline_ms = run_hooks(HOOK_AFTER_PASS);

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return next_deadline_ms;
}

/* What one pass tells the loop. */
typedef struct PassResult
{
	long		next_ms;		/* ms until a feature needs the next pass */
	bool		work;			/* something to supervise */
	bool		installed;		/* the extension is there */
} PassResult;

/* A pass for fdn_worker_pass. */
static void
reconcile_pass(void *arg)
{
	PassResult *res = arg;

	res->next_ms = reconcile(&res->work, &res->installed);
}

void
fdn_supervisor_main(Datum main_arg)
{
	MemoryContext loopcxt;
	bool		probe;
	char	   *dbname;
	TimestampTz busy_at;
	bool		ever_busy;

	memcpy(&probe, MyBgworkerEntry->bgw_extra, sizeof(bool));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg),
											  InvalidOid, 0);

	/*
	 * Our queries are small and run every pass; their estimates can still
	 * pass jit_above_cost on big tables, and compiling them every time cost
	 * the supervisor 75 % of its CPU in benchmark 12.
	 */
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	StartTransactionCommand();
	dbname = MemoryContextStrdup(TopMemoryContext,
								 get_database_name(MyDatabaseId));
	is_home = MyDatabaseId == fdn_home_database();
	CommitTransactionCommand();
	pgstat_report_appname(psprintf("foundation supervisor %s", dbname));

	before_shmem_exit(supervisor_on_exit, (Datum) 0);
	if (!fdn_db_take_supervisor())
		proc_exit(0);
	if (!probe)
		elog(LOG, "foundation supervisor started in database \"%s\"", dbname);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "foundation supervisor loop",
									ALLOCSET_DEFAULT_SIZES);
	busy_at = GetCurrentTimestamp();
	ever_busy = false;
	for (;;)
	{
		PassResult	res = {-1, true, true};
		uint32		gen;
		uint32		wakes;
		long		wait_ms;
		TimestampTz next_pass_at;

		CHECK_FOR_INTERRUPTS();
		fdn_worker_reload();
		gen = fdn_db_work_gen();
		wakes = fdn_db_wakes();
		fdn_worker_pass(reconcile_pass, &res, loopcxt);
		/* what this member advertises to the cluster (cluster/members.c) */
		fdn_db_set_has_extension(MyDatabaseId, res.installed);

		/*
		 * Nothing to supervise: a probe (the launcher looking at every
		 * database at server start) leaves at once, and so do the
		 * supervisor of a database without the extension and one that
		 * never had work (started for a CREATE EXTENSION, say: it would
		 * hold a worker slot that children may need); another after
		 * FDN_SUPERVISOR_IDLE_NAPS times foundation.naptime of it, so that
		 * work that comes and goes does not start and stop it each time.
		 */
		if (res.work)
		{
			busy_at = GetCurrentTimestamp();
			ever_busy = true;
		}
		else if ((probe || !res.installed || !ever_busy ||
				  TimestampDifferenceExceeds(busy_at, GetCurrentTimestamp(),
											 FDN_SUPERVISOR_IDLE_NAPS * fdn_naptime_ms)) &&
				 fdn_db_give_back_work(gen, !res.installed))
		{
			if (!probe)
				elog(LOG, "foundation supervisor of database \"%s\" has nothing to supervise; it exits",
					 dbname);
			proc_exit(0);
		}
		else if (probe)
			busy_at = GetCurrentTimestamp();
		if (probe && res.work)
		{
			fdn_db_keep_work();
			elog(LOG, "foundation supervisor started in database \"%s\"", dbname);
		}
		probe = false;

		/* Wake when a feature asked to, too. */
		wait_ms = fdn_naptime_ms;
		if (res.next_ms >= 0 && res.next_ms < wait_ms)
			wait_ms = Max(res.next_ms, 10);
		next_pass_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   wait_ms);

		/*
		 * Pass again when the time is up, or when woken with news, which
		 * databases.c counts: the end of a transaction that started or
		 * stopped a child or changed a feature's state, a child's exit, a
		 * feature's news.  The postmaster also sets our latch when a child
		 * starts and when it exits (bgw_notify_pid): the child reports its
		 * exit itself, so those alone are no reason for a pass.  A start
		 * and a stop used to bring four passes, now two.
		 */
		for (;;)
		{
			long		left_ms;
			int			rc;

			left_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
													  next_pass_at);
			if (left_ms <= 0)
				break;
			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						   left_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			if (rc & WL_TIMEOUT)
				break;
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending || fdn_db_wakes() != wakes)
				break;
		}
	}
}
