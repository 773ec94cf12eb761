/*-------------------------------------------------------------------------
 *
 * coordination/bid_cache.h
 *	  What submit_bid checks before it writes, remembered by each backend:
 *	  which auctions are open, and who owns an agent.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_BID_CACHE_H
#define FDN_BID_CACHE_H

#include "postgres.h"

/*
 * Whether auction id is known to be open, and the owner of agent if
 * known; both as last read, and forgotten as soon as a change to
 * foundation.auctions or foundation.agents commits (a statement trigger on
 * each invalidates every backend's copy).  Call AcceptInvalidationMessages
 * first, after taking the auction's lock, so that a close committed
 * before is seen.
 */
extern bool fdn_bid_cache_open(int64 id);
extern bool fdn_bid_cache_owner(const char *agent, Oid *owner);

/*
 * Changes whenever everything is forgotten.  A query's snapshot is taken
 * before its tables are locked, and locking accepts invalidation messages:
 * a change committed in between is invisible to the query, yet its message
 * is spent.  So remember what a query read only if the generation did not
 * change while it ran.
 */
extern uint64 fdn_bid_cache_generation(void);

/* Remember what a query in this backend just read, as committed state. */
extern void fdn_bid_cache_note_open(int64 id);
extern void fdn_bid_cache_note_owner(const char *agent, Oid owner);

#endif							/* FDN_BID_CACHE_H */
