/*-------------------------------------------------------------------------
 *
 * process/supervisor.h
 *	  The supervisor background worker (DynamicSupervisor).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_SUPERVISOR_H
#define FDN_SUPERVISOR_H

#include "postgres.h"

/*
 * What a feature runs in the supervisor's pass.  The supervisor knows no
 * feature: each registers its hooks from _PG_init (fdn_supervisor_add_hooks)
 * and they run in the order registered, every one of them optional.
 *
 * pass_start and cleanup run while foundation is installed, as the
 * bootstrap superuser with SPI connected (core/spi_util.h): pass_start
 * before the children are reconciled, cleanup after (removing what is past
 * its time).  after_pass runs after that, in the same transaction but with
 * the caller's own SPI, and returns how many ms until it needs the next
 * pass (-1: no wish; the pass comes within foundation.naptime anyway).
 * on_exit runs when the supervisor exits, before it gives up its slot.
 * has_work runs after cleanup, like it: true when the feature needs the
 * supervisor to go on running (open deadlines, rows to trim), so that a
 * database whose supervisor has nothing to do gives its worker slot back.
 *
 * Each database with the extension has its own supervisor.  A feature
 * that is once per server (cluster membership) sets home_only: its hooks
 * run only in the supervisor of the database named by foundation.database,
 * which runs whenever the extension is there.
 */
typedef struct FdnSupervisorHooks
{
	const char *feature;		/* names the feature in the log */
	bool		home_only;		/* only in foundation.database's supervisor */
	void		(*pass_start) (void);
	void		(*cleanup) (void);
	long		(*after_pass) (void);
	void		(*on_exit) (void);
	bool		(*has_work) (void);
} FdnSupervisorHooks;

/* Register a feature's hooks; from _PG_init only.  hooks must stay valid. */
extern void fdn_supervisor_add_hooks(const FdnSupervisorHooks *hooks);

/*
 * The supervisor of database dboid (bgw_main_arg), started by the launcher
 * (process/launcher.c).  bgw_extra holds a bool: a probe, which exits at
 * once when its database has nothing to supervise.
 */
extern PGDLLEXPORT void fdn_supervisor_main(Datum main_arg);

#endif							/* FDN_SUPERVISOR_H */
