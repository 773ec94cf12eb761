/*-------------------------------------------------------------------------
 *
 * channels/durable.h
 *	  Durable channels: messages logged with a sequence number, replayable.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_DURABLE_H
#define FDN_DURABLE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "channels/channel_stats.h"

/*
 * On a durable channel: keep the message for this transaction's
 * pre-commit, where it is numbered, logged in foundation.durable_messages
 * and notified (a rolled-back savepoint drops it), and return true.  On a
 * plain channel: false, and nothing done.
 */
extern bool fdn_durable_defer(int channel, Jsonb *message, char *text,
							  bool compression, FdnRoute route);

/* Supervisor cleanup: expired durable messages go, in bounded batches. */
extern void fdn_durable_cleanup(void);

#endif							/* FDN_DURABLE_H */
