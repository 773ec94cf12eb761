/*-------------------------------------------------------------------------
 *
 * coordination/coordination.h
 *	  Auctions, consensus and negotiation (the seed's MABEAM.Coordination).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_COORDINATION_H
#define FDN_COORDINATION_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "coordination/agents.h"


typedef struct FdnBid
{
	FdnAgent   *agent;
	double		bid;
	double		priority;
	char	   *error;			/* NULL: a valid bid */
} FdnBid;

typedef struct FdnAuctionSpec
{
	bool		second_price;
	double		reserve;
	Jsonb	   *resources;
} FdnAuctionSpec;

/* The auction rule (see coordination.c); returns the winner's index or -1. */
extern int	fdn_auction_decide(FdnBid *bids, int n, bool second_price,
							   double reserve, double *payment);

/* type, if a known consensus type; otherwise an error (22023). */
extern const char *fdn_check_consensus_type(const char *type);

/* The consensus rule: "accepted", "rejected" or "no_quorum". */
extern const char *fdn_consensus_decide(const char *type, int n, int yes,
										int no, int abstain, int required);

/* Votes counted as they come, and listed for the result. */
typedef struct FdnTally
{
	int			yes;
	int			no;
	int			abstain;
	int			failed;
	StringInfoData votes;		/* the "votes" array's elements */
} FdnTally;

extern void fdn_tally_init(FdnTally *t);

/* Count one agent's vote: yes, no, abstain; anything else is failed. */
extern void fdn_tally_add(FdnTally *t, const char *agent, const char *vote,
						  const char *reason);

/* Decide by the consensus rule and build the result's text. */
extern char *fdn_consensus_result(int64 proposal_id, const char *type, int n,
								  int required, FdnTally *t,
								  const char *decided_at);

/* Validate an auction spec (errors on bad input). */
extern void fdn_parse_auction_spec(Jsonb *spec, FdnAuctionSpec *out);

/*
 * Decide and build an auction's result text.  Its bids go under "bids"
 * (every invited agent's, run_auction) or, with top_only, under "top_bids"
 * (just those the rule needed, close_auction: every bid stays in
 * foundation.bids).
 */
extern char *fdn_auction_result(int64 auction_id, const FdnAuctionSpec *as,
								FdnBid *bids, int n, bool top_only,
								const char *decided_at);

/* A number at key: finite and not negative; else false and *why. */
extern bool fdn_get_amount(Jsonb *jb, const char *key, double *out, char **why);

/* Broadcast {"type": type, ...result} on the events channel at commit. */
extern void fdn_announce(const char *type, Jsonb *result);

/* Run a sealed-bid auction now; returns the result's text. */
extern Jsonb *fdn_run_auction(Jsonb *spec, ArrayType *agents, Jsonb *context);

/* Ask the agents to vote now; returns the result's text. */
extern char *fdn_run_consensus(ArrayType *agents, Jsonb *proposal,
							   const char *type, int timeout_ms,
							   int required_votes);

#endif							/* FDN_COORDINATION_H */
