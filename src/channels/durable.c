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
 * broadcast takes the channel's lock (an advisory lock tag of class
 * FDN_LOCK_CLASS_CHANNEL) before it draws its seq and holds it until its
 * transaction ends: durable broadcasts on one channel commit one after the
 * other, each seq drawn after the previous holder committed.  NOTIFY
 * itself serializes every notifying commit of a database, so this only
 * moves the wait earlier, to the broadcast.  Plain channels take no lock.
 *
 * Whether a channel is durable is cached per backend and dropped by the
 * relcache invalidation configure_channel sends at its commit, so a plain
 * broadcast reads no table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

int64
fdn_durable_log(int channel, Jsonb *message)
{
	LOCKTAG		tag;
	FdnPrivState priv;
	Datum		values[2];
	bool		isnull;
	int64		seq;

	if (!channel_is_durable(channel))
		return 0;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, (uint32) channel,
						 FDN_LOCK_CLASS_CHANNEL);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	values[0] = CStringGetTextDatum(fdn_channel_names[channel]);
	values[1] = JsonbPGetDatum(message);
	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.durable_messages (channel, seq, message)"
				 " VALUES ($1, pg_catalog.nextval('foundation.durable_seq'), $2)"
				 " RETURNING seq",
				 2, (Oid[]) {TEXTOID, JSONBOID}, values, NULL,
				 SPI_OK_INSERT_RETURNING);
	seq = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	fdn_priv_end(&priv);
	return seq;
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
 * message of a channel no longer durable, go in batches.  A batch deletes
 * rows the broadcasts no longer touch and takes no channel lock, so it
 * never waits for a broadcast nor makes one wait.
 */
void
fdn_durable_cleanup(void)
{
	int			i;

	for (i = 0; i < RETENTION_BATCHES_PER_PASS; i++)
	{
		Datum		limit = Int32GetDatum(RETENTION_BATCH);

		fdn_spi_exec("DELETE FROM foundation.durable_messages d"
					 " WHERE d.ctid = ANY (ARRAY("
					 "  SELECT m.ctid FROM foundation.durable_messages m"
					 "  LEFT JOIN foundation.channel_config c USING (channel)"
					 "  WHERE c.retention IS NULL"
					 "     OR m.sent_at < pg_catalog.now() - c.retention"
					 "  LIMIT $1))",
					 1, (Oid[]) {INT4OID}, &limit, NULL, SPI_OK_DELETE);
		if (SPI_processed < RETENTION_BATCH)
			break;
	}
}
