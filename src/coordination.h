/*-------------------------------------------------------------------------
 *
 * coordination.h
 *	  Auctions, consensus and negotiation (the seed's MABEAM.Coordination).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_COORDINATION_H
#define FDN_COORDINATION_H

#include "postgres.h"

#include "utils/array.h"
#include "utils/jsonb.h"

/* Run a sealed-bid auction now; returns the result's text. */
extern char *fdn_run_auction(Jsonb *spec, ArrayType *agents, Jsonb *context);

/* Ask the agents to vote now; returns the result's text. */
extern char *fdn_run_consensus(ArrayType *agents, Jsonb *proposal,
							   const char *type, int timeout_ms,
							   int required_votes);

#endif							/* FDN_COORDINATION_H */
