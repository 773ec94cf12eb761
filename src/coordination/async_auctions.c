/*-------------------------------------------------------------------------
 *
 * coordination/async_auctions.c
 *	  Sealed-bid auctions across transactions: open_auction, submit_bid,
 *	  close_auction, auction_result, auction_bids.
 *
 * Bids and the close of an auction are ordered by a lock on the auction
 * (lock_auction); concurrent closers by the auction's row lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/lock_classes.h"
#include "core/spi_util.h"
#include "process/child_ops.h"
#include "channels/channels.h"
#include "coordination/async_protocols.h"
#include "coordination/bid_cache.h"
#include "coordination/coordination.h"


PG_FUNCTION_INFO_V1(fdn_open_auction);
PG_FUNCTION_INFO_V1(fdn_submit_bid);
PG_FUNCTION_INFO_V1(fdn_close_auction);
PG_FUNCTION_INFO_V1(fdn_auction_result_sql);
PG_FUNCTION_INFO_V1(fdn_auction_bids);

Datum
fdn_open_auction(PG_FUNCTION_ARGS)
{
	Jsonb	   *spec;
	ArrayType  *agents;
	FdnAuctionSpec as;
	int			n;
	FdnPrivState priv;
	bool		isnull;
	int64		id;
	char	   *opened;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		fdn_null_arg_error("spec, agents and deadline",
				 "Call foundation.open_auction('{\"payment_rule\": \"second_price\"}', ARRAY['a1', 'a2'], '30 seconds').");
	spec = PG_GETARG_JSONB_P(0);
	agents = PG_GETARG_ARRAYTYPE_P(1);
	fdn_parse_auction_spec(spec, &as);
	(void) fdn_agents_for(agents, "auction_bidding", &n);
	fdn_require_preload();

	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.auctions (spec, agents, status, owner, deadline)"
				 " VALUES ($1, $2, 'open', $3, clock_timestamp() + $4)"
				 " RETURNING auction_id, jsonb_build_object('auction_id', auction_id,"
				 "   'agents', agents, 'spec', spec, 'deadline', deadline)::text",
				 4, (Oid[]) {JSONBOID, TEXTARRAYOID, OIDOID, INTERVALOID},
				 (Datum[]) {JsonbPGetDatum(spec), PointerGetDatum(agents),
				 ObjectIdGetDatum(priv.save_userid),
				 IntervalPGetDatum(fdn_protocol_deadline(PG_GETARG_INTERVAL_P(2)))},
				 NULL, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	opened = TextDatumGetCString(fdn_spi_getdatum(0, 2, &isnull));

	/*
	 * One row per invited agent, without a bid yet: a bid is then an update
	 * of its own row (found by primary key, so its cost does not grow with
	 * the number invited), and a missing row means "not invited".
	 */
	fdn_spi_exec("INSERT INTO foundation.bids (auction_id, agent, ord)"
				 " SELECT $1, u.name, u.ord FROM unnest($2::text[]) WITH ORDINALITY u(name, ord)",
				 2, (Oid[]) {INT8OID, TEXTARRAYOID},
				 (Datum[]) {Int64GetDatum(id), PointerGetDatum(agents)}, NULL, SPI_OK_INSERT);
	fdn_priv_end(&priv);

	/* Invitations go out on the control channel at commit. */
	{
		StringInfoData ev;

		initStringInfo(&ev);
		appendStringInfo(&ev, "{\"type\": \"auction_opened\", %s", opened + 1);
		fdn_broadcast(0, fdn_jsonb_from_text(ev.data), false, FDN_ROUTE_NONE);
	}
	fdn_wake_supervisor_at_xact_end();
	PG_RETURN_INT64(id);
}

/*
 * Bids and the close of one auction are ordered by a heavyweight lock on
 * the auction: submit_bid holds it in share mode, closing in exclusive
 * mode, both until their transaction ends.  So a close waits for bids in
 * flight and sees them, and a bid after the close sees it closed.  Many
 * bidders share it without writing anything, where a share lock on the
 * auction's row would rewrite the row (and create a MultiXact) for each.
 * It is an advisory lock tag in pg_locks, in its own class (objsubid
 * FDN_LOCK_CLASS_AUCTION, lock_classes.h), apart from the two of
 * pg_advisory_lock (1, 2).
 */

static void
lock_auction(int64 id, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ((uint64) id >> 32),
						 (uint32) id, FDN_LOCK_CLASS_AUCTION);
	(void) LockAcquire(&tag, mode, false, false);
}


Datum
fdn_submit_bid(PG_FUNCTION_ARGS)
{
	int64		id;
	text	   *agent_text;
	char	   *agent;
	double		bid;
	double		priority = 0;
	Jsonb	   *details;
	FdnPrivState priv;
	bool		isnull;
	char	   *status;
	char	   *closed_at;
	Oid			owner;
	char	   *why;
	Oid			bid_types[6] = {INT8OID, TEXTOID, FLOAT8OID, FLOAT8OID, JSONBOID, OIDOID};
	Datum		bid_values[6];
	uint64		written = 0;
	bool		is_open;
	bool		known_owner;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		fdn_null_arg_error("auction id, agent and bid",
				 "Call foundation.submit_bid(auction_id, 'agent', 10.5).");
	id = PG_GETARG_INT64(0);
	agent_text = PG_GETARG_TEXT_PP(1);
	agent = text_to_cstring(agent_text);
	/*
	 * double precision, what foundation.bids stores: a numeric parameter
	 * cost every call two conversions (the caller's cast to numeric and
	 * ours back, some 6 700 instructions, benchmark 16) for a precision
	 * that was not kept.  A numeric argument still works (implicit cast).
	 */
	bid = PG_GETARG_FLOAT8(2);
	details = PG_ARGISNULL(3) ? fdn_jsonb_from_text("{}") : PG_GETARG_JSONB_P(3);
	if (isnan(bid) || isinf(bid) || bid < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid bid %s", DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(bid)))),
				 errhint("A bid is a finite number of at least 0.")));
	if (JB_ROOT_IS_OBJECT(details) &&
		getKeyJsonValueFromContainer(&details->root, "priority", 8, NULL) &&
		!fdn_get_amount(details, "priority", &priority, &why))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid bid details: %s", why),
				 errhint("details.priority, if given, is a finite number of at least 0.")));

	/*
	 * The auction's share lock (see lock_auction), then the checks: the
	 * auction is open and the caller may act for the agent, then the
	 * update of the agent's own row, written at the opening and found by
	 * primary key.  The lock is taken before anything is read, so in READ
	 * COMMITTED a close committed before is seen: by the statements'
	 * snapshots, and by the invalidation messages accepted here, which
	 * make this backend forget what it remembered of the auction
	 * (bid_cache.c).  A transaction-snapshot isolation level may have
	 * taken its snapshot before such a close: there one statement checks
	 * and writes, and share-locks the auction row, which fails with a
	 * serialization error if the row changed since.
	 */
	bid_values[0] = Int64GetDatum(id);
	bid_values[1] = PointerGetDatum(agent_text);
	bid_values[2] = Float8GetDatum(bid);
	bid_values[3] = Float8GetDatum(priority);
	bid_values[4] = JsonbPGetDatum(details);
	bid_values[5] = ObjectIdGetDatum(GetUserId());
	lock_auction(id, ShareLock);
	fdn_priv_begin(&priv);
	if (!IsolationUsesXactSnapshot())
	{
		AcceptInvalidationMessages();
		is_open = fdn_bid_cache_open(id);
		known_owner = fdn_bid_cache_owner(agent, &owner);
		if (!is_open || !known_owner)
		{
			uint64		generation = fdn_bid_cache_generation();
			Datum		st;

			fdn_spi_exec("SELECT (SELECT status FROM foundation.auctions WHERE auction_id = $1),"
						 " (SELECT owner FROM foundation.agents WHERE name = $2)",
						 2, bid_types, bid_values, NULL, SPI_OK_SELECT);
			st = fdn_spi_getdatum(0, 1, &isnull);
			is_open = !isnull && strcmp(TextDatumGetCString(st), "open") == 0;
			owner = DatumGetObjectId(fdn_spi_getdatum(0, 2, &isnull));
			known_owner = !isnull;
			if (generation == fdn_bid_cache_generation())
			{
				if (is_open)
					fdn_bid_cache_note_open(id);
				if (known_owner)
					fdn_bid_cache_note_owner(agent, owner);
			}
		}
		if (is_open && known_owner && has_privs_of_role(priv.save_userid, owner))
		{
			fdn_spi_exec("UPDATE foundation.bids SET bid = $3, priority = $4, details = $5,"
						 " submitted_at = clock_timestamp()"
						 " WHERE auction_id = $1 AND agent = $2",
						 5, bid_types, bid_values, NULL, SPI_OK_UPDATE);
			written = SPI_processed;
		}
	}
	else
	{
		fdn_spi_exec("UPDATE foundation.bids SET bid = $3, priority = $4, details = $5,"
					 " submitted_at = clock_timestamp()"
					 " WHERE auction_id = $1 AND agent = $2"
					 " AND (SELECT status FROM foundation.auctions WHERE auction_id = $1 FOR SHARE) = 'open'"
					 " AND pg_has_role($6, (SELECT owner FROM foundation.agents WHERE name = $2), 'USAGE')",
					 6, bid_types, bid_values, NULL, SPI_OK_UPDATE);
		written = SPI_processed;
	}
	if (written == 1)
	{
		fdn_priv_end(&priv);
		fdn_protocols_changed_at_commit();
		PG_RETURN_VOID();
	}

	/* Nothing written: find out why. */
	fdn_spi_exec("SELECT (SELECT status FROM foundation.auctions WHERE auction_id = $1),"
				 " (SELECT to_json(closed_at)#>>'{}' FROM foundation.auctions WHERE auction_id = $1),"
				 " (SELECT owner FROM foundation.agents WHERE name = $2)",
				 2, bid_types, bid_values, NULL, SPI_OK_SELECT);
	{
		Datum		d = fdn_spi_getdatum(0, 1, &isnull);

		status = isnull ? NULL : TextDatumGetCString(d);
	}
	if (status == NULL)
		fdn_protocol_no_such("auction", id);
	if (strcmp(status, "closed") == 0)
	{
		Datum		c = fdn_spi_getdatum(0, 2, &isnull);

		closed_at = isnull ? "?" : TextDatumGetCString(c);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("auction " INT64_FORMAT " closed at %s", id, closed_at),
				 errhint("foundation.auction_result(" INT64_FORMAT ") shows its result.", id)));
	}
	owner = DatumGetObjectId(fdn_spi_getdatum(0, 3, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent \"%s\" does not exist", agent),
				 errhint("Register it with foundation.register_agent.")));
	fdn_protocol_acts_for(agent, priv.save_userid, owner);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("agent \"%s\" is not invited to auction " INT64_FORMAT, agent, id),
			 errhint("SELECT agents FROM foundation.auctions WHERE auction_id = " INT64_FORMAT " lists them.", id)));
	PG_RETURN_VOID();			/* not reached */
}

/* Ranking order of top_bids: bid, then priority, high first; then seq. */
static int
bid_rank_cmp(const void *a, const void *b)
{
	const FdnBid *x = a;
	const FdnBid *y = b;

	if (x->bid != y->bid)
		return x->bid > y->bid ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return (x->agent->seq > y->agent->seq) - (x->agent->seq < y->agent->seq);
}

/*
 * Close an auction: decide from the stored bids, store and announce the
 * result.  The row lock makes concurrent closers agree: the first decides,
 * the others find it closed and return the same result.
 */
char *
fdn_close_auction_id(int64 id, bool check_owner)
{
	FdnPrivState priv;
	bool		isnull;
	char	   *result;
	Jsonb	   *spec;
	Oid			owner;
	FdnAuctionSpec as;
	FdnBid	   *bids;
	Datum	   *names;
	int			n;
	int			i;

	/* Waits for bids in flight; holds off later ones (lock_auction). */
	lock_auction(id, ExclusiveLock);
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT status, result::text, spec, owner FROM foundation.auctions"
				 " WHERE auction_id = $1 FOR UPDATE",
				 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		fdn_protocol_no_such("auction", id);
	owner = DatumGetObjectId(fdn_spi_getdatum(0, 4, &isnull));
	if (check_owner && !has_privs_of_role(priv.save_userid, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to close auction " INT64_FORMAT, id),
				 errhint("Its owner closes it, or the supervisor at its deadline.")));
	if (strcmp(TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull)), "closed") == 0)
	{
		result = TextDatumGetCString(fdn_spi_getdatum(0, 2, &isnull));
		fdn_priv_end(&priv);
		return result;
	}
	spec = DatumGetJsonbP(fdn_spi_getdatum(0, 3, &isnull));
	fdn_parse_auction_spec(spec, &as);

	/*
	 * The rule needs only the top of the ranking: the two best bids by
	 * (bid, priority), as cheap as any top-two query over the auction's
	 * rows.  When those two tie, registration order decides among every
	 * bid of that tie, so fetch all of them.  Every bid stays in
	 * foundation.bids, readable once closed through foundation.auction_bids.
	 */
	fdn_spi_query_latest("SELECT agent, bid, priority FROM foundation.bids"
						 " WHERE auction_id = $1 AND bid IS NOT NULL"
						 " ORDER BY bid DESC, priority DESC LIMIT 2",
						 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL);
	if (SPI_processed == 2 &&
		DatumGetFloat8(fdn_spi_getdatum(0, 2, &isnull)) == DatumGetFloat8(fdn_spi_getdatum(1, 2, &isnull)) &&
		DatumGetFloat8(fdn_spi_getdatum(0, 3, &isnull)) == DatumGetFloat8(fdn_spi_getdatum(1, 3, &isnull)))
		fdn_spi_query_latest("SELECT agent, bid, priority FROM foundation.bids"
							 " WHERE auction_id = $1 AND bid = $2 AND priority = $3",
							 3, (Oid[]) {INT8OID, FLOAT8OID, FLOAT8OID},
							 (Datum[]) {Int64GetDatum(id), fdn_spi_getdatum(0, 2, &isnull),
							 fdn_spi_getdatum(0, 3, &isnull)}, NULL);
	n = (int) SPI_processed;
	bids = palloc0(sizeof(FdnBid) * Max(n, 1));
	names = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		names[i] = fdn_spi_getdatum(i, 1, &isnull);
		bids[i].agent = palloc0(sizeof(FdnAgent));
		bids[i].agent->name = TextDatumGetCString(names[i]);
		bids[i].bid = DatumGetFloat8(fdn_spi_getdatum(i, 2, &isnull));
		bids[i].priority = DatumGetFloat8(fdn_spi_getdatum(i, 3, &isnull));
	}
	if (n > 0)
	{
		/* Registration order, for ties; an agent gone since ranks last. */
		fdn_spi_exec("SELECT coalesce(g.seq, 9223372036854775807)"
					 " FROM unnest($1::text[]) WITH ORDINALITY u(name, ord)"
					 " LEFT JOIN LATERAL (SELECT seq FROM foundation.agents a WHERE a.name = u.name OFFSET 0) g"
					 " ON true ORDER BY u.ord",
					 1, (Oid[]) {TEXTARRAYOID},
					 (Datum[]) {PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT))},
					 NULL, SPI_OK_SELECT);
		for (i = 0; i < n; i++)
			bids[i].agent->seq = DatumGetInt64(fdn_spi_getdatum(i, 1, &isnull));
		qsort(bids, n, sizeof(FdnBid), bid_rank_cmp);
	}
	result = fdn_auction_result(id, &as, bids, n, true, fdn_protocol_now());
	fdn_protocol_store_close(&priv,
							 "UPDATE foundation.auctions SET status = 'closed',"
							 " closed_at = clock_timestamp(), result = $2 WHERE auction_id = $1",
							 id, result, "auction_closed");
	return result;
}

Datum
fdn_close_auction(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg_error("auction id", "foundation.open_auction returns the id.");
	PG_RETURN_JSONB_P(fdn_jsonb_from_text(fdn_close_auction_id(PG_GETARG_INT64(0), true)));
}

Datum
fdn_auction_result_sql(PG_FUNCTION_ARGS)
{
	FdnPrivState priv;
	bool		isnull = true;
	bool		found;
	Datum		d = (Datum) 0;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("auction id", "foundation.open_auction returns the id.");
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT result FROM foundation.auctions WHERE auction_id = $1",
				 1, (Oid[]) {INT8OID}, (Datum[]) {PG_GETARG_DATUM(0)}, NULL, SPI_OK_SELECT);
	found = SPI_processed > 0;
	if (found)
		d = fdn_spi_getdatum(0, 1, &isnull);
	fdn_priv_end(&priv);
	if (!found)
		fdn_protocol_no_such("auction", PG_GETARG_INT64(0));
	if (isnull)
		PG_RETURN_NULL();		/* still open */
	PG_RETURN_DATUM(d);
}

/*
 * Every invited agent's bid, in the order of the invitation, once the
 * auction is closed (sealed until then, even from its owner).
 */
Datum
fdn_auction_bids(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FdnPrivState priv;
	bool		isnull;
	int64		id;
	uint64		i;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("auction id", "foundation.open_auction returns the id.");
	id = PG_GETARG_INT64(0);
	InitMaterializedSRF(fcinfo, 0);
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT status FROM foundation.auctions WHERE auction_id = $1",
				 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		fdn_protocol_no_such("auction", id);
	if (strcmp(TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull)), "closed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the bids of auction " INT64_FORMAT " are sealed until it closes", id),
				 errhint("Its owner closes it with foundation.close_auction(" INT64_FORMAT "), or the supervisor at its deadline.", id)));
	fdn_spi_exec("SELECT agent, bid, priority, details,"
				 " CASE WHEN bid IS NULL THEN 'no bid' ELSE error END, submitted_at"
				 " FROM foundation.bids WHERE auction_id = $1 ORDER BY ord",
				 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		values[6];
		bool		nulls[6];
		int			c;

		for (c = 0; c < 6; c++)
			values[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									  c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	fdn_priv_end(&priv);
	return (Datum) 0;
}
