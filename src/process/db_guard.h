/*-------------------------------------------------------------------------
 *
 * process/db_guard.h
 *	  DROP DATABASE, ALTER DATABASE ... RENAME and the like, with foundation
 *	  running in the database.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_DB_GUARD_H
#define FDN_DB_GUARD_H

#include "postgres.h"

/* Install the ProcessUtility hook (from _PG_init, while preloading). */
extern void fdn_db_guard_init(void);

#endif							/* FDN_DB_GUARD_H */
