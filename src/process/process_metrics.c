/*-------------------------------------------------------------------------
 *
 * process/process_metrics.c
 *	  The supervisor's numbers for monitoring, whoever reads them.
 *
 * foundation._child_slots shows a role its own children only, which is
 * right for foundation.children but wrong for a scrape: a monitoring role
 * (pg_monitor) must count every child, or the numbers would depend on who
 * scrapes.  These functions show every slot and the supervisor's counters,
 * and no argument, module or name; the install script lets only pg_monitor
 * (and superusers) execute them (docs/monitoring.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/procarray.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"
#include "process/child_ops.h"


PG_FUNCTION_INFO_V1(fdn_metrics_slots);
PG_FUNCTION_INFO_V1(fdn_supervisor_counters);

/*
 * Every slot of the installed extension: (child_id, pid, alive,
 * last_exit), last_exit only of the caller's own children.
 */
Datum
fdn_metrics_slots(PG_FUNCTION_ARGS)
{
	fdn_child_slots_srf(fcinfo, true);
	return (Datum) 0;
}

/*
 * (supervisor_pid, needed, restarts, intensity_failures) of this database:
 * supervisor_pid is NULL while none runs, needed says whether one should
 * (the database has work, or it is foundation.database: a database with
 * nothing to supervise has no supervisor, by design).  The counters are
 * the server's, from server start (a crash restart too: shared memory is
 * made anew), as a Prometheus counter may.
 */
Datum
fdn_supervisor_counters(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	pid_t		pid;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	fdn_require_preload();
	pid = fdn_supervisor_pid(MyDatabaseId);
	/* As the health check judges it: a pid that is no backend is none. */
	if (pid != 0 && BackendPidGetProc(pid) == NULL)
		pid = 0;
	values[0] = Int32GetDatum((int32) pid);
	nulls[0] = pid == 0;
	values[1] = BoolGetDatum(fdn_in_home_database() || fdn_db_has_work(MyDatabaseId));
	values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&fdn_shared->restarts));
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&fdn_shared->intensity_failures));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
