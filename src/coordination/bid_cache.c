/*-------------------------------------------------------------------------
 *
 * coordination/bid_cache.c
 *	  What submit_bid checks before it writes, remembered by each backend:
 *	  which auctions are open, and who owns an agent.
 *
 * A bid used to read the auction's state and the agent's owner in its
 * UPDATE, by two subqueries: starting their index scans was a third of a
 * bid's instructions (benchmark 16).  A bidder bids again and again into
 * the same few auctions, so each backend keeps what it read.  Whatever
 * changes foundation.auctions or foundation.agents (a close, an agent
 * unregistered, a superuser's UPDATE or DELETE, TRUNCATE) fires a
 * statement trigger that invalidates the table's relcache entry; that
 * message reaches every backend once the change commits (before its
 * locks are released), and this file's callback then forgets everything.
 * A close holds the auction's lock in exclusive mode until it commits, so
 * a bid that takes the lock in share mode and then accepts invalidation
 * messages sees the close, as it did when it read the row.
 *
 * Only what was read is cached, never an absence, so an INSERT needs no
 * invalidation.  A transaction that aborts forgets everything too: what it
 * read may have been its own uncommitted rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/foundation.h"
#include "core/xact_end.h"
#include "coordination/bid_cache.h"


PG_FUNCTION_INFO_V1(fdn_bid_cache_changed);

/* Bounded: a backend that bids into many auctions starts over. */
#define FDN_BID_CACHE_MAX 1024
#define FDN_AGENT_KEY 1024

typedef struct OwnerEntry
{
	char		agent[FDN_AGENT_KEY];
	Oid			owner;
} OwnerEntry;

static HTAB *open_auctions = NULL;
static HTAB *owners = NULL;
static Oid	auctions_relid = InvalidOid;
static Oid	agents_relid = InvalidOid;
static bool callback_registered = false;
static uint64 generation = 0;	/* how often everything was forgotten */

static void
forget_all(void)
{
	generation++;
	if (open_auctions)
		hash_destroy(open_auctions);
	if (owners)
		hash_destroy(owners);
	open_auctions = NULL;
	owners = NULL;
	/* looked up again: DROP EXTENSION and CREATE EXTENSION give new ones */
	auctions_relid = agents_relid = InvalidOid;
}

static void
relcache_changed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == auctions_relid || relid == agents_relid)
		forget_all();
}

static void
forget_on_abort(bool committed)
{
	if (!committed)
		forget_all();
}

/* Ready to remember: the callback registered, the tables' oids known. */
static bool
prepare(void)
{
	Oid			nsp;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
		callback_registered = true;
	}
	if (!OidIsValid(auctions_relid) || !OidIsValid(agents_relid))
	{
		nsp = get_namespace_oid("foundation", true);
		if (!OidIsValid(nsp))
			return false;
		auctions_relid = get_relname_relid("auctions", nsp);
		agents_relid = get_relname_relid("agents", nsp);
		if (!OidIsValid(auctions_relid) || !OidIsValid(agents_relid))
			return false;
	}
	fdn_at_xact_end(forget_on_abort);
	return true;
}

static HTAB *
make_table(const char *name, Size keysize, Size entrysize, int flags)
{
	HASHCTL		ctl;

	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = TopMemoryContext;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_CONTEXT | flags);
}

uint64
fdn_bid_cache_generation(void)
{
	return generation;
}

bool
fdn_bid_cache_open(int64 id)
{
	return open_auctions != NULL &&
		hash_search(open_auctions, &id, HASH_FIND, NULL) != NULL;
}

bool
fdn_bid_cache_owner(const char *agent, Oid *owner)
{
	OwnerEntry *e;

	if (owners == NULL || strlen(agent) >= FDN_AGENT_KEY)
		return false;
	e = hash_search(owners, agent, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	*owner = e->owner;
	return true;
}

void
fdn_bid_cache_note_open(int64 id)
{
	if (!prepare())
		return;
	if (open_auctions != NULL && hash_get_num_entries(open_auctions) >= FDN_BID_CACHE_MAX)
	{
		hash_destroy(open_auctions);
		open_auctions = NULL;
	}
	if (open_auctions == NULL)
		open_auctions = make_table("foundation open auctions", sizeof(int64),
								   sizeof(int64), HASH_BLOBS);
	(void) hash_search(open_auctions, &id, HASH_ENTER, NULL);
}

void
fdn_bid_cache_note_owner(const char *agent, Oid owner)
{
	OwnerEntry *e;

	if (strlen(agent) >= FDN_AGENT_KEY || !prepare())
		return;
	if (owners != NULL && hash_get_num_entries(owners) >= FDN_BID_CACHE_MAX)
	{
		hash_destroy(owners);
		owners = NULL;
	}
	if (owners == NULL)
		owners = make_table("foundation agent owners", FDN_AGENT_KEY,
							sizeof(OwnerEntry), HASH_STRINGS);
	e = hash_search(owners, agent, HASH_ENTER, NULL);
	e->owner = owner;
}

/* The statement trigger on foundation.auctions and foundation.agents. */
Datum
fdn_bid_cache_changed(PG_FUNCTION_ARGS)
{
	return fdn_invalidate_on_change(fcinfo, "fdn_bid_cache_changed");
}
