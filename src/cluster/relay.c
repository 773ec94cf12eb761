/*-------------------------------------------------------------------------
 *
 * cluster/relay.c
 *	  Channels across nodes: foundation.broadcast on every member, through a
 *	  transactional outbox and a relay child.
 *
 * foundation.broadcast notifies this server's listeners (as
 * local_broadcast) and, with a control database, writes one row into
 * foundation.outbox_messages naming the other members it is for, in the
 * publisher's transaction: nothing of a rolled-back transaction leaves, and
 * a member that is down gets its messages when it returns (the row waits,
 * up to foundation.message_retention).  The relay, a supervised child
 * running foundation.cluster_relay, keeps per member a cursor
 * (foundation.relay_cursors) in terms of transactions, not ids: ids are
 * taken before commit, so a transaction can commit a smaller id after a
 * larger one was sent.  The cursor's snapshot `done` says which
 * transactions' messages the member has; the relay sends it, in id order
 * and in batches, those of the transactions committed since, fixing the
 * set by a snapshot `upto` while it takes several batches.  Each batch goes
 * with foundation.relay_deliver over libpq; once that call has committed
 * the cursor moves, and a message that has reached every member it is for
 * is deleted.  relay_deliver notifies the receiving server's listeners of
 * each message whose (origin, id) it has not seen, in one transaction with
 * the record of it, so each message arrives once per node even when a
 * batch is sent again after a relay crash.  A publisher's messages keep
 * their commit order: one session's transactions commit in the order of the
 * ids they took, and a later transaction is never in an earlier set.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "libpq-fe.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/remote.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "core/xact_end.h"
#include "process/singleton_start.h"
#include "channels/channels.h"
#include "cluster/peers_cache.h"
#include "cluster/relay.h"


PG_FUNCTION_INFO_V1(fdn_relay_deliver);
PG_FUNCTION_INFO_V1(fdn_cluster_relay);
PG_FUNCTION_INFO_V1(fdn_raw_size);

#define FDN_RELAY_BATCH 1000
/*
 * A batch also stops once its messages reach this many bytes (their jsonb
 * uncompressed; always at least one message): the receiving server reads a
 * batch as one jsonb, which cannot exceed 256 MB, and a batch that fails
 * there fails again at every retry.  1000 messages of 300 kB each would
 * have stopped the relay for good.
 */
#define FDN_RELAY_BATCH_BYTES (16 * 1024 * 1024)
#define FDN_RELAY_NAME "foundation:relay"

/* The relay's shared memory: where it runs. */
typedef struct RelayShared
{
	pid_t		relay_pid;		/* the cross-node relay child, or 0 */
	int			relay_procno;
} RelayShared;

static RelayShared *relay_shared = NULL;

void
fdn_relay_shmem_register(void)
{
	fdn_shmem_add("foundation relay", sizeof(RelayShared), NULL,
				  (void **) &relay_shared);
}

/* ---------- the publisher's side ---------- */

/* Wake the relay once the outbox rows are committed. */
static void
wake_relay(bool committed)
{
	if (committed && relay_shared && relay_shared->relay_pid != 0)
		SetLatch(&ProcGlobal->allProcs[relay_shared->relay_procno].procLatch);
}

/*
 * One row per message, whatever the number of members: the members it is
 * for go into its targets (a row per member cost some 35 000 instructions
 * per member more; benchmark 16), from the set this backend remembers
 * (peers_cache.c).
 */
void
fdn_outbox_write(const char *target, int channel, Jsonb *message, bool compression)
{
	FdnPrivState priv;
	Datum	   *peers;
	int			npeers;
	Datum		targets;

	fdn_priv_begin(&priv);
	peers = fdn_peers(&npeers);
	if (target == NULL)
	{
		if (npeers == 0)
		{
			fdn_priv_end(&priv);
			return;
		}
		targets = PointerGetDatum(construct_array(peers, npeers, TEXTOID, -1,
												  false, TYPALIGN_INT));
	}
	else
	{
		Datum		t = CStringGetTextDatum(target);
		int			i;

		for (i = 0; i < npeers; i++)
			if (strcmp(TextDatumGetCString(peers[i]), target) == 0)
				break;
		if (i == npeers)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("unknown member \"%s\"", target),
					 errhint("SELECT node FROM foundation.cluster_peers lists the other members this one knows.")));
		targets = PointerGetDatum(construct_array(&t, 1, TEXTOID, -1, false,
												  TYPALIGN_INT));
	}
	fdn_spi_exec("INSERT INTO foundation.outbox_messages (targets, channel, message, compression)"
				 " VALUES ($1, $2, $3, $4)",
				 4, (Oid[]) {TEXTARRAYOID, TEXTOID, JSONBOID, BOOLOID},
				 (Datum[]) {targets, CStringGetTextDatum(fdn_channel_names[channel]),
				 JsonbPGetDatum(message), BoolGetDatum(compression)},
				 NULL, SPI_OK_INSERT);
	ereport(DEBUG1,
			(errmsg_internal("  1 row into foundation.outbox_messages for the other members")));
	fdn_priv_end(&priv);
	fdn_at_xact_end(wake_relay);
}

/* ---------- the receiving side ---------- */

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * A batch is checked whole, then its receipts are written with one
 * statement, and the messages whose receipt is new are notified in the
 * batch's order: a statement per message was most of the receiving
 * member's cost of a relayed message (benchmark 15b).
 */
Datum
fdn_relay_deliver(PG_FUNCTION_ARGS)
{
	char	   *origin;
	Jsonb	   *msgs;
	int			n;
	int			i;
	int			delivered = 0;
	Jsonb	  **elems;
	Datum	   *ids;
	int64	   *fresh;
	int			nfresh;
	bool	   *sent;
	FdnPrivState priv;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		fdn_null_arg_error("origin and messages",
						   "Another member's relay calls this; see docs/channels.md.");
	origin = text_to_cstring(PG_GETARG_TEXT_PP(0));
	msgs = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_ARRAY(msgs) || JB_ROOT_IS_SCALAR(msgs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages must be a JSON array"),
				 errhint("[{\"id\": 1, \"channel\": \"events\", \"message\": {...}, \"compression\": false}]")));
	n = JB_ROOT_COUNT(msgs);
	if (n == 0)
		PG_RETURN_INT32(0);
	elems = palloc(sizeof(Jsonb *) * n);
	ids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(&msgs->root, i);
		JsonbValue	id;
		JsonbValue	ch;
		JsonbValue	body;

		/* Another server's batch: every element must be an object. */
		if (!fdn_json_is_object(e))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message %d of the batch is not a JSON object", i + 1),
					 errhint("Each element is {\"id\": n, \"channel\": name, \"message\": json, \"compression\": bool}.")));
		elems[i] = JsonbValueToJsonb(e);
		if (!fdn_json_obj_get(&elems[i]->root, "id", &id) || id.type != jbvNumeric ||
			!fdn_json_obj_get(&elems[i]->root, "channel", &ch) || ch.type != jbvString ||
			!fdn_json_obj_get(&elems[i]->root, "message", &body))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message %d of the batch lacks id, channel or message", i + 1),
					 errhint("Each element is {\"id\": n, \"channel\": name, \"message\": json, \"compression\": bool}.")));
		ids[i] = DirectFunctionCall1(numeric_int8, NumericGetDatum(id.val.numeric));
	}

	/* The receipts: which of these ids are new from this origin. */
	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.relay_inbox (origin, id)"
				 " SELECT $1, i FROM unnest($2) i ON CONFLICT DO NOTHING RETURNING id",
				 2, (Oid[]) {TEXTOID, INT8ARRAYOID},
				 (Datum[]) {CStringGetTextDatum(origin),
				 PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64),
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))},
				 NULL, SPI_OK_INSERT_RETURNING);
	nfresh = (int) SPI_processed;
	fresh = palloc(sizeof(int64) * Max(nfresh, 1));
	for (i = 0; i < nfresh; i++)
	{
		bool		isnull;

		fresh[i] = DatumGetInt64(fdn_spi_getdatum(i, 1, &isnull));
	}
	fdn_priv_end(&priv);
	qsort(fresh, nfresh, sizeof(int64), int64_cmp);
	sent = palloc0(sizeof(bool) * Max(nfresh, 1));

	for (i = 0; i < n; i++)
	{
		int64		id = DatumGetInt64(ids[i]);
		int64	   *hit = bsearch(&id, fresh, nfresh, sizeof(int64), int64_cmp);
		JsonbValue	ch;
		JsonbValue	body;
		JsonbValue	comp;

		/* sent again after a relay crash, or twice in this batch */
		if (hit == NULL || sent[hit - fresh])
			continue;
		sent[hit - fresh] = true;
		(void) fdn_json_obj_get(&elems[i]->root, "channel", &ch);
		(void) fdn_json_obj_get(&elems[i]->root, "message", &body);
		fdn_broadcast(fdn_channel_index(pnstrdup(ch.val.string.val, ch.val.string.len)),
					  JsonbValueToJsonb(&body),
					  fdn_json_obj_get(&elems[i]->root, "compression", &comp) &&
					  comp.type == jbvBool && comp.val.boolean,
					  FDN_ROUTE_NONE);
		delivered++;
	}
	PG_RETURN_INT32(delivered);
}

/* ---------- the relay child ---------- */

/*
 * One open connection per member, kept between batches: a new connection
 * per batch was most of a message's way to another member (benchmark 15).
 */
#define FDN_RELAY_MAX_CONNS 64

typedef struct FdnRelayConn
{
	char	   *target;
	char	   *conninfo;
	PGconn	   *conn;
} FdnRelayConn;

static FdnRelayConn relay_conns[FDN_RELAY_MAX_CONNS];
static int	relay_nconns = 0;

static FdnRelayConn *
relay_conn_for(const char *target, const char *conninfo)
{
	int			i;
	FdnRelayConn *c;

	for (i = 0; i < relay_nconns; i++)
	{
		c = &relay_conns[i];
		if (strcmp(c->target, target) != 0)
			continue;
		if (strcmp(c->conninfo, conninfo) != 0)
		{
			/* The member moved: forget the old address. */
			if (c->conn)
				PQfinish(c->conn);
			c->conn = NULL;
			pfree(c->conninfo);
			c->conninfo = MemoryContextStrdup(TopMemoryContext, conninfo);
		}
		return c;
	}
	if (relay_nconns == FDN_RELAY_MAX_CONNS)
		return NULL;			/* a connection per batch for the rest */
	c = &relay_conns[relay_nconns++];
	c->target = MemoryContextStrdup(TopMemoryContext, target);
	c->conninfo = MemoryContextStrdup(TopMemoryContext, conninfo);
	c->conn = NULL;
	return c;
}

/*
 * Column col of row of the relay's last query, copied into the current
 * memory context, the relay's pass context (reset after every pass).  The
 * relay stays connected to SPI for its whole life, so what SPI keeps until
 * SPI_finish (row sets, and what fdn_spi_getdatum copies into the context
 * the relay was called in) would never be freed: the relay grew by some
 * 200 bytes per message relayed (benchmark 15b).
 */
static Datum
pass_datum(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, isnull);
	Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, col - 1);

	return *isnull ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
}

/*
 * A member the relay sends to: where it is, and its cursor (relay_cursors)
 * as text: done, upto (NULL while no pass through a set of transactions is
 * under way) and upto_id.
 */
typedef struct RelayTarget
{
	char	   *node;
	char	   *conninfo;
	char	   *done;
	char	   *upto;
	Datum		upto_id;
	/* this pass's batch */
	int			n;				/* messages in it */
	Datum		ids;			/* their ids, bigint[] */
	Datum		max_id;
	bool		full;			/* more of this set may wait */
	char	   *snapshot;		/* of the statement that read it */
} RelayTarget;

/*
 * The next batch for member t: in id order, the messages for it of the
 * transactions that committed after its cursor's done snapshot, and, while
 * the cursor works through the transactions up to its upto snapshot, of
 * those only, past upto_id.  Without upto, the set is what this statement
 * sees (its snapshot, returned, becomes upto if the batch is full).  A
 * transaction that commits later, whatever its ids, belongs to a later set,
 * so no message is passed over; one publisher's transactions commit in the
 * order of their ids, so its messages keep their order.
 */
static char *
relay_read_batch(RelayTarget *t)
{
	bool		isnull;
	Datum		json;
	int			limited;		/* messages before the size cut */

	/*
	 * In id order, up to FDN_RELAY_BATCH messages and, of those, as many
	 * as fit in FDN_RELAY_BATCH_BYTES (the first always goes); the number
	 * before that cut says whether the batch is full.
	 */
	fdn_spi_exec("SELECT json_agg(json_build_object('id', id, 'channel', channel, 'message', message,"
				 "                                 'compression', compression) ORDER BY id) FILTER (WHERE before < $6)::text,"
				 "       array_agg(id ORDER BY id) FILTER (WHERE before < $6), count(*) FILTER (WHERE before < $6)::int4,"
				 "       max(id) FILTER (WHERE before < $6), pg_current_snapshot()::text, count(*)::int4"
				 "  FROM (SELECT id, channel, message, compression,"
				 "               coalesce(sum(foundation._raw_size(message)) OVER (ORDER BY id"
				 "                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before"
				 "          FROM (SELECT id, channel, message, compression FROM foundation.outbox_messages"
				 "                 WHERE xid >= pg_snapshot_xmin($3::pg_snapshot)"
				 "                   AND NOT pg_visible_in_snapshot(xid, $3::pg_snapshot)"
				 "                   AND ($4::pg_snapshot IS NULL"
				 "                        OR (pg_visible_in_snapshot(xid, $4::pg_snapshot) AND id > $5))"
				 "                   AND $1 = ANY (targets)"
				 "                 ORDER BY id LIMIT $2) s) l",
				 6, (Oid[]) {TEXTOID, INT4OID, TEXTOID, TEXTOID, INT8OID, INT8OID},
				 (Datum[]) {CStringGetTextDatum(t->node), Int32GetDatum(FDN_RELAY_BATCH),
					 CStringGetTextDatum(t->done),
					 t->upto ? CStringGetTextDatum(t->upto) : (Datum) 0, t->upto_id,
				 Int64GetDatum(FDN_RELAY_BATCH_BYTES)},
				 t->upto ? "    " : "   nn ", SPI_OK_SELECT);
	json = pass_datum(0, 1, &isnull);
	t->n = DatumGetInt32(pass_datum(0, 3, &isnull));
	limited = DatumGetInt32(pass_datum(0, 6, &isnull));
	t->full = limited == FDN_RELAY_BATCH || t->n < limited;
	if (t->n > 0)
	{
		t->ids = pass_datum(0, 2, &isnull);
		t->max_id = pass_datum(0, 4, &isnull);
	}
	t->snapshot = TextDatumGetCString(pass_datum(0, 5, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return t->n > 0 ? TextDatumGetCString(json) : NULL;
}

/*
 * foundation._raw_size(jsonb): a message's size uncompressed, read from
 * its header, without detoasting it (the relay's batch limit).
 */
Datum
fdn_raw_size(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) toast_raw_datum_size(PG_GETARG_DATUM(0)));
}

/*
 * Member t has its batch (or there was none): move its cursor past it, and
 * delete the batch's messages that have now reached every member they are
 * for.  In the relay's transaction, after the member committed the batch:
 * a crash in between sends it again, and the member drops what it has.
 */
static void
relay_advance(RelayTarget *t)
{
	bool		full = t->full;
	const char *done = t->done;
	const char *upto = NULL;
	Datum		upto_id = (Datum) 0;

	if (full)
	{
		/* More of this set may wait: the next batch goes on from here. */
		upto = t->upto ? t->upto : t->snapshot;
		upto_id = t->max_id;
	}
	else
		done = t->upto ? t->upto : t->snapshot;
	if (t->n == 0)
	{
		fdn_spi_exec("INSERT INTO foundation.relay_cursors AS c (target, done, upto, upto_id)"
					 " VALUES ($1, $2::pg_snapshot, $3::pg_snapshot, $4)"
					 " ON CONFLICT (target) DO UPDATE"
					 " SET done = excluded.done, upto = excluded.upto, upto_id = excluded.upto_id",
					 4, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, INT8OID},
					 (Datum[]) {CStringGetTextDatum(t->node), CStringGetTextDatum(done),
						 upto ? CStringGetTextDatum(upto) : (Datum) 0, upto_id},
					 upto ? "    " : "  nn", SPI_OK_INSERT);
		return;
	}

	/*
	 * One statement: the delete sees the cursors as they were (one
	 * snapshot), so this member counts as having the batch explicitly.
	 */
	fdn_spi_exec("WITH moved AS (INSERT INTO foundation.relay_cursors AS c (target, done, upto, upto_id)"
				 "   VALUES ($1, $2::pg_snapshot, $3::pg_snapshot, $4)"
				 "   ON CONFLICT (target) DO UPDATE"
				 "   SET done = excluded.done, upto = excluded.upto, upto_id = excluded.upto_id)"
				 " DELETE FROM foundation.outbox_messages m WHERE m.id = ANY ($5)"
				 " AND NOT EXISTS (SELECT FROM unnest(m.targets) t (target)"
				 "                   LEFT JOIN foundation.relay_cursors c ON c.target = t.target"
				 "                  WHERE t.target <> $1 AND (c.target IS NULL"
				 "                     OR NOT (pg_visible_in_snapshot(m.xid, c.done)"
				 "                             OR coalesce(pg_visible_in_snapshot(m.xid, c.upto)"
				 "                                         AND m.id <= c.upto_id, false))))",
				 5, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8ARRAYOID},
				 (Datum[]) {CStringGetTextDatum(t->node), CStringGetTextDatum(done),
					 upto ? CStringGetTextDatum(upto) : (Datum) 0, upto_id, t->ids},
				 upto ? "     " : "  nn ", SPI_OK_DELETE);
}

/*
 * Send each member with messages waiting its next batch, all members at
 * once (each receiving server does its part at the same time as the
 * others), and move the cursor of each that confirmed; *total counts the
 * messages delivered, *failed the members not reached.
 */
static void
relay_send_all(RelayTarget *targets, int ntargets, int *total, int *failed)
{
	FdnRemoteCall *calls = palloc0(sizeof(FdnRemoteCall) * Max(ntargets, 1));
	RelayTarget **sent = palloc0(sizeof(RelayTarget *) * Max(ntargets, 1));
	FdnRelayConn **cached = palloc0(sizeof(FdnRelayConn *) * Max(ntargets, 1));
	bool	   *reused = palloc0(sizeof(bool) * Max(ntargets, 1));
	int			ncalls = 0;
	int			nretry = 0;
	int			i;

	*total = *failed = 0;
	for (i = 0; i < ntargets; i++)
	{
		RelayTarget *t = &targets[i];
		char	   *batch = relay_read_batch(t);
		const char **params;
		FdnRemoteCall *call = &calls[ncalls];

		if (batch == NULL)
		{
			/* Nothing for it; a set worked through to its end is done. */
			if (t->upto)
				relay_advance(t);
			continue;
		}
		params = palloc(sizeof(char *) * 2);
		params[0] = fdn_node();
		params[1] = batch;
		call->conninfo = t->conninfo;
		call->sql = "SELECT foundation.relay_deliver($1, $2::pg_catalog.jsonb)::pg_catalog.text";
		call->nparams = 2;
		call->params = params;
		sent[ncalls] = t;
		cached[ncalls] = relay_conn_for(t->node, t->conninfo);
		if (cached[ncalls])
		{
			reused[ncalls] = cached[ncalls]->conn != NULL;
			call->conn = cached[ncalls]->conn;
			call->keep = true;
			cached[ncalls]->conn = NULL;
		}
		ncalls++;
	}
	if (ncalls == 0)
		return;
	fdn_remote_run(calls, ncalls, 10000, 0);

	/* A kept connection that broke (the member restarted?): once anew. */
	for (i = 0; i < ncalls; i++)
		if (!calls[i].ok && reused[i])
			nretry++;
	if (nretry > 0)
	{
		FdnRemoteCall *again = palloc0(sizeof(FdnRemoteCall) * nretry);
		int			k = 0;

		for (i = 0; i < ncalls; i++)
			if (!calls[i].ok && reused[i])
			{
				again[k] = calls[i];
				again[k].conn = NULL;
				k++;
			}
		fdn_remote_run(again, nretry, 10000, 0);
		k = 0;
		for (i = 0; i < ncalls; i++)
			if (!calls[i].ok && reused[i])
				calls[i] = again[k++];
	}

	for (i = 0; i < ncalls; i++)
	{
		if (cached[i])
			cached[i]->conn = calls[i].conn;
		if (!calls[i].ok)
		{
			ereport(DEBUG1,
					(errmsg_internal("foundation relay: member %s not reached: %s",
									 sent[i]->node, calls[i].error)));
			(*failed)++;
			continue;
		}
		/* Delivered (and committed there): past these, and only these. */
		relay_advance(sent[i]);
		*total += sent[i]->n;
	}
}

/*
 * The relay: a procedure in C, run by a supervised child (so it may
 * commit), CALL foundation.cluster_relay('{}').
 */
static void
relay_on_exit(int code, Datum arg)
{
	if (relay_shared && relay_shared->relay_pid == MyProcPid)
		relay_shared->relay_pid = 0;
}

Datum
fdn_cluster_relay(PG_FUNCTION_ARGS)
{
	MemoryContext passcxt;
	TimestampTz warned_at = 0;

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	before_shmem_exit(relay_on_exit, (Datum) 0);

	/*
	 * The relay's statements read a member's rows by (target, id) and
	 * delete them by id: index work whatever the statistics say.  With
	 * stale statistics of a table that a backlog filled, the planner chose
	 * to filter every waiting row for each batch's delete instead, which
	 * made draining a backlog quadratic (benchmark 15b).
	 */
	SetConfigOption("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION);
	passcxt = AllocSetContextCreate(TopMemoryContext, "foundation relay pass",
									ALLOCSET_DEFAULT_SIZES);
	relay_shared->relay_procno = MyProc->pgprocno;
	relay_shared->relay_pid = MyProcPid;
	pgstat_report_activity(STATE_IDLE, "foundation relay: waiting");

	for (;;)
	{
		MemoryContext oldcxt;
		int			total = 0;
		int			failed = 0;
		int			ntargets;
		int			i;
		RelayTarget *targets;
		bool		isnull;
		Datum		d;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(passcxt);

		/* The members, where they are, and how far each has got. */
		fdn_spi_exec("SELECT p.node, p.conninfo, coalesce(c.done, '1:1:')::text, c.upto::text, c.upto_id"
					 " FROM foundation.cluster_peers p"
					 " LEFT JOIN foundation.relay_cursors c ON c.target = p.node"
					 " WHERE p.conninfo IS NOT NULL ORDER BY p.node",
					 0, NULL, NULL, NULL, SPI_OK_SELECT);
		ntargets = (int) SPI_processed;
		targets = palloc0(sizeof(RelayTarget) * Max(ntargets, 1));
		for (i = 0; i < ntargets; i++)
		{
			targets[i].node = TextDatumGetCString(pass_datum(i, 1, &isnull));
			targets[i].conninfo = TextDatumGetCString(pass_datum(i, 2, &isnull));
			targets[i].done = TextDatumGetCString(pass_datum(i, 3, &isnull));
			d = pass_datum(i, 4, &isnull);
			targets[i].upto = isnull ? NULL : TextDatumGetCString(d);
			targets[i].upto_id = pass_datum(i, 5, &isnull);
		}
		SPI_freetuptable(SPI_tuptable);
		SPI_commit();

		pgstat_report_activity(STATE_RUNNING, "foundation relay: sending");
		relay_send_all(targets, ntargets, &total, &failed);
		SPI_commit();
		if (failed > 0 &&
			TimestampDifferenceExceeds(warned_at, GetCurrentTimestamp(), 60000))
		{
			ereport(LOG,
					(errmsg("foundation relay: %d member(s) not reachable; their messages wait in foundation.outbox",
							failed)));
			warned_at = GetCurrentTimestamp();
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(passcxt);
		pgstat_report_activity(STATE_IDLE, "foundation relay: waiting");

		/* More to send: go on at once; else wait for a commit or a retry. */
		if (total > 0 && failed == 0)
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 failed > 0 ? 500 : 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	PG_RETURN_VOID();
}

void
fdn_ensure_relay(void)
{
	if (relay_shared->relay_pid != 0)
		return;
	(void) fdn_ensure_own_singleton(FDN_RELAY_NAME, "foundation.cluster_relay");
}

/*
 * Messages for members gone longer than foundation.message_retention go,
 * and their receipts; restored messages get this server's transaction
 * ids; and the cursor of a member that is no longer one,
 * once no message is left for it (should it come back, it gets only what
 * is sent from then on, as any new member).
 */
void
fdn_relay_cleanup(void)
{
	Datum		secs = Int32GetDatum(fdn_message_retention_s);

	fdn_spi_exec("DELETE FROM foundation.outbox_messages"
				 " WHERE created_at < now() - make_interval(secs => $1)",
				 1, (Oid[]) {INT4OID}, &secs, NULL, SPI_OK_DELETE);
	/*
	 * Messages restored from a dump carry transaction ids of another
	 * server, which mean nothing here: they become this transaction's, so
	 * that every cursor sees them as not delivered yet.  (A row this
	 * statement sees whose transaction is not visible in its snapshot can
	 * only be one of those.)
	 */
	fdn_spi_exec("UPDATE foundation.outbox_messages SET xid = pg_current_xact_id()"
				 " WHERE xid >= pg_snapshot_xmin(pg_current_snapshot())"
				 "   AND NOT pg_visible_in_snapshot(xid, pg_current_snapshot())",
				 0, NULL, NULL, NULL, SPI_OK_UPDATE);
	fdn_spi_exec("DELETE FROM foundation.relay_cursors c"
				 " WHERE NOT EXISTS (SELECT FROM foundation.cluster_peers p WHERE p.node = c.target)"
				 "   AND NOT EXISTS (SELECT FROM foundation.outbox_messages m WHERE c.target = ANY (m.targets))",
				 0, NULL, NULL, NULL, SPI_OK_DELETE);
	fdn_spi_exec("DELETE FROM foundation.relay_inbox"
				 " WHERE received_at < now() - make_interval(secs => $1)",
				 1, (Oid[]) {INT4OID}, &secs, NULL, SPI_OK_DELETE);
}
