/*-------------------------------------------------------------------------
 *
 * facade/singletons.c
 *	  The facade (the seed's Foundation.ProcessManager): start_singleton,
 *	  lookup_singleton, stop_singleton, start_replicated.
 *
 * Intentionally leaky: every function here is a short combination of the
 * raw layer (start_child, register, lookup, terminate_child) or, with a
 * control database, of the cluster's placements; it reports each raw step
 * at DEBUG1 and names the raw call in its hints.  The top floor: it calls
 * down, nothing calls up into it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/names.h"
#include "core/remote.h"
#include "core/spi_util.h"
#include "process/child_ops.h"
#include "process/registry.h"
#include "process/singleton_start.h"
#include "cluster/members.h"
#include "cluster/members_singletons.h"


PG_FUNCTION_INFO_V1(fdn_start_singleton);
PG_FUNCTION_INFO_V1(fdn_lookup_singleton);
PG_FUNCTION_INFO_V1(fdn_stop_singleton);
PG_FUNCTION_INFO_V1(fdn_start_replicated);

static void
null_arg(const char *what)
{
	fdn_null_arg_error(what, "See docs/processes.md for the arguments of the facade.");
}

/*
 * Cluster-wide, or this node only?  Cluster-wide by default with a control
 * database, from any database with foundation: the singleton runs in the
 * database it was started from, on a member that has it.
 */
static bool
scope_is_cluster(FunctionCallInfo fcinfo, int argno)
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
		null_arg("module");
	if (PG_ARGISNULL(1))
		null_arg("args");
	if (PG_ARGISNULL(3))
		null_arg("restart");
	if (scope_is_cluster(fcinfo, 4))
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
		null_arg("name");
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
		if (fdn_cluster_whereis(name, &node, &pid, NULL) && pid != 0)
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
		null_arg("name");
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
start_cb(void *arg)
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
		null_arg("module");
	if (PG_ARGISNULL(1))
		null_arg("args");
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
	if (fdn_cluster_here())
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
	edata = fdn_try_subxact(start_cb, &sargs);
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
