/*-------------------------------------------------------------------------
 *
 * coordination/async_protocols.c
 *	  Auctions and proposals open across transactions, for agents that are
 *	  other sessions or processes: what auctions and proposals share, and
 *	  the supervisor's part, which closes them when they are due.
 *
 * Auctions are in async_auctions.c, proposals in async_proposals.c.
 * Closing takes the auction's (or proposal's) row lock, so any number of
 * concurrent closers get one and the same result: the first decides and
 * stores it, the others wait for it and return it.  Bids and votes are
 * sealed: foundation.bids and foundation.votes are not readable by
 * non-superusers, and a result shows them only once closed.  The
 * supervisor closes what is due within a second of its deadline, or as
 * soon as every invited agent has answered.  The decision rules are those
 * of coordination.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "core/databases.h"
#include "core/jsonb_util.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "core/xact_end.h"
#include "process/supervisor.h"
#include "coordination/async_protocols.h"
#include "coordination/coordination.h"

/* An auction or proposal that does not exist: an error. */
void
fdn_protocol_no_such(const char *what, int64 id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("%s " INT64_FORMAT " does not exist", what, id),
			 errhint("foundation.open_%s returns the id.", what)));
}

Interval *
fdn_protocol_deadline(Interval *deadline)
{
	Interval	zero = {0};

	/* As a whole: '1 day' has no time part and is still positive. */
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(deadline),
										  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("deadline must be a positive interval"),
				 errhint("For example: '30 seconds'.")));
	return deadline;
}

/* The agent's owner, or an error if the caller may not act for it. */
void
fdn_protocol_acts_for(const char *agent, Oid caller, Oid owner)
{
	if (!has_privs_of_role(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to act for agent \"%s\"", agent),
				 errhint("Only the agent's owner (or a member of that role) may bid or vote for it.")));
}

/* Now, as to_json() writes a timestamptz: a result's decided_at. */
char *
fdn_protocol_now(void)
{
	return JsonEncodeDateTime(NULL, TimestampTzGetDatum(GetCurrentTimestamp()),
							  TIMESTAMPTZOID, NULL);
}

void
fdn_protocol_store_close(FdnPrivState *priv, const char *update_sql, int64 id,
						 const char *result, const char *type)
{
	Jsonb	   *rj = fdn_jsonb_from_text(result);

	fdn_spi_exec(update_sql, 2, (Oid[]) {INT8OID, JSONBOID},
				 (Datum[]) {Int64GetDatum(id), JsonbPGetDatum(rj)},
				 NULL, SPI_OK_UPDATE);
	fdn_priv_end(priv);
	fdn_announce(type, rj);
}

/* ---------- the supervisor's part ---------- */

typedef struct FdnCloseArgs
{
	bool		auction;
	int64		id;
} FdnCloseArgs;

static void
close_cb(void *arg)
{
	FdnCloseArgs *a = arg;

	if (a->auction)
		(void) fdn_close_auction_id(a->id, false);
	else
		(void) fdn_close_proposal_id(a->id, false);
}

/* How often a burst of bids or votes is counted, at most. */
#define FDN_COMPLETION_CHECK_MS 100

long
fdn_close_due_protocols(void)
{
	static TimestampTz last_complete_check = 0;
	bool		check_complete;
	FdnPrivState priv;
	int64	   *auctions;
	int64	   *proposals;
	int			na;
	int			np;
	int			i;
	int			nest;
	bool		isnull;
	long		next_ms = -1;

	/*
	 * Deadlines are cheap to check on every pass.  Counting answers costs
	 * as much as there are bids, so do it only after new bids or votes, and
	 * at most every FDN_COMPLETION_CHECK_MS: a burst of bids then wakes us
	 * many times but counts a few times.
	 */
	check_complete = fdn_db_test_flag(FDN_DBFLAG_PROTOCOLS, false) &&
		TimestampDifferenceExceeds(last_complete_check, GetCurrentTimestamp(),
								   FDN_COMPLETION_CHECK_MS);
	if (check_complete)
	{
		(void) fdn_db_test_flag(FDN_DBFLAG_PROTOCOLS, true);
		last_complete_check = GetCurrentTimestamp();
	}
	else if (fdn_db_test_flag(FDN_DBFLAG_PROTOCOLS, false))
		next_ms = FDN_COMPLETION_CHECK_MS;

	/*
	 * Is any bid still missing?  That must be a probe of each open
	 * auction's own rows (by primary key, stopping at the first without a
	 * bid), never a scan of every auction's bids: OFFSET 0 keeps NOT EXISTS
	 * a per-auction subplan, and with sequential and bitmap scans off while
	 * it is planned, statistics that make "bid IS NULL" look rare cannot
	 * turn that probe into a scan of the whole table (19.7 ms instead of
	 * 0.7 ms with 140 000 bids, every 100 ms while bids arrive).  The same
	 * holds for counting a proposal's votes.
	 */
	fdn_priv_begin(&priv);
	nest = fdn_index_probes_begin();
	fdn_spi_exec(check_complete ?
				 "SELECT auction_id FROM foundation.auctions a WHERE status = 'open' AND"
				 " (deadline <= clock_timestamp() OR NOT EXISTS"
				 "  (SELECT FROM foundation.bids b WHERE b.auction_id = a.auction_id AND b.bid IS NULL"
				 "   OFFSET 0))" :
				 "SELECT auction_id FROM foundation.auctions WHERE status = 'open' AND"
				 " deadline <= clock_timestamp()",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	na = (int) SPI_processed;
	auctions = palloc(sizeof(int64) * Max(na, 1));
	for (i = 0; i < na; i++)
		auctions[i] = DatumGetInt64(fdn_spi_getdatum(i, 1, &isnull));
	fdn_spi_exec(check_complete ?
				 "SELECT proposal_id FROM foundation.proposals p WHERE status = 'open' AND"
				 " (deadline <= clock_timestamp() OR cardinality(agents) <="
				 "  (SELECT count(*) FROM foundation.votes v WHERE v.proposal_id = p.proposal_id))" :
				 "SELECT proposal_id FROM foundation.proposals WHERE status = 'open' AND"
				 " deadline <= clock_timestamp()",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	fdn_index_probes_end(nest);
	np = (int) SPI_processed;
	proposals = palloc(sizeof(int64) * Max(np, 1));
	for (i = 0; i < np; i++)
		proposals[i] = DatumGetInt64(fdn_spi_getdatum(i, 1, &isnull));
	fdn_priv_end(&priv);

	/* Each in a subtransaction: one that fails must not stop the others. */
	for (i = 0; i < na + np; i++)
	{
		FdnCloseArgs args = {i < na, i < na ? auctions[i] : proposals[i - na]};
		ErrorData  *edata = fdn_try_subxact(close_cb, &args);

		if (edata)
			ereport(WARNING,
					(errmsg("foundation supervisor could not close %s " INT64_FORMAT ": %s",
							args.auction ? "auction" : "proposal", args.id, edata->message),
					 errhint("It is retried on the next pass; close it by hand to see the error.")));
	}

	/* When is the next deadline? */
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT ceil(extract(epoch FROM min(d) - clock_timestamp()) * 1000)::int8 FROM"
				 " (SELECT deadline FROM foundation.auctions WHERE status = 'open'"
				 "  UNION ALL SELECT deadline FROM foundation.proposals WHERE status = 'open') s(d)",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	{
		Datum		d = fdn_spi_getdatum(0, 1, &isnull);

		if (!isnull)
			next_ms = next_ms < 0 ? Max(DatumGetInt64(d), 0) :
				Min(next_ms, Max(DatumGetInt64(d), 0));
	}
	fdn_priv_end(&priv);
	return next_ms;
}

/* ---------- shared state and the supervisor ---------- */

/*
 * Only committed bids and votes count; say so, and wake the supervisor
 * only if it did not know yet: a burst of bids wakes it once per count,
 * not once per bid.
 */
static void
protocols_changed(bool committed)
{
	if (committed && fdn_db_set_flag(FDN_DBFLAG_PROTOCOLS))
		fdn_wake_supervisor();
}

void
fdn_protocols_changed_at_commit(void)
{
	fdn_at_xact_end(protocols_changed);
}

/* Open auctions and proposals keep their database's supervisor: it closes them. */
static bool
protocols_open(void)
{
	bool		isnull;

	fdn_spi_exec("SELECT EXISTS (SELECT FROM foundation.auctions WHERE status = 'open')"
				 " OR EXISTS (SELECT FROM foundation.proposals WHERE status = 'open')",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	return DatumGetBool(fdn_spi_getdatum(0, 1, &isnull));
}

/* Auctions and proposals that are due close after every pass. */
static const FdnSupervisorHooks coordination_hooks = {
	.feature = "coordination",
	.after_pass = fdn_close_due_protocols,
	.has_work = protocols_open,
};

void
fdn_coordination_init(void)
{
	fdn_supervisor_add_hooks(&coordination_hooks);
}
