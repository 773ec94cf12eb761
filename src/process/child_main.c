/*-------------------------------------------------------------------------
 *
 * process/child_main.c
 *	  The child background worker: runs CALL module(args) as its role.
 *
 * The child connects to its database as the role that started it, so
 * current_user inside the module is that role and foundation grants it no
 * other rights.  It runs the module the way a top-level CALL from a client
 * runs: through a portal, non-atomic, so a procedure may COMMIT inside its
 * loop.  It records why it stopped in its slot for the supervisor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "core/databases.h"
#include "core/jsonb_util.h"
#include "core/shmem.h"
#include "process/child_fence.h"
#include "process/child_main.h"


static FdnChildSlot *my_slot = NULL;
static volatile sig_atomic_t got_sigterm = false;

/* SIGTERM: remember why, then behave exactly like die(). */
static void
child_sigterm(SIGNAL_ARGS)
{
	got_sigterm = true;
	die(postgres_signal_arg);
}

/*
 * A reload applies at the child's next commit.  The module is user code
 * that may loop for ever: it has no idle point between client commands
 * where a session would reload, but a commit ends its unit of work, and the
 * settings changed there are kept from the next transaction on.  A
 * configuration file with errors is logged and changes nothing, so this
 * raises no error at commit.
 */
static void
child_reload_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * Runs late in proc_exit (registered before the connection, so after the
 * transaction was aborted and its locks released): say why we stopped and
 * wake the supervisor.
 */
static void
child_on_exit(int code, Datum arg)
{
	FdnChildSlot *slot = my_slot;

	if (slot == NULL)
		return;
	/* Stopped for its lease: fenced, not crashed (never restarted here). */
	if (fdn_child_fenced())
	{
		fdn_child_fence_report();
		slot->exit_kind = FDN_EXIT_FENCED;
		strlcpy(slot->exit_detail, "its lease on this member ended",
				FDN_EXIT_DETAIL_LEN);
		pg_atomic_fetch_add_u32(&fdn_shared->fenced_count, 1);
	}
	else if (slot->exit_kind == FDN_EXIT_NONE)
	{
		if (got_sigterm)
			slot->exit_kind = FDN_EXIT_TERMINATED;
		else if (code != 0)
		{
			slot->exit_kind = FDN_EXIT_ERROR;
			if (slot->exit_detail[0] == '\0')
				strlcpy(slot->exit_detail, "the worker exited with a fatal error",
						FDN_EXIT_DETAIL_LEN);
		}
		else
			slot->exit_kind = FDN_EXIT_NORMAL;
	}
	if (slot->start_state == FDN_START_PENDING)
		slot->start_state = FDN_START_FAILED;
	pg_write_barrier();
	slot->exited = true;
	/* Read whom to wake after saying so: see fdn_terminate_child_id. */
	pg_memory_barrier();
	SetLatch(&ProcGlobal->allProcs[slot->launcher_procno].procLatch);
	/* Stopped by terminate_child: its commit or rollback wakes the supervisor. */
	if (!slot->stopping)
		fdn_wake_supervisor_of(slot->home_db);
}

/*
 * Copy src into dst of size bytes, cut on a character boundary: a cut
 * inside a multibyte character would store invalid text (last_exit).
 */
void
fdn_clip_copy(char *dst, const char *src, int size)
{
	int			len = pg_mbcliplen(src, strlen(src), size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * Runs last in proc_exit, after this process left the process array
 * (ProcKill, an on_shmem_exit callback): wake the session waiting in
 * terminate_child for that, rather than leave it to its poll.  Shared
 * memory is still mapped here; only our PGPROC is gone.
 */
static void
child_gone(int code, Datum arg)
{
	if (my_slot != NULL)
		SetLatch(&ProcGlobal->allProcs[my_slot->launcher_procno].procLatch);
}

/* Record an error for the supervisor (and a waiting launcher). */
static void
child_record_error(ErrorData *edata)
{
	my_slot->exit_kind = FDN_EXIT_ERROR;
	my_slot->exit_sqlstate = edata->sqlerrcode;
	fdn_clip_copy(my_slot->exit_detail,
				  edata->message ? edata->message : "", FDN_EXIT_DETAIL_LEN);
}

Oid
fdn_resolve_module(const char *module)
{
	List	   *names;
	Oid			argtypes[1] = {JSONBOID};
	Oid			funcoid;
	HeapTuple	tup;
	char		prokind;

	FuncCandidateList cands;

	/* Check the syntax ourselves, to say what a module name looks like. */
	{
		char	   *copy = pstrdup(module);
		List	   *parts;

		if (!SplitIdentifierString(copy, '.', &parts) || list_length(parts) > 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid module name \"%s\"", module),
					 errhint("A module is a procedure name, optionally schema-qualified: my_proc or my_schema.my_proc; quote unusual names with double quotes.")));
	}
	names = stringToQualifiedNameList(module);
	funcoid = InvalidOid;
	/* The first match in search_path order wins, as in a call. */
	for (cands = FuncnameGetCandidates(names, 1, NIL, false, false, false, true);
		 cands != NULL; cands = cands->next)
		if (cands->args[0] == argtypes[0])
		{
			funcoid = cands->oid;
			break;
		}
	if (!OidIsValid(funcoid))
	{
		cands = FuncnameGetCandidates(names, -1, NIL, false, false, false, true);
		if (cands != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("module %s does not take a single jsonb argument",
							module),
					 errhint("A module is a procedure or function with the signature (args jsonb).")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("module %s does not exist", module),
				 errhint("Create a procedure of that name taking (args jsonb), or schema-qualify the name.")));
	}

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", funcoid);
	prokind = ((Form_pg_proc) GETSTRUCT(tup))->prokind;
	ReleaseSysCache(tup);
	if (prokind != PROKIND_PROCEDURE && prokind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("module %s is not a procedure or a plain function",
						module),
				 errhint("Aggregates and window functions cannot run as children.")));

	if (pg_proc_aclcheck(funcoid, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run module %s", module),
				 errhint("GRANT EXECUTE ON %s %s TO %s.",
						 prokind == PROKIND_PROCEDURE ? "PROCEDURE" : "FUNCTION",
						 format_procedure_qualified(funcoid),
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	return funcoid;
}

/*
 * Run "CALL module($1)" (or SELECT, for a function) as a top-level
 * statement through a portal, as exec_simple_query would: that is what
 * lets the procedure COMMIT and keep going.
 */
static void
child_run(const char *module, const char *args)
{
	MemoryContext runcxt;
	MemoryContext oldcxt;
	Oid			funcoid;
	HeapTuple	tup;
	Form_pg_proc proc;
	char	   *sql;
	List	   *parsetrees;
	RawStmt    *raw;
	List	   *querytrees;
	List	   *plantrees;
	Oid			paramtypes[1] = {JSONBOID};
	ParamListInfo params;
	Portal		portal;
	DestReceiver *receiver;
	QueryCompletion qc;
	int16		format = 0;

	/* Survives the procedure's own commits, like MessageContext does. */
	runcxt = AllocSetContextCreate(TopMemoryContext, "foundation child run",
								   ALLOCSET_DEFAULT_SIZES);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	funcoid = fdn_resolve_module(module);
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", funcoid);
	proc = (Form_pg_proc) GETSTRUCT(tup);

	oldcxt = MemoryContextSwitchTo(runcxt);
	/* The name is quoted from the catalog, never pasted as given. */
	sql = psprintf("%s %s($1)",
				   proc->prokind == PROKIND_PROCEDURE ? "CALL" : "SELECT",
				   quote_qualified_identifier(get_namespace_name(proc->pronamespace),
											  NameStr(proc->proname)));
	ReleaseSysCache(tup);

	params = makeParamList(1);
	params->params[0].value = JsonbPGetDatum(fdn_jsonb_from_text(args));
	params->params[0].isnull = false;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].ptype = JSONBOID;

	parsetrees = pg_parse_query(sql);
	raw = linitial_node(RawStmt, parsetrees);
	querytrees = pg_analyze_and_rewrite_fixedparams(raw, sql, paramtypes, 1,
													NULL);
	plantrees = pg_plan_queries(querytrees, sql, CURSOR_OPT_PARALLEL_OK, NULL);
	PopActiveSnapshot();

	pgstat_report_activity(STATE_RUNNING, sql);

	portal = CreatePortal("", true, true);
	portal->visible = false;
	PortalDefineQuery(portal, NULL, sql, CreateCommandTag(raw->stmt),
					  plantrees, NULL);
	PortalStart(portal, params, 0, InvalidSnapshot);
	PortalSetResultFormat(portal, 1, &format);
	receiver = CreateDestReceiver(DestNone);
	MemoryContextSwitchTo(oldcxt);

	(void) PortalRun(portal, FETCH_ALL, true, true, receiver, receiver, &qc);

	receiver->rDestroy(receiver);
	PortalDrop(portal, false);
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
fdn_child_main(Datum main_arg)
{
	int			index = DatumGetInt32(main_arg);
	FdnChildExtra extra;
	FdnChildSlot *slot;
	dsm_segment *seg;
	FdnChildSpec *spec;
	Oid			dboid;
	Oid			roleoid;
	bool		validate;
	char	   *module;
	char	   *args;
	TransactionId creator_xid;
	MemoryContext oldcxt = CurrentMemoryContext;

	memcpy(&extra, MyBgworkerEntry->bgw_extra, sizeof(extra));
	if (fdn_shared == NULL || index < 0 || index >= fdn_shared->nslots)
		proc_exit(0);
	slot = &fdn_shared->slots[index];
	/* A launch superseded before we ran (e.g. a crash restart): leave. */
	if (slot->child_id != extra.child_id || slot->generation != extra.generation)
		proc_exit(0);

	my_slot = slot;
	before_shmem_exit(child_on_exit, (Datum) 0);
	on_proc_exit(child_gone, (Datum) 0);
	pqsignal(SIGTERM, child_sigterm);
	/* The postmaster passes a reload on to us; it sets our latch too. */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	RegisterXactCallback(child_reload_xact_callback, NULL);
	slot->pid = MyProcPid;
	creator_xid = slot->creator_xid;

	seg = dsm_attach(slot->spec_handle);
	if (seg == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("foundation child " INT64_FORMAT " could not read its spec",
						extra.child_id)));
	spec = dsm_segment_address(seg);
	dboid = spec->dboid;
	roleoid = spec->roleoid;
	validate = spec->validate;
	module = MemoryContextStrdup(TopMemoryContext, spec->data);
	args = MemoryContextStrdup(TopMemoryContext, spec->data + spec->module_len);
	dsm_detach(seg);

	BackgroundWorkerInitializeConnectionByOid(dboid, roleoid, 0);
	pgstat_report_appname(psprintf("foundation child " INT64_FORMAT,
								   extra.child_id));

	PG_TRY();
	{
		/* In another database the launcher could not check the module. */
		if (validate)
		{
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			(void) fdn_resolve_module(module);
			PopActiveSnapshot();
			CommitTransactionCommand();
		}

		slot->start_state = FDN_START_READY;
		SetLatch(&ProcGlobal->allProcs[slot->launcher_procno].procLatch);

		/* Run only once the launching transaction has committed. */
		if (TransactionIdIsValid(creator_xid))
		{
			bool		committed;

			StartTransactionCommand();
			XactLockTableWait(creator_xid, NULL, NULL, XLTW_None);
			committed = TransactionIdDidCommit(creator_xid);
			CommitTransactionCommand();
			if (!committed)
			{
				slot->exit_kind = FDN_EXIT_ABANDONED;
				proc_exit(0);
			}
		}

		fdn_child_fence_arm(slot);
		child_run(module, args);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		child_record_error(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();

	slot->exit_kind = FDN_EXIT_NORMAL;
	proc_exit(0);
}
