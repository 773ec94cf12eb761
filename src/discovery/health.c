/*-------------------------------------------------------------------------
 *
 * discovery/health.c
 *	  The health check (the seed's HealthMonitor), measured for real.
 *
 * One check: every node's node_metrics() over libpq, in parallel, under
 * foundation.health_check_timeout with retries; the supervisor's children
 * and names; the infrastructure (supervisor, notification queue, worker
 * slots); message latency measured by a NOTIFY on the control channel to
 * our own LISTEN; throughput and error rate from the channel statistics
 * since the previous check; and recommendations, each a rule with its
 * reason.  health_check() stores the report in foundation.health_history
 * (bounded), announces a change of overall status on the control channel
 * and each report's summary on the telemetry channel.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "libpq-fe.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/remote.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "channels/channel_stats.h"
#include "channels/channels.h"
#include "discovery/health.h"
#include "discovery/health_monitor.h"
#include "discovery/nodes.h"

/*
 * Channel totals at the previous stored check, to report the rates since;
 * under the channel statistics' mutex, with the totals they are read with.
 */
typedef struct HealthShared
{
	TimestampTz prev_at;
	int64		prev_messages;
	int64		prev_errors;
} HealthShared;

static HealthShared *health_shared = NULL;


PG_FUNCTION_INFO_V1(fdn_health_check);
PG_FUNCTION_INFO_V1(fdn_cluster_health);

int			fdn_expected_nodes = 1;
int			fdn_health_check_interval_ms = 30000;
int			fdn_health_check_timeout_ms = 5000;
int			fdn_health_history_size = 1000;

typedef enum
{
	ST_HEALTHY = 0,
	ST_DEGRADED,
	ST_CRITICAL
} FdnStatus;

static const char *const st_names[] = {"healthy", "degraded", "critical"};

/* The probe connection while a check runs (see fdn_health_run). */
static PGconn *probe_conn = NULL;

static void
add_rec(StringInfo recs, const char *rule, const char *reason, const char *action)
{
	if (recs->len > 1)
		appendStringInfoString(recs, ", ");
	appendStringInfoString(recs, "{\"rule\": ");
	escape_json(recs, rule);
	appendStringInfoString(recs, ", \"reason\": ");
	escape_json(recs, reason);
	appendStringInfoString(recs, ", \"action\": ");
	escape_json(recs, action);
	appendStringInfoChar(recs, '}');
}

/* The error behind the recommendation just added (superusers only). */
static void
add_rec_error(StringInfo recs, const char *error)
{
	/* reopen the object add_rec closed */
	Assert(recs->len > 0 && recs->data[recs->len - 1] == '}');
	recs->data[--recs->len] = '\0';
	appendStringInfoString(recs, ", \"error\": ");
	escape_json(recs, error);
	appendStringInfoChar(recs, '}');
}

/* A number from a jsonb object (of any shape: it may come from a peer), or def. */
/*
 * Each database foundation serves on this server, from shared memory: its
 * supervisor's state and how many children it supervises (the report's
 * services are the children of the database it runs in).
 */
static char *
databases_json(void)
{
	StringInfoData buf;
	bool		first = true;
	int			i;
	int			s;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (i = 0; fdn_shared != NULL && i < fdn_shared->ndbs; i++)
	{
		FdnDatabase db;
		char	   *name;
		const char *state;
		int			children = 0;

		LWLockAcquire(fdn_shared->dblock, LW_SHARED);
		db = fdn_shared->dbs[i];
		LWLockRelease(fdn_shared->dblock);
		if (!OidIsValid(db.dboid) ||
			(name = get_database_name(db.dboid)) == NULL)
			continue;
		for (s = 0; s < fdn_shared->nslots; s++)
			if (fdn_shared->slots[s].home_db == db.dboid &&
				fdn_slot_alive(&fdn_shared->slots[s]))
				children++;
		if (db.supervisor_pid != 0 && BackendPidGetProc(db.supervisor_pid) != NULL)
			state = "running";
		else if (db.stopping)
			state = "stopped";	/* DROP or RENAME DATABASE under way */
		else if (db.has_work)
			state = "starting";
		else
			state = "idle";
		appendStringInfoString(&buf, first ? "{\"database\": " : ", {\"database\": ");
		escape_json(&buf, name);
		appendStringInfo(&buf, ", \"supervisor\": \"%s\", \"children\": %d}",
						 state, children);
		first = false;
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

static double
json_num(Jsonb *jb, const char *key, double def)
{
	JsonbValue	v;

	if (jb == NULL || !fdn_json_obj_get(&jb->root, key, &v) || v.type != jbvNumeric)
		return def;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v.val.numeric)));
}

/* load_avg[0] of a metrics object */
static double
json_load1(Jsonb *jb)
{
	JsonbValue	v;
	JsonbValue *e;

	if (jb == NULL || !fdn_json_obj_get(&jb->root, "load_avg", &v) ||
		!fdn_json_is_array(&v))
		return -1;
	e = getIthJsonbValueFromContainer(v.val.binary.data, 0);
	if (e == NULL || e->type != jbvNumeric)
		return -1;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(e->val.numeric)));
}

/*
 * Commit-to-receipt latency of a NOTIFY on the control channel to our own
 * LISTEN, over the probe's loopback libpq connection, which the parallel
 * phase of the check opened and made listen; -1 if it failed.  Closes
 * the connection.
 */
static double
measure_latency(PGconn *conn, char **error)
{
	PGresult   *res;
	TimestampTz sent;
	TimestampTz deadline;
	double		ms = -1;

	sent = GetCurrentTimestamp();
	res = PQexec(conn, "NOTIFY \"foundation:control\", '{\"type\": \"health_probe\"}'");
	PQclear(res);
	deadline = TimestampTzPlusMilliseconds(sent, fdn_health_check_timeout_ms);
	while (GetCurrentTimestamp() < deadline)
	{
		PGnotify   *n;

		if (!PQconsumeInput(conn))
			break;
		if ((n = PQnotifies(conn)) != NULL)
		{
			ms = (GetCurrentTimestamp() - sent) / 1000.0;
			PQfreemem(n);
			break;
		}
		(void) WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE |
								 WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 PQsocket(conn), 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (ms < 0)
		*error = pstrdup("the probe notification did not arrive in time");
	PQfinish(conn);
	return ms;
}

/* What a check reads of this server's own tables. */
typedef struct LocalPart
{
	char	   *backlog_json;	/* messages waiting for other members */
	char	   *services_json;
	int64		total_children;
	int64		healthy_children;
	int64		unhealthy_children;
	StringInfoData child_recs;	/* child_failed recommendations, "[..." */
	char	   *prev_status;	/* of the last stored check, or NULL */
} LocalPart;

static void
read_local(LocalPart *lp)
{
	FdnPrivState priv;
	bool		isnull;
	int			i;

	fdn_priv_begin(&priv);
	/* --- messages waiting for other members (relay.c) --- */
	fdn_spi_exec("SELECT coalesce(jsonb_object_agg(target, n), '{}')::text"
				 " FROM (SELECT target, count(*) AS n FROM foundation.outbox GROUP BY target) b",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	lp->backlog_json = TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull));

	/* --- services: the supervisor's children and the registry --- */
	fdn_spi_exec("SELECT count(*), count(*) FILTER (WHERE c.status = 'running' AND s.alive),"
				 " count(*) FILTER (WHERE c.status = 'failed' OR (c.status = 'running' AND s.alive IS NOT TRUE)),"
				 " coalesce(jsonb_agg(jsonb_build_object('child_id', c.child_id, 'id', c.id,"
				 "   'name', (SELECT min(r.name) FROM foundation.registry r WHERE r.child_id = c.child_id),"
				 "   'status', CASE WHEN c.status = 'running' AND s.alive IS NOT TRUE THEN 'restarting' ELSE c.status END,"
				 "   'pid', CASE WHEN s.alive THEN s.pid END, 'restart_count', c.restart_count,"
				 "   'last_exit', c.last_exit) ORDER BY c.child_id), '[]')::text"
				 " FROM foundation.child_specs c LEFT JOIN foundation._child_slots() s USING (child_id)",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	lp->total_children = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	lp->healthy_children = DatumGetInt64(fdn_spi_getdatum(0, 2, &isnull));
	lp->unhealthy_children = DatumGetInt64(fdn_spi_getdatum(0, 3, &isnull));
	lp->services_json = TextDatumGetCString(fdn_spi_getdatum(0, 4, &isnull));
	initStringInfo(&lp->child_recs);
	appendStringInfoChar(&lp->child_recs, '[');
	fdn_spi_exec("SELECT id, child_id, last_exit FROM foundation.child_specs WHERE status = 'failed' ORDER BY child_id",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		char	   *id = TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull));
		int64		cid = DatumGetInt64(fdn_spi_getdatum(i, 2, &isnull));
		Datum		le = fdn_spi_getdatum(i, 3, &isnull);

		add_rec(&lp->child_recs, "child_failed",
				psprintf("child " INT64_FORMAT " (\"%s\") exceeded its restart intensity; last exit: %s",
						 cid, id, isnull ? "unknown" : TextDatumGetCString(le)),
				psprintf("Fix the cause, then SELECT foundation.terminate_child(" INT64_FORMAT ") and start it again.", cid));
	}

	/* previous status, for change detection */
	lp->prev_status = NULL;
	fdn_spi_exec("SELECT overall_status FROM foundation.health_history ORDER BY checked_at DESC, id DESC LIMIT 1",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
		lp->prev_status = TextDatumGetCString(fdn_spi_getdatum(0, 1, &isnull));
	fdn_priv_end(&priv);
}

char *
fdn_health_run(bool store)
{
	TimestampTz start = GetCurrentTimestamp();
	StringInfoData rep;
	StringInfoData nodes;
	StringInfoData recs;
	FdnPrivState priv;
	FdnRemoteCall *calls;
	int			ncalls;
	int			i;
	int			healthy_nodes = 1;	/* this node answers: we run here */
	int			connected = 1;
	int			expected = Max(fdn_expected_nodes, 1);
	FdnStatus	cluster_st;
	FdnStatus	services_st = ST_HEALTHY;
	FdnStatus	infra_st = ST_HEALTHY;
	FdnStatus	overall;
	Jsonb	   *local;
	LocalPart	lp;
	FdnRemoteRun *run;
	char	   *lat_error = NULL;
	double		latency;
	double		queue;
	double		wused;
	double		wallowed;
	bool		supervisor_ok;
	pid_t		supervisor_pid;
	int64		msgs_now = 0;
	int64		errs_now = 0;
	double		throughput = 0;
	double		error_rate = 0;
	double		duration_ms;
	bool		isnull;
	char	   *result;
	PGconn	   *probe = NULL;

	/* A probe left behind by a check that failed midway. */
	if (probe_conn)
	{
		PQfinish(probe_conn);
		probe_conn = NULL;
	}
	initStringInfo(&recs);
	appendStringInfoChar(&recs, '[');

	/* --- cluster: every known node, in parallel, under the deadline --- */
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT name, conninfo, failed_checks FROM foundation.nodes ORDER BY name",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	ncalls = (int) SPI_processed;
	/* one more: the pub/sub probe's connection to ourselves */
	calls = palloc0(sizeof(FdnRemoteCall) * (ncalls + 1));
	{
		char	  **names = palloc0(sizeof(char *) * Max(ncalls, 1));
		int		   *failed = palloc0(sizeof(int) * Max(ncalls, 1));

		for (i = 0; i < ncalls; i++)
		{
			names[i] = TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull));
			calls[i].conninfo = TextDatumGetCString(fdn_spi_getdatum(i, 2, &isnull));
			calls[i].sql = "SELECT foundation.node_metrics()::pg_catalog.text";
			failed[i] = DatumGetInt32(fdn_spi_getdatum(i, 3, &isnull));
		}
		fdn_priv_end(&priv);

		/*
		 * The pub/sub probe's connection to ourselves is made and starts
		 * listening along with the calls to the other nodes: made
		 * afterwards, it added a connection's time to every check.
		 */
		calls[ncalls].conninfo = fdn_local_conninfo("foundation health probe");
		calls[ncalls].sql = "LISTEN \"foundation:control\"";
		calls[ncalls].command = true;
		calls[ncalls].keep = true;
		run = fdn_remote_start(calls, ncalls + 1, fdn_health_check_timeout_ms, 2);

		/*
		 * What this server says of itself is read while the other servers
		 * start the backends that will answer: none of it depends on their
		 * answers.
		 */
		PG_TRY();
		{
			local = fdn_jsonb_from_text(fdn_node_metrics_text());
			read_local(&lp);
		}
		PG_CATCH();
		{
			fdn_remote_abandon(run);
			PG_RE_THROW();
		}
		PG_END_TRY();
		fdn_remote_finish(run);
		probe = probe_conn = calls[ncalls].conn;
		if (!calls[ncalls].ok)
			lat_error = calls[ncalls].error ? calls[ncalls].error : pstrdup("no answer");

		initStringInfo(&nodes);
		appendStringInfoString(&nodes, "[{\"node\": ");
		escape_json(&nodes, fdn_node());
		appendStringInfo(&nodes, ", \"status\": \"healthy\", \"ping_time_us\": 0, \"load_avg\": %.2f, \"memory_usage\": %.3f}",
						 json_load1(local),
						 json_num(local, "memory_total", 0) > 0 ?
						 1.0 - json_num(local, "memory_available", 0) / json_num(local, "memory_total", 1) : -1.0);

		fdn_priv_begin(&priv);
		for (i = 0; i < ncalls; i++)
		{
			/* A peer's answer: only an object of metrics counts. */
			char	   *why = NULL;
			Jsonb	   *m = calls[i].ok ?
				fdn_remote_jsonb(calls[i].result, FDN_JSON_OBJECT, &why) : NULL;

			if (calls[i].ok && m == NULL)
				calls[i].error = psprintf("unusable answer to node_metrics(): %s", why);
			appendStringInfoString(&nodes, ", {\"node\": ");
			escape_json(&nodes, names[i]);
			if (m != NULL)
			{
				double		total = json_num(m, "memory_total", 0);

				healthy_nodes++;
				connected++;
				appendStringInfo(&nodes, ", \"status\": \"healthy\", \"ping_time_us\": " INT64_FORMAT ", \"load_avg\": %.2f, \"memory_usage\": %.3f}",
								 calls[i].ping_us, json_load1(m),
								 total > 0 ? 1.0 - json_num(m, "memory_available", 0) / total : -1.0);
				fdn_spi_exec("UPDATE foundation.nodes SET status = 'up', last_seen_at = now(),"
							 " ping_time_us = $2, failed_checks = 0 WHERE name = $1",
							 2, (Oid[]) {TEXTOID, INT8OID},
							 (Datum[]) {CStringGetTextDatum(names[i]), Int64GetDatum(calls[i].ping_us)},
							 NULL, SPI_OK_UPDATE);
			}
			else
			{
				appendStringInfoString(&nodes, ", \"status\": \"unreachable\", \"error\": ");
				escape_json(&nodes, calls[i].error ? calls[i].error : "no answer");
				appendStringInfoChar(&nodes, '}');
				fdn_spi_exec("UPDATE foundation.nodes SET status = 'unreachable',"
							 " failed_checks = failed_checks + 1 WHERE name = $1",
							 1, (Oid[]) {TEXTOID},
							 (Datum[]) {CStringGetTextDatum(names[i])}, NULL, SPI_OK_UPDATE);
				/*
				 * The reason, which foundation.health shows to everyone,
				 * names the node; the connection error (where a port
				 * scan's answers would be) is only in the report, which
				 * only superusers read.
				 */
				add_rec(&recs, "node_unreachable",
						psprintf("node %s has not answered for %d consecutive checks",
								 names[i], failed[i] + 1),
						psprintf("Check that the server at \"%s\" runs and accepts connections; "
								 "DELETE FROM foundation.nodes WHERE name = %s if it left for good.",
								 calls[i].conninfo, quote_literal_cstr(names[i])));
				add_rec_error(&recs, calls[i].error ? calls[i].error : "no answer");
			}
		}
		appendStringInfoChar(&nodes, ']');
	}
	if (healthy_nodes >= expected)
		cluster_st = ST_HEALTHY;
	else if (healthy_nodes >= (expected + 1) / 2)
		cluster_st = ST_DEGRADED;
	else
		cluster_st = ST_CRITICAL;
	if (healthy_nodes < expected)
		add_rec(&recs, "fewer_nodes_than_expected",
				psprintf("%d of %d expected nodes are healthy", healthy_nodes, expected),
				"Start the missing nodes, or lower \"foundation.expected_nodes\".");

	fdn_priv_end(&priv);
	/* after the nodes' recommendations, as they always came */
	if (lp.child_recs.len > 1)
	{
		if (recs.len > 1)
			appendStringInfoString(&recs, ", ");
		appendStringInfoString(&recs, lp.child_recs.data + 1);
	}
	if (lp.unhealthy_children > 0)
		services_st = ST_DEGRADED;

	/* --- infrastructure --- */
	supervisor_pid = fdn_shared != NULL ? fdn_supervisor_pid(MyDatabaseId) : 0;
	supervisor_ok = supervisor_pid != 0 && BackendPidGetProc(supervisor_pid) != NULL;
	queue = json_num(local, "notification_queue_usage", 0);
	wused = json_num(local, "worker_slots_used", 0);
	wallowed = json_num(local, "worker_slots_allowed", 1);
	probe_conn = NULL;		/* measure_latency finishes it */
	latency = probe ? measure_latency(probe, &lat_error) : -1;
	if (!supervisor_ok)
	{
		infra_st = ST_CRITICAL;
		add_rec(&recs, "supervisor_down", "the foundation supervisor is not running",
				"Check the server log; it needs shared_preload_libraries = 'foundation' and the database named by \"foundation.database\".");
	}
	if (latency < 0)
	{
		infra_st = Max(infra_st, ST_DEGRADED);
		add_rec(&recs, "pubsub_unavailable",
				"a NOTIFY to our own LISTEN failed",
				"Check pg_hba.conf lets the bootstrap superuser connect over the local socket, or set \"foundation.dispatcher_conninfo\".");
		/* as for nodes: the connection error for superusers only */
		add_rec_error(&recs, lat_error ? lat_error : "unknown");
	}
	if (queue > 0.5)
	{
		infra_st = Max(infra_st, ST_DEGRADED);
		add_rec(&recs, "notification_queue_filling",
				psprintf("the notification queue is %.0f%% full", queue * 100),
				"A listener is not reading or sits in a long transaction: SELECT pid, usename, application_name, xact_start FROM pg_stat_activity WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 5; then end that transaction.");
	}
	if (wallowed > 0 && wused / wallowed >= 0.9)
	{
		infra_st = Max(infra_st, ST_DEGRADED);
		add_rec(&recs, "worker_slots_nearly_exhausted",
				psprintf("%.0f of %.0f background worker slots are in use", wused, wallowed),
				"Raise \"max_worker_processes\" in postgresql.conf and restart the server.");
	}

	/* --- performance: channel statistics since the previous check --- */
	if (health_shared != NULL)
	{
		TimestampTz now = GetCurrentTimestamp();
		double		secs;

		/* Every database's channels: the health of the server. */
		SpinLockAcquire(&fdn_channel_stats_shared->mutex);
		fdn_stats_totals_locked(&msgs_now, &errs_now);
		if (health_shared->prev_at != 0 && msgs_now >= health_shared->prev_messages)
		{
			int64		dm = msgs_now - health_shared->prev_messages;
			int64		de = errs_now - health_shared->prev_errors;

			secs = (now - health_shared->prev_at) / 1000000.0;
			throughput = secs > 0 ? dm / secs : 0;
			error_rate = dm > 0 ? 100.0 * de / dm : 0;
		}
		if (store)
		{
			health_shared->prev_at = now;
			health_shared->prev_messages = msgs_now;
			health_shared->prev_errors = errs_now;
		}
		SpinLockRelease(&fdn_channel_stats_shared->mutex);
	}

	overall = Max(cluster_st, Max(services_st, infra_st));
	appendStringInfoChar(&recs, ']');
	duration_ms = (GetCurrentTimestamp() - start) / 1000.0;

	initStringInfo(&rep);
	appendStringInfo(&rep, "{\"overall_status\": \"%s\"", st_names[overall]);
	appendStringInfo(&rep, ", \"cluster\": {\"status\": \"%s\", \"connected_nodes\": %d, \"expected_nodes\": %d, \"healthy_nodes\": %d, \"node_health\": %s}",
					 st_names[cluster_st], connected, expected, healthy_nodes, nodes.data);
	appendStringInfo(&rep, ", \"services\": {\"status\": \"%s\", \"total_registered\": " INT64_FORMAT ", \"healthy\": " INT64_FORMAT ", \"unhealthy\": " INT64_FORMAT ", \"services\": %s}",
					 st_names[services_st], lp.total_children, lp.healthy_children, lp.unhealthy_children, lp.services_json);
	appendStringInfo(&rep, ", \"infrastructure\": {\"status\": \"%s\", \"supervisor_status\": \"%s\", \"pubsub_status\": \"%s\", \"notification_queue_usage\": %g, \"worker_slots_used\": %.0f, \"worker_slots_allowed\": %.0f, \"connections_used\": %.0f, \"connections_allowed\": %.0f, \"databases\": %s}",
					 st_names[infra_st], supervisor_ok ? "running" : "down",
					 latency >= 0 ? "ok" : "unavailable", queue, wused, wallowed,
					 json_num(local, "connections_used", 0), json_num(local, "connections_allowed", 0),
					 databases_json());
	appendStringInfoString(&rep, ", \"performance\": {\"avg_message_latency_ms\": ");
	if (latency >= 0)
		appendStringInfo(&rep, "%.3f", latency);
	else
		appendStringInfoString(&rep, "null");
	appendStringInfo(&rep, ", \"message_throughput_per_sec\": %.3f, \"error_rate_percent\": %.3f}",
					 throughput, error_rate);
	appendStringInfo(&rep, ", \"relay_backlog\": %s", lp.backlog_json);
	appendStringInfo(&rep, ", \"recommendations\": %s", recs.data);
	appendStringInfoString(&rep, ", \"checked_at\": ");
	escape_json(&rep, timestamptz_to_str(start));
	appendStringInfo(&rep, ", \"check_duration_ms\": %.3f}", duration_ms);
	result = rep.data;

	if (store)
	{
		Jsonb	   *report = fdn_jsonb_from_text(result);
		char	   *summary;

		fdn_priv_begin(&priv);
		fdn_spi_exec("INSERT INTO foundation.health_history (checked_at, overall_status, report, check_duration_ms)"
					 " VALUES ($1, $2, $3, $4)",
					 4, (Oid[]) {TIMESTAMPTZOID, TEXTOID, JSONBOID, FLOAT8OID},
					 (Datum[]) {TimestampTzGetDatum(start), CStringGetTextDatum(st_names[overall]),
					 JsonbPGetDatum(report), Float8GetDatum(duration_ms)},
					 NULL, SPI_OK_INSERT);
		/* History never grows without bound. */
		fdn_spi_exec("DELETE FROM foundation.health_history WHERE id NOT IN"
					 " (SELECT id FROM foundation.health_history ORDER BY checked_at DESC, id DESC LIMIT $1)",
					 1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(fdn_health_history_size)},
					 NULL, SPI_OK_DELETE);
		fdn_priv_end(&priv);

		if (lp.prev_status == NULL || strcmp(lp.prev_status, st_names[overall]) != 0)
		{
			StringInfoData ch;

			if (overall == ST_DEGRADED)
				ereport(WARNING,
						(errmsg("foundation health: status changed from %s to degraded",
								lp.prev_status ? lp.prev_status : "unknown"),
						 errhint("SELECT * FROM foundation.health shows the recommendations.")));
			else if (overall == ST_CRITICAL)
				ereport(LOG,
						(errmsg("CRITICAL: foundation health: status changed from %s to critical",
								lp.prev_status ? lp.prev_status : "unknown"),
						 errhint("SELECT * FROM foundation.health shows the recommendations.")));
			else
				ereport(LOG,
						(errmsg("foundation health: status changed from %s to healthy",
								lp.prev_status ? lp.prev_status : "unknown")));
			initStringInfo(&ch);
			appendStringInfoString(&ch, "{\"type\": \"health_status_changed\", \"from\": ");
			if (lp.prev_status)
				escape_json(&ch, lp.prev_status);
			else
				appendStringInfoString(&ch, "null");
			appendStringInfo(&ch, ", \"to\": \"%s\", \"node\": ", st_names[overall]);
			escape_json(&ch, fdn_node());
			appendStringInfoChar(&ch, '}');
			fdn_broadcast(0, fdn_jsonb_from_text(ch.data), false, FDN_ROUTE_NONE);
		}
		summary = psprintf("{\"type\": \"measurement\", \"name\": \"foundation.health\", \"overall_status\": \"%s\","
						   " \"healthy_nodes\": %d, \"expected_nodes\": %d, \"unhealthy_services\": " INT64_FORMAT ","
						   " \"check_duration_ms\": %.3f}",
						   st_names[overall], healthy_nodes, expected, lp.unhealthy_children, duration_ms);
		fdn_broadcast(3, fdn_jsonb_from_text(summary), false, FDN_ROUTE_NONE);
	}
	return result;
}

Datum
fdn_health_check(PG_FUNCTION_ARGS)
{
	fdn_require_preload();
	PG_RETURN_JSONB_P(fdn_jsonb_from_text(fdn_health_run(true)));
}

Datum
fdn_cluster_health(PG_FUNCTION_ARGS)
{
	fdn_require_preload();
	PG_RETURN_JSONB_P(fdn_jsonb_from_text(fdn_health_run(false)));
}

/* The settings of this file (_PG_init). */
void
fdn_define_health_gucs(void)
{
	DefineCustomIntVariable("foundation.expected_nodes",
							"How many nodes the cluster should have (this one included).",
							"Default: the FOUNDATION_EXPECTED_NODES environment variable, else 1.",
							&fdn_expected_nodes,
							getenv("FOUNDATION_EXPECTED_NODES") ? Max(atoi(getenv("FOUNDATION_EXPECTED_NODES")), 1) : 1,
							1, 100000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.health_check_interval",
							"Time between the health monitor's checks; 0 disables them.",
							"With 0, schedule SELECT foundation.health_check() with pg_cron instead.",
							&fdn_health_check_interval_ms,
							30000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.health_check_timeout",
							"Deadline for one health check's calls to the other nodes.",
							NULL,
							&fdn_health_check_timeout_ms,
							5000, 100, 600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.health_history_size",
							"How many health reports foundation.health_history keeps.",
							NULL,
							&fdn_health_history_size,
							1000, 1, 10000000, PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/* The health check's shared memory, and its monitor (_PG_init). */
void
fdn_health_init(void)
{
	fdn_shmem_add("foundation health", sizeof(HealthShared), NULL,
				  (void **) &health_shared);
	fdn_register_health_monitor();
}
