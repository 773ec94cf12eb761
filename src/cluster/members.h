/*-------------------------------------------------------------------------
 *
 * cluster/members.h
 *	  Cluster membership: the supervisor's lease on the control database,
 *	  and running the cluster singletons assigned to this member.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_MEMBERSHIP_H
#define FDN_MEMBERSHIP_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"



typedef enum FdnDistribution
{
	FDN_DIST_UNIFORM,
	FDN_DIST_LOCAL,
	FDN_DIST_LEAST_LOADED
} FdnDistribution;

extern char *fdn_control_conninfo;
extern int	fdn_lease_renew_interval_ms;
extern int	fdn_lease_duration_ms;
extern int	fdn_lease_safety_margin_ms;
extern int	fdn_distribution;

extern void fdn_define_membership_gucs(void);

/* Is there a control database (foundation.control_conninfo set)? */
extern bool fdn_cluster_enabled(void);

/*
 * A control database, and this backend in foundation.database, where
 * membership lives: member-wide broadcasts and start_replicated over the
 * members work from there only; elsewhere they are this server's.
 * (Cluster singletons work from every database: fdn_cluster_enabled.)
 */
extern bool fdn_cluster_here(void);

/* The name foundation.distribution has now. */
extern const char *fdn_distribution_name(void);

/*
 * The supervisor's part, once per pass inside its transaction: renew the
 * lease when due, start and stop cluster singletons to match the
 * assignments, and fence (stop them all) when the lease could not be
 * renewed in time.  Returns ms until it wants to run again, -1 for never.
 */
extern long fdn_membership_pass(void);

/*
 * In the supervisor's first pass, before children are restarted (with SPI
 * connected): drop the cluster singletons left from before a restart.
 */
extern void fdn_membership_forget_stale(void);

/* At supervisor exit: hand this member's singletons over, if it can. */
extern void fdn_membership_leave(void);


/*
 * [{node, conninfo}] as the control database gave it (of any shape), as
 * JSON text: only objects with a string node, each conninfo filtered
 * (FDN_CI_MEMBER: the control database chooses no password, passfile,
 * service or options of ours).
 */
extern char *fdn_members_json(Jsonb *members);

/* A whole int64 from text (false, no error, if it is not one). */
extern bool fdn_parse_int64(const char *text, int64 *out);

extern char *fdn_cluster_secret;
extern bool fdn_cluster_allow_superuser;

/* Ask the supervisor to renew now (from a backend). */
extern void fdn_member_request_sync(void);

/*
 * This member's lease, for monitoring: its epoch (0: not a member now),
 * when the last renewal that worked was sent (0: never), and ms until this
 * member's own deadline (0: passed, or not a member).
 */
extern void fdn_member_lease_state(int64 *epoch, TimestampTz *renewed,
								   long *ms_left);

/* Register the cluster's supervisor hooks (_PG_init). */
extern void fdn_cluster_init(void);

#endif							/* FDN_MEMBERSHIP_H */
