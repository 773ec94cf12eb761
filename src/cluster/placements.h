/*-------------------------------------------------------------------------
 *
 * cluster/placements.h
 *	  The cluster singletons assigned to this member: start, stop, lease.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_PLACEMENTS_H
#define FDN_PLACEMENTS_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * Make what runs here match the assignments the control database returned
 * (starting what is new, once its signature is checked, with its lease
 * until deadline; stopping what is no longer ours).  True if anything
 * started.  In the supervisor's pass, with SPI connected.
 */
extern bool fdn_apply_assignments(Jsonb *assignments, uint64 deadline);

/* Stop every cluster singleton on this member (fencing). */
extern void fdn_stop_local_singletons(const char *why);

/* Extend the lease of every running cluster singleton to deadline. */
extern void fdn_extend_leases(uint64 deadline);

/* End every child's lease at once (fencing). */
extern void fdn_expire_leases(void);

/* Give its lease to any cluster singleton here that has none yet. */
extern void fdn_stamp_local_leases(uint64 deadline);

#endif							/* FDN_PLACEMENTS_H */
