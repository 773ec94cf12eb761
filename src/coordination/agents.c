/*-------------------------------------------------------------------------
 *
 * coordination/agents.c
 *	  Coordination agents (the seed's MABEAM AgentRegistry and
 *	  start_coordination_agent) and calls to their handlers.
 *
 * An agent is a row of foundation.agents: a name, capabilities and
 * protocols, optionally a module running as a supervised singleton, and a
 * handler(agent, request, payload) that answers coordination requests (the
 * seed's GenServer.call).  Each call runs in its own subtransaction, as
 * the agent's owner, under a timeout: an error, a timeout or a malformed
 * answer becomes the protocol's fallback and never aborts the protocol.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/names.h"
#include "core/spi_util.h"
#include "core/user_call.h"
#include "process/singleton_start.h"
#include "coordination/agents.h"


PG_FUNCTION_INFO_V1(fdn_register_agent);
PG_FUNCTION_INFO_V1(fdn_start_coordination_agent);

static const char *const known_capabilities[] = {
	"consensus_voting", "auction_bidding", "negotiation", NULL
};
static const char *const known_protocols[] = {
	"sealed_bid_auction", "majority_consensus", "alternating_offers_negotiation",
	NULL
};

static void
check_known(ArrayType *arr, const char *const *known, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		char	   *v;
		const char *const *k;
		bool		ok = false;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what),
					 errhint("Known %s: %s.",
							 known == known_capabilities ? "capabilities" : "protocols",
							 known == known_capabilities ?
							 "consensus_voting, auction_bidding, negotiation" :
							 "sealed_bid_auction, majority_consensus, alternating_offers_negotiation")));
		v = TextDatumGetCString(elems[i]);
		for (k = known; *k; k++)
			if (strcmp(*k, v) == 0)
				ok = true;
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown %s \"%s\"", what, v),
					 errhint("Known %s: %s.",
							 known == known_capabilities ? "capabilities" : "protocols",
							 known == known_capabilities ?
							 "consensus_voting, auction_bidding, negotiation" :
							 "sealed_bid_auction, majority_consensus, alternating_offers_negotiation")));
	}
}

/* A handler must be (agent text, request text, payload jsonb) RETURNS jsonb. */
static void
check_agent_handler(Oid handler)
{
	static const FdnSignature sig = {
		.what = "handler",
		.nargs = 3,
		.argtypes = {TEXTOID, TEXTOID, JSONBOID},
		.rettype = JSONBOID,
		.missing_hint = "Pass 'my_handler(text, text, jsonb)'::regprocedure.",
		.wrong_message = "agent handler %s has the wrong signature",
		.wrong_hint = "An agent handler is a function (agent text, request text, payload jsonb) RETURNS jsonb.",
	};

	fdn_check_signature(handler, &sig);
	if (pg_proc_aclcheck(handler, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to use handler %s", format_procedure(handler)),
				 errhint("An agent's handler runs as the agent's owner, who needs EXECUTE on it.")));
}

static void
insert_agent(const char *name, const char *module, Jsonb *args,
				 ArrayType *caps, ArrayType *protos, const char *strategy,
				 Jsonb *resources, Oid handler)
{
	FdnPrivState priv;
	Datum		values[9];
	char		nulls[9] = "         ";

	fdn_check_name("an agent name", name);
	check_known(caps, known_capabilities, "capability");
	check_known(protos, known_protocols, "protocol");
	if (strcmp(strategy, "singleton") != 0 && strcmp(strategy, "replicated") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown agent strategy \"%s\"", strategy),
				 errhint("Use singleton or replicated.")));
	if (OidIsValid(handler))
		check_agent_handler(handler);
	if (module == NULL && !OidIsValid(handler))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agent \"%s\" has neither a module nor a handler", name),
				 errhint("Give a module to run, a handler that answers requests, or both.")));

	values[0] = CStringGetTextDatum(name);
	values[1] = module ? CStringGetTextDatum(module) : (Datum) 0;
	nulls[1] = module ? ' ' : 'n';
	values[2] = JsonbPGetDatum(args);
	values[3] = PointerGetDatum(caps);
	values[4] = PointerGetDatum(protos);
	values[5] = CStringGetTextDatum(strategy);
	values[6] = JsonbPGetDatum(resources);
	values[7] = ObjectIdGetDatum(handler);
	nulls[7] = OidIsValid(handler) ? ' ' : 'n';
	values[8] = ObjectIdGetDatum(GetUserId());
	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.agents (name, module, args, capabilities, protocols,"
				 " strategy, resources, handler, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
				 " ON CONFLICT (name) DO NOTHING",
				 9, (Oid[]) {TEXTOID, TEXTOID, JSONBOID, TEXTARRAYOID, TEXTARRAYOID,
				 TEXTOID, JSONBOID, REGPROCEDUREOID, OIDOID},
				 values, nulls, SPI_OK_INSERT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("agent \"%s\" is already registered", name),
				 errhint("SELECT * FROM foundation.agents WHERE name = %s shows it.",
						 quote_literal_cstr(name))));
	fdn_priv_end(&priv);
}

/*
 * _register_agent(name, module, args, capabilities, protocols, strategy,
 * resources, handler): what register_agent(name, config) unpacks to.
 */
Datum
fdn_register_agent(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
		fdn_null_arg_error("agent name, args, capabilities, protocols, strategy and resources",
						   "Call foundation.register_agent('name', '{\"handler\": \"my_handler(text,text,jsonb)\"}').");
	insert_agent(text_to_cstring(PG_GETARG_TEXT_PP(0)),
					 PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
					 PG_GETARG_JSONB_P(2), PG_GETARG_ARRAYTYPE_P(3),
					 PG_GETARG_ARRAYTYPE_P(4), text_to_cstring(PG_GETARG_TEXT_PP(5)),
					 PG_GETARG_JSONB_P(6), PG_ARGISNULL(7) ? InvalidOid : PG_GETARG_OID(7));
	PG_RETURN_VOID();
}

/*
 * start_coordination_agent: validate, register, start the module as a
 * singleton (replicated: one per node) and return its pid.
 */
Datum
fdn_start_coordination_agent(PG_FUNCTION_ARGS)
{
	char	   *module = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *args = PG_ARGISNULL(1) ? fdn_jsonb_from_text("{}") : PG_GETARG_JSONB_P(1);
	char	   *name;
	char	   *strategy;
	pid_t		pid;
	FdnPrivState priv;

	if (PG_ARGISNULL(3) || PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
		fdn_null_arg_error("capabilities, protocols, strategy and resources",
						   "Leave them out to use their defaults.");
	if (module == NULL && PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an agent without a module needs a name"),
				 errhint("Pass name => 'my_agent'.")));
	name = PG_ARGISNULL(2) ? module : text_to_cstring(PG_GETARG_TEXT_PP(2));
	strategy = text_to_cstring(PG_GETARG_TEXT_PP(5));

	ereport(DEBUG1,
			(errmsg_internal("Foundation.MABEAM.ProcessManager: Starting coordination agent %s", name),
			 errdetail_internal("Using foundation.register_agent, then foundation.start_singleton")));
	/* As in the seed: a failure's hint names the raw call. */
	{
		MemoryContext oldcxt = CurrentMemoryContext;

		PG_TRY();
		{
			insert_agent(name, module, args, PG_GETARG_ARRAYTYPE_P(3),
							 PG_GETARG_ARRAYTYPE_P(4), strategy, PG_GETARG_JSONB_P(6),
							 PG_ARGISNULL(7) ? InvalidOid : PG_GETARG_OID(7));
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			edata->message = psprintf("failed to start coordination agent %s: %s",
									  name, edata->message);
			edata->hint = psprintf("%s%sYou can call foundation.register_agent(name, config) directly for more control.",
								   edata->hint ? edata->hint : "", edata->hint ? " " : "");
			ReThrowError(edata);
		}
		PG_END_TRY();
	}
	if (module == NULL)
		PG_RETURN_NULL();

	/* On one server, replicated is the singleton "<name>@<node>". */
	pid = fdn_singleton_start(module, args,
							  strcmp(strategy, "replicated") == 0 ?
							  psprintf("%s@%s", name, fdn_node()) : name,
							  "permanent");
	fdn_priv_begin(&priv);
	fdn_spi_exec("UPDATE foundation.agents SET status = 'running', pid = $2 WHERE name = $1",
				 2, (Oid[]) {TEXTOID, INT4OID},
				 (Datum[]) {CStringGetTextDatum(name), Int32GetDatum(pid)}, NULL,
				 SPI_OK_UPDATE);
	fdn_priv_end(&priv);
	PG_RETURN_INT32(pid);
}

/* ---------- agents for a protocol ---------- */

typedef struct FdnNameAt
{
	const char *name;
	int			at;
} FdnNameAt;

static int
name_at_cmp(const void *a, const void *b)
{
	const FdnNameAt *x = a;
	const FdnNameAt *y = b;
	int			c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/*
 * The names with their positions, sorted by name (then position): for the
 * check that none is listed twice, O(n log n) where comparing every pair
 * was quadratic (37.8 s for 100 001 agents), and to find a name's position.
 */
static FdnNameAt *
sorted_names(char **names, int n)
{
	FdnNameAt  *v = palloc(sizeof(FdnNameAt) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		v[i].name = names[i];
		v[i].at = i;
	}
	qsort(v, n, sizeof(FdnNameAt), name_at_cmp);
	return v;
}

/* The first name (in list order) that was listed before, or -1. */
static int
first_repeat(const FdnNameAt *sorted, int n)
{
	int			first = -1;
	int			i;

	for (i = 1; i < n; i++)
		if (strcmp(sorted[i - 1].name, sorted[i].name) == 0 &&
			(first < 0 || sorted[i].at < first))
			first = sorted[i].at;
	return first;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const FdnNameAt *) a)->name, ((const FdnNameAt *) b)->name);
}

FdnAgent *
fdn_agents_for(ArrayType *arr, const char *capability, int *nagents)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **names;
	int			n;
	int			i;
	int			dup;
	FdnAgent   *agents;
	FdnPrivState priv;
	int			nest;
	FdnNameAt  *sorted;
	bool	   *found;
	bool	   *capable;
	uint64		r;

	if (arr == NULL)
		fdn_null_arg_error("agent list",
						   "Pass the agents' names, e.g. ARRAY['a1', 'a2'].");
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agent list is empty"),
				 errhint("A protocol needs at least one agent: pass their names.")));
	names = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("agent list must not contain NULL"),
					 errhint("Pass the agents' names.")));
		names[i] = TextDatumGetCString(elems[i]);
	}
	sorted = sorted_names(names, n);
	dup = first_repeat(sorted, n);
	if (dup >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agent \"%s\" is listed twice", names[dup]),
				 errhint("List each agent once.")));

	/*
	 * One query for the whole list: one scan of the primary key for every
	 * name at once (name = ANY), each row placed at its name's position.
	 * Planned with index probes only, so that it stays that scan even when
	 * foundation.agents is small: a sequential scan per name, the
	 * planner's choice for a table of a few pages with the per-name probes
	 * this used before, made it 40 % of run_auction with 117 agents.
	 */
	agents = palloc0(sizeof(FdnAgent) * n);
	found = palloc0(sizeof(bool) * n);
	capable = palloc0(sizeof(bool) * n);
	fdn_priv_begin(&priv);
	nest = fdn_index_probes_begin();
	fdn_spi_exec("SELECT name, seq, handler, owner, $2 = ANY (capabilities)"
				 " FROM foundation.agents WHERE name = ANY ($1)",
				 2, (Oid[]) {TEXTARRAYOID, TEXTOID},
				 (Datum[]) {PointerGetDatum(arr),
				 capability ? CStringGetTextDatum(capability) : (Datum) 0},
				 capability ? "  " : " n", SPI_OK_SELECT);
	fdn_index_probes_end(nest);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		FdnNameAt	key;
		FdnNameAt  *at;
		FdnAgent   *a;

		key.name = TextDatumGetCString(fdn_spi_getdatum(r, 1, &isnull));
		at = bsearch(&key, sorted, n, sizeof(FdnNameAt), name_cmp);
		if (at == NULL)
			elog(ERROR, "foundation: agent row \"%s\" for no name listed", key.name);
		a = &agents[at->at];
		found[at->at] = true;
		a->seq = DatumGetInt64(fdn_spi_getdatum(r, 2, &isnull));
		a->handler = DatumGetObjectId(fdn_spi_getdatum(r, 3, &isnull));
		if (isnull)
			a->handler = InvalidOid;
		a->owner = DatumGetObjectId(fdn_spi_getdatum(r, 4, &isnull));
		capable[at->at] = DatumGetBool(fdn_spi_getdatum(r, 5, &isnull)) && !isnull;
	}
	/* Errors in list order: the first agent that fails says why. */
	for (i = 0; i < n; i++)
	{
		agents[i].name = names[i];
		if (!found[i])
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("agent \"%s\" does not exist", names[i]),
					 errhint("Register it with foundation.register_agent or foundation.start_coordination_agent.")));
		if (capability && !capable[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("agent \"%s\" lacks the capability \"%s\"",
							agents[i].name, capability),
					 errhint("Register agents for this protocol with capabilities => ARRAY[%s].",
							 quote_literal_cstr(capability))));
		if (!OidIsValid(agents[i].handler))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("agent \"%s\" has no handler to answer requests", agents[i].name),
					 errhint("Register the agent with a handler (agent text, request text, payload jsonb) RETURNS jsonb.")));
	}
	fdn_priv_end(&priv);
	*nagents = n;
	return agents;
}

/* ---------- calling a handler ---------- */

typedef struct FdnAgentCallArgs
{
	FdnAgent   *agent;
	const char *request;
	Jsonb	   *payload;
	int			timeout_ms;
	Jsonb	   *answer;
} FdnAgentCallArgs;

/*
 * Handler calls go through a kept SPI plan of "SELECT handler($1, $2, $3)",
 * one per (handler, owner), planned as the owner.  Calling through the
 * function manager instead set a SQL handler up again for every call (its
 * cache does not outlive the call's subtransaction): parse, plan, executor
 * start, 29 % of run_auction's time.  A kept plan inlines a SQL handler
 * once, and PostgreSQL's plan cache replans it when the function or the
 * search_path changes; EXECUTE is checked for the owner when it is planned.
 */
typedef struct FdnHandlerPlanKey
{
	Oid			handler;
	Oid			owner;
} FdnHandlerPlanKey;

typedef struct FdnHandlerPlan
{
	FdnHandlerPlanKey key;
	SPIPlanPtr	plan;
} FdnHandlerPlan;

static HTAB *handler_plans = NULL;

/* The plan for handler as owner (who is the current user); errors if gone. */
static SPIPlanPtr
handler_plan(Oid handler, Oid owner)
{
	FdnHandlerPlanKey key = {handler, owner};
	FdnHandlerPlan *entry;
	bool		found;
	char	   *nsp;
	char	   *name;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, JSONBOID};
	SPIPlanPtr	plan;

	if (handler_plans == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(FdnHandlerPlanKey);
		ctl.entrysize = sizeof(FdnHandlerPlan);
		handler_plans = hash_create("foundation handler plans", 16, &ctl,
										HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(handler_plans, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->plan;

	name = get_func_name(handler);
	nsp = name ? get_namespace_name(get_func_namespace(handler)) : NULL;
	if (name == NULL || nsp == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("handler function %u no longer exists", handler),
				 errhint("Register the agent again with an existing handler.")));
	/* The name must resolve to this very function, whatever else exists. */
	if (LookupFuncName(list_make2(makeString(nsp), makeString(name)), 3, argtypes,
					   true) != handler)
		elog(ERROR, "foundation: handler %u does not resolve to itself", handler);
	plan = SPI_prepare(psprintf("SELECT %s($1, $2, $3)", quote_qualified_identifier(nsp, name)),
					   3, argtypes);
	if (plan == NULL)
		elog(ERROR, "foundation: SPI_prepare failed for handler %u: %s", handler,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "foundation: SPI_keepplan failed");
	entry = hash_search(handler_plans, &key, HASH_ENTER, &found);
	entry->plan = plan;
	return plan;
}

/* Inside fdn_user_call, as the agent's owner: call its handler. */
static void
agent_call_cb(void *arg)
{
	FdnAgentCallArgs *a = arg;
	MemoryContext caller = CurrentMemoryContext;
	int			rc;
	Datum		values[3];
	bool		isnull;
	Datum		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "foundation: SPI_connect failed");
	values[0] = CStringGetTextDatum(a->agent->name);
	values[1] = CStringGetTextDatum(a->request);
	values[2] = JsonbPGetDatum(a->payload);
	rc = SPI_execute_plan(handler_plan(a->agent->handler, a->agent->owner),
						  values, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "foundation: unexpected SPI result %s calling handler %u",
			 SPI_result_code_string(rc), a->agent->handler);
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	/* Copied out of SPI's and the subtransaction's memory. */
	if (!isnull)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		a->answer = DatumGetJsonbPCopy(result);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	MemoryContextSwitchTo(caller);
}

Jsonb *
fdn_agent_call(FdnAgent *agent, const char *request, Jsonb *payload,
			   int timeout_ms, char **error)
{
	FdnAgentCallArgs args = {agent, request, payload, timeout_ms, NULL};
	FdnUserCall call = {agent->owner, timeout_ms, agent_call_cb, &args, false};
	ErrorData  *edata;

	*error = NULL;
	edata = fdn_user_call(&call);
	if (edata != NULL)
	{
		*error = pstrdup(edata->message);
		FreeErrorData(edata);
		args.answer = NULL;
	}
	if (args.answer == NULL && *error == NULL)
		*error = pstrdup("the handler returned NULL");
	ereport(DEBUG1,
			(errmsg_internal("  %s(%s, %s) -> %s", format_procedure(agent->handler),
							 agent->name, request,
							 args.answer ? JsonbToCString(NULL, &args.answer->root,
														  VARSIZE(args.answer)) : *error)));
	return args.answer;
}
