/*-------------------------------------------------------------------------
 *
 * process/registry.h
 *	  The registry's raw layer: register, unregister, lookup.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_REGISTRY_H
#define FDN_REGISTRY_H

#include "postgres.h"

#include "utils/jsonb.h"



/* Register name for pid (owned by the caller); errors if taken. */
extern void fdn_register_name(const char *name, int32 pid, Jsonb *metadata);

/*
 * Find a name: from a backend-local cache kept exact by invalidations
 * (registry.c), else with a direct index scan of the latest committed
 * state; no SPI, no planner, since lookups must cost no more than a plain
 * SELECT.  Returns false when the name is unknown; otherwise sets *pid,
 * *alive (is that process alive?) and *child_id (0 when the name is not
 * tied to a child).  latest: bypass the cache.
 */
extern bool fdn_registry_find(const char *name, bool latest, int32 *pid,
							  bool *alive, int64 *child_id);

/* Is pid a live backend or background worker of this server? */
extern bool fdn_pid_is_alive(int32 pid);

#endif							/* FDN_REGISTRY_H */
