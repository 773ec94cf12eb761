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

/*
 * On a durable channel: take the channel's lock until the transaction
 * ends, log the message in foundation.durable_messages and return its seq.
 * On a plain channel: 0, and nothing done.
 */
extern int64 fdn_durable_log(int channel, Jsonb *message);

/* Supervisor cleanup: expired durable messages go, in bounded batches. */
extern void fdn_durable_cleanup(void);

#endif							/* FDN_DURABLE_H */
