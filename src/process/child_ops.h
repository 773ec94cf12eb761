/*-------------------------------------------------------------------------
 *
 * process/child_ops.h
 *	  The supervisor's raw layer: start_child, terminate_child.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHILDREN_H
#define FDN_CHILDREN_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

/* fdn_wake_supervisor_at_xact_end, which callers of these use too */
#include "core/databases.h"



/* Start a child from a spec; returns its child id and sets *pid. */
extern int64 fdn_start_child_spec(Jsonb *spec, pid_t *pid);

/* Stop a child for good; returns whether it stopped in time. */
extern bool fdn_terminate_child_id(int64 child_id);

/*
 * Fill a set-returning call's result with the child slots: (child_id, pid,
 * alive, last_exit); the caller's own children only, unless every_role
 * (then last_exit only for its own).
 */
extern void fdn_child_slots_srf(FunctionCallInfo fcinfo, bool every_role);

#endif							/* FDN_CHILDREN_H */
