/*-------------------------------------------------------------------------
 *
 * coordination/orchestration.c
 *	  Orchestration variables and custom protocols (the seed's MABEAM.Core),
 *	  and the facade coordinate_resource_allocation.
 *
 * A variable names a coordination problem: its type, agents, constraints
 * and, optionally, a coordination function (agents, spec, context) RETURNS
 * jsonb, "visible and modifiable".  coordinate() runs it (or the built-in
 * protocol of its type) and records the result on it.
 *
 * Variable ids are scoped by owner: each role has its own "pick", its own
 * "resource_allocation", and can neither see nor reach another role's.  A
 * coordination function is code a role wrote, so it runs through
 * fdn_user_call: coordinate() runs it as the variable's owner (who chose
 * it), run_custom_protocol() as its caller (who chose it), restricted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/names.h"
#include "core/spi_util.h"
#include "core/user_call.h"
#include "channels/channels.h"
#include "coordination/agents.h"
#include "coordination/coordination.h"


PG_FUNCTION_INFO_V1(fdn_register_orchestration_variable);
PG_FUNCTION_INFO_V1(fdn_run_custom_protocol);
PG_FUNCTION_INFO_V1(fdn_coordinate);
PG_FUNCTION_INFO_V1(fdn_coordinate_resource_allocation);

#define PMM "Foundation.MABEAM.ProcessManager: "

/*
 * A coordination function is (agents text[], spec jsonb, context jsonb)
 * RETURNS jsonb, and role, who runs it, may execute it.
 */
static void
check_coordination_fn(Oid fn, Oid role)
{
	static const FdnSignature sig = {
		.what = "coordination function",
		.nargs = 3,
		.argtypes = {TEXTARRAYOID, JSONBOID, JSONBOID},
		.rettype = JSONBOID,
		.missing_hint = "Name a function (agents text[], spec jsonb, context jsonb) RETURNS jsonb.",
		.wrong_message = "coordination function %s has the wrong signature",
		.wrong_hint = "A coordination function is (agents text[], spec jsonb, context jsonb) RETURNS jsonb.",
	};

	fdn_check_signature(fn, &sig);
	if (pg_proc_aclcheck(fn, role, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run %s", format_procedure(fn)),
				 errdetail("It runs as role %s.", quote_identifier(GetUserNameFromId(role, false))),
				 errhint("GRANT EXECUTE on the coordination function to that role.")));
}

static Oid
fn_from_spec(Jsonb *spec)
{
	JsonbValue	v;
	Oid			fn;

	if (!JB_ROOT_IS_OBJECT(spec) ||
		!getKeyJsonValueFromContainer(&spec->root, "coordination_fn", 15, &v) ||
		v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("custom protocol spec has no \"coordination_fn\""),
				 errhint("Pass '{\"coordination_fn\": \"my_schema.my_fn(text[], jsonb, jsonb)\"}'.")));
	fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
											  CStringGetDatum(pnstrdup(v.val.string.val,
																	   v.val.string.len))));
	check_coordination_fn(fn, GetUserId());
	return fn;
}

/* Record a protocol's result on the caller's variable, if it has one. */
static void
record_result(const char *variable_id, Jsonb *result)
{
	FdnPrivState priv;

	if (variable_id == NULL)
		return;
	fdn_priv_begin(&priv);
	fdn_spi_exec("UPDATE foundation.orchestration_variables SET last_result = $2"
				 " WHERE owner OPERATOR(pg_catalog.=) $3 AND id OPERATOR(pg_catalog.=) $1",
				 3, (Oid[]) {TEXTOID, JSONBOID, OIDOID},
				 (Datum[]) {CStringGetTextDatum(variable_id), JsonbPGetDatum(result),
				 ObjectIdGetDatum(priv.save_userid)},
				 NULL, SPI_OK_UPDATE);
	fdn_priv_end(&priv);
}

static char *
spec_string(Jsonb *spec, const char *key)
{
	JsonbValue	v;

	if (spec && JB_ROOT_IS_OBJECT(spec) &&
		getKeyJsonValueFromContainer(&spec->root, key, strlen(key), &v) &&
		v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	return NULL;
}

typedef struct FdnCustomCall
{
	Oid			fn;
	ArrayType  *agents;
	Jsonb	   *spec;
	Jsonb	   *context;
	Jsonb	   *result;
} FdnCustomCall;

/* Inside fdn_user_call: the coordination function itself. */
static void
custom_cb(void *arg)
{
	FdnCustomCall *c = arg;
	LOCAL_FCINFO(fcinfo, 3);
	FmgrInfo	flinfo;
	Datum		result;

	/* As fmgr's OidFunctionCall3, but a NULL result is ours to report. */
	fmgr_info(c->fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = PointerGetDatum(c->agents);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = JsonbPGetDatum(c->spec);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = JsonbPGetDatum(c->context);
	fcinfo->args[2].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	/* Copied out of the subtransaction's memory. */
	c->result = fcinfo->isnull ? NULL : DatumGetJsonbPCopy(result);
}

/*
 * Run coordination function fn as role, through fdn_user_call; its error
 * is raised as it is.
 */
static Jsonb *
run_custom_protocol(Oid fn, Oid role, ArrayType *agents, Jsonb *spec, Jsonb *context)
{
	int			n;
	StringInfoData ev;
	FdnCustomCall c = {fn, agents, spec, context, NULL};
	FdnUserCall call = {role, 0, custom_cb, &c, false};
	ErrorData  *edata;

	(void) fdn_agents_for(agents, NULL, &n);
	ereport(DEBUG1,
			(errmsg_internal("Foundation.MABEAM.Coordination: Running custom protocol %s with %d agents",
							 format_procedure(fn), n)));
	edata = fdn_user_call(&call);
	if (edata != NULL)
		ReThrowError(edata);
	if (c.result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("coordination function %s returned NULL", format_procedure(fn)),
				 errhint("A coordination function returns the protocol's result as jsonb.")));
	initStringInfo(&ev);
	appendStringInfoString(&ev, "{\"type\": \"protocol_completed\", \"coordination_fn\": ");
	escape_json(&ev, format_procedure(fn));
	appendStringInfo(&ev, ", \"result\": %s}", JsonbToCString(NULL, &c.result->root, VARSIZE(c.result)));
	fdn_broadcast(1, fdn_jsonb_from_text(ev.data), false, FDN_ROUTE_NONE);
	return c.result;
}

Datum
fdn_run_custom_protocol(PG_FUNCTION_ARGS)
{
	Jsonb	   *spec;
	Jsonb	   *res;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		fdn_null_arg_error("spec and agents",
						   "Call foundation.run_custom_protocol('{\"coordination_fn\": \"f(text[],jsonb,jsonb)\"}', ARRAY['a1']).");
	spec = PG_GETARG_JSONB_P(0);
	res = run_custom_protocol(fn_from_spec(spec), GetUserId(), PG_GETARG_ARRAYTYPE_P(1), spec,
					 PG_ARGISNULL(2) ? fdn_jsonb_from_text("{}") : PG_GETARG_JSONB_P(2));
	record_result(spec_string(spec, "variable_id"), res);
	PG_RETURN_JSONB_P(res);
}

Datum
fdn_register_orchestration_variable(PG_FUNCTION_ARGS)
{
	Jsonb	   *var;
	char	   *id;
	char	   *type;
	JsonbValue	v;
	Datum		agents = (Datum) 0;
	Jsonb	   *constraints;
	Oid			fn = InvalidOid;
	FdnPrivState priv;
	char		nulls[7] = "      ";
	bool		isnull;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("variable",
						   "Pass '{\"id\": \"...\", \"type\": \"auction\", \"agents\": [...]}'.");
	var = PG_GETARG_JSONB_P(0);
	id = spec_string(var, "id");
	type = spec_string(var, "type");
	if (id == NULL || type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an orchestration variable needs an \"id\" and a \"type\""),
				 errhint("Types: auction, consensus, negotiation, custom.")));
	fdn_check_name("a variable id", id);
	if (strcmp(type, "auction") != 0 && strcmp(type, "consensus") != 0 &&
		strcmp(type, "negotiation") != 0 && strcmp(type, "custom") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown orchestration variable type \"%s\"", type),
				 errhint("Types: auction, consensus, negotiation, custom.")));
	constraints = fdn_jsonb_from_text("{}");
	if (getKeyJsonValueFromContainer(&var->root, "constraints", 11, &v))
	{
		constraints = JsonbValueToJsonb(&v);
		if (!JB_ROOT_IS_OBJECT(constraints))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the \"constraints\" of an orchestration variable must be an object"),
					 errhint("Pass \"constraints\": {\"total_resources\": {...}} or {}.")));
	}
	if (spec_string(var, "coordination_fn"))
		fn = fn_from_spec(var);
	if (getKeyJsonValueFromContainer(&var->root, "agents", 6, &v))
	{
		int			n;

		fdn_priv_begin(&priv);
		fdn_spi_exec("SELECT coalesce(array_agg(x), '{}') FROM jsonb_array_elements_text($1) x",
					 1, (Oid[]) {JSONBOID},
					 (Datum[]) {JsonbPGetDatum(JsonbValueToJsonb(&v))}, NULL, SPI_OK_SELECT);
		agents = fdn_spi_getdatum(0, 1, &isnull);
		fdn_priv_end(&priv);
		(void) fdn_agents_for(DatumGetArrayTypeP(agents), NULL, &n);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an orchestration variable needs its \"agents\""),
				 errhint("List the agents' names: \"agents\": [\"a1\", \"a2\"].")));
	if (!OidIsValid(fn))
		nulls[4] = 'n';
	fdn_priv_begin(&priv);
	/* Ids are the owner's own: another role's "pick" is another variable. */
	fdn_spi_exec("INSERT INTO foundation.orchestration_variables (id, type, agents, constraints, coordination_fn, owner)"
				 " VALUES ($1, $2, $3, $4, $5, $6)"
				 " ON CONFLICT (owner, id) DO UPDATE SET type = excluded.type, agents = excluded.agents,"
				 "   constraints = excluded.constraints, coordination_fn = excluded.coordination_fn",
				 6, (Oid[]) {TEXTOID, TEXTOID, TEXTARRAYOID, JSONBOID, REGPROCEDUREOID, OIDOID},
				 (Datum[]) {CStringGetTextDatum(id), CStringGetTextDatum(type), agents,
				 JsonbPGetDatum(constraints), ObjectIdGetDatum(fn), ObjectIdGetDatum(priv.save_userid)},
				 nulls, SPI_OK_INSERT);
	fdn_priv_end(&priv);
	ereport(DEBUG1, (errmsg_internal("Foundation.MABEAM.Core: registered orchestration variable %s (%s)", id, type)));
	PG_RETURN_TEXT_P(cstring_to_text(id));
}

Datum
fdn_coordinate(PG_FUNCTION_ARGS)
{
	char	   *id;
	Jsonb	   *context;
	FdnPrivState priv;
	bool		isnull;
	char	   *type;
	Datum		agents;
	Jsonb	   *constraints;
	Datum		fn;
	bool		fn_null;
	Jsonb	   *res;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("variable id",
						   "SELECT id FROM foundation.orchestration_variables lists them.");
	id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	context = PG_ARGISNULL(1) ? fdn_jsonb_from_text("{}") : PG_GETARG_JSONB_P(1);
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT type, agents, constraints, coordination_fn FROM foundation.orchestration_variables"
				 " WHERE owner OPERATOR(pg_catalog.=) $2 AND id OPERATOR(pg_catalog.=) $1",
				 2, (Oid[]) {TEXTOID, OIDOID},
				 (Datum[]) {CStringGetTextDatum(id), ObjectIdGetDatum(priv.save_userid)},
				 NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("orchestration variable %s does not exist", quote_literal_cstr(id)),
				 errdetail("Each role has its own orchestration variables; this one is looked up among the current role's."),
				 errhint("Register it with foundation.register_orchestration_variable.")));
	type = TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull));
	agents = fdn_spi_getdatum(0, 2, &isnull);
	constraints = DatumGetJsonbP(fdn_spi_getdatum(0, 3, &isnull));
	fn = fdn_spi_getdatum(0, 4, &fn_null);
	fdn_priv_end(&priv);
	/* Checked when registered; a row of another origin must not crash us. */
	if (!JB_ROOT_IS_OBJECT(constraints))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("orchestration variable %s has constraints that are not an object",
						quote_literal_cstr(id)),
				 errhint("Register it again with foundation.register_orchestration_variable.")));

	if (!fn_null)
	{
		Oid			fnoid = DatumGetObjectId(fn);

		/* The owner chose the function; it runs as the owner (the caller). */
		check_coordination_fn(fnoid, priv.save_userid);
		res = run_custom_protocol(fnoid, priv.save_userid, DatumGetArrayTypeP(agents),
						 constraints, context);
	}
	else if (strcmp(type, "auction") == 0)
	{
		JsonbValue	v;
		Jsonb	   *spec = constraints;

		/* The auction spec is the constraints' "auction", else built from them. */
		if (getKeyJsonValueFromContainer(&constraints->root, "auction", 7, &v))
		{
			spec = JsonbValueToJsonb(&v);
			if (!JB_ROOT_IS_OBJECT(spec))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the \"auction\" of orchestration variable %s is not an object",
								quote_literal_cstr(id)),
						 errhint("Give it an auction spec: {\"type\": \"sealed_bid\", \"resources\": {...}}.")));
		}
		else
		{
			StringInfoData s;

			initStringInfo(&s);
			appendStringInfoString(&s, "{\"type\": \"sealed_bid\", \"payment_rule\": \"second_price\", \"resources\": ");
			if (getKeyJsonValueFromContainer(&constraints->root, "total_resources", 15, &v))
				appendStringInfoString(&s, JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0));
			else
				appendStringInfoString(&s, "{}");
			appendStringInfoChar(&s, '}');
			spec = fdn_jsonb_from_text(s.data);
		}
		res = fdn_run_auction(spec, DatumGetArrayTypeP(agents), context);
	}
	else if (strcmp(type, "consensus") == 0)
	{
		char	   *ctype = spec_string(constraints, "consensus_type");
		JsonbValue	v;
		Jsonb	   *proposal = context;

		if (getKeyJsonValueFromContainer(&constraints->root, "proposal", 8, &v))
			proposal = JsonbValueToJsonb(&v);
		res = fdn_jsonb_from_text(fdn_run_consensus(DatumGetArrayTypeP(agents), proposal,
													ctype ? ctype : "majority",
													FDN_AGENT_TIMEOUT_MS * 3, -1));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("orchestration variable \"%s\" of type %s has no coordination function", id, type),
				 errhint("Register it with a \"coordination_fn\", or call foundation.negotiate directly.")));
	record_result(id, res);
	PG_RETURN_JSONB_P(res);
}

/*
 * The seed's facade: register the resource_allocation variable, then run a
 * sealed-bid second-price auction.
 */
Datum
fdn_coordinate_resource_allocation(PG_FUNCTION_ARGS)
{
	ArrayType  *agents;
	Jsonb	   *resources;
	StringInfoData var;
	StringInfoData spec;
	char	   *resources_text;
	Jsonb	   *res = NULL;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		fdn_null_arg_error("agents and resources",
						   "Call foundation.coordinate_resource_allocation(ARRAY['a1', 'a2'], '{\"cpu\": 4}').");
	agents = PG_GETARG_ARRAYTYPE_P(0);
	resources = PG_GETARG_JSONB_P(1);
	resources_text = JsonbToCString(NULL, &resources->root, VARSIZE(resources));
	ereport(DEBUG1,
			(errmsg_internal(PMM "Coordinating resource allocation"),
			 errdetail_internal("Resources: %s", resources_text)));

	PG_TRY();
	{
		Datum		arr;
		FdnPrivState priv;
		bool		isnull;

		fdn_priv_begin(&priv);
		fdn_spi_exec("SELECT to_jsonb($1::text[])::text", 1, (Oid[]) {TEXTARRAYOID},
					 (Datum[]) {PointerGetDatum(agents)}, NULL, SPI_OK_SELECT);
		arr = fdn_spi_getdatum(0, 1, &isnull);
		fdn_priv_end(&priv);

		initStringInfo(&var);
		appendStringInfo(&var, "{\"id\": \"resource_allocation\", \"type\": \"auction\", \"agents\": %s,"
						 " \"constraints\": {\"total_resources\": %s, \"max_allocation_time\": 30000}}",
						 TextDatumGetCString(arr), resources_text);
		ereport(DEBUG1,
				(errmsg_internal("  Orchestration variable: %s", var.data),
				 errdetail_internal("Using foundation.register_orchestration_variable, then foundation.run_auction")));
		DirectFunctionCall1(fdn_register_orchestration_variable,
							JsonbPGetDatum(fdn_jsonb_from_text(var.data)));

		initStringInfo(&spec);
		appendStringInfo(&spec, "{\"type\": \"sealed_bid\", \"resources\": %s, \"payment_rule\": \"second_price\"}",
						 resources_text);
		res = fdn_run_auction(fdn_jsonb_from_text(spec.data), agents,
							  fdn_jsonb_from_text("{\"timeout\": 30000}"));
		record_result("resource_allocation", res);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->hint = psprintf("%s%sYou can call foundation.run_auction(spec, agents) directly for custom auctions.",
							   edata->hint ? edata->hint : "", edata->hint ? " " : "");
		ReThrowError(edata);
	}
	PG_END_TRY();
	PG_RETURN_JSONB_P(res);
}
