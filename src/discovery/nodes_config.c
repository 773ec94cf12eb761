/*-------------------------------------------------------------------------
 *
 * discovery/nodes_config.c
 *	  Cluster settings and their translation to a topology (the seed's
 *	  Foundation.ClusterConfig): translation, not replacement.
 *
 * Four modes, as in the seed: wizard (an explicit foundation.topology, or
 * nodes added by hand: foundation steps aside), apprentice (a named
 * strategy translated), mortal (foundation.cluster = on: auto-detected)
 * and no_clustering.  Each setting falls back to the seed's environment
 * variable, read from the postmaster's environment at start.  Every step
 * says what it decided and why (LOG for the decision, DEBUG1 for detail).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/varlena.h"

#include "libpq-fe.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/spi_util.h"
#include "discovery/nodes_config.h"


PG_FUNCTION_INFO_V1(fdn_resolve_cluster_config);
PG_FUNCTION_INFO_V1(fdn_auto_detect_strategy);
PG_FUNCTION_INFO_V1(fdn_translate_cluster_config);

#define CC "Foundation.ClusterConfig: "

char	   *fdn_cluster = NULL;
char	   *fdn_app_name = NULL;
char	   *fdn_k8s_selector = NULL;
char	   *fdn_k8s_namespace = NULL;
char	   *fdn_k8s_dns_name = NULL;
char	   *fdn_service_name = NULL;
char	   *fdn_dns_service = NULL;
char	   *fdn_gossip_secret = NULL;
char	   *fdn_cluster_nodes = NULL;
int			fdn_cluster_port = 5432;
char	   *fdn_topology = NULL;

static const char *
env(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return (v && v[0]) ? v : dflt;
}

/* foundation.cluster_nodes: each ;-separated entry must be a conninfo. */
static bool
check_cluster_nodes(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	char	   *entry;
	char	   *save = NULL;
	int			n = 0;

	for (entry = strtok_r(copy, ";", &save); entry; entry = strtok_r(NULL, ";", &save))
	{
		char	   *err = NULL;
		PQconninfoOption *opts;

		n++;
		while (*entry == ' ')
			entry++;
		if (*entry == '\0')
			continue;
		opts = PQconninfoParse(entry, &err);
		if (opts == NULL)
		{
			/* libpq's message ends with a newline */
			if (err && err[0] && err[strlen(err) - 1] == '\n')
				err[strlen(err) - 1] = '\0';
			GUC_check_errdetail("Entry %d, \"%s\", is not a connection string: %s.",
								n, entry, err ? err : "out of memory");
			GUC_check_errhint("List libpq connection strings separated by semicolons, e.g. 'host=10.0.0.2 port=5432; host=10.0.0.3'.");
			if (err)
				PQfreemem(err);
			return false;
		}
		PQconninfoFree(opts);
	}
	return true;
}

/* foundation.topology: empty, or a JSON object. */
static bool
check_topology(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;

	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	if (*s == '\0')
		return true;
	if (*s != '{' ||
		pg_parse_json(makeJsonLexContextCstringLen(*newval, strlen(*newval),
												   GetDatabaseEncoding(), false),
					  &nullSemAction) != JSON_SUCCESS)
	{
		GUC_check_errdetail("\"foundation.topology\" must be a JSON object.");
		GUC_check_errhint("For example: '{\"my_topology\": {\"strategy\": \"static\", \"config\": {\"nodes\": [\"host=10.0.0.2\"]}}}'.");
		return false;
	}
	return true;
}

void
fdn_define_cluster_gucs(void)
{
	DefineCustomStringVariable("foundation.cluster",
							   "Clustering: off, on (auto-detect), static, dns, kubernetes, consul or gossip.",
							   "An unknown value falls back to auto-detection with a warning.",
							   &fdn_cluster, "off", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.app_name",
							   "Application name used by the translated topologies.",
							   "Default: the FOUNDATION_APP_NAME environment variable, else foundation-app.",
							   &fdn_app_name, env("FOUNDATION_APP_NAME", "foundation-app"),
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.k8s_selector",
							   "Kubernetes label selector; empty means app=<app name>.",
							   "Default: the FOUNDATION_K8S_SELECTOR environment variable.",
							   &fdn_k8s_selector, env("FOUNDATION_K8S_SELECTOR", ""),
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.k8s_namespace",
							   "Kubernetes namespace of the headless service.",
							   "Default: the POD_NAMESPACE environment variable, else default.",
							   &fdn_k8s_namespace, env("POD_NAMESPACE", "default"),
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.k8s_dns_name",
							   "DNS name to resolve for kubernetes discovery; empty means <app>.<namespace>.svc.cluster.local.",
							   NULL,
							   &fdn_k8s_dns_name, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.service_name",
							   "Consul service name; empty means the app name.",
							   "Default: the FOUNDATION_SERVICE_NAME environment variable.",
							   &fdn_service_name, env("FOUNDATION_SERVICE_NAME", ""),
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.dns_service",
							   "DNS name whose addresses are the nodes; empty means the app name.",
							   "Default: the FOUNDATION_DNS_SERVICE environment variable.",
							   &fdn_dns_service, env("FOUNDATION_DNS_SERVICE", ""),
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.gossip_secret",
							   "Shared secret that gossiping nodes must present.",
							   "Default: the FOUNDATION_GOSSIP_SECRET environment variable, else empty. Gossip is off while it is empty or the seed's default, foundation-cluster.",
							   &fdn_gossip_secret, env("FOUNDATION_GOSSIP_SECRET", ""),
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	/* Connection strings may carry credentials: superusers only read them. */
	DefineCustomStringVariable("foundation.cluster_nodes",
							   "Connection strings of other nodes, separated by semicolons (static nodes, gossip seeds).",
							   NULL,
							   &fdn_cluster_nodes, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_cluster_nodes, NULL, NULL);
	DefineCustomIntVariable("foundation.cluster_port",
							"Port of the nodes found by DNS discovery.",
							NULL,
							&fdn_cluster_port, 5432, 1, 65535, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.topology",
							   "An explicit topology (JSON): foundation then steps aside (wizard mode).",
							   NULL,
							   &fdn_topology, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_topology, NULL, NULL);
}

/*
 * Gossip needs a secret of its own: an empty one, or the seed's published
 * default, would let anyone who can connect add nodes.
 */
#define FDN_SEED_GOSSIP_SECRET "foundation-cluster"

bool
fdn_gossip_enabled(void)
{
	return fdn_gossip_secret != NULL && fdn_gossip_secret[0] != '\0' &&
		strcmp(fdn_gossip_secret, FDN_SEED_GOSSIP_SECRET) != 0;
}

List *
fdn_cluster_node_list(void)
{
	List	   *out = NIL;
	char	   *copy = pstrdup(fdn_cluster_nodes ? fdn_cluster_nodes : "");
	char	   *entry;
	char	   *save = NULL;

	for (entry = strtok_r(copy, ";", &save); entry; entry = strtok_r(NULL, ";", &save))
	{
		while (*entry == ' ')
			entry++;
		if (*entry)
			out = lappend(out, pstrdup(entry));
	}
	return out;
}

/* ---------- translation ---------- */

static void
json_kv(StringInfo buf, const char *key, const char *value, bool comma)
{
	if (comma)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	escape_json(buf, value);
}

static Jsonb *
jsonb(StringInfo buf)
{
	return fdn_jsonb_from_text(buf->data);
}

static const char *
or_app(const char *v)
{
	return (v && v[0]) ? v : fdn_app_name;
}

static Jsonb *
translate_config(const char *strategy)
{
	StringInfoData buf;
	const char *app = fdn_app_name;

	initStringInfo(&buf);
	if (strcmp(strategy, "kubernetes") == 0)
	{
		char	   *selector = (fdn_k8s_selector && fdn_k8s_selector[0]) ?
			pstrdup(fdn_k8s_selector) : psprintf("app=%s", app);
		char	   *dns = (fdn_k8s_dns_name && fdn_k8s_dns_name[0]) ?
			pstrdup(fdn_k8s_dns_name) :
			psprintf("%s.%s.svc.cluster.local", app, fdn_k8s_namespace);

		appendStringInfoString(&buf, "{\"foundation_k8s\": {\"strategy\": \"kubernetes\", \"config\": {");
		json_kv(&buf, "mode", "hostname", false);
		json_kv(&buf, "kubernetes_node_basename", app, true);
		json_kv(&buf, "kubernetes_selector", selector, true);
		json_kv(&buf, "namespace", fdn_k8s_namespace, true);
		json_kv(&buf, "dns_name", dns, true);
		appendStringInfo(&buf, ", \"port\": %d}}}", fdn_cluster_port);
		ereport(DEBUG1,
				(errmsg_internal(CC "Kubernetes config: app %s, selector %s, headless service %s",
								 app, selector, dns)));
	}
	else if (strcmp(strategy, "consul") == 0)
	{
		const char *svc = or_app(fdn_service_name);

		appendStringInfoString(&buf, "{\"foundation_consul\": {\"strategy\": \"consul\", \"config\": {");
		json_kv(&buf, "service_name", svc, false);
		json_kv(&buf, "dns_name", psprintf("%s.service.consul", svc), true);
		appendStringInfo(&buf, ", \"port\": %d}}}", fdn_cluster_port);
	}
	else if (strcmp(strategy, "dns") == 0)
	{
		appendStringInfoString(&buf, "{\"foundation_dns\": {\"strategy\": \"dns\", \"config\": {");
		json_kv(&buf, "service", or_app(fdn_dns_service), false);
		json_kv(&buf, "application_name", app, true);
		appendStringInfo(&buf, ", \"port\": %d}}}", fdn_cluster_port);
	}
	else if (strcmp(strategy, "gossip") == 0 || strcmp(strategy, "static") == 0)
	{
		bool		gossip = strategy[0] == 'g';
		ListCell   *lc;
		bool		first = true;

		appendStringInfo(&buf, "{\"foundation_%s\": {\"strategy\": \"%s\", \"config\": {\"%s\": [",
						 strategy, strategy, gossip ? "seeds" : "nodes");
		foreach(lc, fdn_cluster_node_list())
		{
			if (!first)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, lfirst(lc));
			first = false;
		}
		appendStringInfoString(&buf, "]");
		/* The secret is a setting only superusers read; say where it is. */
		if (gossip)
			json_kv(&buf, "secret", "(foundation.gossip_secret)", true);
		appendStringInfoString(&buf, "}}}");
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown clustering strategy \"%s\"", strategy),
				 errhint("Use static, dns, kubernetes, consul or gossip.")));
	ereport(DEBUG1, (errmsg_internal(CC "  Translated %s to: %s", strategy, buf.data)));
	return jsonb(&buf);
}

/* The seed's order: Kubernetes, then Consul, then gossip (no mDNS here). */
static Jsonb *
auto_detect(void)
{
	Jsonb	   *topology;

	ereport(LOG, (errmsg(CC "Auto-detecting clustering strategy...")));
	if (getenv("KUBERNETES_SERVICE_HOST") != NULL)
	{
		ereport(LOG, (errmsg(CC "  Detected: Kubernetes environment (KUBERNETES_SERVICE_HOST present)")));
		topology = translate_config("kubernetes");
	}
	else if (getenv("CONSUL_HTTP_ADDR") != NULL)
	{
		ereport(LOG, (errmsg(CC "  Detected: Consul available (CONSUL_HTTP_ADDR present)")));
		topology = translate_config("consul");
	}
	else
	{
		ereport(LOG, (errmsg(CC "  Detected: Generic environment; strategy gossip (fallback)")));
		topology = translate_config("gossip");
	}
	return topology;
}

/* Nodes added by hand, as a wizard-mode topology; NULL if none. */
static Jsonb *
manual_topology(void)
{
	FdnPrivState priv;
	Jsonb	   *res = NULL;
	bool		isnull;
	Datum		d;

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT jsonb_build_object('foundation_manual', jsonb_build_object("
				 "'strategy', 'manual', 'config', jsonb_build_object('nodes',"
				 " jsonb_agg(jsonb_build_object('name', name, 'conninfo', conninfo) ORDER BY name))))"
				 " FROM foundation.nodes WHERE source = 'manual' HAVING count(*) > 0",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	d = (Datum) 0;
	isnull = true;
	if (SPI_processed > 0)
		d = fdn_spi_getdatum(0, 1, &isnull);
	fdn_priv_end(&priv);
	if (!isnull)
		res = DatumGetJsonbP(d);
	return res;
}

Jsonb *
fdn_resolve_cluster(const char **mode)
{
	const char *c = fdn_cluster ? fdn_cluster : "off";
	Jsonb	   *manual;

	ereport(LOG, (errmsg(CC "Resolving cluster configuration...")));
	if (fdn_topology && fdn_topology[0])
	{
		ereport(LOG, (errmsg(CC "  Found an explicit foundation.topology (wizard mode): foundation steps aside")));
		*mode = "wizard";
		return fdn_jsonb_from_text(fdn_topology);
	}
	if ((manual = manual_topology()) != NULL)
	{
		ereport(LOG, (errmsg(CC "  Found nodes added by hand in foundation.nodes (wizard mode): foundation steps aside")));
		*mode = "wizard";
		return manual;
	}
	ereport(LOG, (errmsg(CC "  foundation.cluster = %s", c)));
	if (strcmp(c, "off") == 0)
	{
		ereport(LOG, (errmsg(CC "  Clustering disabled")));
		*mode = "no_clustering";
		return fdn_jsonb_from_text("[]");
	}
	if (strcmp(c, "on") == 0)
	{
		ereport(LOG, (errmsg(CC "  Mortal mode: auto-detecting the best strategy")));
		*mode = "mortal";
		return auto_detect();
	}
	if (strcmp(c, "static") == 0 || strcmp(c, "dns") == 0 ||
		strcmp(c, "kubernetes") == 0 || strcmp(c, "consul") == 0 ||
		strcmp(c, "gossip") == 0)
	{
		ereport(LOG, (errmsg(CC "  Apprentice mode: translating %s", c)));
		*mode = "apprentice";
		return translate_config(c);
	}
	ereport(WARNING,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg(CC "unknown foundation.cluster value \"%s\"; falling back to auto-detection", c),
			 errhint("Use off, on, static, dns, kubernetes, consul or gossip.")));
	*mode = "mortal";
	return auto_detect();
}

Datum
fdn_resolve_cluster_config(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *mode;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, 0);
	values[1] = JsonbPGetDatum(fdn_resolve_cluster(&mode));
	values[0] = CStringGetTextDatum(mode);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
fdn_auto_detect_strategy(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(auto_detect());
}

Datum
fdn_translate_cluster_config(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg_error("strategy",
						   "Use static, dns, kubernetes, consul or gossip.");
	PG_RETURN_JSONB_P(translate_config(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
