/*-------------------------------------------------------------------------
 *
 * channels/channel_stats.c
 *	  Per-channel counters in shared memory, of committed broadcasts only,
 *	  per database: each database sees its own channels' counters.
 *
 * A broadcast counts only if its transaction commits, exactly as its
 * notification is delivered only then.  Each backend keeps what its open
 * transaction broadcast, tagged with the subtransaction level, drops what
 * an aborted (sub)transaction sent, and adds the rest to shared memory at
 * commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "channels/channel_stats.h"
#include "channels/channels.h"


FdnChannelStats *fdn_channel_stats_shared = NULL;

static void
stats_shmem_init(void *part)
{
	SpinLockInit(&((FdnChannelStats *) part)->mutex);
}

void
fdn_channel_stats_shmem_register(void)
{
	fdn_shmem_add("foundation channel stats", sizeof(FdnChannelStats),
				  stats_shmem_init, (void **) &fdn_channel_stats_shared);
}

PG_FUNCTION_INFO_V1(fdn_channel_stats);
PG_FUNCTION_INFO_V1(fdn_reset_channel_stats);

typedef struct FdnPendingCount
{
	int			level;			/* subtransaction nesting level */
	FdnChannelCounters counts[FDN_NCHANNELS];
} FdnPendingCount;

/* One entry per nesting level that broadcast, innermost last. */
static FdnPendingCount *pending = NULL;
static int	npending = 0;
static int	pending_cap = 0;
static bool callbacks_registered = false;

static void
pending_clear(void)
{
	npending = 0;
}

static void
add_counters(FdnChannelCounters *to, const FdnChannelCounters *from)
{
	int			r;

	to->messages += from->messages;
	to->bytes += from->bytes;
	to->compressed += from->compressed;
	to->stored += from->stored;
	for (r = 0; r < FDN_NROUTES; r++)
		to->routed[r] += from->routed[r];
	to->errors += from->errors;
	to->dropped += from->dropped;
	to->bytes_compressed += from->bytes_compressed;
	to->bytes_stored += from->bytes_stored;
	if (from->last_message_at > to->last_message_at)
		to->last_message_at = from->last_message_at;
}

/*
 * This database's counters (the caller holds the mutex; index from
 * fdn_db_index, taken before, since that takes a lock), NULL if it has
 * none.  A row another database left behind starts anew.
 */
static FdnChannelCounters *
my_counters(int index)
{
	FdnDbChannelStats *s;

	if (index < 0)
		return NULL;
	s = &fdn_channel_stats_shared->db[index];
	if (s->dboid != MyDatabaseId)
	{
		memset(s, 0, sizeof(FdnDbChannelStats));
		s->dboid = MyDatabaseId;
	}
	return s->channel;
}

static void
stats_xact_callback(XactEvent event, void *arg)
{
	int			i;
	int			c;

	if (npending == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (fdn_channel_stats_shared != NULL)
			{
				TimestampTz now = GetCurrentTimestamp();
				int			index = fdn_db_index();
				FdnChannelCounters *mine;

				SpinLockAcquire(&fdn_channel_stats_shared->mutex);
				mine = my_counters(index);
				for (i = 0; i < npending && mine != NULL; i++)
					for (c = 0; c < FDN_NCHANNELS; c++)
					{
						if (pending[i].counts[c].messages > 0)
							pending[i].counts[c].last_message_at = now;
						add_counters(&mine[c], &pending[i].counts[c]);
					}
				SpinLockRelease(&fdn_channel_stats_shared->mutex);
			}
			pending_clear();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending_clear();
			break;
		default:
			break;
	}
}

static void
stats_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			c;

	if (npending == 0 || pending[npending - 1].level < level)
		return;
	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			/* Its notifications are dropped; so are its counts. */
			npending--;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			/* Fold into the parent level. */
			if (npending >= 2 && pending[npending - 2].level == level - 1)
			{
				for (c = 0; c < FDN_NCHANNELS; c++)
					add_counters(&pending[npending - 2].counts[c],
									 &pending[npending - 1].counts[c]);
				npending--;
			}
			else
				pending[npending - 1].level = level - 1;
			break;
		default:
			break;
	}
}

void
fdn_stats_count(int channel, int64 bytes, bool compressed, bool stored,
				FdnRoute route)
{
	int			level = GetCurrentTransactionNestLevel();
	FdnChannelCounters *cnt;

	if (fdn_channel_stats_shared == NULL)
		return;
	if (!callbacks_registered)
	{
		RegisterXactCallback(stats_xact_callback, NULL);
		RegisterSubXactCallback(stats_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (npending == 0 || pending[npending - 1].level != level)
	{
		if (npending == pending_cap)
		{
			pending_cap = Max(4, pending_cap * 2);
			pending = pending == NULL ?
				MemoryContextAlloc(TopMemoryContext,
								   sizeof(FdnPendingCount) * pending_cap) :
				repalloc(pending, sizeof(FdnPendingCount) * pending_cap);
		}
		memset(&pending[npending], 0, sizeof(FdnPendingCount));
		pending[npending].level = level;
		npending++;
	}
	cnt = &pending[npending - 1].counts[channel];
	cnt->messages++;
	cnt->bytes += bytes;
	if (compressed)
	{
		cnt->compressed++;
		cnt->bytes_compressed += bytes;
	}
	if (stored)
	{
		cnt->stored++;
		cnt->bytes_stored += bytes;
	}
	if (route != FDN_ROUTE_NONE)
		cnt->routed[route]++;
}

/* Count one error (or a dropped message) of this database's channel now. */
static void
count_now(int channel, bool dropped)
{
	int			index;
	FdnChannelCounters *mine;

	if (fdn_channel_stats_shared == NULL)
		return;
	index = fdn_db_index();
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	mine = my_counters(index);
	if (mine != NULL && dropped)
		mine[channel].dropped++;
	else if (mine != NULL)
		mine[channel].errors++;
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
}

void
fdn_stats_error(int channel)
{
	count_now(channel, false);
}

void
fdn_stats_handler_call(int channel, bool failed, bool timed_out)
{
	int			index;
	FdnChannelCounters *mine;

	if (fdn_channel_stats_shared == NULL)
		return;
	index = fdn_db_index();
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	mine = my_counters(index);
	if (mine != NULL)
	{
		mine[channel].handler_calls++;
		if (failed)
			mine[channel].handler_errors++;
		if (timed_out)
			mine[channel].handler_timeouts++;
	}
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
}

void
fdn_stats_snapshot(FdnChannelCounters *snap)
{
	int			index = fdn_db_index();
	FdnChannelCounters *mine;

	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	mine = my_counters(index);
	if (mine != NULL)
		memcpy(snap, mine, sizeof(FdnChannelCounters) * FDN_NCHANNELS);
	else
		memset(snap, 0, sizeof(FdnChannelCounters) * FDN_NCHANNELS);
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
}

void
fdn_stats_dropped(int channel)
{
	count_now(channel, true);
}

void
fdn_stats_totals_locked(int64 *messages, int64 *errors)
{
	int			i;
	int			c;

	*messages = 0;
	*errors = 0;
	for (i = 0; i < fdn_shared->ndbs; i++)
	{
		FdnDbChannelStats *s = &fdn_channel_stats_shared->db[i];

		if (!OidIsValid(s->dboid))
			continue;
		for (c = 0; c < FDN_NCHANNELS; c++)
		{
			*messages += s->channel[c].messages;
			*errors += s->channel[c].errors;
		}
	}
}

Datum
fdn_channel_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FdnChannelCounters snap[FDN_NCHANNELS];
	int			c;

	fdn_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	fdn_stats_snapshot(snap);

	for (c = 0; c < FDN_NCHANNELS; c++)
	{
		Datum		values[13];
		bool		nulls[13] = {0};
		int			r;

		values[0] = CStringGetTextDatum(fdn_channel_names[c]);
		values[1] = CStringGetTextDatum(fdn_channel_topics[c]);
		values[2] = Int64GetDatum(snap[c].messages);
		values[3] = Int64GetDatum(snap[c].bytes);
		values[4] = Int64GetDatum(snap[c].compressed);
		values[5] = Int64GetDatum(snap[c].stored);
		for (r = 0; r < FDN_NROUTES; r++)
			values[6 + r] = Int64GetDatum(snap[c].routed[r]);
		values[10] = Int64GetDatum(snap[c].errors);
		values[11] = TimestampTzGetDatum(snap[c].last_message_at);
		nulls[11] = snap[c].last_message_at == 0;
		values[12] = Int64GetDatum(snap[c].dropped);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
fdn_reset_channel_stats(PG_FUNCTION_ARGS)
{
	int			index;
	FdnChannelCounters *mine;

	fdn_require_preload();
	index = fdn_db_index();
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	mine = my_counters(index);
	if (mine != NULL)
		memset(mine, 0, sizeof(FdnChannelCounters) * FDN_NCHANNELS);
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
	PG_RETURN_VOID();
}
