/*-------------------------------------------------------------------------
 *
 * remote.h
 *	  Calling other nodes over libpq: in parallel, non-blocking, under a
 *	  deadline (the seed's Task.async + :rpc.call).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_REMOTE_H
#define FDN_REMOTE_H

#include "postgres.h"

typedef struct FdnRemoteCall
{
	/* in */
	const char *conninfo;
	const char *sql;			/* one result column, one row */
	int			nparams;
	const char *const *params;
	/* in and out: a connection to reuse, kept open after success if keep */
	struct pg_conn *conn;
	bool		keep;
	/* out */
	bool		ok;
	char	   *result;			/* text of the first column, or NULL */
	char	   *error;			/* why it failed */
	int64		ping_us;		/* query round trip, once connected */
	int			attempts;
} FdnRemoteCall;

/*
 * Run every call at once; each gets up to `retries` more attempts to
 * connect, all within timeout_ms from now.  Interruptible.
 */
extern void fdn_remote_run(FdnRemoteCall *calls, int ncalls, int timeout_ms,
						   int retries);

/*
 * A connection string to this server itself: foundation.dispatcher_conninfo
 * if set, else the first Unix socket, as the bootstrap superuser, to
 * foundation.database (a background worker cannot LISTEN by itself).
 */
extern char *fdn_local_conninfo(const char *application_name);

#endif							/* FDN_REMOTE_H */
