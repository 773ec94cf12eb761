/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  Calling other nodes over libpq: in parallel, non-blocking, under a
 *	  deadline (the seed's Task.async + :rpc.call).
 *
 * A small state machine per call, in the manner of pg_auto_failover's
 * health checks: PQconnectStart/PQconnectPoll, then PQsendQueryParams and
 * PQconsumeInput, all sockets waited on together with poll() in short
 * slices so that interrupts are served, and everything bounded by one
 * deadline.  A node that does not answer in time fails with a reason.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <poll.h>

#include "catalog/pg_authid.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "postmaster/postmaster.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "foundation.h"
#include "remote.h"

typedef enum
{
	RC_CONNECTING,
	RC_QUERYING,
	RC_DONE
} RcState;

typedef struct RcWork
{
	PGconn	   *conn;
	RcState		state;
	PostgresPollingStatusType poll;
	TimestampTz sent_at;
} RcWork;

static void
rc_fail(FdnRemoteCall *call, RcWork *w, const char *why)
{
	char	   *c;

	call->ok = false;
	call->error = pstrdup(why);
	/* libpq messages span lines: make them one line, without the last \n */
	if (call->error[0] && call->error[strlen(call->error) - 1] == '\n')
		call->error[strlen(call->error) - 1] = '\0';
	for (c = call->error; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	w->state = RC_DONE;
}

static void rc_send(FdnRemoteCall *call, RcWork *w);

static void
rc_start(FdnRemoteCall *call, RcWork *w)
{
	call->attempts++;
	/* An open connection the caller kept: straight to the query. */
	if (call->conn != NULL)
	{
		w->conn = call->conn;
		call->conn = NULL;
		if (PQstatus(w->conn) == CONNECTION_OK)
		{
			rc_send(call, w);
			return;
		}
		PQfinish(w->conn);
	}
	w->conn = PQconnectStart(call->conninfo);
	if (w->conn == NULL)
	{
		rc_fail(call, w, "out of memory");
		return;
	}
	if (PQstatus(w->conn) == CONNECTION_BAD)
	{
		rc_fail(call, w, PQerrorMessage(w->conn));
		return;
	}
	w->state = RC_CONNECTING;
	w->poll = PGRES_POLLING_WRITING;
}

static void
rc_send(FdnRemoteCall *call, RcWork *w)
{
	if (!PQsendQueryParams(w->conn, call->sql, call->nparams, NULL,
						   call->params, NULL, NULL, 0))
	{
		rc_fail(call, w, PQerrorMessage(w->conn));
		return;
	}
	w->sent_at = GetCurrentTimestamp();
	w->state = RC_QUERYING;
}

/* Advance one call after its socket was ready (or to start it). */
static void
rc_step(FdnRemoteCall *call, RcWork *w, int retries)
{
	if (w->state == RC_CONNECTING)
	{
		w->poll = PQconnectPoll(w->conn);
		if (w->poll == PGRES_POLLING_OK)
			rc_send(call, w);
		else if (w->poll == PGRES_POLLING_FAILED)
		{
			char	   *why = pstrdup(PQerrorMessage(w->conn));

			PQfinish(w->conn);
			w->conn = NULL;
			if (call->attempts <= retries)
				rc_start(call, w);
			else
				rc_fail(call, w, why);
		}
		return;
	}
	if (w->state == RC_QUERYING)
	{
		if (!PQconsumeInput(w->conn))
		{
			rc_fail(call, w, PQerrorMessage(w->conn));
			return;
		}
		if (!PQisBusy(w->conn))
		{
			PGresult   *res;
			PGresult   *last = NULL;

			call->ping_us = GetCurrentTimestamp() - w->sent_at;
			while ((res = PQgetResult(w->conn)) != NULL)
			{
				if (last)
					PQclear(last);
				last = res;
			}
			if (last && PQresultStatus(last) == PGRES_TUPLES_OK)
			{
				call->ok = true;
				if (PQntuples(last) > 0 && !PQgetisnull(last, 0, 0))
					call->result = pstrdup(PQgetvalue(last, 0, 0));
				PQclear(last);
				if (call->keep)
					call->conn = w->conn;
				else
					PQfinish(w->conn);
				w->conn = NULL;
				w->state = RC_DONE;
			}
			else
			{
				char	   *why = last ? pstrdup(PQresultErrorMessage(last)) :
					pstrdup("no result");

				if (last)
					PQclear(last);
				rc_fail(call, w, why);
			}
		}
	}
}

void
fdn_remote_run(FdnRemoteCall *calls, int ncalls, int timeout_ms, int retries)
{
	RcWork	   *work = palloc0(sizeof(RcWork) * Max(ncalls, 1));
	struct pollfd *fds = palloc0(sizeof(struct pollfd) * Max(ncalls, 1));
	int		   *idx = palloc0(sizeof(int) * Max(ncalls, 1));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	int			i;

	for (i = 0; i < ncalls; i++)
	{
		calls[i].ok = false;
		calls[i].result = NULL;
		calls[i].error = NULL;
		calls[i].ping_us = -1;
		calls[i].attempts = 0;
		rc_start(&calls[i], &work[i]);
	}

	PG_TRY();
	{
		for (;;)
		{
			int			n = 0;
			long		remain;

			for (i = 0; i < ncalls; i++)
			{
				RcWork	   *w = &work[i];

				if (w->state == RC_DONE)
					continue;
				fds[n].fd = PQsocket(w->conn);
				fds[n].events = (w->state == RC_CONNECTING &&
								 w->poll == PGRES_POLLING_WRITING) ? POLLOUT : POLLIN;
				fds[n].revents = 0;
				idx[n] = i;
				n++;
			}
			if (n == 0)
				break;
			remain = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remain <= 0)
			{
				for (i = 0; i < ncalls; i++)
					if (work[i].state != RC_DONE)
						rc_fail(&calls[i], &work[i],
								psprintf("no answer within %d ms", timeout_ms));
				break;
			}
			/* Short slices: interrupts must not wait for a slow node. */
			if (poll(fds, n, (int) Min(remain, 100)) < 0 && errno != EINTR)
				elog(ERROR, "poll() failed: %m");
			CHECK_FOR_INTERRUPTS();
			for (i = 0; i < n; i++)
				if (fds[i].revents != 0)
					rc_step(&calls[idx[i]], &work[idx[i]], retries);
		}
	}
	PG_FINALLY();
	{
		for (i = 0; i < ncalls; i++)
			if (work[i].conn)
				PQfinish(work[i].conn);
	}
	PG_END_TRY();
}

/* A conninfo value in single quotes, with ' and \\ escaped. */
static char *
fdn_conn_quote(const char *v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '\'');
	for (; *v; v++)
	{
		if (*v == '\'' || *v == '\\')
			appendStringInfoChar(&buf, '\\');
		appendStringInfoChar(&buf, *v);
	}
	appendStringInfoChar(&buf, '\'');
	return buf.data;
}

char *
fdn_local_conninfo(const char *application_name)
{
	char	   *sockdirs = pstrdup(Unix_socket_directories ? Unix_socket_directories : "");
	char	   *comma = strchr(sockdirs, ',');
	const char *host;

	if (fdn_dispatcher_conninfo && fdn_dispatcher_conninfo[0])
		return pstrdup(fdn_dispatcher_conninfo);
	if (comma)
		*comma = '\0';
	host = sockdirs[0] ? sockdirs : "127.0.0.1";
	return psprintf("host=%s port=%d dbname=%s user=%s connect_timeout=10"
					" application_name=%s",
					fdn_conn_quote(host), PostPortNumber,
					fdn_conn_quote(fdn_database),
					fdn_conn_quote(GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false)),
					fdn_conn_quote(application_name));
}
