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
 */
typedef struct FdnSupervisorHooks
{
	const char *feature;		/* names the feature in the log */
	void		(*pass_start) (void);
	void		(*cleanup) (void);
	long		(*after_pass) (void);
	void		(*on_exit) (void);
} FdnSupervisorHooks;

/* Register a feature's hooks; from _PG_init only.  hooks must stay valid. */
extern void fdn_supervisor_add_hooks(const FdnSupervisorHooks *hooks);

extern void fdn_register_supervisor(void);
extern PGDLLEXPORT void fdn_supervisor_main(Datum main_arg);

#endif							/* FDN_SUPERVISOR_H */
