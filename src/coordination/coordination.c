/*-------------------------------------------------------------------------
 *
 * coordination/coordination.c
 *	  Auctions, consensus and negotiation (the seed's MABEAM.Coordination),
 *	  run now, inside the caller's transaction.
 *
 * The decision rules are written once each, in fdn_auction_decide and
 * fdn_consensus_decide, and quoted in docs/coordination.md.  Agents answer
 * through their handlers (agents.c); a handler that fails, times out or
 * answers nonsense gets the seed's fallback (a bid of 0, a failed vote),
 * recorded with its reason, and the protocol goes on.  Results are stored
 * and broadcast on the events channel, delivered at commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/spi_util.h"
#include "channels/channels.h"
#include "coordination/agents.h"
#include "coordination/coordination.h"


PG_FUNCTION_INFO_V1(fdn_run_auction_sql);
PG_FUNCTION_INFO_V1(fdn_coordinate_consensus);
PG_FUNCTION_INFO_V1(fdn_negotiate);

#define MC "Foundation.MABEAM.Coordination: "

/* A number in a jsonb object, if it is one, finite and not negative. */
bool
fdn_get_amount(Jsonb *jb, const char *key, double *out, char **why)
{
	JsonbValue	v;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb) ||
		!getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v))
	{
		*why = psprintf("no \"%s\" in the answer", key);
		return false;
	}
	if (v.type != jbvNumeric)
	{
		*why = psprintf("\"%s\" is not a number", key);
		return false;
	}
	*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v.val.numeric)));
	if (isnan(*out) || isinf(*out) || *out < 0)
	{
		*why = psprintf("\"%s\" must be a finite number of at least 0", key);
		return false;
	}
	return true;
}

/*
 * THE AUCTION RULE.  Only valid bids count (a handler that failed bid
 * nothing).  The highest bid at or above the reserve wins; ties go to the
 * higher priority, then to the agent registered first.  First price pays
 * the winning bid.  Second price pays the second-highest valid bid (a
 * single bid pays itself), never less than the reserve.  No bid at or
 * above the reserve: no winner.
 */
int
fdn_auction_decide(FdnBid *bids, int n, bool second_price, double reserve,
				   double *payment)
{
	int			winner = -1;
	int			second = -1;
	int			i;

	for (i = 0; i < n; i++)
	{
		FdnBid	   *b = &bids[i];

		if (b->error)
			continue;
		if (winner < 0 || b->bid > bids[winner].bid ||
			(b->bid == bids[winner].bid &&
			 (b->priority > bids[winner].priority ||
			  (b->priority == bids[winner].priority &&
			   b->agent->seq < bids[winner].agent->seq))))
		{
			second = winner;
			winner = i;
		}
		else if (second < 0 || b->bid > bids[second].bid)
			second = i;
	}
	if (winner < 0 || bids[winner].bid < reserve)
		return -1;
	if (!second_price)
		*payment = bids[winner].bid;
	else
		*payment = Max(second >= 0 ? bids[second].bid : bids[winner].bid, reserve);
	return winner;
}

static void
json_num(StringInfo buf, double v)
{
	/* jsonb prints what numeric would: no exponent for ordinary amounts */
	appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(float8out,
																	Float8GetDatum(v))));
}

void
fdn_parse_auction_spec(Jsonb *spec, FdnAuctionSpec *out)
{
	JsonbValue	v;
	char	   *why;

	out->second_price = true;
	out->reserve = 0;
	out->resources = fdn_jsonb_from_text("{}");
	if (spec == NULL || !JB_ROOT_IS_OBJECT(spec))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("auction spec must be a JSON object"),
				 errhint("For example: '{\"type\": \"sealed_bid\", \"resources\": {\"cpu\": 4}, \"payment_rule\": \"second_price\", \"reserve_price\": 0}'.")));
	if (getKeyJsonValueFromContainer(&spec->root, "type", 4, &v))
	{
		if (v.type != jbvString || v.val.string.len != 10 ||
			strncmp(v.val.string.val, "sealed_bid", 10) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown auction type"),
					 errhint("foundation runs sealed_bid auctions; write your own with foundation.run_custom_protocol.")));
	}
	if (getKeyJsonValueFromContainer(&spec->root, "payment_rule", 12, &v))
	{
		if (v.type == jbvString && v.val.string.len == 11 &&
			strncmp(v.val.string.val, "first_price", 11) == 0)
			out->second_price = false;
		else if (!(v.type == jbvString && v.val.string.len == 12 &&
				   strncmp(v.val.string.val, "second_price", 12) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown payment rule"),
					 errhint("Use first_price or second_price.")));
	}
	if (getKeyJsonValueFromContainer(&spec->root, "reserve_price", 13, &v) &&
		!fdn_get_amount(spec, "reserve_price", &out->reserve, &why))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reserve price: %s", why),
				 errhint("Give a number of at least 0.")));
	if (getKeyJsonValueFromContainer(&spec->root, "resources", 9, &v))
		out->resources = JsonbValueToJsonb(&v);
}

char *
fdn_auction_result(int64 auction_id, const FdnAuctionSpec *as, FdnBid *bids,
				   int n, bool top_only, const char *decided_at)
{
	StringInfoData res;
	double		payment = 0;
	int			winner = fdn_auction_decide(bids, n, as->second_price, as->reserve,
											&payment);
	int			i;
	char	   *resources = JsonbToCString(NULL, &as->resources->root,
										   VARSIZE(as->resources));

	initStringInfo(&res);
	appendStringInfo(&res, "{\"auction_id\": " INT64_FORMAT ", \"winner\": ", auction_id);
	if (winner >= 0)
		escape_json(&res, bids[winner].agent->name);
	else
		appendStringInfoString(&res, "null");
	appendStringInfoString(&res, ", \"allocation\": ");
	if (winner >= 0)
	{
		appendStringInfoChar(&res, '{');
		escape_json(&res, bids[winner].agent->name);
		appendStringInfo(&res, ": %s}", resources);
	}
	else
		appendStringInfoString(&res, "null");
	appendStringInfoString(&res, ", \"payment\": ");
	if (winner >= 0)
		json_num(&res, payment);
	else
		appendStringInfoString(&res, "null");
	appendStringInfo(&res, ", \"auction_type\": \"sealed_bid\", \"payment_rule\": \"%s\", \"reserve_price\": ",
					 as->second_price ? "second_price" : "first_price");
	json_num(&res, as->reserve);
	appendStringInfo(&res, ", \"%s\": [", top_only ? "top_bids" : "bids");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&res, ", ");
		appendStringInfoString(&res, "{\"agent\": ");
		escape_json(&res, bids[i].agent->name);
		appendStringInfoString(&res, ", \"bid\": ");
		json_num(&res, bids[i].bid);
		appendStringInfoString(&res, ", \"priority\": ");
		json_num(&res, bids[i].priority);
		appendStringInfoString(&res, ", \"error\": ");
		if (bids[i].error)
			escape_json(&res, bids[i].error);
		else
			appendStringInfoString(&res, "null");
		appendStringInfoChar(&res, '}');
	}
	appendStringInfoString(&res, "], \"decided_at\": ");
	escape_json(&res, decided_at);
	appendStringInfoChar(&res, '}');
	ereport(DEBUG1,
			(errmsg_internal(MC "Auction " INT64_FORMAT ": winner %s pays %g", auction_id,
							 winner >= 0 ? bids[winner].agent->name : "(none)", payment)));
	return res.data;
}

void
fdn_announce(const char *type, Jsonb *result)
{
	JsonbParseState *st = NULL;
	JsonbValue	k;
	JsonbValue	v;
	Jsonb	   *head;

	/* {"type": type} || result: the result is not parsed again. */
	k.type = jbvString;
	k.val.string.val = "type";
	k.val.string.len = 4;
	v.type = jbvString;
	v.val.string.val = (char *) type;
	v.val.string.len = strlen(type);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(&st, WJB_KEY, &k);
	pushJsonbValue(&st, WJB_VALUE, &v);
	head = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	fdn_broadcast(1, DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(head),
														JsonbPGetDatum(result))),
				  false, FDN_ROUTE_NONE);
}

Jsonb *
fdn_run_auction(Jsonb *spec, ArrayType *agent_names, Jsonb *context)
{
	FdnAuctionSpec as;
	FdnAgent   *agents;
	FdnBid	   *bids;
	int			n;
	int			i;
	StringInfoData payload;
	Jsonb	   *res;
	int64		auction_id;
	FdnPrivState priv;
	bool		isnull;
	char	   *why;
	Jsonb	   *bid_request;
	char	   *decided_at;
	JsonbValue	v;

	fdn_parse_auction_spec(spec, &as);
	agents = fdn_agents_for(agent_names, "auction_bidding", &n);
	ereport(DEBUG1,
			(errmsg_internal(MC "Running sealed_bid %s auction with %d agents",
							 as.second_price ? "second_price" : "first_price", n)));

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"resources\": ");
	appendStringInfoString(&payload, JsonbToCString(NULL, &as.resources->root, VARSIZE(as.resources)));
	appendStringInfoString(&payload, ", \"context\": ");
	appendStringInfoString(&payload, context ? JsonbToCString(NULL, &context->root, VARSIZE(context)) : "{}");
	appendStringInfoChar(&payload, '}');
	bid_request = fdn_jsonb_from_text(payload.data);

	bids = palloc0(sizeof(FdnBid) * n);
	for (i = 0; i < n; i++)
	{
		char	   *error;
		Jsonb	   *answer = fdn_agent_call(&agents[i], "bid_for_resources",
											bid_request, FDN_AGENT_TIMEOUT_MS, &error);

		bids[i].agent = &agents[i];
		if (answer == NULL)
			bids[i].error = error;
		else if (!fdn_get_amount(answer, "bid", &bids[i].bid, &why))
			bids[i].error = psprintf("malformed answer: %s", why);
		else if (getKeyJsonValueFromContainer(&answer->root, "priority", 8, &v) &&
				 !fdn_get_amount(answer, "priority", &bids[i].priority, &why))
			bids[i].error = psprintf("malformed answer: %s", why);
		if (bids[i].error)
		{
			/* the seed's fallback */
			bids[i].bid = 0;
			bids[i].priority = 0;
		}
	}

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT nextval(pg_get_serial_sequence('foundation.auctions', 'auction_id')),"
				 " to_json(clock_timestamp())#>>'{}'",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	auction_id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	decided_at = TextDatumGetCString(fdn_spi_getdatum(0, 2, &isnull));
	res = fdn_jsonb_from_text(fdn_auction_result(auction_id, &as, bids, n, false, decided_at));

	fdn_spi_exec("INSERT INTO foundation.auctions (auction_id, spec, agents, status, owner, closed_at, result)"
				 " OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, 'closed', $4, clock_timestamp(), $5)",
				 5, (Oid[]) {INT8OID, JSONBOID, TEXTARRAYOID, OIDOID, JSONBOID},
				 (Datum[]) {Int64GetDatum(auction_id), JsonbPGetDatum(spec),
				 PointerGetDatum(agent_names), ObjectIdGetDatum(priv.save_userid),
				 JsonbPGetDatum(res)},
				 NULL, SPI_OK_INSERT);
	{
		/* All bids in one statement, in the order of the invitation. */
		Datum	   *bv = palloc(sizeof(Datum) * n);
		Datum	   *pv = palloc(sizeof(Datum) * n);
		Datum	   *ev = palloc(sizeof(Datum) * n);
		bool	   *enull = palloc(sizeof(bool) * n);
		int			dims[1] = {n};
		int			lbs[1] = {1};

		for (i = 0; i < n; i++)
		{
			bv[i] = Float8GetDatum(bids[i].bid);
			pv[i] = Float8GetDatum(bids[i].priority);
			enull[i] = bids[i].error == NULL;
			ev[i] = enull[i] ? (Datum) 0 : CStringGetTextDatum(bids[i].error);
		}
		fdn_spi_exec("INSERT INTO foundation.bids (auction_id, agent, ord, bid, priority, error, submitted_at)"
					 " SELECT $1, u.agent, u.ord, u.bid, u.priority, u.error, clock_timestamp()"
					 " FROM unnest($2::text[], $3::float8[], $4::float8[], $5::text[])"
					 "      WITH ORDINALITY u(agent, bid, priority, error, ord)",
					 5, (Oid[]) {INT8OID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID},
					 (Datum[]) {Int64GetDatum(auction_id), PointerGetDatum(agent_names),
					 PointerGetDatum(construct_array(bv, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
					 PointerGetDatum(construct_array(pv, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
					 PointerGetDatum(construct_md_array(ev, enull, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT))},
					 NULL, SPI_OK_INSERT);
	}
	fdn_priv_end(&priv);

	/* Announced at commit, with the whole result. */
	fdn_announce("auction_closed", res);
	return res;
}

Datum
fdn_run_auction_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		fdn_null_arg_error("auction spec and agents",
						   "Call foundation.run_auction('{\"type\": \"sealed_bid\"}', ARRAY['a1', 'a2']).");
	PG_RETURN_JSONB_P(fdn_run_auction(PG_GETARG_JSONB_P(0), PG_GETARG_ARRAYTYPE_P(1),
									  PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2)));
}

/* ---------- consensus ---------- */

const char *
fdn_check_consensus_type(const char *type)
{
	if (strcmp(type, "majority") != 0 && strcmp(type, "supermajority") != 0 &&
		strcmp(type, "unanimous") != 0 && strcmp(type, "quorum") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown consensus type \"%s\"", type),
				 errhint("Use majority, supermajority, unanimous or quorum.")));
	return type;
}

/*
 * THE CONSENSUS RULE.  n agents were asked; valid votes are yes, no and
 * abstain (a failed vote is not one).  Fewer valid votes than required:
 * no_quorum.  Otherwise: majority, yes from more than half of the agents;
 * supermajority, yes from at least two thirds; unanimous, yes from every
 * agent; quorum, more yes than no.
 */
const char *
fdn_consensus_decide(const char *type, int n, int yes, int no, int abstain,
					 int required)
{
	bool		accepted;

	if (yes + no + abstain < required)
		return "no_quorum";
	if (strcmp(type, "majority") == 0)
		accepted = 2 * yes > n;
	else if (strcmp(type, "supermajority") == 0)
		accepted = 3 * yes >= 2 * n;
	else if (strcmp(type, "unanimous") == 0)
		accepted = yes == n;
	else
		accepted = yes > no;
	return accepted ? "accepted" : "rejected";
}

void
fdn_tally_init(FdnTally *t)
{
	t->yes = t->no = t->abstain = t->failed = 0;
	initStringInfo(&t->votes);
}

void
fdn_tally_add(FdnTally *t, const char *agent, const char *vote,
			  const char *reason)
{
	if (strcmp(vote, "yes") == 0)
		t->yes++;
	else if (strcmp(vote, "no") == 0)
		t->no++;
	else if (strcmp(vote, "abstain") == 0)
		t->abstain++;
	else
	{
		t->failed++;
		vote = "failed";
	}
	if (t->votes.len > 0)
		appendStringInfoString(&t->votes, ", ");
	appendStringInfoString(&t->votes, "{\"agent\": ");
	escape_json(&t->votes, agent);
	appendStringInfo(&t->votes, ", \"vote\": \"%s\", \"reason\": ", vote);
	if (reason)
		escape_json(&t->votes, reason);
	else
		appendStringInfoString(&t->votes, "null");
	appendStringInfoChar(&t->votes, '}');
}

char *
fdn_consensus_result(int64 proposal_id, const char *type, int n, int required,
					 FdnTally *t, const char *decided_at)
{
	StringInfoData res;

	initStringInfo(&res);
	appendStringInfo(&res, "{\"proposal_id\": " INT64_FORMAT ", \"consensus\": \"%s\", \"consensus_type\": \"%s\","
					 " \"required_votes\": %d, \"yes\": %d, \"no\": %d, \"abstain\": %d, \"failed\": %d, \"votes\": [%s], \"decided_at\": ",
					 proposal_id,
					 fdn_consensus_decide(type, n, t->yes, t->no, t->abstain, required),
					 type, required, t->yes, t->no, t->abstain, t->failed, t->votes.data);
	escape_json(&res, decided_at);
	appendStringInfoChar(&res, '}');
	return res.data;
}

char *
fdn_run_consensus(ArrayType *agent_names, Jsonb *proposal, const char *type,
				  int timeout_ms, int required)
{
	Jsonb	   *rj;
	FdnAgent   *agents;
	int			n;
	int			i;
	FdnTally	tally;
	char	   *result;
	StringInfoData req;
	int64		proposal_id;
	FdnPrivState priv;
	bool		isnull;
	char	   *decided_at;
	Jsonb	   *request;

	(void) fdn_check_consensus_type(type);
	if (timeout_ms < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must be at least 1"),
				 errhint("It is how long each agent has to vote, in milliseconds.")));
	agents = fdn_agents_for(agent_names, "consensus_voting", &n);
	if (required < 0)
		required = n;
	if (required < 1 || required > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("required_votes must be between 1 and the number of agents (%d)", n),
				 errhint("Leave it out to require a vote from every agent.")));

	initStringInfo(&req);
	appendStringInfo(&req, "{\"proposal\": %s, \"consensus_type\": \"%s\"}",
					 JsonbToCString(NULL, &proposal->root, VARSIZE(proposal)), type);
	request = fdn_jsonb_from_text(req.data);

	fdn_tally_init(&tally);
	for (i = 0; i < n; i++)
	{
		char	   *error;
		Jsonb	   *answer = fdn_agent_call(&agents[i], "vote", request, timeout_ms, &error);
		JsonbValue	v;
		const char *vote = "failed";
		char	   *reason = error;

		if (answer && JB_ROOT_IS_OBJECT(answer) &&
			getKeyJsonValueFromContainer(&answer->root, "vote", 4, &v) && v.type == jbvString)
		{
			char	   *s = pnstrdup(v.val.string.val, v.val.string.len);

			if (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0 || strcmp(s, "abstain") == 0)
			{
				vote = s;
				reason = NULL;
				if (getKeyJsonValueFromContainer(&answer->root, "reason", 6, &v) && v.type == jbvString)
					reason = pnstrdup(v.val.string.val, v.val.string.len);
			}
			else
				reason = psprintf("malformed answer: vote \"%s\" is not yes, no or abstain", s);
		}
		else if (answer)
			reason = pstrdup("malformed answer: no \"vote\"");
		fdn_tally_add(&tally, agents[i].name, vote, reason);
	}

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT nextval(pg_get_serial_sequence('foundation.proposals', 'proposal_id')),"
				 " to_json(clock_timestamp())#>>'{}'",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	proposal_id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	decided_at = TextDatumGetCString(fdn_spi_getdatum(0, 2, &isnull));
	result = fdn_consensus_result(proposal_id, type, n, required, &tally, decided_at);
	rj = fdn_jsonb_from_text(result);
	fdn_spi_exec("INSERT INTO foundation.proposals (proposal_id, proposal, agents, consensus_type,"
				 " required_votes, status, owner, closed_at, result)"
				 " OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, 'closed', $6, clock_timestamp(), $7)",
				 7, (Oid[]) {INT8OID, JSONBOID, TEXTARRAYOID, TEXTOID, INT4OID, OIDOID, JSONBOID},
				 (Datum[]) {Int64GetDatum(proposal_id), JsonbPGetDatum(proposal),
				 PointerGetDatum(agent_names), CStringGetTextDatum(type),
				 Int32GetDatum(required), ObjectIdGetDatum(priv.save_userid),
				 JsonbPGetDatum(rj)},
				 NULL, SPI_OK_INSERT);
	fdn_priv_end(&priv);
	fdn_announce("proposal_closed", rj);
	return result;
}

Datum
fdn_coordinate_consensus(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		fdn_null_arg_error("agents, proposal, consensus type and timeout",
						   "Call foundation.coordinate_consensus(ARRAY['a1', 'a2'], '{\"plan\": 1}').");
	PG_RETURN_JSONB_P(fdn_jsonb_from_text(fdn_run_consensus(PG_GETARG_ARRAYTYPE_P(0),
															PG_GETARG_JSONB_P(1),
															text_to_cstring(PG_GETARG_TEXT_PP(2)),
															PG_GETARG_INT32(3),
															PG_ARGISNULL(4) ? -1 : PG_GETARG_INT32(4))));
}

/* ---------- negotiation: alternating offers ---------- */

Datum
fdn_negotiate(PG_FUNCTION_ARGS)
{
	FdnAgent   *agents;
	int			n;
	int			max_rounds;
	Jsonb	   *issue;
	StringInfoData hist;
	StringInfoData res;
	char	   *offer = NULL;
	char	   *agreement = NULL;
	int			round;
	int			proposer;
	char	   *error;
	Jsonb	   *answer;
	JsonbValue	v;
	Datum		names[2];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		fdn_null_arg_error("initiator, responder, issue and max_rounds",
						   "Call foundation.negotiate('buyer', 'seller', '{\"item\": \"cpu\"}').");
	max_rounds = PG_GETARG_INT32(3);
	if (max_rounds < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rounds must be at least 1"),
				 errhint("A round is one offer and its answer.")));
	names[0] = PG_GETARG_DATUM(0);
	names[1] = PG_GETARG_DATUM(1);
	agents = fdn_agents_for(construct_array(names, 2, TEXTOID, -1, false, TYPALIGN_INT),
							"negotiation", &n);
	issue = PG_GETARG_JSONB_P(2);

	initStringInfo(&hist);
	/* The initiator opens. */
	{
		StringInfoData p;

		initStringInfo(&p);
		appendStringInfo(&p, "{\"issue\": %s, \"round\": 1}",
						 JsonbToCString(NULL, &issue->root, VARSIZE(issue)));
		answer = fdn_agent_call(&agents[0], "propose", fdn_jsonb_from_text(p.data),
								FDN_AGENT_TIMEOUT_MS, &error);
	}
	if (answer && JB_ROOT_IS_OBJECT(answer) &&
		getKeyJsonValueFromContainer(&answer->root, "offer", 5, &v))
		offer = JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0);
	appendStringInfoString(&hist, "{\"round\": 1, \"agent\": ");
	escape_json(&hist, agents[0].name);
	if (offer)
		appendStringInfo(&hist, ", \"action\": \"propose\", \"offer\": %s}", offer);
	else
	{
		appendStringInfoString(&hist, ", \"action\": \"failed\", \"reason\": ");
		escape_json(&hist, answer ? "malformed answer: no \"offer\"" : error);
		appendStringInfoChar(&hist, '}');
	}

	proposer = 0;
	for (round = 1; offer != NULL && round <= max_rounds; round++)
	{
		int			responder = 1 - proposer;
		StringInfoData p;

		initStringInfo(&p);
		appendStringInfo(&p, "{\"issue\": %s, \"offer\": %s, \"round\": %d, \"history\": [%s]}",
						 JsonbToCString(NULL, &issue->root, VARSIZE(issue)), offer, round, hist.data);
		answer = fdn_agent_call(&agents[responder], "respond", fdn_jsonb_from_text(p.data),
								FDN_AGENT_TIMEOUT_MS, &error);
		appendStringInfo(&hist, ", {\"round\": %d, \"agent\": ", round);
		escape_json(&hist, agents[responder].name);
		if (answer && JB_ROOT_IS_OBJECT(answer) &&
			getKeyJsonValueFromContainer(&answer->root, "accept", 6, &v) &&
			v.type == jbvBool && v.val.boolean)
		{
			appendStringInfo(&hist, ", \"action\": \"accept\", \"offer\": %s}", offer);
			agreement = offer;
			break;
		}
		if (answer && JB_ROOT_IS_OBJECT(answer) &&
			getKeyJsonValueFromContainer(&answer->root, "counter", 7, &v) &&
			round < max_rounds)
		{
			offer = JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0);
			appendStringInfo(&hist, ", \"action\": \"counter\", \"offer\": %s}", offer);
			proposer = responder;
			continue;
		}
		if (answer && JB_ROOT_IS_OBJECT(answer) &&
			getKeyJsonValueFromContainer(&answer->root, "counter", 7, &v))
		{
			appendStringInfo(&hist, ", \"action\": \"counter\", \"offer\": %s}",
							 JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0));
			break;				/* out of rounds */
		}
		appendStringInfoString(&hist, ", \"action\": \"failed\", \"reason\": ");
		escape_json(&hist, answer ? "malformed answer: neither \"accept\": true nor \"counter\"" : error);
		appendStringInfoChar(&hist, '}');
		break;
	}

	initStringInfo(&res);
	appendStringInfoString(&res, "{\"initiator\": ");
	escape_json(&res, agents[0].name);
	appendStringInfoString(&res, ", \"responder\": ");
	escape_json(&res, agents[1].name);
	appendStringInfo(&res, ", \"outcome\": \"%s\", \"agreement\": %s, \"rounds\": %d, \"max_rounds\": %d, \"issue\": %s, \"history\": [%s]}",
					 agreement ? "agreement" : "no_agreement",
					 agreement ? agreement : "null",
					 Min(round, max_rounds), max_rounds,
					 JsonbToCString(NULL, &issue->root, VARSIZE(issue)), hist.data);
	{
		Jsonb	   *rj = fdn_jsonb_from_text(res.data);

		fdn_announce("negotiation_closed", rj);
		PG_RETURN_JSONB_P(rj);
	}
}
