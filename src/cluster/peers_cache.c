/*-------------------------------------------------------------------------
 *
 * cluster/peers_cache.c
 *	  The other members (foundation.cluster_peers), remembered by each
 *	  backend for the outbox.
 *
 * A broadcast on a member names the other members in its outbox row.
 * Reading them with the row's INSERT ... SELECT started an index scan of
 * foundation.cluster_peers per message, a quarter of the outbox write's
 * instructions (benchmark 16).  The set changes only when the membership
 * does, so each backend keeps what it read.  Whatever changes the table
 * (the supervisor at a lease renewal that saw the members change, a
 * superuser's INSERT or DELETE, pg_restore's COPY, TRUNCATE) fires a
 * statement trigger that invalidates its relcache entry; every backend
 * receives that once the change commits (this one at its next command),
 * and forgets the set.  A transaction that read its own changes to the
 * table and then aborts forgets it too: an abort replays the transaction's
 * invalidations in its own backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/foundation.h"
#include "core/spi_util.h"
#include "cluster/peers_cache.h"


PG_FUNCTION_INFO_V1(fdn_cluster_peers_changed);

static MemoryContext peers_cxt = NULL;
static Datum *peers = NULL;		/* NULL: not remembered */
static int	npeers = 0;
static Oid	peers_relid = InvalidOid;
static bool callback_registered = false;
static uint64 generation = 0;	/* how often the set was forgotten */

static void
forget(void)
{
	generation++;
	if (peers_cxt)
		MemoryContextReset(peers_cxt);
	peers = NULL;
	npeers = 0;
	/* looked up again: DROP EXTENSION and CREATE EXTENSION give a new one */
	peers_relid = InvalidOid;
}

static void
relcache_changed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == peers_relid)
		forget();
}

Datum *
fdn_peers(int *n)
{
	uint64		before;
	Datum		arr;
	bool		isnull;
	Datum	   *elems;
	int			nelems = 0;
	Oid			nsp;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
		peers_cxt = AllocSetContextCreate(TopMemoryContext, "foundation peers",
										  ALLOCSET_SMALL_SIZES);
		callback_registered = true;
	}
	if (peers != NULL)
	{
		*n = npeers;
		return peers;
	}

	/*
	 * A change committed after the query's snapshot but before its lock
	 * on the table is spent by the lock (its invalidation accepted) and
	 * not seen: keep what was read only if nothing was forgotten while the
	 * query ran.
	 */
	before = generation;
	fdn_spi_exec("SELECT array_agg(node ORDER BY node) FROM foundation.cluster_peers",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	arr = fdn_spi_getdatum(0, 1, &isnull);
	if (!isnull)
		deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, NULL, &nelems);
	*n = nelems;
	if (generation != before)
		return nelems > 0 ? elems : NULL;

	nsp = get_namespace_oid("foundation", true);
	peers_relid = OidIsValid(nsp) ? get_relname_relid("cluster_peers", nsp) : InvalidOid;
	if (!OidIsValid(peers_relid))
		return nelems > 0 ? elems : NULL;
	{
		MemoryContext old = MemoryContextSwitchTo(peers_cxt);
		int			i;

		peers = palloc(sizeof(Datum) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
			peers[i] = PointerGetDatum(DatumGetTextPCopy(elems[i]));
		npeers = nelems;
		MemoryContextSwitchTo(old);
	}
	return peers;
}

/* The statement trigger on foundation.cluster_peers. */
Datum
fdn_cluster_peers_changed(PG_FUNCTION_ARGS)
{
	return fdn_invalidate_on_change(fcinfo, "fdn_cluster_peers_changed");
}
