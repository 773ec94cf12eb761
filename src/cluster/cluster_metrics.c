/*-------------------------------------------------------------------------
 *
 * cluster/cluster_metrics.c
 *	  This member's lease, for monitoring.
 *
 * The lease lives in this member's shared memory (cluster/members.c); the
 * control database has its own view of it (foundation.members there).
 * What an operator on this server needs is whether it is a member now,
 * how long ago its supervisor last renewed, and how long its lease has
 * left: a renewal that keeps failing shows as a growing age long before
 * the member fences itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "cluster/members.h"


PG_FUNCTION_INFO_V1(fdn_lease_metrics);

/*
 * (clustered, member, epoch, renewed_at, seconds_left,
 *  renew_interval_seconds, duration_seconds)
 */
Datum
fdn_lease_metrics(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	int64		epoch;
	TimestampTz renewed;
	long		ms_left;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	fdn_member_lease_state(&epoch, &renewed, &ms_left);
	values[0] = BoolGetDatum(fdn_cluster_enabled());
	values[1] = BoolGetDatum(epoch != 0);
	values[2] = Int64GetDatum(epoch);
	nulls[2] = epoch == 0;
	values[3] = TimestampTzGetDatum(renewed);
	nulls[3] = renewed == 0;
	values[4] = Float8GetDatum(ms_left / 1000.0);
	values[5] = Float8GetDatum(fdn_lease_renew_interval_ms / 1000.0);
	values[6] = Float8GetDatum(fdn_lease_duration_ms / 1000.0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
