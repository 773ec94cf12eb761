/*-------------------------------------------------------------------------
 *
 * process/launch.h
 *	  Starting one child worker and waiting until it runs.
 *
 * Both start_child (in the caller's backend) and the supervisor (for
 * restarts) launch children through here, so a child is started one way.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_LAUNCH_H
#define FDN_LAUNCH_H

#include "postgres.h"

typedef struct FdnLaunch
{
	int64		child_id;
	const char *label;			/* the child's id, for process titles */
	Oid			dboid;
	Oid			roleoid;
	const char *module;			/* qualified procedure name */
	const char *args;			/* jsonb, as text */
	bool		validate;		/* child resolves the module before READY */
	int64		fence_token;	/* a restarted child keeps its lease: */
	uint64		lease_deadline; /* see FdnChildSlot (0, 0: none) */
} FdnLaunch;

typedef enum FdnLaunchStatus
{
	FDN_LAUNCH_OK,
	FDN_LAUNCH_NO_SLOT,			/* foundation.max_children reached */
	FDN_LAUNCH_DB_LIMIT,		/* foundation.max_children_per_database */
	FDN_LAUNCH_DB_STOPPING,		/* its database is being dropped/renamed */
	FDN_LAUNCH_NO_WORKER,		/* no free background worker slot */
	FDN_LAUNCH_FAILED,			/* the child could not start; see message */
	FDN_LAUNCH_TIMEOUT			/* it did not start in time */
} FdnLaunchStatus;

typedef struct FdnLaunchResult
{
	FdnLaunchStatus status;
	pid_t		pid;
	int			sqlstate;		/* for FDN_LAUNCH_FAILED */
	char	   *message;		/* for FDN_LAUNCH_FAILED */
} FdnLaunchResult;

/*
 * Launch a child whose start is tied to the current transaction: it waits
 * for that transaction to end and runs only if it committed.
 */
extern FdnLaunchResult fdn_launch_child(const FdnLaunch *launch);

/* Raise the error that fits a failed launch. */
extern void fdn_launch_report(const FdnLaunchResult *result, const char *what);

#endif							/* FDN_LAUNCH_H */
