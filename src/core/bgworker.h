/*-------------------------------------------------------------------------
 *
 * core/bgworker.h
 *	  What foundation's background workers share: their registration, their
 *	  start, and the loop pass that survives its own errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_BGWORKER_H
#define FDN_BGWORKER_H

#include "postgres.h"

#include "postmaster/bgworker.h"

/*
 * The fields every worker of this library has: shared memory and a
 * database connection, started once recovery finished, running function
 * (a PGDLLEXPORT function of this library), shown as type in
 * pg_stat_activity.backend_type and, until set otherwise, as its title.
 */
extern void fdn_bgworker_init(BackgroundWorker *worker, const char *function,
							  const char *type, int restart_s);

/* Register a static worker (from _PG_init, while preloading). */
extern void fdn_register_static_worker(const char *function, const char *type,
									   int restart_s);

/*
 * Start of a static worker's main: SIGHUP reloads the configuration (at
 * fdn_worker_reload), SIGTERM ends it; connected to foundation.database,
 * with appname as its application_name.
 */
extern void fdn_worker_start(const char *appname);

/* Reload the configuration if a SIGHUP asked for it. */
extern void fdn_worker_reload(void);

/*
 * One pass of a worker's loop: pass(arg) in loopcxt, which is reset after.
 * An error is reported, its transaction aborted, and the worker goes on:
 * one bad pass must not stop it.
 */
typedef void (*FdnPassFn) (void *arg);
extern void fdn_worker_pass(FdnPassFn pass, void *arg, MemoryContext loopcxt);

#endif							/* FDN_BGWORKER_H */
