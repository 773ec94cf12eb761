/*-------------------------------------------------------------------------
 *
 * process/launcher.h
 *	  The launcher: runs a supervisor in each database with work.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_LAUNCHER_H
#define FDN_LAUNCHER_H

#include "postgres.h"

/* Register the launcher (from _PG_init, while preloading). */
extern void fdn_register_launcher(void);
extern PGDLLEXPORT void fdn_launcher_main(Datum main_arg);

#endif							/* FDN_LAUNCHER_H */
