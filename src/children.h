/*-------------------------------------------------------------------------
 *
 * children.h
 *	  The supervisor's raw layer: start_child, terminate_child.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHILDREN_H
#define FDN_CHILDREN_H

#include "postgres.h"

#include "utils/jsonb.h"

/* Start a child from a spec; returns its child id and sets *pid. */
extern int64 fdn_start_child_spec(Jsonb *spec, pid_t *pid);

/* Stop a child for good; returns whether it stopped in time. */
extern bool fdn_terminate_child_id(int64 child_id);

/* A bid or vote: at commit, the supervisor counts answers again. */
extern void fdn_protocols_changed_at_commit(void);

/* Wake the supervisor when the current transaction ends. */
extern void fdn_wake_supervisor_at_xact_end(void);

/* Names foundation keeps for its own singletons ("foundation:dispatcher"). */
#define FDN_RESERVED_PREFIX "foundation:"

/*
 * Check a name given by a user: not empty, at most FDN_MAX_NAME_LEN, and
 * not reserved (ERRCODE_RESERVED_NAME).
 */
extern void fdn_check_name(const char *what, const char *name);

/* Does name begin with FDN_RESERVED_PREFIX? */
extern bool fdn_name_is_reserved(const char *name);

/*
 * Let fdn_check_name accept this one reserved name (NULL: none) until
 * called again; only for foundation's own start of its singletons.
 */
extern void fdn_allow_reserved_name(const char *name);

#endif							/* FDN_CHILDREN_H */
