/*-------------------------------------------------------------------------
 *
 * discovery/health.h
 *	  The health check (the seed's HealthMonitor).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_HEALTH_H
#define FDN_HEALTH_H

#include "postgres.h"

extern int	fdn_expected_nodes;
extern int	fdn_health_check_interval_ms;
extern int	fdn_health_check_timeout_ms;
extern int	fdn_health_history_size;

/* Define the foundation.expected_nodes and health_* settings (_PG_init). */
extern void fdn_define_health_gucs(void);

/* Run one check; store it (and announce changes) when store is true. */
extern char *fdn_health_run(bool store);

/* Shared memory and the monitor worker (_PG_init, when preloaded). */
extern void fdn_health_init(void);

#endif							/* FDN_HEALTH_H */
