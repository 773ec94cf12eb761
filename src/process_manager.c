/*-------------------------------------------------------------------------
 *
 * process_manager.c
 *	  The facade (the seed's Foundation.ProcessManager): start_singleton,
 *	  lookup_singleton, stop_singleton, start_replicated.
 *
 * Intentionally leaky: every function here is a short combination of the
 * raw layer (start_child, register, lookup, terminate_child), reports each
 * raw step at DEBUG1, and names the raw call in its hints.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "children.h"
#include "cluster_singletons.h"
#include "foundation.h"
#include "lock_classes.h"
#include "membership.h"
#include "process_manager.h"
#include "registry.h"
#include "remote.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(fdn_start_singleton);
PG_FUNCTION_INFO_V1(fdn_lookup_singleton);
PG_FUNCTION_INFO_V1(fdn_stop_singleton);
PG_FUNCTION_INFO_V1(fdn_start_replicated);

/*
 * The singletons foundation starts itself, as the bootstrap superuser
 * (handlers.c, relay.c): the only (name, module) pairs that may use a
 * reserved name (children.c, fdn_check_name).
 */
static const struct
{
	const char *name;
	const char *module;
}			fdn_own_singletons[] =
{
	{"foundation:dispatcher", "foundation.handler_dispatcher"},
	{"foundation:relay", "foundation.cluster_relay"},
};

#define PM "Foundation.ProcessManager: "

static void
fdn_null_arg(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s must not be NULL", what),
			 errhint("See docs/processes.md for the arguments of the facade.")));
}

/* Build the child spec exactly as the seed does, as jsonb. */
static Jsonb *
fdn_singleton_spec(const char *id, const char *module, Jsonb *args,
				   const char *restart)
{
	JsonbParseState *state = NULL;
	JsonbValue	k;
	JsonbValue	v;
	JsonbValue *res;

#define PUSH_STR(s_) \
	do { v.type = jbvString; v.val.string.val = (char *) (s_); \
		 v.val.string.len = strlen(s_); pushJsonbValue(&state, WJB_VALUE, &v); } while (0)
#define PUSH_KEY(s_) \
	do { k.type = jbvString; k.val.string.val = (char *) (s_); \
		 k.val.string.len = strlen(s_); pushJsonbValue(&state, WJB_KEY, &k); } while (0)

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("id");
	PUSH_STR(id);
	PUSH_KEY("start");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("module");
	PUSH_STR(module);
	PUSH_KEY("args");
	v.type = jbvBinary;
	v.val.binary.data = &args->root;
	v.val.binary.len = VARSIZE(args);
	pushJsonbValue(&state, WJB_VALUE, &v);
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PUSH_KEY("restart");
	PUSH_STR(restart);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
#undef PUSH_STR
#undef PUSH_KEY
	return JsonbValueToJsonb(res);
}

/*
 * Serialize start_singleton per name until the caller's transaction ends.
 * The tag is of foundation's own class (lock_classes.h): no key a user can
 * pass to pg_advisory_lock reaches it, so no user can hold up a start.
 */
static void
fdn_lock_singleton_name(const char *name)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) name,
										strlen(name), 0);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 FDN_LOCK_CLASS_SINGLETON);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Is this foundation starting one of its own singletons? */
static bool
fdn_is_own_singleton(const char *name, const char *module)
{
	size_t		i;

	if (name == NULL || GetUserId() != BOOTSTRAP_SUPERUSERID)
		return false;
	for (i = 0; i < lengthof(fdn_own_singletons); i++)
		if (strcmp(fdn_own_singletons[i].name, name) == 0 &&
			strcmp(fdn_own_singletons[i].module, module) == 0)
			return true;
	return false;
}

/*
 * start_child, with any error's hint pointing at the raw call.
 */
static pid_t
fdn_start_child_for_facade(Jsonb *spec, const char *what)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	pid_t		pid = 0;

	PG_TRY();
	{
		(void) fdn_start_child_spec(spec, &pid);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = psprintf("failed to start singleton %s: %s",
								  what, edata->message);
		edata->hint = psprintf("%s%sYou can call foundation.start_child(%s) directly for more control.",
							   edata->hint ? edata->hint : "",
							   edata->hint ? " " : "",
							   quote_literal_cstr(JsonbToCString(NULL, &spec->root,
																 VARSIZE(spec))));
		ReThrowError(edata);
	}
	PG_END_TRY();
	return pid;
}

typedef struct FdnRegisterArgs
{
	const char *name;
	pid_t		pid;
	Jsonb	   *metadata;
} FdnRegisterArgs;

static void
fdn_register_cb(void *arg)
{
	FdnRegisterArgs *a = arg;

	fdn_register_name(a->name, a->pid, a->metadata);
}

/* Register in a subtransaction: a failure is a warning, as in the seed. */
static void
fdn_register_for_facade(const char *name, pid_t pid, const char *module)
{
	FdnRegisterArgs args;
	ErrorData  *edata;

	{
		/* The seed's metadata: {pid, node, started_at, module}. */
		JsonbParseState *state = NULL;
		JsonbValue	k;
		JsonbValue	v;
		JsonbValue *res;
		const char *keys[4] = {"pid", "node", "started_at", "module"};
		int			i;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		for (i = 0; i < 4; i++)
		{
			k.type = jbvString;
			k.val.string.val = (char *) keys[i];
			k.val.string.len = strlen(keys[i]);
			pushJsonbValue(&state, WJB_KEY, &k);
			if (i == 0 || i == 2)
			{
				int64		n = (i == 0) ? pid :
					GetCurrentTimestamp() / USECS_PER_SEC +
					(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

				v.type = jbvNumeric;
				v.val.numeric = int64_to_numeric(n);
			}
			else
			{
				const char *s = (i == 1) ? fdn_node() : module;

				v.type = jbvString;
				v.val.string.val = (char *) s;
				v.val.string.len = strlen(s);
			}
			pushJsonbValue(&state, WJB_VALUE, &v);
		}
		res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

		ereport(DEBUG1,
				(errmsg_internal("  Registering with foundation.register(%s, %d, ...)",
								 quote_literal_cstr(name), (int) pid)));

		args.name = name;
		args.pid = pid;
		args.metadata = JsonbValueToJsonb(res);
		edata = fdn_try_subxact(fdn_register_cb, &args);
		if (edata == NULL)
			ereport(DEBUG1,
					(errmsg_internal(PM "Singleton %s started and registered",
									 name)));
		else
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("singleton started but registration failed: %s",
							edata->message),
					 errdetail("Process %d is running but not discoverable via foundation.lookup_singleton.",
							   (int) pid),
					 errhint("Call foundation.register(%s, %d) once the name is free.",
							 quote_literal_cstr(name), (int) pid)));
	}
}

static pid_t
fdn_singleton_start_checked(const char *module, Jsonb *args, const char *name,
							const char *restart)
{
	Jsonb	   *spec;
	pid_t		pid;
	int64		child_id;

	if (name)
		fdn_check_name("a singleton name", name);
	fdn_require_preload();

	ereport(DEBUG1,
			(errmsg_internal(PM "Starting singleton %s", name ? name : module)));

	if (name)
	{
		int32		existing;
		bool		alive;

		/*
		 * One starter per name at a time; a later one sees its result, with
		 * a fresh snapshot since it may have waited for the lock.  A name
		 * tied to a child is taken even while that child restarts.
		 */
		fdn_lock_singleton_name(name);
		if (fdn_registry_find(name, true, &existing, &alive, &child_id) &&
			(alive || child_id != 0))
		{
			ereport(DEBUG1,
					(errmsg_internal("Singleton %s already running (pid %d)",
									 name, existing)));
			return existing;
		}
	}

	spec = fdn_singleton_spec(name ? name : module, module, args, restart);
	ereport(DEBUG1,
			(errmsg_internal("  Child spec: %s",
							 JsonbToCString(NULL, &spec->root, VARSIZE(spec)))));
	ereport(DEBUG1, (errmsg_internal("  Using foundation.start_child")));
	pid = fdn_start_child_for_facade(spec, name ? name : module);

	if (name)
		fdn_register_for_facade(name, pid, module);
	return pid;
}

/*
 * start_singleton for every caller: SQL, agents, cluster assignments and
 * foundation's own singletons.  A reserved name (children.c) passes the
 * name checks of the spec, the child and the registry only for those own
 * singletons, started by foundation as the bootstrap superuser.
 */
pid_t
fdn_singleton_start(const char *module, Jsonb *args, const char *name,
					const char *restart)
{
	volatile pid_t pid = 0;

	if (!fdn_is_own_singleton(name, module))
		return fdn_singleton_start_checked(module, args, name, restart);

	fdn_allow_reserved_name(name);
	PG_TRY();
	{
		pid = fdn_singleton_start_checked(module, args, name, restart);
	}
	PG_FINALLY();
	{
		fdn_allow_reserved_name(NULL);
	}
	PG_END_TRY();
	return pid;
}

/* Cluster-wide, or this node only? */
static bool
fdn_scope_is_cluster(FunctionCallInfo fcinfo, int argno)
{
	char	   *scope;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return fdn_cluster_enabled();
	scope = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(scope, "local") == 0)
		return false;
	if (strcmp(scope, "cluster") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid scope \"%s\"", scope),
				 errhint("Use 'cluster' or 'local', or leave it out: cluster when foundation.control_conninfo is set.")));
	if (!fdn_cluster_enabled())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("scope 'cluster' needs a control database"),
				 errhint("Set foundation.control_conninfo on every member (docs/cluster-singletons.md).")));
	return true;
}

Datum
fdn_start_singleton(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg("module");
	if (PG_ARGISNULL(1))
		fdn_null_arg("args");
	if (PG_ARGISNULL(3))
		fdn_null_arg("restart");
	if (fdn_scope_is_cluster(fcinfo, 4))
	{
		int32		pid;

		fdn_require_preload();
		ereport(DEBUG1,
				(errmsg_internal(PM "Starting cluster singleton %s",
								 PG_ARGISNULL(2) ? "(no name)" : text_to_cstring(PG_GETARG_TEXT_PP(2)))));
		pid = fdn_cluster_start(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_JSONB_P(1),
								PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
								text_to_cstring(PG_GETARG_TEXT_PP(3)));
		if (pid == 0)
			PG_RETURN_NULL();
		PG_RETURN_INT32(pid);
	}
	PG_RETURN_INT32(fdn_singleton_start(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										PG_GETARG_JSONB_P(1),
										PG_ARGISNULL(2) ? NULL :
										text_to_cstring(PG_GETARG_TEXT_PP(2)),
										text_to_cstring(PG_GETARG_TEXT_PP(3))));
}

Datum
fdn_lookup_singleton(PG_FUNCTION_ARGS)
{
	char	   *name;
	int32		pid;
	int64		child_id;
	bool		alive;
	bool		debug;

	if (PG_ARGISNULL(0))
		fdn_null_arg("name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	debug = message_level_is_interesting(DEBUG1);
	if (debug)
		ereport(DEBUG1,
				(errmsg_internal(PM "Looking up singleton %s", name),
				 errdetail_internal("Using foundation.registry.")));

	if (fdn_registry_find(name, false, &pid, &alive, &child_id) && alive)
	{
		if (debug)
			ereport(DEBUG1, (errmsg_internal("  Found: %d on %s", pid, fdn_node())));
		PG_RETURN_INT32(pid);
	}
	if (fdn_cluster_enabled())
	{
		char	   *node;

		if (debug)
			ereport(DEBUG1, (errmsg_internal("  Not here; asking the control database")));
		if (fdn_cluster_whereis(name, &node, &pid) && pid != 0)
		{
			if (debug)
				ereport(DEBUG1, (errmsg_internal("  Found: %d on %s", pid, node ? node : "?")));
			PG_RETURN_INT32(pid);
		}
	}
	if (debug)
		ereport(DEBUG1,
				(errmsg_internal("  Not found"),
				 errdetail_internal("You can also call: SELECT * FROM foundation.lookup(%s)",
									quote_literal_cstr(name))));
	PG_RETURN_NULL();
}

Datum
fdn_stop_singleton(PG_FUNCTION_ARGS)
{
	char	   *name;
	int32		pid;
	bool		alive;
	int64		child_id = 0;

	if (PG_ARGISNULL(0))
		fdn_null_arg("name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	fdn_require_preload();
	ereport(DEBUG1, (errmsg_internal(PM "Stopping singleton %s", name)));
	if (fdn_cluster_enabled() && fdn_cluster_stop(name))
		PG_RETURN_BOOL(true);

	if (!fdn_registry_find(name, true, &pid, &alive, &child_id))
		child_id = 0;
	if (child_id == 0)
	{
		ereport(DEBUG1,
				(errmsg_internal("  Not found as a child: nothing to stop"),
				 errdetail_internal("You can also call: SELECT * FROM foundation.lookup(%s)",
									quote_literal_cstr(name))));
		PG_RETURN_BOOL(false);
	}
	ereport(DEBUG1,
			(errmsg_internal("  Using foundation.terminate_child(" INT64_FORMAT ")",
							 child_id)));
	PG_RETURN_BOOL(fdn_terminate_child_id(child_id));
}

typedef struct FdnStartArgs
{
	const char *module;
	Jsonb	   *args;
	const char *name;
	pid_t		pid;
} FdnStartArgs;

static void
fdn_start_cb(void *arg)
{
	FdnStartArgs *a = arg;

	a->pid = fdn_singleton_start(a->module, a->args, a->name, "permanent");
}

/* The seed's Task.await_many(tasks, 30_000). */
#define FDN_REPLICATED_DEADLINE_MS 30000

/*
 * start_replicated: start_singleton on this node and, over libpq, on every
 * other live member (with a control database) or node of foundation.nodes,
 * in parallel, each as "<name>@<node>".  A
 * remote start runs as the caller's role there (set_config('role') on the
 * remote connection, so the connection's own role lends it nothing) and
 * commits there on its own, as an :rpc.call does.
 */
Datum
fdn_start_replicated(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *module;
	const char *base;
	Jsonb	   *args;
	char	   *args_text;
	FdnStartArgs sargs;
	ErrorData  *edata;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	FdnPrivState priv;
	FdnRemoteCall *calls;
	char	  **nodes;
	char	  **names;
	int			n;
	int			i;
	bool		isnull;
	const char *role = GetUserNameFromId(GetUserId(), false);

	if (PG_ARGISNULL(0))
		fdn_null_arg("module");
	if (PG_ARGISNULL(1))
		fdn_null_arg("args");
	module = text_to_cstring(PG_GETARG_TEXT_PP(0));
	args = PG_GETARG_JSONB_P(1);
	args_text = JsonbToCString(NULL, &args->root, VARSIZE(args));
	base = PG_ARGISNULL(2) ? module : text_to_cstring(PG_GETARG_TEXT_PP(2));
	/* A bad or reserved name is the caller's error, not a row per node. */
	fdn_check_name("a singleton name", psprintf("%s@%s", base, fdn_node()));
	InitMaterializedSRF(fcinfo, 0);

	/*
	 * The other nodes: with a control database, its live members (at the
	 * address each advertises); without one, foundation.nodes.
	 */
	fdn_priv_begin(&priv);
	if (fdn_cluster_enabled())
		fdn_spi_exec("SELECT x.node, x.conninfo FROM json_to_recordset($1::json) AS x(node text, conninfo text)"
					 " WHERE x.node <> $2 AND x.conninfo IS NOT NULL ORDER BY x.node",
					 2, (Oid[]) {TEXTOID, TEXTOID},
					 (Datum[]) {CStringGetTextDatum(fdn_cluster_live_members()),
					 CStringGetTextDatum(fdn_node())},
					 NULL, SPI_OK_SELECT);
	else
		fdn_spi_exec("SELECT name, conninfo FROM foundation.nodes ORDER BY name",
					 0, NULL, NULL, NULL, SPI_OK_SELECT);
	n = (int) SPI_processed;
	calls = palloc0(sizeof(FdnRemoteCall) * Max(n, 1));
	nodes = palloc0(sizeof(char *) * Max(n, 1));
	names = palloc0(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		const char **params = palloc(sizeof(char *) * 4);

		nodes[i] = TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull));
		calls[i].conninfo = TextDatumGetCString(fdn_spi_getdatum(i, 2, &isnull));
		names[i] = psprintf("%s@%s", base, nodes[i]);
		params[0] = module;
		params[1] = args_text;
		params[2] = names[i];
		params[3] = role;
		calls[i].sql = "SELECT foundation.start_singleton($1, $2::jsonb, $3, scope => 'local')"
			" FROM (SELECT pg_catalog.set_config('role', $4, true)) AS as_caller";
		calls[i].nparams = 4;
		calls[i].params = params;
	}
	fdn_priv_end(&priv);

	ereport(DEBUG1,
			(errmsg_internal(PM "Starting replicated %s on %d nodes", module, n + 1)));

	/* The remote nodes, all at once under the deadline; then this one. */
	if (n > 0)
	{
		for (i = 0; i < n; i++)
			ereport(DEBUG1, (errmsg_internal("  Making RPC call to %s", nodes[i])));
		fdn_remote_run(calls, n, FDN_REPLICATED_DEADLINE_MS, 0);
	}

	/* This node, in a subtransaction: a failure is a row, not an abort. */
	sargs.module = module;
	sargs.args = args;
	sargs.name = psprintf("%s@%s", base, fdn_node());
	sargs.pid = 0;
	edata = fdn_try_subxact(fdn_start_cb, &sargs);
	values[0] = CStringGetTextDatum(fdn_node());
	values[1] = Int32GetDatum(sargs.pid);
	nulls[1] = edata != NULL;
	values[2] = edata ? CStringGetTextDatum(edata->message) : (Datum) 0;
	nulls[2] = edata == NULL;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	for (i = 0; i < n; i++)
	{
		values[0] = CStringGetTextDatum(nodes[i]);
		nulls[1] = !(calls[i].ok && calls[i].result);
		values[1] = nulls[1] ? (Datum) 0 : Int32GetDatum(atoi(calls[i].result));
		nulls[2] = !nulls[1];
		values[2] = nulls[2] ? (Datum) 0 :
			CStringGetTextDatum(psprintf("rpc_failed: %s",
										 calls[i].error ? calls[i].error : "no pid"));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
