/*-------------------------------------------------------------------------
 *
 * channels/handlers.h
 *	  Server-side channel handlers and the dispatcher child that runs them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_HANDLERS_H
#define FDN_HANDLERS_H

#include "postgres.h"

/* Settings (see fdn_define_handler_gucs). */
extern int	fdn_handler_timeout_ms;
extern int	fdn_dispatcher_max_backlog;

/* Define the dispatcher's settings; from _PG_init. */
extern void fdn_define_handler_gucs(void);

/* Register the handlers' shared memory (_PG_init). */
extern void fdn_handlers_shmem_register(void);

/*
 * Register the supervisor hook that starts the dispatcher when
 * subscriptions exist without it (after a restore); _PG_init.
 */
extern void fdn_handlers_supervisor_register(void);

#endif							/* FDN_HANDLERS_H */
