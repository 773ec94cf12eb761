/*-------------------------------------------------------------------------
 *
 * core/remote.h
 *	  Calling other nodes over libpq: in parallel, non-blocking, under a
 *	  deadline (the seed's Task.async + :rpc.call).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_REMOTE_H
#define FDN_REMOTE_H

#include "postgres.h"

#include "utils/jsonb.h"




typedef struct FdnRemoteCall
{
	/* in */
	const char *conninfo;
	const char *sql;			/* one result column, one row; or, with
								 * command, a statement returning no rows */
	bool		command;
	int			nparams;
	const char *const *params;
	/* in and out: a connection to reuse, kept open after success if keep */
	struct pg_conn *conn;
	bool		keep;

	/*
	 * in, with keep: prepare sql under this name on each new connection,
	 * and run it prepared (a kept connection then carries this statement
	 * only: parsed and planned once, not at every call)
	 */
	const char *stmt_name;
	/* out */
	bool		ok;
	char	   *result;			/* text of the first column, or NULL */
	char	   *error;			/* why it failed */
	/* when the server answered with an error: its fields (else NULL) */
	char	   *remote_sqlstate;
	char	   *remote_message;
	char	   *remote_detail;
	char	   *remote_hint;
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
 * fdn_remote_run in two halves, for a caller with work of its own to do
 * meanwhile: fdn_remote_start starts every call and sends what it can
 * without waiting; fdn_remote_finish runs them to the end.  A caller whose
 * own work fails in between calls fdn_remote_abandon, which closes the
 * connections (a PG_TRY around that work).
 */
typedef struct FdnRemoteRun FdnRemoteRun;
extern FdnRemoteRun *fdn_remote_start(FdnRemoteCall *calls, int ncalls,
									  int timeout_ms, int retries);
extern void fdn_remote_finish(FdnRemoteRun *run);
extern void fdn_remote_abandon(FdnRemoteRun *run);

/*
 * A connection string to this server itself, to this backend's database
 * (a background worker cannot LISTEN by itself): foundation.dispatcher_conninfo
 * if set (with its dbname replaced), else the first Unix socket, as the
 * bootstrap superuser.
 */
extern char *fdn_local_conninfo(const char *application_name);

/*
 * Sent first on every connection foundation opens (as pg_dump's
 * ALWAYS_SECURE_SEARCH_PATH_SQL): whatever the connection string's
 * options, or the other server's role and database settings, say, the
 * names foundation sends resolve in pg_catalog (temporary objects last).
 */
#define FDN_SECURE_SEARCH_PATH_SQL \
	"SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)"

/*
 * Every connection foundation opens goes through one of these.
 * fdn_connect_start starts one for the non-blocking engine above (which
 * pins it before the call's statement) or for a caller that then calls
 * fdn_conn_pin once connected; fdn_connectdb connects and pins, blocking,
 * and raises an error if the pin fails (a failed connection is returned as
 * PQconnectdb returns it).
 */
struct pg_conn;
extern struct pg_conn *fdn_connect_start(const char *conninfo);
extern bool fdn_conn_pin(struct pg_conn *conn, char **error);
extern struct pg_conn *fdn_connectdb(const char *conninfo);

/*
 * A connection string from elsewhere, filtered: FDN_CI_NO_PASSWORD drops
 * the password; FDN_CI_MEMBER (what the control database says of a member)
 * also drops what would read this server's files or set server options
 * (passfile, service, servicefile, options, certificates and keys);
 * FDN_CI_ADDRESS (what a gossip peer says) keeps only where the server is
 * and how to reach it (host, hostaddr, port, dbname, connect_timeout,
 * sslmode, target_session_attrs, application_name).  Returned as written
 * when nothing was dropped; *dropped says whether something was.
 */
typedef enum FdnConninfoFilter
{
	FDN_CI_NO_PASSWORD,
	FDN_CI_MEMBER,
	FDN_CI_ADDRESS
} FdnConninfoFilter;
extern char *fdn_conninfo_filter(const char *conninfo, FdnConninfoFilter filter,
								 bool *dropped);
extern bool fdn_conninfo_has_password(const char *conninfo);

/* Secrets: constant-time comparison, SHA-256, HMAC-SHA256 in hex. */
extern bool fdn_secret_equal(const char *given, const char *expected);
extern void fdn_sha256(const uint8 *data, size_t len, uint8 *out);
extern char *fdn_hmac_sha256_hex(const char *key, const uint8 *data, size_t len);

/*
 * Text another server sent, as jsonb of the expected shape; NULL (with the
 * reason in *why, if given) when it does not parse or has another shape.
 * Never raises an error for what the text holds.
 */
typedef enum FdnJsonShape
{
	FDN_JSON_OBJECT,
	FDN_JSON_ARRAY
} FdnJsonShape;
extern Jsonb *fdn_remote_jsonb(const char *text, FdnJsonShape shape, char **why);

#endif							/* FDN_REMOTE_H */
