/*-------------------------------------------------------------------------
 *
 * process_manager.h
 *	  The facade (Foundation.ProcessManager), for other parts of foundation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_PROCESS_MANAGER_H
#define FDN_PROCESS_MANAGER_H

#include "postgres.h"

#include "utils/jsonb.h"

/* start_singleton: returns the pid, started or already running. */
extern pid_t fdn_singleton_start(const char *module, Jsonb *args,
								 const char *name, const char *restart);

#endif							/* FDN_PROCESS_MANAGER_H */
