/*-------------------------------------------------------------------------
 *
 * channels/channel_stats.h
 *	  Per-channel counters in shared memory, of committed broadcasts only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHANNEL_STATS_H
#define FDN_CHANNEL_STATS_H

#include "postgres.h"

#include "storage/spin.h"
#include "utils/timestamp.h"

#include "core/shmem.h"



#define FDN_NCHANNELS 4

/* The routing rules, in the order they are tried. */
typedef enum FdnRoute
{
	FDN_ROUTE_NONE = -1,		/* a direct broadcast */
	FDN_ROUTE_HIGH = 0,
	FDN_ROUTE_LARGE,
	FDN_ROUTE_TELEMETRY,
	FDN_ROUTE_DEFAULT,
	FDN_NROUTES
} FdnRoute;

typedef struct FdnChannelCounters
{
	int64		messages;
	int64		bytes;
	int64		compressed;
	int64		stored;
	int64		routed[FDN_NROUTES];
	int64		errors;
	TimestampTz last_message_at;
	int64		dropped;		/* lost by the dispatcher's full backlog */
	/* The bytes of the compressed and stored messages (of bytes above). */
	int64		bytes_compressed;
	int64		bytes_stored;
	/* The dispatcher's calls of handlers, and those that failed. */
	int64		handler_calls;
	int64		handler_errors;
	int64		handler_timeouts;
} FdnChannelCounters;

/* One database's counters: each database sees its own channels only. */
typedef struct FdnDbChannelStats
{
	Oid			dboid;			/* whose they are (InvalidOid: unused) */
	FdnChannelCounters channel[FDN_NCHANNELS];
} FdnDbChannelStats;

/* Indexed like fdn_shared->dbs (core/databases.h, fdn_db_index). */
typedef struct FdnChannelStats
{
	slock_t		mutex;
	FdnDbChannelStats db[FDN_MAX_DATABASES];
} FdnChannelStats;

/* The counters in shared memory (NULL when not preloaded). */
extern FdnChannelStats *fdn_channel_stats_shared;

/* Register the counters' shared memory (_PG_init). */
extern void fdn_channel_stats_shmem_register(void);

/* Count a broadcast once the current transaction commits. */
extern void fdn_stats_count(int channel, int64 bytes, bool compressed,
							bool stored, FdnRoute route);

/* Count an error on a channel now (handler errors). */
extern void fdn_stats_error(int channel);

/* A copy of this database's counters, one per channel (zeros if none). */
extern void fdn_stats_snapshot(FdnChannelCounters *snap);

/* Count one call of a handler by the dispatcher, now. */
extern void fdn_stats_handler_call(int channel, bool failed, bool timed_out);

/* Count a message the handler dispatcher dropped, now. */
extern void fdn_stats_dropped(int channel);

/*
 * Messages and errors of every database's channels, for the health check
 * (the caller holds fdn_channel_stats_shared->mutex).
 */
extern void fdn_stats_totals_locked(int64 *messages, int64 *errors);

#endif							/* FDN_CHANNEL_STATS_H */
