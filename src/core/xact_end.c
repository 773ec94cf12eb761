/*-------------------------------------------------------------------------
 *
 * core/xact_end.c
 *	  Work to do once when the current transaction ends.
 *
 * A change (a child started, a bid, an outbox row) is seen by a worker
 * only once committed, so the worker is woken at commit, once per
 * transaction however many changes it made.  One transaction callback
 * serves every feature.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "core/xact_end.h"

#define MAX_PENDING 8

static FdnXactEndFn pending[MAX_PENDING];
static int	npending = 0;
static bool registered = false;

static void
xact_callback(XactEvent event, void *arg)
{
	bool		committed;
	int			n = npending;
	int			i;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			committed = true;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			committed = false;
			break;
		default:
			return;
	}
	npending = 0;
	for (i = 0; i < n; i++)
		pending[i] (committed);
}

void
fdn_at_xact_end(FdnXactEndFn fn)
{
	int			i;

	if (!registered)
	{
		RegisterXactCallback(xact_callback, NULL);
		registered = true;
	}
	for (i = 0; i < npending; i++)
		if (pending[i] == fn)
			return;
	if (npending >= MAX_PENDING)
		elog(ERROR, "too many foundation transaction-end callbacks");
	pending[npending++] = fn;
}
