/*-------------------------------------------------------------------------
 *
 * discovery/nodes_config.h
 *	  Cluster settings and their translation to a topology (the seed's
 *	  Foundation.ClusterConfig).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CLUSTER_CONFIG_H
#define FDN_CLUSTER_CONFIG_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"



extern char *fdn_cluster;
extern char *fdn_app_name;
extern char *fdn_k8s_selector;
extern char *fdn_k8s_namespace;
extern char *fdn_k8s_dns_name;
extern char *fdn_service_name;
extern char *fdn_dns_service;
extern char *fdn_gossip_secret;
extern char *fdn_cluster_nodes;
extern int	fdn_cluster_port;
extern char *fdn_topology;

/* Define the cluster settings; called from _PG_init. */
extern void fdn_define_cluster_gucs(void);

/* Whether foundation.gossip_secret is set to something of one's own. */
extern bool fdn_gossip_enabled(void);

/* The conninfo strings of foundation.cluster_nodes. */
extern List *fdn_cluster_node_list(void);

/*
 * Resolve the configuration: sets *mode ("wizard", "apprentice", "mortal"
 * or "no_clustering") and returns the topology.
 */
extern Jsonb *fdn_resolve_cluster(const char **mode);

#endif							/* FDN_CLUSTER_CONFIG_H */
