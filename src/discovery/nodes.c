/*-------------------------------------------------------------------------
 *
 * discovery/nodes.c
 *	  This node's metrics, the other nodes, and their discovery.
 *
 * A node is a PostgreSQL server running foundation.  foundation.nodes
 * lists the others; discovery fills it from the resolved topology: the
 * static list, every address a DNS name resolves to (dns, and the DNS
 * names Kubernetes and Consul give their services), or gossip: asking the
 * seeds and every known node, over libpq, whom they know.  Every candidate
 * is contacted in parallel to learn its name and whether it answers.
 * Discovery adds and updates rows, and never removes one: nodes added by
 * hand stay as they are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/postmaster.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/remote.h"
#include "core/spi_util.h"
#include "discovery/health.h"
#include "discovery/nodes.h"
#include "discovery/nodes_config.h"


PG_FUNCTION_INFO_V1(fdn_node_name_sql);
PG_FUNCTION_INFO_V1(fdn_node_metrics);
PG_FUNCTION_INFO_V1(fdn_discover_nodes);
PG_FUNCTION_INFO_V1(fdn_gossip_exchange);
PG_FUNCTION_INFO_V1(fdn_nodes_no_password);

char	   *fdn_node_conninfo = NULL;
char	   *fdn_cluster_conninfo_options = NULL;

static char *peer_conninfo(const char *given);

Datum
fdn_node_name_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(fdn_node()));
}

/* ---------- metrics ---------- */

/* MemTotal and MemAvailable from /proc/meminfo, in bytes (-1: unknown). */
static void
read_meminfo(int64 *total, int64 *avail)
{
	FILE	   *f = fopen("/proc/meminfo", "r");
	char		line[256];

	*total = *avail = -1;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
	{
		long long	kb;

		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			*total = (int64) kb * 1024;
		else if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			*avail = (int64) kb * 1024;
	}
	fclose(f);
}

/*
 * Backends of each kind, as pg_stat_activity counts them: client backends,
 * and background workers (what takes a max_worker_processes slot).
 */
static void
count_backends(int64 *clients, int64 *workers)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	*clients = *workers = 0;
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *e = pgstat_fetch_stat_local_beentry(i);

		if (e == NULL)
			continue;
		if (e->backendStatus.st_backendType == B_BACKEND)
			(*clients)++;
		else if (e->backendStatus.st_backendType == B_BG_WORKER)
			(*workers)++;
	}
}

/*
 * What this server knows of itself, read in C: no SQL.  Another node's
 * health check calls this as the first statement of a new backend, where
 * planning a query over pg_stat_activity (a view, several functions) meant
 * filling the new backend's catalog caches first, which took longer than
 * the rest of the call.
 */
char *
fdn_node_metrics_text(void)
{
	double		load[3] = {-1, -1, -1};
	int64		memtotal;
	int64		memavail;
	int64		clients;
	int64		workers;
	StringInfoData buf;
	double		queue;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (getloadavg(load, 3) != 3)
		load[0] = load[1] = load[2] = -1;
	read_meminfo(&memtotal, &memavail);
	count_backends(&clients, &workers);
	{
		LOCAL_FCINFO(fc, 0);

		InitFunctionCallInfoData(*fc, NULL, 0, InvalidOid, NULL, NULL);
		queue = DatumGetFloat8(pg_notification_queue_usage(fc));
	}

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"node\": ");
	escape_json(&buf, fdn_node());
	appendStringInfo(&buf, ", \"load_avg\": [%.2f, %.2f, %.2f]", load[0], load[1], load[2]);
	appendStringInfo(&buf, ", \"memory_total\": " INT64_FORMAT ", \"memory_available\": " INT64_FORMAT,
					 memtotal, memavail);
	appendStringInfo(&buf, ", \"connections_used\": " INT64_FORMAT ", \"connections_allowed\": %d",
					 clients, MaxConnections);
	appendStringInfo(&buf, ", \"worker_slots_used\": " INT64_FORMAT ", \"worker_slots_allowed\": %d",
					 workers, max_worker_processes);
	appendStringInfo(&buf, ", \"notification_queue_usage\": %s", float8out_internal(queue));
	appendStringInfoString(&buf, ", \"server_version\": ");
	escape_json(&buf, GetConfigOption("server_version", false, false));
	appendStringInfo(&buf, ", \"server_version_num\": %d",
					 atoi(GetConfigOption("server_version_num", false, false)));
	appendStringInfo(&buf, ", \"uptime_s\": %lld}",
					 (long long) llround((double) (now - PgStartTime) / USECS_PER_SEC));
	return buf.data;
}

Datum
fdn_node_metrics(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(fdn_jsonb_from_text(fdn_node_metrics_text()));
}

/* ---------- discovery ---------- */

typedef struct FdnCandidate
{
	char	   *conninfo;
} FdnCandidate;

static char *
addr_conninfo(const char *addr, int port)
{
	return psprintf("host=%s port=%d dbname=%s%s%s", addr, port, fdn_database,
					fdn_cluster_conninfo_options[0] ? " " : "",
					fdn_cluster_conninfo_options);
}

/* Every address a name resolves to (IPv4 and IPv6), as conninfos. */
static List *
resolve_dns(const char *name, int port)
{
	struct addrinfo hints = {0};
	struct addrinfo *res;
	struct addrinfo *ai;
	List	   *out = NIL;
	int			rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("foundation discovery: \"%s\" does not resolve: %s",
						name, gai_strerror(rc)),
				 errhint("Check the DNS name (foundation.dns_service, foundation.k8s_dns_name or foundation.service_name).")));
		return NIL;
	}
	for (ai = res; ai; ai = ai->ai_next)
	{
		char		host[INET6_ADDRSTRLEN];
		void	   *src = ai->ai_family == AF_INET6 ?
			(void *) &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr :
			(void *) &((struct sockaddr_in *) ai->ai_addr)->sin_addr;
		char	   *ci;
		ListCell   *lc;
		bool		dup = false;

		if (inet_ntop(ai->ai_family, src, host, sizeof(host)) == NULL)
			continue;
		ci = addr_conninfo(host, port);
		foreach(lc, out)
			if (strcmp(lfirst(lc), ci) == 0)
				dup = true;
		if (!dup)
			out = lappend(out, ci);
	}
	freeaddrinfo(res);
	ereport(DEBUG1,
			(errmsg_internal("foundation discovery: %s resolves to %d addresses",
							 name, list_length(out))));
	return out;
}

/*
 * The topology's first entry: its strategy (into *strategy) and the string
 * at config.<key> (returned; NULL if absent or key is NULL).
 */
static char *
topo_get(Jsonb *topo, const char *key, char **strategy)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue *entry;
	JsonbValue	cfg;
	JsonbValue	val;
	JsonbValue	strat;
	Jsonb	   *jb;

	if (!JB_ROOT_IS_OBJECT(topo))
		return NULL;
	it = JsonbIteratorInit(&topo->root);
	if (JsonbIteratorNext(&it, &v, true) != WJB_BEGIN_OBJECT ||
		JsonbIteratorNext(&it, &v, true) != WJB_KEY)
		return NULL;
	entry = getKeyJsonValueFromContainer(&topo->root, v.val.string.val,
										 v.val.string.len, NULL);
	/* Every level may be of any shape (foundation.topology is free JSON). */
	if (!fdn_json_is_object(entry))
		return NULL;
	jb = JsonbValueToJsonb(entry);
	if (strategy &&
		fdn_json_obj_get(&jb->root, "strategy", &strat) &&
		strat.type == jbvString)
		*strategy = pnstrdup(strat.val.string.val, strat.val.string.len);
	if (key == NULL ||
		!fdn_json_obj_get(&jb->root, "config", &cfg) ||
		!fdn_json_is_object(&cfg) ||
		!fdn_json_obj_get(cfg.val.binary.data, key, &val))
		return NULL;
	if (val.type == jbvString)
		return pnstrdup(val.val.string.val, val.val.string.len);
	if (val.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(val.val.numeric)));
	return NULL;
}

/* The strings of the array at config.<key> of the topology's first entry. */
static List *
topo_list(Jsonb *topo, const char *key)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue *entry;
	JsonbValue	cfg;
	JsonbValue	arr;
	JsonbIteratorToken tok;
	Jsonb	   *jb;
	List	   *out = NIL;

	if (!JB_ROOT_IS_OBJECT(topo))
		return NIL;
	it = JsonbIteratorInit(&topo->root);
	if (JsonbIteratorNext(&it, &v, true) != WJB_BEGIN_OBJECT ||
		JsonbIteratorNext(&it, &v, true) != WJB_KEY)
		return NIL;
	entry = getKeyJsonValueFromContainer(&topo->root, v.val.string.val,
										 v.val.string.len, NULL);
	if (!fdn_json_is_object(entry))
		return NIL;
	jb = JsonbValueToJsonb(entry);
	if (!fdn_json_obj_get(&jb->root, "config", &cfg) ||
		!fdn_json_is_object(&cfg) ||
		!fdn_json_obj_get(cfg.val.binary.data, key, &arr) ||
		!fdn_json_is_array(&arr))
		return NIL;
	it = JsonbIteratorInit(arr.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && v.type == jbvString)
			out = lappend(out, pnstrdup(v.val.string.val, v.val.string.len));
	return out;
}

/* Known nodes' conninfos (gossip asks them too). */
static List *
known_conninfos(void)
{
	FdnPrivState priv;
	List	   *out = NIL;
	uint64		i;
	bool		isnull;

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT conninfo FROM foundation.nodes ORDER BY name", 0, NULL, NULL, NULL,
				 SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
		out = lappend(out, TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull)));
	fdn_priv_end(&priv);
	return out;
}

static List *
append_unique(List *list, const char *conninfo)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), conninfo) == 0)
			return list;
	return lappend(list, pstrdup(conninfo));
}

/* Upsert one node; manual rows keep their source. */
static void
upsert_node(const char *name, const char *conninfo, const char *source,
				bool up, int64 ping_us)
{
	Datum		values[5];
	char		nulls[5] = "     ";

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(fdn_conninfo_filter(conninfo, FDN_CI_NO_PASSWORD, NULL));
	values[2] = CStringGetTextDatum(source);
	values[3] = CStringGetTextDatum(up ? "up" : "unreachable");
	values[4] = Int64GetDatum(ping_us);
	if (!up || ping_us < 0)
		nulls[4] = 'n';
	fdn_spi_exec("INSERT INTO foundation.nodes AS n (name, conninfo, source, status, last_seen_at, ping_time_us)"
				 " VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'up' THEN now() END, $5)"
				 " ON CONFLICT (name) DO UPDATE SET status = excluded.status,"
				 "   conninfo = CASE WHEN n.source = 'manual' THEN n.conninfo ELSE excluded.conninfo END,"
				 "   last_seen_at = coalesce(excluded.last_seen_at, n.last_seen_at),"
				 "   ping_time_us = coalesce(excluded.ping_time_us, n.ping_time_us)",
				 5, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID},
				 values, nulls, SPI_OK_INSERT);
}

int
fdn_discover(void)
{
	const char *mode;
	Jsonb	   *topo = fdn_resolve_cluster(&mode);
	char	   *strategy = NULL;
	List	   *cands = NIL;
	bool		gossip;
	FdnRemoteCall *calls;
	const char *params[3];
	int			n;
	int			i;
	int			found = 0;
	ListCell   *lc;
	FdnPrivState priv;

	if (strcmp(mode, "no_clustering") == 0)
		return 0;
	(void) topo_get(topo, NULL, &strategy);
	if (strategy == NULL)
		strategy = pstrdup("manual");
	gossip = strcmp(strategy, "gossip") == 0;
	if (gossip && !fdn_gossip_enabled())
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("foundation discovery: gossip is off: \"foundation.gossip_secret\" is not set"),
				 errhint("Set \"foundation.gossip_secret\" to the same secret of your own on every node (not the default, foundation-cluster).")));
		return 0;
	}

	/*
	 * Everything comes from the resolved topology, so a wizard's own
	 * topology is followed as written (the translated ones carry the
	 * settings).
	 */
	if (strcmp(strategy, "static") == 0 || gossip)
	{
		foreach(lc, topo_list(topo, gossip ? "seeds" : "nodes"))
			cands = append_unique(cands, lfirst(lc));
	}
	else if (strcmp(strategy, "dns") == 0 || strcmp(strategy, "kubernetes") == 0 ||
			 strcmp(strategy, "consul") == 0)
	{
		char	   *dns = topo_get(topo, strategy[0] == 'd' ? "service" : "dns_name",
									   NULL);
		char	   *port = topo_get(topo, "port", NULL);

		if (dns)
			cands = resolve_dns(dns, port ? atoi(port) : fdn_cluster_port);
	}
	/* manual (wizard), and gossip: every known node too */
	if (gossip || strcmp(strategy, "manual") == 0)
		foreach(lc, known_conninfos())
			cands = append_unique(cands, lfirst(lc));

	n = list_length(cands);
	ereport(LOG,
			(errmsg("foundation discovery (%s, %s): contacting %d candidates",
					mode, strategy, n)));
	if (n == 0)
		return 0;

	calls = palloc0(sizeof(FdnRemoteCall) * n);
	params[0] = fdn_gossip_secret;
	params[1] = fdn_node();
	params[2] = fdn_advertised_conninfo();
	i = 0;
	foreach(lc, cands)
	{
		calls[i].conninfo = lfirst(lc);
		if (gossip)
		{
			calls[i].sql = "SELECT foundation.gossip_exchange($1, $2, $3)::pg_catalog.text";
			calls[i].nparams = 3;
			calls[i].params = params;
		}
		else
			calls[i].sql = "SELECT foundation.node_name()";
		i++;
	}
	fdn_remote_run(calls, n, fdn_health_check_timeout_ms, 2);

	fdn_priv_begin(&priv);
	for (i = 0; i < n; i++)
	{
		if (!calls[i].ok)
		{
			ereport(gossip && calls[i].error && strstr(calls[i].error, "gossip secret") ? WARNING : LOG,
					(errmsg("foundation discovery: %s did not answer: %s",
							calls[i].conninfo, calls[i].error)));
			/* Only nodes already known get marked; strangers are not added. */
			fdn_spi_exec("UPDATE foundation.nodes SET status = 'unreachable' WHERE conninfo = $1",
						 1, (Oid[]) {TEXTOID},
						 (Datum[]) {CStringGetTextDatum(calls[i].conninfo)}, NULL,
						 SPI_OK_UPDATE);
			continue;
		}
		if (!gossip)
		{
			/* A node that does not say its name is known by its conninfo. */
			const char *name = calls[i].result ? calls[i].result :
				calls[i].conninfo;

			if (strcmp(name, fdn_node()) == 0)
				continue;
			upsert_node(name, calls[i].conninfo, strategy, true, calls[i].ping_us);
			found++;
		}
		else
		{
			/*
			 * [{name, conninfo}, ...]: the peer first, then whom it knows.
			 * A peer's answer is checked for its shape before any use.
			 */
			char	   *why = NULL;
			Jsonb	   *known = fdn_remote_jsonb(calls[i].result, FDN_JSON_ARRAY, &why);
			JsonbIterator *it;
			JsonbValue	v;
			JsonbIteratorToken tok;
			bool		first = true;

			if (known == NULL)
			{
				ereport(WARNING,
						(errmsg("foundation discovery: %s gave an unusable gossip answer: %s",
								calls[i].conninfo, why)));
				continue;
			}
			it = JsonbIteratorInit(&known->root);
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				JsonbValue	nm;
				JsonbValue	ci;
				char	   *name;
				char	   *conninfo;

				if (tok != WJB_ELEM || !fdn_json_is_object(&v))
					continue;
				if (!fdn_json_obj_get(v.val.binary.data, "name", &nm) ||
					!fdn_json_obj_get(v.val.binary.data, "conninfo", &ci) ||
					nm.type != jbvString || ci.type != jbvString ||
					nm.val.string.len < 1 || nm.val.string.len > 200)
					continue;
				name = pnstrdup(nm.val.string.val, nm.val.string.len);
				/* A peer says where a node is, not how we log in there. */
				conninfo = peer_conninfo(pnstrdup(ci.val.string.val, ci.val.string.len));
				if (strcmp(name, fdn_node()) != 0)
				{
					/* The peer we talked to is up; the others it reports, we note. */
					if (first)
						upsert_node(name, calls[i].conninfo, "gossip", true, calls[i].ping_us);
					else
						fdn_spi_exec("INSERT INTO foundation.nodes (name, conninfo, source, status)"
									 " VALUES ($1, $2, 'gossip', 'unknown') ON CONFLICT (name) DO NOTHING",
									 2, (Oid[]) {TEXTOID, TEXTOID},
									 (Datum[]) {CStringGetTextDatum(name), CStringGetTextDatum(conninfo)},
									 NULL, SPI_OK_INSERT);
					found++;
				}
				first = false;
			}
		}
	}
	fdn_priv_end(&priv);
	return found;
}

Datum
fdn_discover_nodes(PG_FUNCTION_ARGS)
{
	(void) fdn_discover();
	/* The SQL wrapper returns the table's rows. */
	PG_RETURN_VOID();
}

/*
 * The other side of gossip: check the secret, note the caller, and return
 * this node followed by every node it knows.
 *
 * Off unless this node has a secret of its own; the secret is compared in
 * constant time.  The caller's conninfo is kept as an address only (no
 * user, password, service, options: how we log in is our configuration),
 * and what we return holds no password.  EXECUTE is not granted to PUBLIC:
 * the role peers log in as needs it (docs/cluster.md).
 */
Datum
fdn_gossip_exchange(PG_FUNCTION_ARGS)
{
	FdnPrivState priv;
	char	   *secret;
	char	   *name;
	char	   *conninfo;
	bool		isnull;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		fdn_null_arg_error("secret, node name and conninfo",
						   "foundation.gossip_exchange is called by discovery on other nodes.");
	if (!fdn_gossip_enabled())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gossip is off on node \"%s\"", fdn_node()),
				 errhint("Set \"foundation.gossip_secret\" to the same secret of your own on every node (not the default, foundation-cluster).")));
	secret = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	conninfo = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!fdn_secret_equal(secret, fdn_gossip_secret))
	{
		ereport(WARNING,
				(errmsg("foundation gossip: refused node \"%s\": wrong gossip secret", name)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("gossip secret mismatch: node \"%s\" is not trusted", fdn_node()),
				 errhint("Set the same \"foundation.gossip_secret\" on every node.")));
	}
	if (name[0] == '\0' || strlen(name) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid node name \"%s\"", name),
				 errhint("A node name has 1 to 200 characters.")));

	fdn_priv_begin(&priv);
	if (strcmp(name, fdn_node()) != 0)
		upsert_node(name, peer_conninfo(conninfo), "gossip", true, -1);
	fdn_spi_exec("SELECT pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('name', $1::pg_catalog.text, 'conninfo', $2::pg_catalog.text))"
				 " OPERATOR(pg_catalog.||) coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', name, 'conninfo', conninfo) ORDER BY name)"
				 "              FROM foundation.nodes WHERE name OPERATOR(pg_catalog.<>) $3), '[]')",
				 3, (Oid[]) {TEXTOID, TEXTOID, TEXTOID},
				 (Datum[]) {CStringGetTextDatum(fdn_node()),
					 CStringGetTextDatum(fdn_advertised_conninfo()),
				 CStringGetTextDatum(name)},
				 NULL, SPI_OK_SELECT);
	result = fdn_spi_getdatum(0, 1, &isnull);
	fdn_priv_end(&priv);
	PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM(result)));
}

/*
 * A conninfo a peer gave: its address only, with this node's own
 * foundation.cluster_conninfo_options (who we log in as, TLS) after it.
 */
static char *
peer_conninfo(const char *given)
{
	bool		dropped;
	char	   *ci = fdn_conninfo_filter(given, FDN_CI_ADDRESS, &dropped);

	if (dropped)
		ereport(LOG,
				(errmsg("foundation gossip: kept only the address of a peer's connection string (user, password, service, options and files are this node's to choose)")));
	if (fdn_cluster_conninfo_options && fdn_cluster_conninfo_options[0])
		ci = psprintf("%s %s", ci, fdn_cluster_conninfo_options);
	return ci;
}

/*
 * The address this node gives others (gossip, and the control database's
 * foundation.members): foundation.node_conninfo without any password
 * (passwords come from a passfile, never from a table or a peer).
 */
const char *
fdn_advertised_conninfo(void)
{
	static bool warned = false;
	bool		had_password;
	char	   *ci = fdn_conninfo_filter(fdn_self_conninfo(), FDN_CI_NO_PASSWORD, &had_password);

	if (had_password && !warned)
	{
		ereport(WARNING,
				(errmsg("foundation.node_conninfo contains a password; it is not advertised to the other members"),
				 errhint("Give the other members the password in a passfile (passfile=... in their connection options).")));
		warned = true;
	}
	return ci;
}

const char *
fdn_self_conninfo(void)
{
	if (fdn_node_conninfo && fdn_node_conninfo[0])
		return fdn_node_conninfo;
	return psprintf("host=localhost port=%d dbname=%s", PostPortNumber, fdn_database);
}

/*
 * BEFORE INSERT OR UPDATE OF conninfo ON foundation.nodes: everyone reads
 * the table, so it never holds a password.
 */
Datum
fdn_nodes_no_password(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	bool		isnull;
	Datum		d;
	int			attno;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		elog(ERROR, "fdn_nodes_no_password: not called as a BEFORE ROW trigger");
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	attno = SPI_fnumber(trigdata->tg_relation->rd_att, "conninfo");
	if (attno <= 0)
		elog(ERROR, "foundation.nodes has no conninfo column");
	d = heap_getattr(tuple, attno, trigdata->tg_relation->rd_att, &isnull);
	if (!isnull && fdn_conninfo_has_password(TextDatumGetCString(d)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a conninfo in foundation.nodes must not contain a password"),
				 errdetail("Every role can read foundation.nodes."),
				 errhint("Put the password in a passfile (passfile=... in the conninfo, or ~/.pgpass of the server's operating system user).")));
	return PointerGetDatum(tuple);
}

/* The settings of this file (_PG_init). */
void
fdn_define_nodes_gucs(void)
{
	DefineCustomStringVariable("foundation.node_conninfo",
							   "How other nodes connect to this one (gossip tells them).",
							   "Empty: host=localhost, this port, foundation.database.",
							   &fdn_node_conninfo, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.cluster_conninfo_options",
							   "Connection options added to the nodes found by DNS (e.g. user=... sslmode=...).",
							   NULL,
							   &fdn_cluster_conninfo_options, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}
