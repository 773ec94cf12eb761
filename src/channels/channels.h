/*-------------------------------------------------------------------------
 *
 * channels/channels.h
 *	  The four channels on LISTEN/NOTIFY, and routing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHANNELS_H
#define FDN_CHANNELS_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "channels/channel_stats.h"

extern const char *const fdn_channel_names[FDN_NCHANNELS];
extern const char *const fdn_channel_topics[FDN_NCHANNELS];

/* Index of a channel name, or an error listing the channels. */
extern int	fdn_channel_index(const char *name);

/* Index of a topic ("foundation:events"), or -1. */
extern int	fdn_topic_index(const char *topic);

/* Broadcast on a channel; route is the rule that chose it, if any. */
extern void fdn_broadcast(int channel, Jsonb *message, bool compression,
						  FdnRoute route);

/*
 * Encode a message, queue its notification for this transaction's commit
 * and count it; seq > 0 numbers it (a durable channel's, at pre-commit).
 */
extern void fdn_channel_send(int channel, Jsonb *message, char *text,
							 bool compression, FdnRoute route, int64 seq);

/* Shared memory and supervisor hooks of the channels (_PG_init). */
extern void fdn_channels_init(void);

/* The NULL-argument error of the channel functions. */
extern void fdn_channels_null_arg(const char *what) pg_attribute_noreturn();

#endif							/* FDN_CHANNELS_H */
