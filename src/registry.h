/*-------------------------------------------------------------------------
 *
 * registry.h
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
 * Find a name's live pid with a direct index scan (no SPI, no planner):
 * the lookup path must cost no more than a plain SELECT.  Returns false
 * when the name is unknown or its process is not alive; *child_id is 0
 * when the name is not tied to a child.
 */
extern bool fdn_registry_find(const char *name, int32 *pid, int64 *child_id);

/* Is pid a live backend or background worker of this server? */
extern bool fdn_pid_is_alive(int32 pid);

#endif							/* FDN_REGISTRY_H */
