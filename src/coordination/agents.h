/*-------------------------------------------------------------------------
 *
 * coordination/agents.h
 *	  Coordination agents (the seed's MABEAM AgentRegistry) and calls to
 *	  their handlers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_AGENTS_H
#define FDN_AGENTS_H

#include "postgres.h"

#include "utils/array.h"
#include "utils/jsonb.h"



/* The default time an agent's handler has to answer (the seed's). */
#define FDN_AGENT_TIMEOUT_MS 5000

typedef struct FdnAgent
{
	char	   *name;
	Oid			handler;		/* InvalidOid: no handler */
	Oid			owner;
	int64		seq;			/* registration order */
} FdnAgent;

/*
 * The agents named in arr, validated: not empty, known, no duplicates,
 * each with the capability (if not NULL) and a handler.  Errors otherwise.
 */
extern FdnAgent *fdn_agents_for(ArrayType *arr, const char *capability,
								int *nagents);

/*
 * Call an agent's handler(agent, request, payload) in a subtransaction, as
 * its owner, under timeout_ms.  Returns the answer, or NULL with *error
 * set (its error, "timeout after N ms").
 */
extern Jsonb *fdn_agent_call(FdnAgent *agent, const char *request,
							 Jsonb *payload, int timeout_ms, char **error);


#endif							/* FDN_AGENTS_H */
