/*-------------------------------------------------------------------------
 *
 * cluster/members_singletons.c
 *	  Cluster-wide singletons from a backend: place one (start_singleton
 *	  with a control database), find it (whereis, lookup_singleton) and stop
 *	  it (stop_singleton), over libpq to the control database.
 *
 * A backend only writes the assignment (foundation.cluster_place in the
 * control database, which picks a live member by foundation.distribution)
 * and asks the chosen member's supervisor to renew its lease at once; the
 * supervisor starts it (cluster/members.c) and reports the pid at its next
 * renewal, which the backend waits for.  The placement is committed in the
 * control database at once, not with the caller's transaction: like any
 * call to another server, a rollback here does not undo it
 * (stop_singleton does).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "libpq-fe.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/names.h"
#include "core/remote.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "process/child_fence.h"
#include "process/registry.h"
#include "cluster/members.h"
#include "cluster/members_singletons.h"


PG_FUNCTION_INFO_V1(fdn_whereis);
PG_FUNCTION_INFO_V1(fdn_fencing_token);
PG_FUNCTION_INFO_V1(fdn_check_lease);

/* ---------- signed placements ---------- */

static void
sig_field(StringInfo buf, const char *v)
{
	/* length-prefixed: no two different field lists give the same bytes */
	appendStringInfo(buf, "%zu:", strlen(v));
	appendStringInfoString(buf, v);
	appendStringInfoChar(buf, ';');
}

char *
fdn_placement_signature(const char *name, const char *module, Jsonb *args,
						const char *restart, const char *owner,
						const char *database)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "foundation cluster placement v1;");
	sig_field(&buf, name);
	sig_field(&buf, module);
	/* jsonb's own text form: the same on every member for the same value */
	sig_field(&buf, JsonbToCString(NULL, &args->root, VARSIZE(args)));
	sig_field(&buf, restart);
	sig_field(&buf, owner);
	/* without one, the same bytes as before databases were signed */
	if (database != NULL)
		sig_field(&buf, database);
	return fdn_hmac_sha256_hex(fdn_cluster_secret, (const uint8 *) buf.data, buf.len);
}

const char *
fdn_cluster_database(void)
{
	return fdn_in_home_database() ? NULL : get_database_name(MyDatabaseId);
}

/* An answer of the control database, as a jsonb object, or an error. */
static Jsonb *
control_object(const char *text, const char *what)
{
	char	   *why = NULL;
	Jsonb	   *j = fdn_remote_jsonb(text, FDN_JSON_OBJECT, &why);

	if (j == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("could not %s: the control database gave an unusable answer: %s",
						what, why),
				 errhint("Check that the control database has the same foundation version as this member.")));
	return j;
}

/*
 * One statement on the control database; its text result, or an error.
 * With keep, over *keep's connection (opened if NULL), left open for the
 * next statement: the caller closes it.  A kept connection the server has
 * closed meanwhile fails at once; the statement is then sent once more,
 * over a new connection.  With keep and stmt_name, the connection carries
 * that one statement, prepared once.
 */
static char *
control_call(const char *sql, int nparams, const char *const *params,
			 const char *what, PGconn **keep, const char *stmt_name)
{
	FdnRemoteCall call = {0};
	int			attempt;

	call.conninfo = fdn_control_conninfo;
	call.sql = sql;
	call.nparams = nparams;
	call.params = params;
	call.keep = keep != NULL;
	call.stmt_name = keep != NULL ? stmt_name : NULL;
	for (attempt = 0; attempt < 2; attempt++)
	{
		bool		reused = keep != NULL && *keep != NULL;

		if (keep)
		{
			call.conn = *keep;
			*keep = NULL;
		}
		fdn_remote_run(&call, 1, Max(fdn_lease_renew_interval_ms, 5000), 1);
		if (keep)
			*keep = call.conn;
		if (call.ok || !reused)
			break;
	}
	/* It answered with an error (no member to run it, say): that error. */
	if (!call.ok && call.remote_sqlstate != NULL && call.remote_message != NULL &&
		strlen(call.remote_sqlstate) == 5)
	{
		const char *c = call.remote_sqlstate;

		ereport(ERROR,
				(errcode(MAKE_SQLSTATE(c[0], c[1], c[2], c[3], c[4])),
				 errmsg("could not %s: %s", what, call.remote_message),
				 call.remote_detail ? errdetail("%s", call.remote_detail) : 0,
				 errhint("%s", call.remote_hint ? call.remote_hint :
						 "The control database gave this error.")));
	}
	if (!call.ok)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not %s: the control database did not answer: %s",
						what, call.error ? call.error : "?"),
				 errhint("Check foundation.control_conninfo; scope => 'local' works without it.")));
	return call.result;
}

/*
 * Ask a member's supervisor to renew now: ours directly, another over
 * libpq at the address it advertises (conninfo, or else the control
 * database's foundation.members, or else foundation.nodes).  Best effort:
 * a member not woken picks the change up at its next renewal.
 */
static void
wake_member(const char *node, const char *conninfo)
{
	FdnRemoteCall call = {0};

	if (strcmp(node, fdn_node()) == 0)
	{
		fdn_member_request_sync();
		return;
	}
	if (conninfo == NULL)
	{
		const char *params[1] = {node};

		conninfo = control_call("SELECT conninfo FROM foundation.members WHERE node OPERATOR(pg_catalog.=) $1",
									1, params, "find the member", NULL, NULL);
	}
	if (conninfo == NULL)
	{
		FdnPrivState priv;
		bool		isnull;

		fdn_priv_begin(&priv);
		fdn_spi_exec("SELECT conninfo FROM foundation.nodes WHERE name OPERATOR(pg_catalog.=) $1",
					 1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(node)}, NULL,
					 SPI_OK_SELECT);
		if (SPI_processed > 0)
			conninfo = TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull));
		fdn_priv_end(&priv);
	}
	if (conninfo == NULL)
		return;
	/* where the control database says it is, not how it says to log in */
	call.conninfo = fdn_conninfo_filter(conninfo, FDN_CI_MEMBER, NULL);
	call.sql = "SELECT foundation.member_wake()::pg_catalog.text";
	fdn_remote_run(&call, 1, 2000, 0);
	if (!call.ok)
		ereport(DEBUG1,
				(errmsg_internal("could not wake member %s: %s", node, call.error)));
}

int32
fdn_cluster_start(const char *module, Jsonb *args, const char *name,
				  const char *restart)
{
	const char *params[9];
	Jsonb	   *placed;
	char	   *node;
	char	   *epoch;
	char	   *pid;
	TimestampTz deadline;
	/* In memory, not a register: the FINALLY below must see it. */
	PGconn	  **conn = palloc0(sizeof(PGconn *));
	volatile int32 started = 0;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a cluster singleton needs a name"),
				 errhint("Pass a name, or scope => 'local' for an unnamed process on this node.")));
	fdn_check_name("a singleton name", name);
	if (fdn_cluster_secret == NULL || fdn_cluster_secret[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("\"foundation.cluster_secret\" is not set"),
				 errdetail("Members start a cluster singleton only if its placement is signed with the secret they share."),
				 errhint("Set the same \"foundation.cluster_secret\" on every member (not in the control database), or use scope => 'local'.")));
	if (superuser_arg(GetUserId()) && !fdn_cluster_allow_superuser)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a cluster singleton cannot run as superuser \"%s\"",
						GetUserNameFromId(GetUserId(), false)),
				 errhint("Start it as an ordinary role (SET ROLE ...), use scope => 'local', or set \"foundation.cluster_allow_superuser_singletons\" on every member.")));
	if (strcmp(restart, "permanent") != 0 && strcmp(restart, "transient") != 0 &&
		strcmp(restart, "temporary") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid restart \"%s\"", restart),
				 errhint("Use permanent, transient or temporary.")));

	params[0] = name;
	params[1] = module;
	params[2] = JsonbToCString(NULL, &args->root, VARSIZE(args));
	params[3] = restart;
	params[4] = GetUserNameFromId(GetUserId(), false);
	params[5] = fdn_distribution_name();
	params[6] = fdn_node();
	params[8] = fdn_cluster_database();
	params[7] = fdn_placement_signature(name, module, args, restart, params[4],
										params[8]);
	ereport(DEBUG1,
			(errmsg_internal("  Placing cluster singleton %s with foundation.cluster_place (distribution %s)",
							 name, params[5])));
	placed = control_object(control_call("SELECT foundation.cluster_place($1, $2, $3::pg_catalog.jsonb, $4,"
										 " $5, $6, $7, $8, $9)::pg_catalog.text",
										 9, params, "place the singleton", NULL, NULL),
								"place the singleton");
	node = fdn_jsonb_field_text(placed, "node");
	epoch = fdn_jsonb_field_text(placed, "epoch");
	pid = fdn_jsonb_field_text(placed, "pid");
	ereport(DEBUG1,
			(errmsg_internal("  Assigned to member %s at epoch %s%s", node ? node : "(none)",
							 epoch ? epoch : "?", pid ? ", running" : "")));
	if (pid)
		return pg_strtoint32(pid);
	if (node == NULL)
		return 0;
	wake_member(node, fdn_jsonb_field_text(placed, "conninfo"));
	if (epoch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("could not place the singleton: the control database answered without an epoch"),
				 errhint("Check that the control database has the same foundation version as this member.")));

	/*
	 * Wait, bounded, for the member to report it running, asking over one
	 * connection rather than a new one every 50 ms.
	 */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   fdn_start_timeout_ms + fdn_lease_renew_interval_ms);
	PG_TRY();
	{
		for (;;)
		{
			const char *p[2] = {name, epoch};
			char	   *r = control_call("SELECT pid::pg_catalog.text FROM foundation.cluster_singletons"
											 " WHERE name OPERATOR(pg_catalog.=) $1 AND epoch OPERATOR(pg_catalog.=) $2::pg_catalog.int8",
											 2, p, "look up the singleton", conn, "fdn_start_wait");

			if (r != NULL)
			{
				started = pg_strtoint32(r);
				break;
			}
			if (GetCurrentTimestamp() >= deadline)
				break;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 50, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		if (*conn)
			PQfinish(*conn);
	}
	PG_END_TRY();
	if (started != 0)
		return started;
	ereport(WARNING,
			(errmsg("cluster singleton \"%s\" is assigned to member \"%s\" but has not started yet", name, node),
			 errhint("SELECT * FROM foundation.whereis(%s) shows its pid once it runs.",
					 quote_literal_cstr(name))));
	return 0;
}

char *
fdn_cluster_live_members(void)
{
	char	   *r = control_call("SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object('node', node, 'conninfo', conninfo)"
									 "                         ORDER BY node), '[]')::pg_catalog.text"
									 " FROM foundation.members WHERE state OPERATOR(pg_catalog.=) 'up'"
									 " AND lease_expires OPERATOR(pg_catalog.>) pg_catalog.now()",
									 0, NULL, "list the live members", NULL, NULL);

	/* checked, and each conninfo kept to what the control database may say */
	return fdn_members_json(fdn_remote_jsonb(r, FDN_JSON_ARRAY, NULL));
}

/* ---------- whereis ---------- */

/*
 * This backend's connection to the control database for whereis and
 * lookup_singleton, kept between calls (a new connection costs about as
 * much as 40 local lookups), for the conninfo it was opened with.  It
 * carries only read-only statements, pinned like every connection
 * foundation opens; a failure closes it and the next call opens another.
 */
static PGconn *whereis_conn = NULL;
static char *whereis_conninfo = NULL;
static bool whereis_exit_registered = false;

static void
whereis_disconnect(int code, Datum arg)
{
	if (whereis_conn != NULL)
		PQfinish(whereis_conn);
	whereis_conn = NULL;
}

static char *
whereis_ask(const char *name)
{
	const char *params[2] = {name, fdn_cluster_database()};
	char	   *r;

	if (whereis_conn != NULL &&
		(whereis_conninfo == NULL || strcmp(whereis_conninfo, fdn_control_conninfo) != 0))
		whereis_disconnect(0, (Datum) 0);
	if (!whereis_exit_registered)
	{
		on_proc_exit(whereis_disconnect, (Datum) 0);
		whereis_exit_registered = true;
	}
	r = control_call("SELECT pg_catalog.json_build_object('node', node, 'pid', pid, 'token', epoch)::pg_catalog.text"
					 " FROM foundation.cluster_singletons WHERE name OPERATOR(pg_catalog.=) $1"
					 " AND database IS NOT DISTINCT FROM $2",
					 2, params, "look up the singleton", &whereis_conn, "fdn_whereis");
	if (whereis_conninfo == NULL || strcmp(whereis_conninfo, fdn_control_conninfo) != 0)
	{
		if (whereis_conninfo != NULL)
			pfree(whereis_conninfo);
		whereis_conninfo = MemoryContextStrdup(TopMemoryContext, fdn_control_conninfo);
	}
	return r;
}

/*
 * A cluster singleton this member runs, from what the member knows: placed
 * here (foundation.cluster_local), alive, and its lease not ended.  Exact:
 * no other member may run it before this member's lease deadline, and the
 * child stops itself at that deadline.
 */
static bool
whereis_here(const char *name, int32 *pid, int64 *token)
{
	FdnPrivState priv;
	Datum		value = CStringGetTextDatum(name);
	int64		child_id = 0;
	bool		isnull;
	int			idx;
	FdnChildSlot *slot;

	/* Only foundation.database's supervisor runs them (and lists them). */
	if (!fdn_in_home_database())
		return false;
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT child_id FROM foundation.cluster_local WHERE name = $1 AND database IS NULL",
				 1, (Oid[]) {TEXTOID}, &value, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
		child_id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	fdn_priv_end(&priv);
	if (child_id == 0 || (idx = fdn_slot_find(child_id)) < 0)
		return false;
	slot = &fdn_shared->slots[idx];
	if (!fdn_slot_alive(slot) || slot->pid == 0 || slot->fence_token == 0 ||
		fdn_monotonic_ns() >= pg_atomic_read_u64(&slot->lease_deadline))
		return false;
	*pid = slot->pid;
	if (token)
		*token = slot->fence_token;
	return true;
}

bool
fdn_cluster_whereis(const char *name, char **node, int32 *pid, int64 *token)
{
	char	   *r;
	Jsonb	   *j;
	char	   *p;

	if (whereis_here(name, pid, token))
	{
		*node = pstrdup(fdn_node());
		return true;
	}
	r = whereis_ask(name);
	if (r == NULL)
		return false;
	j = control_object(r, "look up the singleton");
	*node = fdn_jsonb_field_text(j, "node");
	p = fdn_jsonb_field_text(j, "pid");
	*pid = p ? pg_strtoint32(p) : 0;
	if (token)
	{
		p = fdn_jsonb_field_text(j, "token");
		if (p == NULL || !fdn_parse_int64(p, token))
			*token = 0;
	}
	return true;
}

bool
fdn_cluster_stop(const char *name)
{
	const char *params[3];
	char	   *r;
	Jsonb	   *j;
	char	   *node;
	char	   *removed;

	/*
	 * Only its owner (or a superuser) stops it: this backend knows who asks,
	 * the control database does not, so the owner goes with the request.
	 */
	params[0] = name;
	params[1] = superuser() ? NULL : GetUserNameFromId(GetUserId(), false);
	params[2] = fdn_cluster_database();
	r = control_call("SELECT foundation.cluster_unplace($1, $2, $3)::pg_catalog.text", 3, params,
					 "stop the singleton", NULL, NULL);
	if (r == NULL)
		return false;
	j = control_object(r, "stop the singleton");
	removed = fdn_jsonb_field_text(j, "removed");
	if (removed == NULL || strcmp(removed, "true") != 0)
	{
		char	   *owner = fdn_jsonb_field_text(j, "owner_role");

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of cluster singleton \"%s\"", name),
				 errdetail("It was started by role \"%s\".", owner ? owner : "?"),
				 errhint("Only its owner or a superuser can stop it.")));
	}
	node = fdn_jsonb_field_text(j, "node");
	if (node == NULL)
		node = "";
	ereport(DEBUG1,
			(errmsg_internal("  Removed from foundation.cluster_singletons; member %s stops it",
							 node[0] ? node : "(none)")));
	if (node[0])
		wake_member(node, NULL);
	return true;
}

Datum
fdn_whereis(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	char	   *node = NULL;
	int32		pid = 0;
	int64		token = 0;
	Datum		values[3];
	bool		nulls[3] = {false, false, true};
	bool		alive;
	int64		child_id;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("name",
						   "Call foundation.whereis('name').");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);

	if (fdn_cluster_enabled() && fdn_cluster_whereis(name, &node, &pid, &token))
	{
		nulls[0] = node == NULL;
		values[0] = node ? CStringGetTextDatum(node) : (Datum) 0;
		nulls[1] = pid == 0;
		values[1] = Int32GetDatum(pid);
		nulls[2] = token == 0;
		values[2] = Int64GetDatum(token);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	else if (fdn_registry_find(name, false, &pid, &alive, &child_id) && alive)
	{
		values[0] = CStringGetTextDatum(fdn_node());
		values[1] = Int32GetDatum(pid);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * foundation.fencing_token(): the token of the cluster singleton this
 * process runs, NULL anywhere else.  A read of this process's memory: no
 * table, so no lock can hold it up.
 */
Datum
fdn_fencing_token(PG_FUNCTION_ARGS)
{
	int64		token = fdn_child_fence_token();

	if (token == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(token);
}

/*
 * foundation.check_lease(): an error if this process is a cluster
 * singleton whose lease on this member has ended; else nothing.  A read of
 * shared memory and of the clock, cheap enough before every side effect.
 */
Datum
fdn_check_lease(PG_FUNCTION_ARGS)
{
	if (fdn_child_lease_expired())
		fdn_lease_expired_error("lease check failed");
	PG_RETURN_VOID();
}
