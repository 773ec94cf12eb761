/*-------------------------------------------------------------------------
 *
 * core/user_call.c
 *	  Calling code that some role wrote, as that role, restricted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "core/user_call.h"


static TimeoutId user_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t user_timed_out = false;

/* Cancel the call the way statement_timeout cancels a statement. */
static void
user_timeout_handler(void)
{
	user_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* In the call's subtransaction. */
static void
user_call_cb(void *arg)
{
	FdnUserCall *call = arg;
	Oid			save_userid;
	int			save_sec;
	int			nest;

	/* A role dropped since it registered its code can run nothing. */
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(call->role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role %u, which registered this code, no longer exists",
						call->role),
				 errhint("Register the code again as an existing role.")));

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(call->role,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", FDN_USER_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (call->timeout_ms > 0)
		enable_timeout_after(user_timeout, call->timeout_ms);

	call->fn(call->arg);

	if (call->timeout_ms > 0)
		disable_timeout(user_timeout, false);
	/* Undo what the code SET, as a function's SET clause is undone. */
	AtEOXact_GUC(false, nest);
	SetUserIdAndSecContext(save_userid, save_sec);
}

ErrorData *
fdn_user_call(FdnUserCall *call)
{
	ErrorData  *edata;

	if (user_timeout == MAX_TIMEOUTS)
		user_timeout = RegisterTimeout(USER_TIMEOUT, user_timeout_handler);
	user_timed_out = false;
	edata = fdn_try_subxact(user_call_cb, call);
	if (call->timeout_ms > 0)
		disable_timeout(user_timeout, false);
	call->timed_out = user_timed_out;
	user_timed_out = false;
	if (call->timed_out)
	{
		if (edata == NULL)
		{
			/*
			 * The timer went off after the code returned, too late to cancel
			 * it: withdraw the cancel it asked for, or it would cancel
			 * whatever the caller runs next.
			 */
			QueryCancelPending = false;
			call->timed_out = false;
		}
		else
		{
			edata->sqlerrcode = ERRCODE_QUERY_CANCELED;
			edata->message = psprintf("timeout after %d ms", call->timeout_ms);
		}
	}
	return edata;
}

void
fdn_check_signature(Oid fn, const FdnSignature *sig)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;
	bool		ok;
	int			i;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("%s %u does not exist", sig->what, fn),
				 errhint("%s", sig->missing_hint)));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (OidIsValid(sig->rettype))
		ok = proc->prokind == PROKIND_FUNCTION && !proc->proretset &&
			proc->prorettype == sig->rettype;
	else
		ok = proc->prokind == PROKIND_FUNCTION ||
			proc->prokind == PROKIND_PROCEDURE;
	ok = ok && proc->pronargs == sig->nargs;
	for (i = 0; ok && i < sig->nargs; i++)
		ok = proc->proargtypes.values[i] == sig->argtypes[i];
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg(sig->wrong_message, format_procedure(fn)),
				 errhint("%s", sig->wrong_hint)));
}
