/*-------------------------------------------------------------------------
 *
 * coordination/async_proposals.c
 *	  Proposals across transactions: open_proposal, cast_vote,
 *	  close_proposal (one vote per agent; the proposal's row lock orders
 *	  votes and the close).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/spi_util.h"
#include "process/child_ops.h"
#include "channels/channels.h"
#include "coordination/async_protocols.h"
#include "coordination/coordination.h"


PG_FUNCTION_INFO_V1(fdn_open_proposal);
PG_FUNCTION_INFO_V1(fdn_cast_vote);
PG_FUNCTION_INFO_V1(fdn_close_proposal);

Datum
fdn_open_proposal(PG_FUNCTION_ARGS)
{
	ArrayType  *agents;
	int			n;
	int			required;
	FdnPrivState priv;
	bool		isnull;
	int64		id;
	char	   *opened;
	const char *type;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		fdn_null_arg_error("agents, proposal, consensus type and deadline",
				 "Call foundation.open_proposal(ARRAY['a1', 'a2'], '{\"plan\": 1}', 'majority', '30 seconds').");
	agents = PG_GETARG_ARRAYTYPE_P(0);
	type = fdn_check_consensus_type(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	(void) fdn_agents_for(agents, "consensus_voting", &n);
	required = PG_ARGISNULL(4) ? n : PG_GETARG_INT32(4);
	if (required < 1 || required > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("required_votes must be between 1 and the number of agents (%d)", n),
				 errhint("Leave it out to require a vote from every agent.")));
	fdn_require_preload();

	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.proposals (proposal, agents, consensus_type, required_votes, status, owner, deadline)"
				 " VALUES ($1, $2, $3, $4, 'open', $5, clock_timestamp() + $6)"
				 " RETURNING proposal_id, jsonb_build_object('proposal_id', proposal_id, 'agents', agents,"
				 "   'proposal', proposal, 'consensus_type', consensus_type, 'deadline', deadline)::text",
				 6, (Oid[]) {JSONBOID, TEXTARRAYOID, TEXTOID, INT4OID, OIDOID, INTERVALOID},
				 (Datum[]) {PG_GETARG_DATUM(1), PointerGetDatum(agents), CStringGetTextDatum(type),
				 Int32GetDatum(required), ObjectIdGetDatum(priv.save_userid),
				 IntervalPGetDatum(fdn_protocol_deadline(PG_GETARG_INTERVAL_P(3)))},
				 NULL, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	opened = TextDatumGetCString(fdn_spi_getdatum(0, 2, &isnull));
	fdn_priv_end(&priv);
	{
		StringInfoData ev;

		initStringInfo(&ev);
		appendStringInfo(&ev, "{\"type\": \"proposal_opened\", %s", opened + 1);
		fdn_broadcast(0, fdn_jsonb_from_text(ev.data), false, FDN_ROUTE_NONE);
	}
	fdn_wake_supervisor_at_xact_end();
	PG_RETURN_INT64(id);
}

Datum
fdn_cast_vote(PG_FUNCTION_ARGS)
{
	int64		id;
	char	   *agent;
	char	   *vote;
	FdnPrivState priv;
	bool		isnull;
	Oid			owner;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		fdn_null_arg_error("proposal id, agent and vote", "Call foundation.cast_vote(proposal_id, 'agent', 'yes').");
	id = PG_GETARG_INT64(0);
	agent = text_to_cstring(PG_GETARG_TEXT_PP(1));
	vote = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(vote, "yes") != 0 && strcmp(vote, "no") != 0 && strcmp(vote, "abstain") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid vote \"%s\"", vote),
				 errhint("Vote yes, no or abstain.")));

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT p.status, to_json(p.closed_at)#>>'{}', g.owner, $2 = ANY (p.agents)"
				 " FROM foundation.proposals p LEFT JOIN foundation.agents g ON g.name = $2"
				 " WHERE p.proposal_id = $1 FOR SHARE OF p",
				 2, (Oid[]) {INT8OID, TEXTOID},
				 (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(agent)}, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		fdn_protocol_no_such("proposal", id);
	if (strcmp(TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull)), "closed") == 0)
	{
		Datum		c = fdn_spi_getdatum(0, 2, &isnull);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("proposal " INT64_FORMAT " closed at %s", id,
						isnull ? "?" : TextDatumGetCString(c)),
				 errhint("foundation.close_proposal(" INT64_FORMAT ") returns its result.", id)));
	}
	owner = DatumGetObjectId(fdn_spi_getdatum(0, 3, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent \"%s\" does not exist", agent),
				 errhint("Register it with foundation.register_agent.")));
	if (!DatumGetBool(fdn_spi_getdatum(0, 4, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agent \"%s\" is not invited to proposal " INT64_FORMAT, agent, id),
				 errhint("SELECT agents FROM foundation.proposals WHERE proposal_id = " INT64_FORMAT " lists them.", id)));
	fdn_priv_end(&priv);
	fdn_protocol_acts_for(agent, GetUserId(), owner);

	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.votes (proposal_id, agent, vote, reason)"
				 " VALUES ($1, $2, $3, $4) ON CONFLICT (proposal_id, agent) DO NOTHING",
				 4, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID},
				 (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(agent), CStringGetTextDatum(vote),
				 PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3)},
				 PG_ARGISNULL(3) ? "   n" : "    ", SPI_OK_INSERT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("agent \"%s\" has already voted on proposal " INT64_FORMAT, agent, id),
				 errhint("One vote per agent.")));
	fdn_priv_end(&priv);
	fdn_protocols_changed_at_commit();
	PG_RETURN_VOID();
}

char *
fdn_close_proposal_id(int64 id, bool check_owner)
{
	FdnPrivState priv;
	bool		isnull;
	char	   *type;
	int			required;
	int			n;
	int			i;
	FdnTally	tally;
	char	   *result;
	Oid			owner;

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT status, result::text, consensus_type, required_votes, owner"
				 " FROM foundation.proposals WHERE proposal_id = $1 FOR UPDATE",
				 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		fdn_protocol_no_such("proposal", id);
	owner = DatumGetObjectId(fdn_spi_getdatum(0, 5, &isnull));
	if (check_owner && !has_privs_of_role(priv.save_userid, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to close proposal " INT64_FORMAT, id),
				 errhint("Its owner closes it, or the supervisor at its deadline.")));
	if (strcmp(TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull)), "closed") == 0)
	{
		char	   *r = TextDatumGetCString(fdn_spi_getdatum(0, 2, &isnull));

		fdn_priv_end(&priv);
		return r;
	}
	type = TextDatumGetCString(fdn_spi_getdatum(0, 3, &isnull));
	required = DatumGetInt32(fdn_spi_getdatum(0, 4, &isnull));

	/*
	 * Voters hold the row's share lock until they commit, so with its
	 * update lock no vote is in flight; read them as of the latest snapshot
	 * (see fdn_spi_query_latest), or a REPEATABLE READ close would miss
	 * the votes committed since its snapshot.
	 */
	fdn_spi_query_latest("SELECT u.name, v.vote, v.reason FROM foundation.proposals p,"
						 " unnest(p.agents) WITH ORDINALITY u(name, ord)"
						 " LEFT JOIN foundation.votes v ON v.proposal_id = $1 AND v.agent = u.name"
						 " WHERE p.proposal_id = $1 ORDER BY u.ord",
						 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL);
	n = (int) SPI_processed;
	fdn_tally_init(&tally);
	for (i = 0; i < n; i++)
	{
		char	   *name = TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull));
		Datum		vd = fdn_spi_getdatum(i, 2, &isnull);
		char	   *vote = isnull ? "failed" : TextDatumGetCString(vd);
		Datum		rd = fdn_spi_getdatum(i, 3, &isnull);
		char	   *reason = isnull ? (strcmp(vote, "failed") == 0 ? "no vote" : NULL) :
			TextDatumGetCString(rd);

		fdn_tally_add(&tally, name, vote, reason);
	}
	result = fdn_consensus_result(id, type, n, required, &tally, fdn_protocol_now());
	fdn_protocol_store_close(&priv,
							 "UPDATE foundation.proposals SET status = 'closed',"
							 " closed_at = clock_timestamp(), result = $2 WHERE proposal_id = $1",
							 id, result, "proposal_closed");
	return result;
}

Datum
fdn_close_proposal(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg_error("proposal id", "foundation.open_proposal returns the id.");
	PG_RETURN_JSONB_P(fdn_jsonb_from_text(fdn_close_proposal_id(PG_GETARG_INT64(0), true)));
}
