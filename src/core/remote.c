/*-------------------------------------------------------------------------
 *
 * core/remote.c
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
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "libpq-fe.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/remote.h"
#include "core/spi_util.h"


typedef enum
{
	RC_CONNECTING,
	RC_PINNING,					/* our search_path, before anything else */
	RC_PREPARING,				/* the call's named statement, once */
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

/* A field of an error result, copied (NULL if it has none). */
static char *
error_field(PGresult *res, int field)
{
	char	   *v = PQresultErrorField(res, field);

	return v ? pstrdup(v) : NULL;
}

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
static void rc_pin(FdnRemoteCall *call, RcWork *w);

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
	w->conn = fdn_connect_start(call->conninfo);
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

/*
 * A new connection: pin its search_path before the call's own statement,
 * so that neither the conninfo's options nor the role's or database's
 * settings on the other server decide what the names we send resolve to.
 */
static void
rc_pin(FdnRemoteCall *call, RcWork *w)
{
	if (!PQsendQuery(w->conn, FDN_SECURE_SEARCH_PATH_SQL))
	{
		rc_fail(call, w, PQerrorMessage(w->conn));
		return;
	}
	w->state = RC_PINNING;
}

/*
 * A new connection and a statement without parameters: the pin and the
 * statement in one simple query, one round trip.  The server runs them in
 * order and resolves the statement's names only after the pin ran; if the
 * pin fails, it runs nothing after it, and that error is the last result.
 */
static void
rc_pin_and_send(FdnRemoteCall *call, RcWork *w)
{
	char	   *both = psprintf("%s; %s", FDN_SECURE_SEARCH_PATH_SQL, call->sql);

	if (!PQsendQuery(w->conn, both))
	{
		rc_fail(call, w, PQerrorMessage(w->conn));
		return;
	}
	w->sent_at = GetCurrentTimestamp();
	w->state = RC_QUERYING;
}

/* A new connection of a call with a named statement: prepare it. */
static void
rc_prepare(FdnRemoteCall *call, RcWork *w)
{
	if (!PQsendPrepare(w->conn, call->stmt_name, call->sql, call->nparams, NULL))
	{
		rc_fail(call, w, PQerrorMessage(w->conn));
		return;
	}
	w->state = RC_PREPARING;
}

static void
rc_send(FdnRemoteCall *call, RcWork *w)
{
	if (!(call->stmt_name != NULL ?
		  PQsendQueryPrepared(w->conn, call->stmt_name, call->nparams,
							  call->params, NULL, NULL, 0) :
		  PQsendQueryParams(w->conn, call->sql, call->nparams, NULL,
							call->params, NULL, NULL, 0)))
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
		if (w->poll == PGRES_POLLING_OK && call->nparams == 0 &&
			call->stmt_name == NULL)
			rc_pin_and_send(call, w);
		else if (w->poll == PGRES_POLLING_OK)
			rc_pin(call, w);
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
	if (w->state == RC_PINNING || w->state == RC_PREPARING)
	{
		bool		pinning = w->state == RC_PINNING;

		if (!PQconsumeInput(w->conn))
		{
			rc_fail(call, w, PQerrorMessage(w->conn));
			return;
		}
		if (!PQisBusy(w->conn))
		{
			PGresult   *res;
			bool		ok = true;
			char	   *why = NULL;

			while ((res = PQgetResult(w->conn)) != NULL)
			{
				if (PQresultStatus(res) !=
					(pinning ? PGRES_TUPLES_OK : PGRES_COMMAND_OK) && ok)
				{
					ok = false;
					why = psprintf(pinning ? "could not set search_path: %s" :
								   "could not prepare the statement: %s",
								   PQresultErrorMessage(res));
				}
				PQclear(res);
			}
			if (!ok)
				rc_fail(call, w, why);
			else if (pinning && call->stmt_name != NULL)
				rc_prepare(call, w);
			else
				rc_send(call, w);
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
			if (last && (PQresultStatus(last) == PGRES_TUPLES_OK ||
						 (call->command && PQresultStatus(last) == PGRES_COMMAND_OK)))
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
				{
					call->remote_sqlstate = error_field(last, PG_DIAG_SQLSTATE);
					call->remote_message = error_field(last, PG_DIAG_MESSAGE_PRIMARY);
					call->remote_detail = error_field(last, PG_DIAG_MESSAGE_DETAIL);
					call->remote_hint = error_field(last, PG_DIAG_MESSAGE_HINT);
					PQclear(last);
				}
				rc_fail(call, w, why);
			}
		}
	}
}

struct FdnRemoteRun
{
	FdnRemoteCall *calls;
	int			ncalls;
	int			timeout_ms;
	int			retries;
	TimestampTz deadline;
	RcWork	   *work;
	struct pollfd *fds;
	int		   *idx;
};

/*
 * One pass over the calls still running: wait up to wait_ms for a socket,
 * then advance the calls whose socket is ready.  False once every call is
 * done (or failed at the deadline).
 */
static bool
rc_pass(FdnRemoteRun *run, int wait_ms)
{
	int			n = 0;
	int			i;
	long		remain;

	for (i = 0; i < run->ncalls; i++)
	{
		RcWork	   *w = &run->work[i];

		if (w->state == RC_DONE)
			continue;
		run->fds[n].fd = PQsocket(w->conn);
		run->fds[n].events = (w->state == RC_CONNECTING &&
							  w->poll == PGRES_POLLING_WRITING) ? POLLOUT : POLLIN;
		run->fds[n].revents = 0;
		run->idx[n] = i;
		n++;
	}
	if (n == 0)
		return false;
	remain = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), run->deadline);
	if (remain <= 0)
	{
		for (i = 0; i < run->ncalls; i++)
			if (run->work[i].state != RC_DONE)
				rc_fail(&run->calls[i], &run->work[i],
						psprintf("no answer within %d ms", run->timeout_ms));
		return false;
	}
	if (poll(run->fds, n, (int) Min(remain, wait_ms)) < 0 && errno != EINTR)
		elog(ERROR, "poll() failed: %m");
	CHECK_FOR_INTERRUPTS();
	for (i = 0; i < n; i++)
		if (run->fds[i].revents != 0)
			rc_step(&run->calls[run->idx[i]], &run->work[run->idx[i]], run->retries);
	return true;
}

FdnRemoteRun *
fdn_remote_start(FdnRemoteCall *calls, int ncalls, int timeout_ms, int retries)
{
	FdnRemoteRun *run = palloc0(sizeof(FdnRemoteRun));
	int			i;

	run->calls = calls;
	run->ncalls = ncalls;
	run->timeout_ms = timeout_ms;
	run->retries = retries;
	run->work = palloc0(sizeof(RcWork) * Max(ncalls, 1));
	run->fds = palloc0(sizeof(struct pollfd) * Max(ncalls, 1));
	run->idx = palloc0(sizeof(int) * Max(ncalls, 1));
	run->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	for (i = 0; i < ncalls; i++)
	{
		calls[i].ok = false;
		calls[i].result = NULL;
		calls[i].error = NULL;
		calls[i].remote_sqlstate = NULL;
		calls[i].remote_message = NULL;
		calls[i].remote_detail = NULL;
		calls[i].remote_hint = NULL;
		calls[i].ping_us = -1;
		calls[i].attempts = 0;
		rc_start(&calls[i], &run->work[i]);
	}
	PG_TRY();
	{
		/*
		 * Send what can be sent without waiting (the startup packets): the
		 * other servers then start their backends while the caller works.
		 */
		(void) rc_pass(run, 0);
	}
	PG_CATCH();
	{
		fdn_remote_abandon(run);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return run;
}

void
fdn_remote_finish(FdnRemoteRun *run)
{
	PG_TRY();
	{
		/* Short slices: interrupts must not wait for a slow node. */
		while (rc_pass(run, 100))
			;
	}
	PG_CATCH();
	{
		fdn_remote_abandon(run);
		PG_RE_THROW();
	}
	PG_END_TRY();
	fdn_remote_abandon(run);
}

void
fdn_remote_abandon(FdnRemoteRun *run)
{
	int			i;

	for (i = 0; i < run->ncalls; i++)
		if (run->work[i].conn)
		{
			PQfinish(run->work[i].conn);
			run->work[i].conn = NULL;
		}
}

void
fdn_remote_run(FdnRemoteCall *calls, int ncalls, int timeout_ms, int retries)
{
	fdn_remote_finish(fdn_remote_start(calls, ncalls, timeout_ms, retries));
}

/* A conninfo value in single quotes, with ' and \\ escaped. */
static char *
conn_quote(const char *v)
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

/*
 * A connection string of the administrator's, to this database whatever
 * database it names: each database's dispatcher listens in its own.  Left
 * as it is if libpq cannot parse it (the connection then says why).
 */
static char *
own_database(const char *conninfo)
{
	PQconninfoOption *opts;
	PQconninfoOption *o;
	StringInfoData buf;

	if (!OidIsValid(MyDatabaseId) ||
		(opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return pstrdup(conninfo);
	initStringInfo(&buf);
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && strcmp(o->keyword, "dbname") != 0)
			appendStringInfo(&buf, "%s=%s ", o->keyword, conn_quote(o->val));
	appendStringInfo(&buf, "dbname=%s", conn_quote(get_database_name(MyDatabaseId)));
	PQconninfoFree(opts);
	return buf.data;
}

char *
fdn_local_conninfo(const char *application_name)
{
	char	   *sockdirs = pstrdup(Unix_socket_directories ? Unix_socket_directories : "");
	char	   *comma = strchr(sockdirs, ',');
	const char *host;

	if (fdn_dispatcher_conninfo && fdn_dispatcher_conninfo[0])
		return own_database(fdn_dispatcher_conninfo);
	if (comma)
		*comma = '\0';
	host = sockdirs[0] ? sockdirs : "127.0.0.1";
	return psprintf("host=%s port=%d dbname=%s user=%s connect_timeout=10"
					" application_name=%s",
					conn_quote(host), PostPortNumber,
					conn_quote(OidIsValid(MyDatabaseId) ?
							   get_database_name(MyDatabaseId) : fdn_database),
					conn_quote(GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false)),
					conn_quote(application_name));
}

/* ---------- connections foundation opens ---------- */

PGconn *
fdn_connect_start(const char *conninfo)
{
	return PQconnectStart(conninfo);
}

bool
fdn_conn_pin(PGconn *conn, char **error)
{
	PGresult   *res = PQexec(conn, FDN_SECURE_SEARCH_PATH_SQL);
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok && error)
		*error = pstrdup(PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

PGconn *
fdn_connectdb(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);
	char	   *error = NULL;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return conn;
	if (!fdn_conn_pin(conn, &error))
	{
		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not set search_path on a new connection: %s", error),
				 errhint("Check the connection string's options and the server it names.")));
	}
	return conn;
}

/* ---------- connection strings from elsewhere ---------- */

/*
 * What a peer may choose of the way we reach it: where it is, and how the
 * connection is carried.  Who we log in as, with which password, passfile,
 * service file entry, certificate or server options is our own
 * configuration (foundation.cluster_conninfo_options), never a peer's.
 */
static const char *const address_keywords[] = {
	"host", "hostaddr", "port", "dbname", "connect_timeout", "sslmode",
	"target_session_attrs", "application_name", NULL
};

/*
 * What a member advertising itself through the control database may not
 * choose: anything that reads this server's files (passfile, service
 * file, certificates and keys), a password, or server options.
 */
static const char *const local_keywords[] = {
	"password", "passfile", "service", "servicefile", "options", "sslkey",
	"sslcert", "sslrootcert", "sslcrl", "sslcrldir", "sslpassword",
	"krbsrvname", "gsslib", NULL
};

static bool
keyword_allowed(const char *kw, FdnConninfoFilter filter)
{
	int			i;

	switch (filter)
	{
		case FDN_CI_NO_PASSWORD:
			return strcmp(kw, "password") != 0;
		case FDN_CI_MEMBER:
			for (i = 0; local_keywords[i]; i++)
				if (strcmp(kw, local_keywords[i]) == 0)
					return false;
			return true;
		case FDN_CI_ADDRESS:
			for (i = 0; address_keywords[i]; i++)
				if (strcmp(kw, address_keywords[i]) == 0)
					return true;
			return false;
	}
	return false;
}

char *
fdn_conninfo_filter(const char *conninfo, FdnConninfoFilter filter, bool *dropped)
{
	PQconninfoOption *opts;
	PQconninfoOption *o;
	StringInfoData buf;
	bool		any = false;

	if (dropped)
		*dropped = false;
	opts = PQconninfoParse(conninfo, NULL);
	if (opts == NULL)
		return pstrdup(conninfo);	/* it cannot connect either */
	initStringInfo(&buf);
	for (o = opts; o->keyword != NULL; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (!keyword_allowed(o->keyword, filter))
		{
			any = true;
			continue;
		}
		appendStringInfo(&buf, "%s%s=%s", buf.len > 0 ? " " : "", o->keyword,
						 conn_quote(o->val));
	}
	PQconninfoFree(opts);
	if (dropped)
		*dropped = any;
	return any ? buf.data : pstrdup(conninfo);	/* as written if whole */
}

bool
fdn_conninfo_has_password(const char *conninfo)
{
	bool		dropped;

	(void) fdn_conninfo_filter(conninfo, FDN_CI_NO_PASSWORD, &dropped);
	return dropped;
}

/* ---------- secrets ---------- */

bool
fdn_secret_equal(const char *given, const char *expected)
{
	uint8		a[PG_SHA256_DIGEST_LENGTH];
	uint8		b[PG_SHA256_DIGEST_LENGTH];

	/*
	 * Digests of both, compared in constant time: neither the length nor
	 * the first differing byte of the secret shows in the timing.
	 */
	fdn_sha256((const uint8 *) given, strlen(given), a);
	fdn_sha256((const uint8 *) expected, strlen(expected), b);
	return timingsafe_bcmp(a, b, sizeof(a)) == 0;
}

void
fdn_sha256(const uint8 *data, size_t len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, data, len) < 0 ||
		pg_cryptohash_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute a SHA-256 digest: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

char *
fdn_hmac_sha256_hex(const char *key, const uint8 *data, size_t len)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (ctx == NULL || pg_hmac_init(ctx, (const uint8 *) key, strlen(key)) < 0 ||
		pg_hmac_update(ctx, data, len) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
		elog(ERROR, "could not compute an HMAC: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", mac[i]);
	return hex;
}

/* ---------- answers from elsewhere ---------- */

typedef struct FdnParseArg
{
	const char *text;
	Jsonb	   *result;
} FdnParseArg;

static void
parse_cb(void *arg)
{
	FdnParseArg *a = arg;

	a->result = fdn_jsonb_from_text(a->text);
}

Jsonb *
fdn_remote_jsonb(const char *text, FdnJsonShape shape, char **why)
{
	FdnParseArg a;
	ErrorData  *edata;

	if (why)
		*why = NULL;
	if (text == NULL)
	{
		if (why)
			*why = pstrdup("no answer");
		return NULL;
	}
	a.text = text;
	a.result = NULL;
	/* Whatever the text holds, a failed parse is this answer's problem. */
	edata = fdn_try_subxact(parse_cb, &a);
	if (edata)
	{
		if (why)
			*why = psprintf("not JSON: %s", edata->message);
		FreeErrorData(edata);
		return NULL;
	}
	if ((shape == FDN_JSON_OBJECT && !JB_ROOT_IS_OBJECT(a.result)) ||
		(shape == FDN_JSON_ARRAY &&
		 (!JB_ROOT_IS_ARRAY(a.result) || JB_ROOT_IS_SCALAR(a.result))))
	{
		if (why)
			*why = pstrdup(shape == FDN_JSON_OBJECT ? "not a JSON object" : "not a JSON array");
		return NULL;
	}
	return a.result;
}
