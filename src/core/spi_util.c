/*-------------------------------------------------------------------------
 *
 * core/spi_util.c
 *	  Running foundation's own SQL on its own tables, safely.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "core/spi_util.h"


/*
 * The search path of foundation's own SQL: pg_catalog alone.  Pushed as an
 * override search path rather than set as the search_path setting: that is
 * what the plan cache itself does to re-plan under a plan's original path,
 * and it costs a list push, where a setting costs a parse of the value and
 * a pass over every setting to restore it.  The kept plans are made under
 * it, so they match it and are not re-analyzed.  A (sub)transaction abort
 * pops it.
 */
static void
push_catalog_path(void)
{
	OverrideSearchPath path = {0};
	static List *schemas = NIL;

	if (schemas == NIL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		schemas = list_make1_oid(PG_CATALOG_NAMESPACE);
		MemoryContextSwitchTo(old);
	}
	path.schemas = schemas;
	path.addCatalog = false;
	path.addTemp = false;
	PushOverrideSearchPath(&path);
}

void
fdn_priv_begin(FdnPrivState *state)
{
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Keep allocating in the caller's context, not SPI's (freed by
	 * SPI_finish): what we build between begin and end is used after it.
	 */
	MemoryContextSwitchTo(caller);
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   state->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	push_catalog_path();
}

void
fdn_priv_end(FdnPrivState *state)
{
	PopOverrideSearchPath();
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
	SPI_finish();
}

/*
 * Plans of foundation's own statements, kept for the backend's life: the
 * same few statements run on every call.  The SQL texts are literals, so
 * their addresses identify them.  The plan cache replans them when the
 * tables change (DROP and CREATE EXTENSION).
 */
#define FDN_MAX_PLANS 256

typedef struct FdnPlan
{
	const char *sql;
	SPIPlanPtr	plan;
} FdnPlan;

static FdnPlan kept_plans[FDN_MAX_PLANS];
static int	nplans = 0;

static SPIPlanPtr
plan_for(const char *sql, int nargs, Oid *argtypes)
{
	int			i;
	SPIPlanPtr	plan;

	for (i = 0; i < nplans; i++)
		if (kept_plans[i].sql == sql)
			return kept_plans[i].plan;
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "foundation: SPI_prepare failed (%s) for: %s",
			 SPI_result_code_string(SPI_result), sql);
	if (nplans == FDN_MAX_PLANS)
		return plan;			/* used once, freed with the SPI context */
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "foundation: SPI_keepplan failed");
	kept_plans[nplans].sql = sql;
	kept_plans[nplans].plan = plan;
	nplans++;
	return plan;
}

/*
 * Run sql's kept plan: with a new snapshot per statement (snapshot NULL),
 * or read-only with the given one; an error unless the result is expected.
 */
static int
spi_run(const char *sql, int nargs, Oid *argtypes, Datum *values,
			const char *nulls, Snapshot snapshot, int expected)
{
	int			rc;
	MemoryContext caller = CurrentMemoryContext;
	SPIPlanPtr	plan = plan_for(sql, nargs, argtypes);

	if (snapshot == NULL)
		rc = SPI_execute_plan(plan, values, nulls, false, 0);
	else
		rc = SPI_execute_snapshot(plan, values, nulls, snapshot,
								  InvalidSnapshot, true, false, 0);
	/* SPI leaves us in its own context; see fdn_priv_begin. */
	MemoryContextSwitchTo(caller);
	if (rc != expected)
		elog(ERROR, "foundation: unexpected SPI result %s for: %s",
			 SPI_result_code_string(rc), sql);
	return rc;
}

int
fdn_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			 const char *nulls, int expected)
{
	return spi_run(sql, nargs, argtypes, values, nulls, NULL, expected);
}

int
fdn_spi_query_latest(const char *sql, int nargs, Oid *argtypes,
					 Datum *values, const char *nulls)
{
	return spi_run(sql, nargs, argtypes, values, nulls,
					   IsolationUsesXactSnapshot() ? GetLatestSnapshot() : NULL,
					   SPI_OK_SELECT);
}

int
fdn_index_probes_begin(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
fdn_index_probes_end(int level)
{
	AtEOXact_GUC(true, level);
}

Datum
fdn_spi_getdatum(int row, int col, bool *isnull)
{
	Datum		d;
	Form_pg_attribute att;

	d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
					  isnull);
	if (*isnull)
		return (Datum) 0;
	att = TupleDescAttr(SPI_tuptable->tupdesc, col - 1);
	return SPI_datumTransfer(d, att->attbyval, att->attlen);
}

ErrorData *
fdn_try_subxact(FdnSubxactFn fn, void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return edata;
}
