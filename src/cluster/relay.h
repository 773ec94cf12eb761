/*-------------------------------------------------------------------------
 *
 * cluster/relay.h
 *	  Channels across nodes: the outbox and the relay child.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_RELAY_H
#define FDN_RELAY_H

#include "postgres.h"

#include "utils/jsonb.h"



/*
 * Queue a message for the other members (target NULL: every one this
 * member knows; else that one, or an error if it knows no such member), in
 * the caller's transaction; the relay is woken at commit.
 */
extern void fdn_outbox_write(const char *target, int channel, Jsonb *message,
							 bool compression);

/* Make sure the relay child runs (from the supervisor). */
extern void fdn_ensure_relay(void);

/* Register the relay's shared memory (_PG_init). */
extern void fdn_relay_shmem_register(void);

/* In the supervisor's pass: outbox and receipts past their time go. */
extern void fdn_relay_cleanup(void);

#endif							/* FDN_RELAY_H */
