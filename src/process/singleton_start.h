/*-------------------------------------------------------------------------
 *
 * process/singleton_start.h
 *	  Starting a named singleton on this node, for every part of foundation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_SINGLETON_START_H
#define FDN_SINGLETON_START_H

#include "postgres.h"

#include "utils/jsonb.h"



/* start_singleton: returns the pid, started or already running. */
extern pid_t fdn_singleton_start(const char *module, Jsonb *args,
								 const char *name, const char *restart);

/* Prefix of the facade's DEBUG1 reports (the seed's module name). */
#define PM "Foundation.ProcessManager: "

#endif							/* FDN_SINGLETON_START_H */
