/*-------------------------------------------------------------------------
 *
 * core/user_call.h
 *	  Calling code that some role wrote, as that role, restricted.
 *
 * Channel handlers, agent handlers and coordination functions are code
 * that a role registered with foundation; foundation calls them later, in
 * a backend that may run as someone else (the dispatcher runs as the
 * bootstrap superuser; run_auction runs as whoever calls it).  Every such
 * call goes through fdn_user_call, the way PostgreSQL itself runs a table
 * owner's code (index expressions, REFRESH MATERIALIZED VIEW):
 *
 *	- in its own subtransaction, so its error is the caller's to report and
 *	  everything it did is undone with it;
 *	- as the role, with SECURITY_RESTRICTED_OPERATION, so that PostgreSQL
 *	  refuses what would outlive the call under another identity: SET ROLE,
 *	  temporary objects, cursors WITH HOLD, LISTEN, and queueing a deferred
 *	  trigger (which would otherwise fire at the caller's commit, as the
 *	  caller);
 *	- with a new setting nest level, so SET and set_config() inside are
 *	  undone when it returns;
 *	- with search_path set to PostgreSQL's default ("$user", public), not
 *	  the caller's, so no caller can redirect what the code's unqualified
 *	  names resolve to;
 *	- with a timeout of its own, if asked.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_USER_CALL_H
#define FDN_USER_CALL_H

#include "postgres.h"

#include "core/spi_util.h"

/* The search_path user code runs with: PostgreSQL's default. */
#define FDN_USER_SEARCH_PATH "\"$user\", public"

typedef struct FdnUserCall
{
	Oid			role;			/* run as this role */
	int			timeout_ms;		/* > 0: cancel the call after this long */
	FdnSubxactFn fn;			/* the call itself (SPI or fmgr) */
	void	   *arg;
	bool		timed_out;		/* out: the call was cancelled by the timeout */
} FdnUserCall;

/*
 * Run call->fn(call->arg) as described above.  Returns NULL on success;
 * on error, the error (its message says "timeout after N ms" and its code
 * is 57014 when the timeout cancelled it), with the subtransaction rolled
 * back.  Memory fn allocates stays in the caller's context.
 */
extern ErrorData *fdn_user_call(FdnUserCall *call);

/*
 * What a function a role gives foundation must look like: nargs arguments
 * of argtypes; with rettype, a function returning one rettype, else a
 * function or a procedure returning anything.  The messages: "<what> %u
 * does not exist" with missing_hint, and wrong_message (a format taking the
 * function's name) with wrong_hint.
 */
typedef struct FdnSignature
{
	const char *what;
	int			nargs;
	Oid			argtypes[FUNC_MAX_ARGS];
	Oid			rettype;
	const char *missing_hint;
	const char *wrong_message;
	const char *wrong_hint;
} FdnSignature;

/* Error unless fn exists and has sig's shape. */
extern void fdn_check_signature(Oid fn, const FdnSignature *sig);

#endif							/* FDN_USER_CALL_H */
