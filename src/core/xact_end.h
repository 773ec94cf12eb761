/*-------------------------------------------------------------------------
 *
 * core/xact_end.h
 *	  Work to do once when the current transaction ends: the one way
 *	  foundation wakes a worker after a commit made a change visible.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_XACT_END_H
#define FDN_XACT_END_H

#include "postgres.h"

/* committed: whether the transaction committed (else it aborted). */
typedef void (*FdnXactEndFn) (bool committed);

/*
 * Call fn once when the current top-level transaction ends, however often
 * it is asked for in that transaction; in the order first asked for.
 */
extern void fdn_at_xact_end(FdnXactEndFn fn);

#endif							/* FDN_XACT_END_H */
