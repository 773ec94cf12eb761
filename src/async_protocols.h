/*-------------------------------------------------------------------------
 *
 * async_protocols.h
 *	  Auctions and proposals open across transactions, closed by deadline.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_ASYNC_PROTOCOLS_H
#define FDN_ASYNC_PROTOCOLS_H

#include "postgres.h"

/*
 * Close every open auction and proposal that is due (deadline passed, or
 * every invited agent answered); returns the milliseconds until the next
 * deadline, or -1 if none.  Called by the supervisor inside its
 * transaction, in privileged SPI.
 */
extern long fdn_close_due_protocols(void);

#endif							/* FDN_ASYNC_PROTOCOLS_H */
