/*-------------------------------------------------------------------------
 *
 * cluster/members_singletons.h
 *	  Cluster-wide singletons from a backend, over libpq to the control
 *	  database.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CLUSTER_SINGLETONS_H
#define FDN_CLUSTER_SINGLETONS_H

#include "postgres.h"

#include "utils/jsonb.h"



/*
 * Place a cluster singleton (or find it placed) and wait, bounded, until
 * its member reports it running: its pid, or 0 (with a warning) if it has
 * not started in time.
 */
extern int32 fdn_cluster_start(const char *module, Jsonb *args,
							   const char *name, const char *restart);

/* The live members, as JSON text: [{"node": ..., "conninfo": ...}]. */
extern char *fdn_cluster_live_members(void);

/*
 * Where a cluster singleton runs, and its fencing token (if token is not
 * NULL; 0 if unknown); false if there is none of that name.
 */
extern bool fdn_cluster_whereis(const char *name, char **node, int32 *pid,
								int64 *token);

/*
 * The signature of a placement: HMAC-SHA256 with foundation.cluster_secret
 * of name, module, args, restart, owner role name and database (if not
 * NULL), in hex.  Made by the member whose backend places it, checked by
 * the member that runs it.
 */
extern char *fdn_placement_signature(const char *name, const char *module,
									 Jsonb *args, const char *restart,
									 const char *owner, const char *database);

/*
 * The database a cluster singleton started from this backend runs in, as
 * the control database records it: NULL in foundation.database (every
 * member's own), else this database's name.
 */
extern const char *fdn_cluster_database(void);

/*
 * Stop a cluster singleton for good; false if there is none of that name.
 * An error if the caller is neither its owner nor a superuser.
 */
extern bool fdn_cluster_stop(const char *name);

#endif							/* FDN_CLUSTER_SINGLETONS_H */
