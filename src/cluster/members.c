/*-------------------------------------------------------------------------
 *
 * cluster/members.c
 *	  Cluster membership: the supervisor's lease on the control database,
 *	  and running the cluster singletons assigned to this member
 *	  (cluster/placements.c starts and stops them).
 *
 * The control database (foundation.control_conninfo) holds the members'
 * leases and the cluster singletons' assignments; all the decisions are
 * made there, in one transaction per renewal (foundation.member_heartbeat
 * in the install script).  This member's supervisor, once per
 * foundation.lease_renew_interval (or at once when asked), calls it over
 * libpq: it joins (epoch 0 gets a new epoch) or renews (its node AND its
 * epoch must match, and the lease must not have expired: a member whose
 * lease ran out must rejoin, under a new epoch, and its old assignments are
 * gone), reports the pids of what it runs, and gets its assignments back;
 * then it starts what it was given and stops what it was not (or what it
 * has at an older fencing epoch).
 *
 * Fencing: this member's lease ends foundation.lease_safety_margin before
 * the control database's could, measured on the monotonic clock from when
 * it sent its last renewal that worked (the control database starts the
 * lease later than that, on its own clock: only the two clocks' rates must
 * agree, within the margin over one lease).  That deadline is kept in each
 * cluster singleton's slot, and the child enforces it itself
 * (process/child_fence.c): it stops when the deadline passes and commits
 * nothing after it, whatever this supervisor is doing.  The supervisor,
 * finding the deadline past, fences (stops every cluster singleton here)
 * before it tries anything else, and rejoins under a new epoch.  Each
 * placement carries a fencing token (its epoch, which grows on every
 * placement) that the singleton reads with foundation.fencing_token().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "libpq-fe.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/remote.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "process/supervisor.h"
#include "discovery/nodes.h"
#include "cluster/members.h"
#include "cluster/members_singletons.h"
#include "cluster/placements.h"
#include "cluster/relay.h"

/* This member's state; survives a supervisor restart. */
typedef struct MembersShared
{
	bool		sync;			/* renew the lease now (a placement waits) */
	int64		epoch;			/* 0: not a member (yet, or fenced) */
	TimestampTz renewed;		/* when the last renewal that worked was sent */
	uint64		deadline_ns;	/* this member's lease ends (fdn_monotonic_ns) */
} MembersShared;

static MembersShared *members_shared = NULL;


PG_FUNCTION_INFO_V1(fdn_member_wake);

char	   *fdn_control_conninfo = NULL;
int			fdn_lease_renew_interval_ms = 5000;
int			fdn_lease_duration_ms = 15000;
int			fdn_lease_safety_margin_ms = 1000;
int			fdn_distribution = FDN_DIST_UNIFORM;
char	   *fdn_cluster_secret = NULL;
bool		fdn_cluster_allow_superuser = false;


static const struct config_enum_entry distribution_options[] = {
	{"uniform", FDN_DIST_UNIFORM, false},
	{"local", FDN_DIST_LOCAL, false},
	{"least_loaded", FDN_DIST_LEAST_LOADED, false},
	{NULL, 0, false}
};

void
fdn_define_membership_gucs(void)
{
	DefineCustomStringVariable("foundation.control_conninfo",
							   "libpq connection string of the cluster's control database.",
							   "Empty: this node alone. A multi-host string with target_session_attrs=read-write follows a promoted standby.",
							   &fdn_control_conninfo, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.lease_renew_interval",
							"How often the supervisor renews this member's lease.",
							NULL,
							&fdn_lease_renew_interval_ms,
							5000, 100, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.lease_duration",
							"How long a renewed lease lasts.",
							"A member that cannot renew stops its cluster singletons foundation.lease_safety_margin before it ends; then they move to other members.",
							&fdn_lease_duration_ms,
							15000, 2000, 24 * 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.lease_safety_margin",
							"How long before the control database's end of a lease this member's ends.",
							"It covers the difference in rate between this member's clock and the control database's over one lease; it must be less than foundation.lease_duration (a larger value counts as half of it).",
							&fdn_lease_safety_margin_ms,
							1000, 100, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("foundation.distribution",
							 "Where a new cluster singleton runs: uniform (hash ring), local or least_loaded.",
							 NULL,
							 &fdn_distribution, FDN_DIST_UNIFORM, distribution_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.cluster_secret",
							   "Secret the members share to sign cluster singletons' placements.",
							   "The control database never holds it: a member starts a cluster singleton only if its placement is signed with it. Empty: cluster singletons cannot be started.",
							   &fdn_cluster_secret, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("foundation.cluster_allow_superuser_singletons",
							 "Whether this member starts cluster singletons owned by a superuser.",
							 "Off: a placement whose owner is a superuser here is refused.",
							 &fdn_cluster_allow_superuser, false, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
}

bool
fdn_cluster_enabled(void)
{
	return fdn_control_conninfo != NULL && fdn_control_conninfo[0] != '\0';
}

bool
fdn_cluster_here(void)
{
	return fdn_cluster_enabled() && fdn_in_home_database();
}

const char *
fdn_distribution_name(void)
{
	return distribution_options[fdn_distribution].name;
}

void
fdn_member_request_sync(void)
{
	fdn_require_preload();
	members_shared->sync = true;
	/* Membership lives in foundation.database's supervisor. */
	fdn_wake_supervisor_of(fdn_home_database());
}

Datum
fdn_member_wake(PG_FUNCTION_ARGS)
{
	fdn_member_request_sync();
	PG_RETURN_VOID();
}

/* ---------- this member's cluster singletons ---------- */

/* The pids of our cluster singletons at the last renewal (for leaving). */
#define FDN_MAX_TRACKED 256
static int32 cluster_pids[FDN_MAX_TRACKED];
static int	ncluster_pids = 0;

/*
 * What runs, for the control database: [{name, epoch, pid}]; its pids are
 * also kept for leaving.
 */
static char *
local_running_json(void)
{
	FdnPrivState priv;
	bool		isnull;
	StringInfoData res;
	int			i;

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT l.name, l.epoch, c.pid"
				 " FROM foundation.cluster_local l JOIN foundation.child_specs c USING (child_id)"
				 " WHERE c.status = 'running' AND c.pid IS NOT NULL ORDER BY l.name",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	initStringInfo(&res);
	appendStringInfoChar(&res, '[');
	ncluster_pids = 0;
	for (i = 0; i < (int) SPI_processed; i++)
	{
		int32		pid = DatumGetInt32(fdn_spi_getdatum(i, 3, &isnull));

		appendStringInfoString(&res, i > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(&res, TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull)));
		appendStringInfo(&res, ", \"epoch\": " INT64_FORMAT ", \"pid\": %d}",
						 DatumGetInt64(fdn_spi_getdatum(i, 2, &isnull)), pid);
		if (ncluster_pids < FDN_MAX_TRACKED)
			cluster_pids[ncluster_pids++] = pid;
	}
	appendStringInfoChar(&res, ']');
	fdn_priv_end(&priv);
	return res.data;
}

/* Stop every cluster singleton here: the lease is, or may be, lost. */
static void
fence_member(const char *why)
{
	fdn_expire_leases();
	fdn_stop_local_singletons(why);
	members_shared->epoch = 0;
	members_shared->deadline_ns = 0;
}

/* This member's lease deadline for a renewal sent at sent_ns. */
static uint64
lease_deadline(uint64 sent_ns)
{
	int			margin = fdn_lease_safety_margin_ms;

	if (margin >= fdn_lease_duration_ms)
		margin = fdn_lease_duration_ms / 2;
	return sent_ns + (uint64) (fdn_lease_duration_ms - margin) * UINT64CONST(1000000);
}

/* ms until this member's lease deadline (0: passed). */
static long
ms_until_deadline(void)
{
	uint64		now = fdn_monotonic_ns();

	if (members_shared->deadline_ns <= now)
		return 0;
	return (long) ((members_shared->deadline_ns - now) / 1000000) + 1;
}

/* A whole int64 from text, without raising an error. */
bool
fdn_parse_int64(const char *text, int64 *out)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return false;
	*out = (int64) v;
	return true;
}

char *
fdn_members_json(Jsonb *members)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	if (members != NULL && JB_ROOT_IS_ARRAY(members) && !JB_ROOT_IS_SCALAR(members))
	{
		it = JsonbIteratorInit(&members->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			JsonbValue	nd;
			JsonbValue	ci;

			if (tok != WJB_ELEM || !fdn_json_is_object(&v) ||
				!fdn_json_obj_get(v.val.binary.data, "node", &nd) || nd.type != jbvString)
				continue;
			appendStringInfoString(&buf, first ? "{\"node\": " : ", {\"node\": ");
			escape_json(&buf, pnstrdup(nd.val.string.val, nd.val.string.len));
			appendStringInfoString(&buf, ", \"conninfo\": ");
			if (fdn_json_obj_get(v.val.binary.data, "conninfo", &ci) && ci.type == jbvString)
				escape_json(&buf,
							fdn_conninfo_filter(pnstrdup(ci.val.string.val, ci.val.string.len),
												FDN_CI_MEMBER, NULL));
			else
				appendStringInfoString(&buf, "null");
			appendStringInfoChar(&buf, '}');
			first = false;
		}
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* The other members, for the outbox (relay.c): written when they change. */
static void
update_peers(Jsonb *members)
{
	static char *last = NULL;
	char	   *text = fdn_members_json(members);
	FdnPrivState priv;

	if (last != NULL && strcmp(last, text) == 0)
		return;
	fdn_priv_begin(&priv);
	fdn_spi_exec("WITH m AS (SELECT DISTINCT ON (x.node) x.node, x.conninfo"
				 "            FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) AS x(node text, conninfo text)),"
				 " d AS (DELETE FROM foundation.cluster_peers p WHERE NOT EXISTS (SELECT FROM m WHERE m.node = p.node))"
				 " INSERT INTO foundation.cluster_peers AS p (node, conninfo)"
				 " SELECT node, conninfo FROM m"
				 " ON CONFLICT (node) DO UPDATE SET conninfo = excluded.conninfo, updated_at = now()"
				 " WHERE p.conninfo IS DISTINCT FROM excluded.conninfo",
				 1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(text)}, NULL,
				 SPI_OK_INSERT);
	fdn_priv_end(&priv);
	if (last)
		pfree(last);
	last = MemoryContextStrdup(TopMemoryContext, text);
}

/*
 * Without an epoch this member runs no cluster singleton (it has not
 * joined yet, or it fenced): rows of cluster_local are then left over from
 * before a server restart or a crash.  Their children must not be
 * restarted as ordinary children would be: another member may run them by
 * now.  Drop them (their specs, and so their names); the member starts what
 * it is assigned once it has joined.
 */
void
fdn_membership_forget_stale(void)
{
	static bool done = false;

	/*
	 * Only a supervisor's first pass can meet such rows: later, fencing
	 * removes what it stops.  A supervisor restarted on its own keeps its
	 * member's epoch, and the children it finds are current.
	 */
	if (done)
		return;
	if (members_shared->epoch != 0)
	{
		done = true;
		return;
	}
	fdn_spi_exec("WITH l AS (DELETE FROM foundation.cluster_local RETURNING child_id)"
				 " DELETE FROM foundation.child_specs c USING l WHERE c.child_id = l.child_id",
				 0, NULL, NULL, NULL, SPI_OK_DELETE);
	/* Only once it worked: an error here is retried at the next pass. */
	done = true;
	if (SPI_processed > 0)
		elog(LOG, "foundation: forgot %d cluster singleton(s) of a past epoch; they start again only if assigned here",
			 (int) SPI_processed);
}

/* ---------- the lease ---------- */

static long
ms_until(TimestampTz t)
{
	long		secs;
	int			usecs;

	if (t <= GetCurrentTimestamp())
		return 0;
	TimestampDifference(GetCurrentTimestamp(), t, &secs, &usecs);
	return secs * 1000 + usecs / 1000 + 1;
}

static int
local_load(void)
{
	int			i;
	int			n = 0;

	for (i = 0; i < fdn_shared->nslots; i++)
		if (fdn_slot_alive(&fdn_shared->slots[i]))
			n++;
	return n;
}

/*
 * The databases of this server that have foundation, as a text[] literal
 * (array_out's): the control database places a cluster singleton of a
 * database only on a member that has it.
 */
static char *
databases_literal(void)
{
	List	   *names = fdn_db_names_with_extension();
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(names), 1));
	ListCell   *lc;
	ArrayType  *arr;

	foreach(lc, names)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
	arr = construct_array(elems, list_length(names), TEXTOID, -1, false, TYPALIGN_INT);
	return OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(arr));
}

/*
 * One call of member_heartbeat: its answer as text, or NULL with *error
 * set.  A leaving member (at exit, outside any transaction) only needs to
 * know that it was heard; a renewal reads the answer (heartbeat_answer).
 */
static char *
heartbeat(bool leaving, const char *running, int timeout_ms, char **error)
{
	FdnRemoteCall call = {0};
	const char *params[8];

	params[0] = fdn_node();
	params[1] = psprintf(INT64_FORMAT, members_shared->epoch);
	params[2] = psprintf("%d", fdn_lease_duration_ms);
	params[3] = psprintf("%d", local_load());
	params[4] = running;
	params[5] = leaving ? "true" : "false";
	params[6] = fdn_advertised_conninfo();
	/* leaving: outside a transaction; the list no longer matters */
	params[7] = leaving ? NULL : databases_literal();
	call.conninfo = fdn_control_conninfo;
	call.sql = "SELECT foundation.member_heartbeat($1, $2::pg_catalog.int8, $3::pg_catalog.int4,"
		" $4::pg_catalog.float8, $5::pg_catalog.jsonb, $6::pg_catalog.bool, $7,"
		" $8::pg_catalog.text[])::pg_catalog.text";
	call.nparams = 8;
	call.params = params;
	fdn_remote_run(&call, 1, timeout_ms, 0);
	if (!call.ok || call.result == NULL)
	{
		*error = call.error ? call.error : "no result";
		return NULL;
	}
	return call.result;
}

/*
 * The control database stores; what it answers is checked: the answer as
 * a jsonb object, or NULL with *error set.  (In a transaction: parsing
 * what may not be JSON takes a subtransaction.)
 */
static Jsonb *
heartbeat_answer(const char *text, char **error)
{
	char	   *why = NULL;
	Jsonb	   *res = fdn_remote_jsonb(text, FDN_JSON_OBJECT, &why);

	if (res == NULL)
		*error = psprintf("unusable answer from member_heartbeat: %s", why);
	return res;
}

/*
 * Fence, if this member's lease has ended (or one of its cluster
 * singletons stopped itself for it): before anything else, so that nothing
 * here runs on past the deadline while a renewal is tried.  True if it
 * fenced.
 */
static bool
fence_if_expired(void)
{
	static bool counting = false;
	static uint32 fenced_seen = 0;
	uint32		fenced_count = pg_atomic_read_u32(&fdn_shared->fenced_count);
	bool		child_fenced;

	/* A restarted supervisor counts from now: the deadline tells the rest. */
	if (!counting)
		fenced_seen = fenced_count;
	counting = true;
	child_fenced = fenced_count != fenced_seen;
	fenced_seen = fenced_count;
	if (members_shared->epoch == 0)
		return false;
	if (ms_until_deadline() > 0 && !child_fenced)
		return false;
	elog(LOG, "foundation: this member's lease (epoch " INT64_FORMAT ") was last renewed at %s and has ended%s: fencing",
		 members_shared->epoch, timestamptz_to_str(members_shared->renewed),
		 child_fenced ? " for a cluster singleton that stopped itself" : "");
	fence_member("this member's lease ended before it was renewed");
	/* Children that stopped themselves meanwhile are this fence's too. */
	fenced_seen = pg_atomic_read_u32(&fdn_shared->fenced_count);
	members_shared->sync = true;	/* rejoin at once */
	return true;
}

long
fdn_membership_pass(void)
{
	static TimestampTz last_beat = 0;
	static bool failing = false;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next_due;
	TimestampTz sent;
	uint64		sent_ns;
	char	   *answer;
	Jsonb	   *res;
	char	   *error = NULL;
	int			timeout_ms;
	JsonbValue	v;

	if (!fdn_cluster_enabled())
	{
		if (members_shared->epoch != 0)
		{
			elog(LOG, "foundation: foundation.control_conninfo is empty: leaving the cluster");
			fence_member("foundation.control_conninfo is empty");
		}
		return -1;
	}

	(void) fence_if_expired();
	if (members_shared->epoch != 0)
		fdn_stamp_local_leases(members_shared->deadline_ns);

	/*
	 * Due one interval after the last heartbeat, with the interval as it is
	 * now: a reload that shortens it applies at the supervisor's next pass
	 * (the reload wakes it), not one old interval later.
	 */
	next_due = last_beat == 0 ? 0 :
		TimestampTzPlusMilliseconds(last_beat, fdn_lease_renew_interval_ms);
	if (!members_shared->sync && now < next_due)
		return members_shared->epoch != 0 ?
			Min(ms_until(next_due), ms_until_deadline()) : ms_until(next_due);
	members_shared->sync = false;

	/* Never wait past the moment we must fence, not even a little. */
	timeout_ms = fdn_lease_renew_interval_ms;
	if (members_shared->epoch != 0)
		timeout_ms = Max(Min(timeout_ms, ms_until_deadline()), 1);

	sent = GetCurrentTimestamp();
	sent_ns = fdn_monotonic_ns();
	answer = heartbeat(false, local_running_json(), timeout_ms, &error);
	res = answer ? heartbeat_answer(answer, &error) : NULL;
	last_beat = GetCurrentTimestamp();
	next_due = TimestampTzPlusMilliseconds(last_beat, fdn_lease_renew_interval_ms);

	/* An answer after the deadline comes too late: the children stopped. */
	if (res != NULL && members_shared->epoch != 0 && ms_until_deadline() == 0)
	{
		res = NULL;
		error = "the answer came after this member's lease had ended";
	}
	if (res == NULL)
	{
		if (!failing)
			ereport(WARNING,
					(errmsg("foundation could not renew this member's lease: %s", error),
					 errhint("Check foundation.control_conninfo and that the control database accepts this member.")));
		failing = true;
		if (fence_if_expired())
			return 0;
		if (members_shared->epoch != 0)
			return Min(ms_until(next_due), ms_until_deadline());
		return ms_until(next_due);
	}
	if (failing)
		elog(LOG, "foundation: the control database answers again");
	failing = false;

	if (fdn_json_obj_get(&res->root, "lost", &v))
	{
		elog(LOG, "foundation: this member's lease (epoch " INT64_FORMAT ") is gone: fencing and rejoining",
			 members_shared->epoch);
		fence_member("this member's lease is gone");
		members_shared->sync = true;
		return 0;
	}
	{
		char	   *epoch_text = fdn_jsonb_field_text(res, "epoch");
		int64		epoch;

		if (epoch_text == NULL || !fdn_parse_int64(epoch_text, &epoch) || epoch <= 0)
		{
			ereport(WARNING,
					(errmsg("foundation: the control database answered member_heartbeat without a valid epoch"),
					 errhint("Check that the control database has the same foundation version as this member.")));
			return members_shared->epoch != 0 ?
				Min(ms_until(next_due), ms_until_deadline()) : ms_until(next_due);
		}
		if (epoch != members_shared->epoch)
			elog(LOG, "foundation: member \"%s\" joined the cluster at epoch " INT64_FORMAT,
				 fdn_node(), epoch);
		members_shared->epoch = epoch;
		members_shared->renewed = sent;
		members_shared->deadline_ns = lease_deadline(sent_ns);
		fdn_extend_leases(members_shared->deadline_ns);
	}
	if (fdn_json_obj_get(&res->root, "members", &v) && fdn_json_is_array(&v))
		update_peers(JsonbValueToJsonb(&v));
	fdn_ensure_relay();
	if (fdn_json_obj_get(&res->root, "assignments", &v) &&
		fdn_json_is_array(&v) &&
		fdn_apply_assignments(JsonbValueToJsonb(&v), members_shared->deadline_ns))
	{
		/* Report the new pids as soon as the children run (after commit). */
		members_shared->sync = true;
		return 0;
	}
	return Min(ms_until(next_due), ms_until_deadline());
}

void
fdn_membership_leave(void)
{
	TimestampTz deadline;
	char	   *error = NULL;
	int			i;
	bool		alive;

	if (!fdn_cluster_enabled() || members_shared->epoch == 0)
		return;

	/*
	 * Hand over only if our children are going too (a server shutdown): a
	 * supervisor stopped by itself leaves them running, and handing their
	 * names to another member then would run them twice.
	 */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 2000);
	HOLD_INTERRUPTS();
	do
	{
		alive = false;
		for (i = 0; i < ncluster_pids; i++)
			if (cluster_pids[i] != 0 && BackendPidGetProc(cluster_pids[i]) != NULL)
				alive = true;
		if (alive)
			pg_usleep(10000);
	} while (alive && GetCurrentTimestamp() < deadline);
	if (!alive)
	{
		if (heartbeat(true, "[]", 2000, &error) != NULL)
		{
			elog(LOG, "foundation: member \"%s\" left the cluster, its singletons handed over",
				 fdn_node());
			members_shared->epoch = 0;
		}
		else
			elog(LOG, "foundation: could not hand over on leaving (%s): the lease will expire", error);
	}
	RESUME_INTERRUPTS();
}

/*
 * In the supervisor: cluster singletons of a past epoch never restart here
 * (before the children are reconciled); the relay's tables are trimmed;
 * after the pass, the lease and the singletons assigned to this member;
 * at exit, this member's singletons are handed over.
 */
static const FdnSupervisorHooks cluster_hooks = {
	.feature = "cluster",
	.home_only = true,
	.pass_start = fdn_membership_forget_stale,
	.cleanup = fdn_relay_cleanup,
	.after_pass = fdn_membership_pass,
	.on_exit = fdn_membership_leave,
};

void
fdn_cluster_init(void)
{
	fdn_shmem_add("foundation members", sizeof(MembersShared), NULL,
				  (void **) &members_shared);
	fdn_relay_shmem_register();
	fdn_supervisor_add_hooks(&cluster_hooks);
}

/* This member's lease as monitoring reads it (cluster/cluster_metrics.c). */
void
fdn_member_lease_state(int64 *epoch, TimestampTz *renewed, long *ms_left)
{
	fdn_require_preload();
	*epoch = members_shared->epoch;
	*renewed = members_shared->renewed;
	*ms_left = *epoch != 0 ? ms_until_deadline() : 0;
}
