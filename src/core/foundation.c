/*-------------------------------------------------------------------------
 *
 * core/foundation.c
 *	  foundation's own settings (the GUCs every floor reads) and the small
 *	  helpers that go with them: the node name, the preload check.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "commands/trigger.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/shmem.h"


char	   *fdn_database = NULL;
int			fdn_max_children = 64;
int			fdn_max_children_per_database = -1;
int			fdn_naptime_ms = 5000;
int			fdn_start_timeout_ms = 10000;
char	   *fdn_node_name = NULL;
int			fdn_message_retention_s = 3600;
char	   *fdn_dispatcher_conninfo = NULL;
bool		fdn_preloaded = false;

void
fdn_define_postmaster_gucs(void)
{
	DefineCustomStringVariable("foundation.database",
							   "Database of what foundation runs once per server: the health monitor, cluster membership.",
							   "The extension may be created in any database; each one that has it gets its own supervisor while it has work.",
							   &fdn_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.max_children",
							"Maximum number of children running at once, across all databases.",
							"Each child is a background worker, so max_worker_processes limits them too.",
							&fdn_max_children,
							64, 1, 10000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.node_name",
							   "This server's name in the cluster; empty means <hostname>:<port>.",
							   NULL,
							   &fdn_node_name,
							   "",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
}

void
fdn_require_preload(void)
{
	if (fdn_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("foundation is not loaded through shared_preload_libraries"),
				 errdetail("Its supervisor and children are background workers, which need the library loaded at server start."),
				 errhint("Add shared_preload_libraries = 'foundation' to postgresql.conf and restart the server.")));
}

const char *
fdn_node(void)
{
	static char *node = NULL;

	if (fdn_node_name && fdn_node_name[0])
		return fdn_node_name;
	if (node == NULL)
	{
		char		host[256];

		if (gethostname(host, sizeof(host)) != 0)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		node = MemoryContextStrdup(TopMemoryContext,
								   psprintf("%s:%d", host, PostPortNumber));
	}
	return node;
}

const char *
fdn_clip(const char *s, int max)
{
	int			len = strlen(s);

	if (len <= max)
		return s;
	return pnstrdup(s, pg_mbcliplen(s, len, max));
}

void
fdn_null_arg_error(const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s must not be NULL", what),
			 errhint("%s", hint)));
	pg_unreachable();
}

void
fdn_define_core_gucs(void)
{
	DefineCustomIntVariable("foundation.naptime",
							"Longest time between two supervisor passes.",
							"The supervisor also wakes at once when a child stops or a transaction starts or stops one.",
							&fdn_naptime_ms,
							5000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.max_children_per_database",
							"Maximum number of children one database may run at once; -1 means foundation.max_children.",
							"Counted per database whose foundation started them, so that one database cannot take every slot.",
							&fdn_max_children_per_database,
							-1, -1, 10000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.start_timeout",
							"How long start_child waits for a child to start.",
							NULL,
							&fdn_start_timeout_ms,
							10000, 100, 3600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.message_retention",
							"How long messages stored by reference are kept.",
							"The supervisor removes older ones from foundation.messages.",
							&fdn_message_retention_s,
							3600, 1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("foundation.dispatcher_conninfo",
							   "libpq connection string the handler dispatcher listens on.",
							   "Empty: this server's first Unix socket, as the bootstrap superuser. Each dispatcher connects to its own database, whatever dbname this names.",
							   &fdn_dispatcher_conninfo,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

Datum
fdn_invalidate_on_change(FunctionCallInfo fcinfo, const char *trigger)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "%s: not called as a trigger", trigger);
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	/* A name registered, a channel configured: the supervisor keeps them. */
	fdn_wake_supervisor_at_xact_end();
	return PointerGetDatum(NULL);
}
