/*-------------------------------------------------------------------------
 *
 * channels/durable.c
 *	  Durable channels: configure_channel, the log of their messages with
 *	  a sequence number each, and its retention.
 *
 * A channel made durable (a row in foundation.channel_config) keeps every
 * committed message in foundation.durable_messages, written by the
 * broadcasting transaction itself (so a rollback leaves nothing), and its
 * payload carries the message's seq.  A listener that reconnects LISTENs,
 * then reads foundation.replay(channel, last_seen) and skips notifications
 * with seq <= the last it replayed.
 *
 * That pattern needs seqs that grow in commit order on a channel: a replay
 * that saw seq 6 must never later meet a committed 5.  So a durable
 * message is numbered at its transaction's pre-commit, under the
 * channel's lock (an advisory lock tag of class FDN_LOCK_CLASS_CHANNEL),
 * held from there to the end of the commit: seqs are drawn by one
 * committer at a time, each after the previous one's commit.  The lock is
 * held only for the commit itself, never while the transaction is open
 * or idle, and taken in channel order, so durable broadcasters neither
 * stall one another nor deadlock.  PostgreSQL's NOTIFY already lets one
 * notifying commit of the server at a time queue its notifications, so
 * this adds little.  Plain channels take no lock.
 *
 * Whether a channel is durable is cached per backend and dropped by the
 * relcache invalidation configure_channel sends at its commit, so a plain
 * broadcast reads no table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/lock_classes.h"
#include "core/spi_util.h"
#include "channels/channels.h"
#include "channels/durable.h"


PG_FUNCTION_INFO_V1(fdn_configure_channel);

/* Expired messages deleted per statement, and statements per pass. */
#define RETENTION_BATCH 10000
#define RETENTION_BATCHES_PER_PASS 20

static bool cache_valid = false;
static bool cache_callback_registered = false;
static Oid	cache_relid = InvalidOid;
static bool durable[FDN_NCHANNELS];

static Oid
config_relid(void)
{
	Oid			nsp = get_namespace_oid("foundation", true);

	return OidIsValid(nsp) ? get_relname_relid("channel_config", nsp) : InvalidOid;
}

static void
config_invalidated(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cache_relid)
		cache_valid = false;
}

static void
load_config(void)
{
	FdnPrivState priv;
	uint64		i;

	if (!cache_callback_registered)
	{
		CacheRegisterRelcacheCallback(config_invalidated, (Datum) 0);
		cache_callback_registered = true;
	}
	memset(durable, 0, sizeof(durable));
	cache_relid = config_relid();
	if (!OidIsValid(cache_relid))
		return;					/* foundation is not installed here */
	/*
	 * Valid from before the read: an invalidation that arrives while it
	 * runs (taking the table's lock processes them) marks it stale again.
	 * Read from the latest snapshot, not the transaction's: under
	 * REPEATABLE READ an old snapshot would be cached for the backend's
	 * life.
	 */
	cache_valid = true;
	PG_TRY();
	{
		fdn_priv_begin(&priv);
		fdn_spi_query_latest("SELECT channel FROM foundation.channel_config",
							 0, NULL, NULL, NULL);
		for (i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, 1);
			int			c = fdn_topic_index(psprintf("foundation:%s", name));

			if (c >= 0)
				durable[c] = true;
		}
		fdn_priv_end(&priv);
	}
	PG_CATCH();
	{
		cache_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static bool
channel_is_durable(int channel)
{
	if (!cache_valid)
		load_config();
	return durable[channel];
}

/*
 * Messages of durable channels broadcast in this transaction, in order,
 * sent at its pre-commit.  Each remembers the subtransaction level it was
 * broadcast at, so that a rolled-back savepoint drops its messages.
 * Allocated in TopTransactionContext; the list is reset at every end.
 */
typedef struct PendingMessage
{
	int			channel;
	int			level;
	bool		compression;
	FdnRoute	route;
	Jsonb	   *message;
	char	   *text;			/* its text form if the caller had it */
} PendingMessage;

static List *pending = NIL;
static bool xact_callbacks_registered = false;

/*
 * At pre-commit, the last moment of the transaction that may still write:
 * take the locks of the channels with pending messages (in channel order,
 * so two committers never wait for each other crosswise), then number,
 * log and notify each message.  The locks are held until the commit is
 * done, so a later committer draws its seqs after this one's are
 * visible.  PostgreSQL's PreCommit_Notify runs after this callback and
 * queues the notifications with the rest of the transaction's.
 */
static void
send_pending(void)
{
	List	   *todo = pending;
	bool		locked[FDN_NCHANNELS] = {false};
	ListCell   *lc;
	int			c;

	pending = NIL;
	foreach(lc, todo)
		locked[((PendingMessage *) lfirst(lc))->channel] = true;
	for (c = 0; c < FDN_NCHANNELS; c++)
	{
		LOCKTAG		tag;

		if (!locked[c])
			continue;
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, (uint32) c,
							 FDN_LOCK_CLASS_CHANNEL);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	/* The portal that ran the transaction's statements is gone by now. */
	PushActiveSnapshot(GetTransactionSnapshot());
	foreach(lc, todo)
	{
		PendingMessage *m = lfirst(lc);
		FdnPrivState priv;
		Datum		values[2];
		bool		isnull;
		int64		seq;

		values[0] = CStringGetTextDatum(fdn_channel_names[m->channel]);
		values[1] = JsonbPGetDatum(m->message);
		/* sent_at: the time of the commit, which retention counts from */
		fdn_priv_begin(&priv);
		fdn_spi_exec("INSERT INTO foundation.durable_messages"
					 " (channel, seq, message, sent_at)"
					 " VALUES ($1, pg_catalog.nextval('foundation.durable_seq'), $2,"
					 " pg_catalog.clock_timestamp())"
					 " RETURNING seq",
					 2, (Oid[]) {TEXTOID, JSONBOID}, values, NULL,
					 SPI_OK_INSERT_RETURNING);
		seq = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
		fdn_priv_end(&priv);
		fdn_channel_send(m->channel, m->message, m->text, m->compression,
						 m->route, seq);
	}
	PopActiveSnapshot();
}

static void
durable_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending != NIL)
				send_pending();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has broadcast on a durable channel"),
						 errhint("Broadcast in a transaction that commits with COMMIT, as for NOTIFY.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending = NIL;		/* its memory went with the transaction */
			break;
		default:
			break;
	}
}

static void
durable_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (pending == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		/* Messages of the savepoint rolled back, and of its children. */
		foreach(lc, pending)
			if (((PendingMessage *) lfirst(lc))->level >= level)
				pending = foreach_delete_current(pending, lc);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending)
		{
			PendingMessage *m = lfirst(lc);

			if (m->level >= level)
				m->level = level - 1;
		}
	}
}

bool
fdn_durable_defer(int channel, Jsonb *message, char *text, bool compression,
				  FdnRoute route)
{
	MemoryContext old;
	PendingMessage *m;

	if (!channel_is_durable(channel))
		return false;
	/* It writes at commit: say so now rather than fail the COMMIT. */
	PreventCommandIfReadOnly("broadcast on a durable channel");
	if (!xact_callbacks_registered)
	{
		RegisterXactCallback(durable_xact_callback, NULL);
		RegisterSubXactCallback(durable_subxact_callback, NULL);
		xact_callbacks_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	m = palloc(sizeof(PendingMessage));
	m->channel = channel;
	m->level = GetCurrentTransactionNestLevel();
	m->compression = compression;
	m->route = route;
	m->message = (Jsonb *) pg_detoast_datum_copy((struct varlena *) message);
	m->text = text != NULL ? pstrdup(text) : NULL;
	pending = lappend(pending, m);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * The trigger on foundation.channel_config: whatever changes it (this
 * module's configure_channel, a superuser's INSERT, pg_restore's COPY),
 * every backend rereads the configuration once the change commits.
 */
PG_FUNCTION_INFO_V1(fdn_channel_config_changed);
Datum
fdn_channel_config_changed(PG_FUNCTION_ARGS)
{
	return fdn_invalidate_on_change(fcinfo, "fdn_channel_config_changed");
}

Datum
fdn_configure_channel(PG_FUNCTION_ARGS)
{
	FdnPrivState priv;
	int			channel;
	Datum		values[2];

	if (PG_ARGISNULL(0))
		fdn_channels_null_arg("channel");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	values[0] = CStringGetTextDatum(fdn_channel_names[channel]);

	fdn_priv_begin(&priv);
	if (PG_ARGISNULL(1))
		fdn_spi_exec("DELETE FROM foundation.channel_config WHERE channel = $1",
					 1, (Oid[]) {TEXTOID}, values, NULL, SPI_OK_DELETE);
	else
	{
		Interval   *retention = PG_GETARG_INTERVAL_P(1);
		Interval	zero = {0};

		if (DatumGetBool(DirectFunctionCall2(interval_le,
											 IntervalPGetDatum(retention),
											 IntervalPGetDatum(&zero))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retention must be positive"),
					 errhint("Pass how long messages stay replayable, e.g. '1 hour', or NULL to make the channel plain again.")));
		values[1] = IntervalPGetDatum(retention);
		fdn_spi_exec("INSERT INTO foundation.channel_config (channel, retention)"
					 " VALUES ($1, $2) ON CONFLICT (channel)"
					 " DO UPDATE SET retention = excluded.retention",
					 2, (Oid[]) {TEXTOID, INTERVALOID}, values, NULL,
					 SPI_OK_INSERT);
	}
	fdn_priv_end(&priv);
	/* The table's trigger tells every backend to reread it at commit. */
	PG_RETURN_VOID();
}

/*
 * In the supervisor: messages past their channel's retention, and every
 * message of a channel no longer durable, go in batches.  Each channel is
 * swept on its own through the (channel, sent_at) index, so a pass reads
 * the expired rows only, never the whole log.  A batch deletes rows the
 * broadcasts no longer touch and takes no channel lock, so it never waits
 * for a broadcast nor makes one wait.
 */
void
fdn_durable_cleanup(void)
{
	int			c;
	int			batches = 0;

	for (c = 0; c < FDN_NCHANNELS; c++)
	{
		Datum		values[2];

		values[0] = CStringGetTextDatum(fdn_channel_names[c]);
		values[1] = Int32GetDatum(RETENTION_BATCH);
		while (batches++ < RETENTION_BATCHES_PER_PASS)
		{
			/* A channel without a row is plain: none of its messages stay. */
			fdn_spi_exec("DELETE FROM foundation.durable_messages d"
						 " WHERE d.ctid = ANY (ARRAY("
						 "  SELECT m.ctid FROM foundation.durable_messages m"
						 "  WHERE m.channel = $1 AND m.sent_at < coalesce("
						 "   pg_catalog.now() - (SELECT c.retention"
						 "    FROM foundation.channel_config c WHERE c.channel = $1),"
						 "   'infinity')"
						 "  LIMIT $2))",
						 2, (Oid[]) {TEXTOID, INT4OID}, values, NULL,
						 SPI_OK_DELETE);
			if (SPI_processed < RETENTION_BATCH)
				break;
		}
	}
}
