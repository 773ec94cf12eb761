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

/*
 * The same, for a child connected to another database (a spec's
 * "database"; NULL: this one); its spec and name stay in this one.
 */
extern pid_t fdn_singleton_start_in(const char *module, Jsonb *args,
									const char *name, const char *restart,
									const char *database);

/*
 * Make sure one of foundation's own singletons runs (the handler
 * dispatcher, the relay): started as the bootstrap superuser under its
 * reserved name, permanent, unless it runs already.  Returns its pid.
 */
extern pid_t fdn_ensure_own_singleton(const char *name, const char *module);

/* Prefix of the facade's DEBUG1 reports (the seed's module name). */
#define PM "Foundation.ProcessManager: "

#endif							/* FDN_SINGLETON_START_H */
