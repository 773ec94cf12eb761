/*-------------------------------------------------------------------------
 *
 * discovery/nodes.h
 *	  This node's metrics, the other nodes, and their discovery.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_NODES_H
#define FDN_NODES_H

#include "postgres.h"

extern char *fdn_node_conninfo;

/* How other nodes reach this one: foundation.node_conninfo, or a default. */
extern const char *fdn_self_conninfo(void);

/* fdn_self_conninfo without a password: what others are told. */
extern const char *fdn_advertised_conninfo(void);
extern char *fdn_cluster_conninfo_options;

/* Define foundation.node_conninfo and cluster_conninfo_options (_PG_init). */
extern void fdn_define_nodes_gucs(void);

/* Run discovery for the resolved topology; returns how many nodes found. */
extern int	fdn_discover(void);

/* This node's metrics as jsonb text. */
extern char *fdn_node_metrics_text(void);

#endif							/* FDN_NODES_H */
