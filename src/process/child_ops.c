/*-------------------------------------------------------------------------
 *
 * process/child_ops.c
 *	  The supervisor's raw layer: start_child, terminate_child and the live
 *	  view of the slots.
 *
 * These run in the caller's backend and transaction.  start_child launches
 * the worker itself (no round trip through the supervisor) and inserts the
 * child's row; if the transaction rolls back, the row vanishes and the
 * child, which waits on our xid, never runs its module.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/names.h"
#include "core/xact_end.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "process/child_main.h"
#include "process/child_ops.h"
#include "process/launch.h"


PG_FUNCTION_INFO_V1(fdn_check_database);
PG_FUNCTION_INFO_V1(fdn_start_child);
PG_FUNCTION_INFO_V1(fdn_terminate_child);
PG_FUNCTION_INFO_V1(fdn_child_slots);

/*
 * Version 0.1's install script calls this to refuse every database but
 * foundation.database; foundation now runs in any database, and the
 * function stays for that script alone.
 */
Datum
fdn_check_database(PG_FUNCTION_ARGS)
{
	PG_RETURN_VOID();
}

/* ---------- spec parsing ---------- */

typedef struct FdnSpec
{
	char	   *id;
	char	   *module;
	char	   *args;
	char	   *restart;
	Oid			dboid;
	int			shutdown_ms;
	int			max_restarts;
	int			max_seconds;
} FdnSpec;

static void
bad_spec(const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid child spec: %s", msg),
			 errhint("%s", hint)));
}

/* Look up key in an object; returns false if absent or JSON null. */
static bool
get_key(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	if (getKeyJsonValueFromContainer(obj, key, strlen(key), out) == NULL)
		return false;
	return out->type != jbvNull;
}

static char *
get_string(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!get_key(obj, key, &v))
		return NULL;
	if (v.type != jbvString)
		bad_spec(psprintf("\"%s\" must be a string", key),
					 "See docs/processes.md for the spec's keys and types.");
	return pnstrdup(v.val.string.val, v.val.string.len);
}

static int
get_int(JsonbContainer *obj, const char *key, int dflt, int min)
{
	JsonbValue	v;
	int64		n;
	bool		ok;

	if (!get_key(obj, key, &v))
		return dflt;
	ok = v.type == jbvNumeric;
	if (ok)
	{
		char	   *txt = DatumGetCString(DirectFunctionCall1(numeric_out,
															  NumericGetDatum(v.val.numeric)));
		bool		overflow = false;

		/* A whole number: no fraction, no exponent, and it fits. */
		ok = strpbrk(txt, ".eEN") == NULL;
		n = numeric_int4_opt_error(v.val.numeric, &overflow);
		ok = ok && !overflow && n >= min;
	}
	if (!ok)
		bad_spec(psprintf("\"%s\" must be a whole number of at least %d",
							  key, min),
					 "See docs/processes.md for the spec's keys and types.");
	return (int) n;
}

/* Reject keys we do not know: a typo must not pass silently. */
static void
check_keys(JsonbContainer *obj, const char *const *allowed,
			   const char *where)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		skip_nested = true;

	while ((tok = JsonbIteratorNext(&it, &v, skip_nested)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);
			const char *const *a;
			bool		known = false;

			for (a = allowed; *a; a++)
				if (strcmp(*a, key) == 0)
					known = true;
			if (!known)
				bad_spec(psprintf("unknown key \"%s\" in %s", key, where),
							 "A child spec has the keys id, start (module, args), restart, database, shutdown, max_restarts and max_seconds.");
		}
	}
}

static void
parse_spec(Jsonb *jb, FdnSpec *spec)
{
	static const char *const top_keys[] = {"id", "start", "restart", "database",
	"shutdown", "max_restarts", "max_seconds", NULL};
	static const char *const start_keys[] = {"module", "args", NULL};
	JsonbValue	start;
	JsonbValue	args;
	char	   *dbname;

	if (!JB_ROOT_IS_OBJECT(jb))
		bad_spec("it is not a JSON object",
					 "Pass an object such as '{\"start\": {\"module\": \"my_schema.my_proc\"}}'.");
	check_keys(&jb->root, top_keys, "the spec");

	if (!get_key(&jb->root, "start", &start) || start.type != jbvBinary ||
		!JsonContainerIsObject(start.val.binary.data))
		bad_spec("\"start\" must be an object with a \"module\"",
					 "Pass '{\"start\": {\"module\": \"my_schema.my_proc\", \"args\": {...}}}'.");
	check_keys(start.val.binary.data, start_keys, "\"start\"");
	spec->module = get_string(start.val.binary.data, "module");
	if (spec->module == NULL || spec->module[0] == '\0')
		bad_spec("\"start\" has no \"module\"",
					 "Name the procedure to run: {\"start\": {\"module\": \"my_schema.my_proc\"}}.");

	if (getKeyJsonValueFromContainer(start.val.binary.data, "args", 4, &args))
	{
		Jsonb	   *a = JsonbValueToJsonb(&args);

		spec->args = JsonbToCString(NULL, &a->root, VARSIZE(a));
	}
	else
		spec->args = pstrdup("null");

	spec->id = get_string(&jb->root, "id");
	if (spec->id == NULL)
		spec->id = pstrdup(spec->module);
	fdn_check_name("a child id", spec->id);

	spec->restart = get_string(&jb->root, "restart");
	if (spec->restart == NULL)
		spec->restart = pstrdup("permanent");
	if (strcmp(spec->restart, "permanent") != 0 &&
		strcmp(spec->restart, "transient") != 0 &&
		strcmp(spec->restart, "temporary") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid restart value \"%s\"", spec->restart),
				 errhint("Use permanent (always restart), transient (restart after an abnormal exit) or temporary (never restart).")));

	dbname = get_string(&jb->root, "database");
	if (dbname == NULL)
		spec->dboid = MyDatabaseId;
	else
	{
		spec->dboid = get_database_oid(dbname, true);
		if (!OidIsValid(spec->dboid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("database \"%s\" does not exist", dbname),
					 errhint("Name an existing database in the spec's \"database\", or leave it out to use the current one.")));
		if (pg_database_aclcheck(spec->dboid, GetUserId(), ACL_CONNECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to run a child in database \"%s\"",
							dbname),
					 errhint("A child connects to its database as you: you need the CONNECT privilege on it.")));
	}

	spec->shutdown_ms = get_int(&jb->root, "shutdown", 5000, 0);
	spec->max_restarts = get_int(&jb->root, "max_restarts", 3, 0);
	spec->max_seconds = get_int(&jb->root, "max_seconds", 5, 1);
}

/* A child connects as its role, and PostgreSQL 15 requires LOGIN for that. */
static void
check_role_can_run(Oid roleid)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
	bool		canlogin;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for role %u", roleid);
	canlogin = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
	if (!canlogin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot run a child: it does not have the LOGIN attribute",
						GetUserNameFromId(roleid, false)),
				 errdetail("A child runs as the role that starts it, and connects as that role."),
				 errhint("Start the child from a role that can log in, or ALTER ROLE %s LOGIN.",
						 quote_identifier(GetUserNameFromId(roleid, false)))));
}

int64
fdn_start_child_spec(Jsonb *jb, pid_t *pid)
{
	FdnSpec		spec = {0};
	FdnLaunch	launch = {0};
	FdnLaunchResult res;
	FdnPrivState priv;
	Oid			roleid = GetUserId();
	bool		same_db;
	int64		child_id;
	bool		isnull;

	fdn_require_preload();
	parse_spec(jb, &spec);
	check_role_can_run(roleid);

	/*
	 * Resolve the module here when the child runs in this database, so a
	 * bad name is an error with a proper errcode before anything starts;
	 * for another database the child checks it before it reports ready.
	 */
	same_db = (spec.dboid == MyDatabaseId);
	if (same_db)
	{
		Oid			funcoid = fdn_resolve_module(spec.module);
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
		Form_pg_proc proc;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for function %u", funcoid);
		proc = (Form_pg_proc) GETSTRUCT(tup);
		spec.module = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
												 NameStr(proc->proname));
		ReleaseSysCache(tup);
	}

	ereport(DEBUG1,
			(errmsg_internal("foundation.start_child: module %s, restart %s, database %u, role %u",
							 spec.module, spec.restart, spec.dboid, roleid)));

	fdn_priv_begin(&priv);
	/* foundation's own children count down: see foundation.own_child_ids */
	fdn_spi_exec(fdn_name_is_reserved(spec.id) ?
				 "SELECT -nextval('foundation.own_child_ids')" :
				 "SELECT nextval(pg_get_serial_sequence('foundation.child_specs', 'child_id'))",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	child_id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));

	launch.child_id = child_id;
	launch.label = spec.id;
	launch.dboid = spec.dboid;
	launch.roleoid = roleid;
	launch.module = spec.module;
	launch.args = spec.args;
	launch.validate = !same_db;
	res = fdn_launch_child(&launch);
	fdn_launch_report(&res, psprintf("child \"%s\"", spec.id));
	*pid = res.pid;

	{
		Oid			types[12] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, OIDOID, INT4OID, INT4OID, INT4OID, INT4OID, OIDOID};
		Datum		values[12];

		values[0] = Int64GetDatum(child_id);
		values[1] = CStringGetTextDatum(spec.id);
		values[2] = CStringGetTextDatum(spec.module);
		values[3] = CStringGetTextDatum(spec.args);
		values[4] = CStringGetTextDatum(spec.restart);
		/* by name and role name: see foundation.child_specs */
		values[5] = CStringGetTextDatum(get_database_name(spec.dboid));
		values[6] = ObjectIdGetDatum(roleid);
		values[7] = Int32GetDatum(spec.shutdown_ms);
		values[8] = Int32GetDatum(spec.max_restarts);
		values[9] = Int32GetDatum(spec.max_seconds);
		values[10] = Int32GetDatum(res.pid);
		values[11] = ObjectIdGetDatum(spec.dboid);

		/*
		 * The child is bound to its database here, where we know it, rather
		 * than by the supervisor's next pass: that pass would otherwise
		 * insert the binding itself, and its foreign key check would lock
		 * the spec's row against a terminate_child coming right after (which
		 * then waited for the supervisor's commit), or fail when the spec
		 * was deleted meanwhile.
		 */
		fdn_spi_exec("WITH s AS (INSERT INTO foundation.child_specs (child_id, id, module, args, restart,"
					 " database, owner, shutdown_ms, max_restarts, max_seconds, pid)"
					 " OVERRIDING SYSTEM VALUE"
					 " VALUES ($1, $2, $3, $4::jsonb, $5, $6::name, $7, $8, $9, $10, $11)"
					 " RETURNING child_id)"
					 " INSERT INTO foundation.child_db (child_id, dboid) SELECT child_id, $12 FROM s",
					 12, types, values, NULL, SPI_OK_INSERT);
	}
	fdn_priv_end(&priv);
	fdn_wake_supervisor_at_xact_end();

	ereport(DEBUG1,
			(errmsg_internal("foundation.start_child: child " INT64_FORMAT " started with pid %d",
							 child_id, (int) res.pid)));
	return child_id;
}

Datum
fdn_start_child(PG_FUNCTION_ARGS)
{
	pid_t		pid;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("child spec",
						   "Pass a spec such as '{\"start\": {\"module\": \"my_schema.my_proc\"}}'.");
	(void) fdn_start_child_spec(PG_GETARG_JSONB_P(0), &pid);
	PG_RETURN_INT32(pid);
}

/* ---------- terminate ---------- */

/*
 * Wait up to timeout_ms for the slot's child (pid) to be gone: past its
 * exit callback, which wakes us, and then out of the process array too, a
 * moment later (until then it still shows in pg_stat_activity and still
 * counts as connected to its database), when it wakes us again.
 */
static bool
wait_child_gone(int index, int64 child_id, pid_t pid, int timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);

	for (;;)
	{
		FdnChildSlot *slot = &fdn_shared->slots[index];
		bool		exited = slot->child_id != child_id || !fdn_slot_alive(slot);

		if (exited && (pid == 0 || BackendPidGetProc(pid) == NULL))
			return true;
		if (GetCurrentTimestamp() >= deadline)
			return false;
		/*
		 * exited: it wakes us again once it has left the array (child_gone);
		 * look soon anyway, should it die without its exit callbacks.
		 */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 exited ? 1 : 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

bool
fdn_terminate_child_id(int64 child_id)
{
	FdnPrivState priv;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	Oid			owner;
	int			shutdown_ms;
	bool		isnull;
	int			index;
	volatile bool stopped = true;

	fdn_require_preload();
	values[0] = Int64GetDatum(child_id);

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT owner, shutdown_ms FROM foundation.child_specs"
				 " WHERE child_id = $1 FOR UPDATE",
				 1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		owner = InvalidOid;
	else
	{
		owner = DatumGetObjectId(fdn_spi_getdatum(0, 1, &isnull));
		shutdown_ms = DatumGetInt32(fdn_spi_getdatum(0, 2, &isnull));
	}
	/* Another role's child looks exactly like a missing one. */
	if (!OidIsValid(owner) || !has_privs_of_role(priv.save_userid, owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("child " INT64_FORMAT " does not exist", child_id),
				 errhint("SELECT * FROM foundation.children lists the children you may stop.")));

	fdn_spi_exec("DELETE FROM foundation.child_specs WHERE child_id = $1",
				 1, types, values, NULL, SPI_OK_DELETE);
	fdn_priv_end(&priv);
	fdn_wake_supervisor_at_xact_end();

	index = fdn_slot_find(child_id);
	if (index >= 0 && fdn_slot_alive(&fdn_shared->slots[index]))
	{
		pid_t		pid = fdn_shared->slots[index].pid;

		ereport(DEBUG1,
				(errmsg_internal("foundation.terminate_child: SIGTERM to child " INT64_FORMAT " (pid %d), waiting up to %d ms",
								 child_id, (int) pid, shutdown_ms)));
		/*
		 * The child's exit callback sets the latch of launcher_procno: make
		 * it ours, so that we wake on its exit rather than on the poll's
		 * timeout when another session started it.  Nobody else launches
		 * into this slot meanwhile: the child is past its start (a launch
		 * waits for that while it holds the spec's row, which we hold now),
		 * and the slot is freed only once our delete commits.  The barrier
		 * pairs with the one in child_on_exit: either the child sees our
		 * procno or we see it exited.
		 */
		fdn_shared->slots[index].launcher_procno = MyProc->pgprocno;
		/*
		 * Nor need the child wake the supervisor as it exits: the pass would
		 * find its row locked by us, and the end of our transaction wakes
		 * it (committed: to free the slot; rolled back: to restart it).
		 */
		fdn_shared->slots[index].stopping = true;
		pg_memory_barrier();
		if (pid != 0)
			kill(pid, SIGTERM);
		PG_TRY();
		{
			stopped = wait_child_gone(index, child_id, pid, shutdown_ms);
		}
		PG_CATCH();
		{
			/* Cancelled: exiting after our end, it wakes the supervisor. */
			fdn_shared->slots[index].stopping = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		if (!stopped)
		{
			/* Exiting after our end, it must wake the supervisor itself. */
			fdn_shared->slots[index].stopping = false;
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("child " INT64_FORMAT " (pid %d) did not stop within %d ms",
							child_id, (int) pid, shutdown_ms),
					 errhint("It was sent SIGTERM and will stop at its next interrupt check; its spec is removed either way.")));
		}
	}
	return stopped;
}

Datum
fdn_terminate_child(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg_error("child id",
						   "SELECT child_id FROM foundation.children lists your children.");
	PG_RETURN_BOOL(fdn_terminate_child_id(PG_GETARG_INT64(0)));
}

/* ---------- live slots ---------- */

/*
 * The child slots as rows (child_id, pid, alive, last_exit).  A slot's
 * last_exit is another role's error message: it shows only for the
 * caller's own children (a superuser's: all).  every_role: also the slots
 * of other roles' children, without it (for monitoring, whose role the
 * install script picks).
 */
void
fdn_child_slots_srf(FunctionCallInfo fcinfo, bool every_role)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;
	Oid			ext;

	InitMaterializedSRF(fcinfo, 0);
	if (fdn_shared == NULL)
		return;
	ext = fdn_current_extension();

	for (i = 0; i < fdn_shared->nslots; i++)
	{
		FdnChildSlot *slot = &fdn_shared->slots[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int64		child_id = slot->child_id;
		bool		own;

		/*
		 * The children of this database's foundation; the caller's own
		 * only unless every_role (a slot's last_exit is another role's
		 * error message).
		 */
		if (!fdn_slot_mine(slot, ext))
			continue;
		own = has_privs_of_role(GetUserId(), slot->roleoid);
		if (!own && !every_role)
			continue;
		values[0] = Int64GetDatum(child_id);
		values[1] = Int32GetDatum(slot->pid);
		nulls[1] = slot->pid == 0;
		values[2] = BoolGetDatum(fdn_slot_alive(slot));
		if (slot->exited && own)
			values[3] = CStringGetTextDatum(fdn_exit_text(slot->exit_kind,
														  slot->exit_detail));
		else
			nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

Datum
fdn_child_slots(PG_FUNCTION_ARGS)
{
	fdn_child_slots_srf(fcinfo, false);
	return (Datum) 0;
}
