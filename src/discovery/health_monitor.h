/*-------------------------------------------------------------------------
 *
 * discovery/health_monitor.h
 *	  The health monitor worker: discovery and a stored health check every
 *	  foundation.health_check_interval.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_HEALTH_MONITOR_H
#define FDN_HEALTH_MONITOR_H

#include "postgres.h"

extern void fdn_register_health_monitor(void);
extern PGDLLEXPORT void fdn_health_monitor_main(Datum main_arg);

#endif							/* FDN_HEALTH_MONITOR_H */
