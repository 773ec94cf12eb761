/*-------------------------------------------------------------------------
 *
 * channels/channel_stats.c
 *	  Per-channel counters in shared memory, of committed broadcasts only.
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
static FdnPendingCount *fdn_pending = NULL;
static int	fdn_npending = 0;
static int	fdn_pending_cap = 0;
static bool fdn_callbacks_registered = false;

static void
fdn_pending_clear(void)
{
	fdn_npending = 0;
}

static void
fdn_add_counters(FdnChannelCounters *to, const FdnChannelCounters *from)
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
	if (from->last_message_at > to->last_message_at)
		to->last_message_at = from->last_message_at;
}

static void
fdn_stats_xact_callback(XactEvent event, void *arg)
{
	int			i;
	int			c;

	if (fdn_npending == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (fdn_channel_stats_shared != NULL)
			{
				TimestampTz now = GetCurrentTimestamp();

				SpinLockAcquire(&fdn_channel_stats_shared->mutex);
				for (i = 0; i < fdn_npending; i++)
					for (c = 0; c < FDN_NCHANNELS; c++)
					{
						if (fdn_pending[i].counts[c].messages > 0)
							fdn_pending[i].counts[c].last_message_at = now;
						fdn_add_counters(&fdn_channel_stats_shared->channel[c],
										 &fdn_pending[i].counts[c]);
					}
				SpinLockRelease(&fdn_channel_stats_shared->mutex);
			}
			fdn_pending_clear();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			fdn_pending_clear();
			break;
		default:
			break;
	}
}

static void
fdn_stats_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			c;

	if (fdn_npending == 0 || fdn_pending[fdn_npending - 1].level < level)
		return;
	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			/* Its notifications are dropped; so are its counts. */
			fdn_npending--;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			/* Fold into the parent level. */
			if (fdn_npending >= 2 && fdn_pending[fdn_npending - 2].level == level - 1)
			{
				for (c = 0; c < FDN_NCHANNELS; c++)
					fdn_add_counters(&fdn_pending[fdn_npending - 2].counts[c],
									 &fdn_pending[fdn_npending - 1].counts[c]);
				fdn_npending--;
			}
			else
				fdn_pending[fdn_npending - 1].level = level - 1;
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
	if (!fdn_callbacks_registered)
	{
		RegisterXactCallback(fdn_stats_xact_callback, NULL);
		RegisterSubXactCallback(fdn_stats_subxact_callback, NULL);
		fdn_callbacks_registered = true;
	}
	if (fdn_npending == 0 || fdn_pending[fdn_npending - 1].level != level)
	{
		if (fdn_npending == fdn_pending_cap)
		{
			fdn_pending_cap = Max(4, fdn_pending_cap * 2);
			fdn_pending = fdn_pending == NULL ?
				MemoryContextAlloc(TopMemoryContext,
								   sizeof(FdnPendingCount) * fdn_pending_cap) :
				repalloc(fdn_pending, sizeof(FdnPendingCount) * fdn_pending_cap);
		}
		memset(&fdn_pending[fdn_npending], 0, sizeof(FdnPendingCount));
		fdn_pending[fdn_npending].level = level;
		fdn_npending++;
	}
	cnt = &fdn_pending[fdn_npending - 1].counts[channel];
	cnt->messages++;
	cnt->bytes += bytes;
	if (compressed)
		cnt->compressed++;
	if (stored)
		cnt->stored++;
	if (route != FDN_ROUTE_NONE)
		cnt->routed[route]++;
}

void
fdn_stats_error(int channel)
{
	if (fdn_channel_stats_shared == NULL)
		return;
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	fdn_channel_stats_shared->channel[channel].errors++;
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
}

void
fdn_stats_dropped(int channel)
{
	if (fdn_channel_stats_shared == NULL)
		return;
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	fdn_channel_stats_shared->channel[channel].dropped++;
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
}

Datum
fdn_channel_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FdnChannelCounters snap[FDN_NCHANNELS];
	int			c;

	fdn_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	memcpy(snap, fdn_channel_stats_shared->channel, sizeof(snap));
	SpinLockRelease(&fdn_channel_stats_shared->mutex);

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
	fdn_require_preload();
	SpinLockAcquire(&fdn_channel_stats_shared->mutex);
	memset(fdn_channel_stats_shared->channel, 0, sizeof(fdn_channel_stats_shared->channel));
	SpinLockRelease(&fdn_channel_stats_shared->mutex);
	PG_RETURN_VOID();
}
