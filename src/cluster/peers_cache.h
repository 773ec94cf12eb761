/*-------------------------------------------------------------------------
 *
 * cluster/peers_cache.h
 *	  The other members (foundation.cluster_peers), remembered by each
 *	  backend for the outbox.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_PEERS_CACHE_H
#define FDN_PEERS_CACHE_H

#include "postgres.h"

/*
 * The other members' names as foundation.cluster_peers holds them (ordered
 * by name), as text Datums; *n is their number.  Read with SPI when not
 * remembered: call it connected to SPI, with foundation's search path.
 * Valid until the next call.
 */
extern Datum *fdn_peers(int *n);

#endif							/* FDN_PEERS_CACHE_H */
