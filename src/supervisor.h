/*-------------------------------------------------------------------------
 *
 * supervisor.h
 *	  The supervisor background worker (DynamicSupervisor).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_SUPERVISOR_H
#define FDN_SUPERVISOR_H

#include "postgres.h"

extern void fdn_register_supervisor(void);
extern PGDLLEXPORT void fdn_supervisor_main(Datum main_arg);

#endif							/* FDN_SUPERVISOR_H */
