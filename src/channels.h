/*-------------------------------------------------------------------------
 *
 * channels.h
 *	  The four channels on LISTEN/NOTIFY, and routing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHANNELS_H
#define FDN_CHANNELS_H

#include "postgres.h"

#include "channel_stats.h"
#include "utils/jsonb.h"

extern const char *const fdn_channel_names[FDN_NCHANNELS];
extern const char *const fdn_channel_topics[FDN_NCHANNELS];

/* Index of a channel name, or an error listing the channels. */
extern int	fdn_channel_index(const char *name);

/* Index of a topic ("foundation:events"), or -1. */
extern int	fdn_topic_index(const char *topic);

/* Broadcast on a channel; route is the rule that chose it, if any. */
extern void fdn_broadcast(int channel, Jsonb *message, bool compression,
						  FdnRoute route);

#endif							/* FDN_CHANNELS_H */
