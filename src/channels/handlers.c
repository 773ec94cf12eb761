/*-------------------------------------------------------------------------
 *
 * channels/handlers.c
 *	  Server-side channel handlers: subscribe(channel, handler) and the
 *	  dispatcher child that calls them.
 *
 * The seed left "implementation would store this mapping".  Here the
 * mapping is foundation.channel_handlers, and a supervised child, the
 * dispatcher (singleton "foundation:dispatcher", module
 * foundation.handler_dispatcher), LISTENs to the four channels over a
 * libpq connection to this server (a background worker cannot receive
 * notifications itself), drains every notification into memory at once so
 * the server's notification queue never waits on a slow handler, and
 * calls each channel's handlers, every call in its own transaction, as the
 * role that subscribed it, restricted (user_call.h), with a timeout
 * (foundation.handler_timeout).  A handler's error or timeout is logged and
 * counted and stops neither the others nor later messages.  The backlog in
 * memory is bounded (foundation.dispatcher_max_backlog): past it, messages
 * are dropped, counted per channel in channel_stats.dropped, and logged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <poll.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "libpq-fe.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/remote.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "core/user_call.h"
#include "process/singleton_start.h"
#include "process/supervisor.h"
#include "channels/channels.h"
#include "channels/codec.h"
#include "channels/handlers.h"

/* The handlers' shared memory: each database's dispatcher, once listening. */
typedef struct Dispatcher
{
	Oid			dboid;
	pid_t		pid;
} Dispatcher;

typedef struct HandlersShared
{
	slock_t		mutex;			/* protects dispatchers[] */
	Dispatcher	dispatchers[FDN_MAX_DATABASES];
} HandlersShared;

static HandlersShared *handlers_shared = NULL;

static void
handlers_shmem_init(void *part)
{
	SpinLockInit(&((HandlersShared *) part)->mutex);
}

void
fdn_handlers_shmem_register(void)
{
	fdn_shmem_add("foundation handlers", sizeof(HandlersShared),
				  handlers_shmem_init, (void **) &handlers_shared);
}

/*
 * This database's dispatcher, if it listens; else 0.  Entries are indexed
 * like the table of databases (core/databases.h) and tagged with the OID.
 */
static pid_t
dispatcher_pid(void)
{
	int			index = fdn_db_index();
	pid_t		pid = 0;

	if (index < 0)
		return 0;
	SpinLockAcquire(&handlers_shared->mutex);
	if (handlers_shared->dispatchers[index].dboid == MyDatabaseId)
		pid = handlers_shared->dispatchers[index].pid;
	SpinLockRelease(&handlers_shared->mutex);
	if (pid != 0 && BackendPidGetProc(pid) == NULL)
		pid = 0;
	return pid;
}

/* We listen (set), or leave (clear): this database's entry says so. */
static void
set_dispatcher_pid(pid_t pid)
{
	int			index = fdn_db_index();

	if (index < 0)
		return;
	SpinLockAcquire(&handlers_shared->mutex);
	handlers_shared->dispatchers[index].dboid = MyDatabaseId;
	handlers_shared->dispatchers[index].pid = pid;
	SpinLockRelease(&handlers_shared->mutex);
}

static void
clear_dispatcher_pid(int code, Datum arg)
{
	if (dispatcher_pid() == MyProcPid)
		set_dispatcher_pid(0);
}

PG_FUNCTION_INFO_V1(fdn_subscribe_handler);
PG_FUNCTION_INFO_V1(fdn_unsubscribe_handler);
PG_FUNCTION_INFO_V1(fdn_handler_dispatcher);
PG_FUNCTION_INFO_V1(fdn_dispatcher_pid);

#define FDN_DISPATCHER_NAME "foundation:dispatcher"
#define FDN_HANDLERS_TOPIC "foundation:handlers"

int			fdn_handler_timeout_ms = 10000;
int			fdn_dispatcher_max_backlog = 100000;

void
fdn_define_handler_gucs(void)
{
	DefineCustomIntVariable("foundation.handler_timeout",
							"Longest time one channel handler call may take; 0 means no limit.",
							"A call past it is cancelled, logged and counted as an error on its channel.",
							&fdn_handler_timeout_ms,
							10000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("foundation.dispatcher_max_backlog",
							"Most messages the handler dispatcher holds in memory, waiting for its handlers.",
							"Past it, new messages are dropped for the handlers, logged and counted in foundation.channel_stats.dropped.",
							&fdn_dispatcher_max_backlog,
							100000, 1, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

/* ---------- subscribe / unsubscribe ---------- */

static void
check_handler(Oid handler)
{
	static const FdnSignature sig = {
		.what = "handler",
		.nargs = 2,
		.argtypes = {TEXTOID, JSONBOID},
		.missing_hint = "Pass a handler as 'schema.name(text, jsonb)'::regprocedure.",
		.wrong_message = "handler %s must take (channel text, message jsonb)",
		.wrong_hint = "Create a function or procedure handler(channel text, message jsonb).",
	};

	fdn_check_signature(handler, &sig);
	if (pg_proc_aclcheck(handler, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run handler %s",
						format_procedure(handler)),
				 errhint("A handler runs as the role that subscribes it, which needs EXECUTE on it.")));
}

/* Start the dispatcher if it does not run; it runs as the superuser. */
static void
ensure_dispatcher(void)
{
	(void) fdn_ensure_own_singleton(FDN_DISPATCHER_NAME,
									"foundation.handler_dispatcher");
}

/*
 * In the supervisor, each pass: subscriptions without a dispatcher spec
 * are the state a restore leaves (pg_dump keeps the subscriptions but not
 * foundation's own children), so start the dispatcher then.  A spec that
 * exists, running or failed, is the supervisor's to handle as it is.
 */
static void
dispatcher_after_restore(void)
{
	bool		isnull;

	/* A dispatcher that ran once and is gone does not count. */
	if (dispatcher_pid() != 0)
		return;
	fdn_spi_exec("SELECT EXISTS (SELECT FROM foundation.channel_handlers)"
				 " AND NOT EXISTS (SELECT FROM foundation.child_specs"
				 "   WHERE id = '" FDN_DISPATCHER_NAME "')",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (!DatumGetBool(fdn_spi_getdatum(0, 1, &isnull)))
		return;
	elog(LOG, "foundation: channel handlers are subscribed but the dispatcher has no spec (as after a restore); starting it");
	ensure_dispatcher();
}

/*
 * The supervisor's work for channels: subscriptions (a dispatcher to keep
 * running), messages stored by reference and durable channels' messages,
 * which it removes once past their retention.
 */
static bool
channels_have_work(void)
{
	bool		isnull;

	fdn_spi_exec("SELECT EXISTS (SELECT FROM foundation.channel_handlers)"
				 " OR EXISTS (SELECT FROM foundation.messages)"
				 " OR EXISTS (SELECT FROM foundation.channel_config)",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	return DatumGetBool(fdn_spi_getdatum(0, 1, &isnull));
}

static const FdnSupervisorHooks handlers_hooks = {
	.feature = "channel handlers",
	.cleanup = dispatcher_after_restore,
	.has_work = channels_have_work,
};

void
fdn_handlers_supervisor_register(void)
{
	fdn_supervisor_add_hooks(&handlers_hooks);
}

Datum
fdn_subscribe_handler(PG_FUNCTION_ARGS)
{
	int			channel;
	Oid			handler;
	FdnPrivState priv;
	Datum		values[3];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		fdn_null_arg_error("channel and handler",
						   "Call foundation.subscribe('events', 'my_handler(text, jsonb)'::regprocedure).");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	handler = PG_GETARG_OID(1);
	fdn_require_preload();
	check_handler(handler);

	values[0] = CStringGetTextDatum(fdn_channel_names[channel]);
	values[1] = ObjectIdGetDatum(handler);
	values[2] = ObjectIdGetDatum(GetUserId());
	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.channel_handlers (channel, handler, owner)"
				 " VALUES ($1, $2, $3) ON CONFLICT (channel, handler, owner) DO NOTHING",
				 3, (Oid[]) {TEXTOID, REGPROCEDUREOID, OIDOID}, values, NULL,
				 SPI_OK_INSERT);
	fdn_priv_end(&priv);

	ereport(DEBUG1,
			(errmsg_internal("Foundation.Channels: Registered handler %s on %s",
							 format_procedure(handler), fdn_channel_names[channel]),
			 errdetail_internal("INSERT INTO foundation.channel_handlers; the dispatcher child runs it")));
	/* The table's trigger tells a running dispatcher to reload. */
	ensure_dispatcher();
	PG_RETURN_VOID();
}

Datum
fdn_unsubscribe_handler(PG_FUNCTION_ARGS)
{
	FdnPrivState priv;
	Datum		values[3];
	bool		superuser_caller = superuser();
	bool		found;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		fdn_null_arg_error("channel and handler",
						   "SELECT * FROM foundation.channel_handlers lists the subscriptions.");
	values[0] = CStringGetTextDatum(fdn_channel_names[fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(0)))]);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = ObjectIdGetDatum(GetUserId());
	fdn_priv_begin(&priv);
	fdn_spi_exec(superuser_caller ?
				 "DELETE FROM foundation.channel_handlers WHERE channel = $1 AND handler = $2"
				 " AND $3 IS NOT NULL" :
				 "DELETE FROM foundation.channel_handlers WHERE channel = $1 AND handler = $2"
				 " AND owner = $3",
				 3, (Oid[]) {TEXTOID, REGPROCEDUREOID, OIDOID}, values, NULL,
				 SPI_OK_DELETE);
	found = SPI_processed > 0;
	fdn_priv_end(&priv);
	PG_RETURN_BOOL(found);
}

/*
 * The statement trigger on foundation.channel_handlers: whatever changes
 * the subscriptions (subscribe, unsubscribe, a superuser's INSERT,
 * pg_restore's COPY), a running dispatcher reloads them once the change
 * commits (NOTIFY: at commit, never after a rollback).
 */
PG_FUNCTION_INFO_V1(fdn_channel_handlers_changed);
Datum
fdn_channel_handlers_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "fdn_channel_handlers_changed: not called as a trigger");
	Async_Notify(FDN_HANDLERS_TOPIC, "");
	return PointerGetDatum(NULL);
}

/* ---------- the dispatcher ---------- */

typedef struct FdnHandler
{
	int			channel;
	Oid			handler;
	Oid			owner;
	char	   *sql;			/* CALL or SELECT of the handler */
} FdnHandler;

typedef struct FdnNote
{
	int			channel;		/* -1: the handlers changed */
	char	   *payload;
} FdnNote;

static FdnHandler *handler_list = NULL;
static int	nhandlers = 0;

/*
 * Read foundation.channel_handlers into handler_list (in cxt), with a new
 * snapshot (not read-only SPI, which would reuse the portal's old one), as
 * foundation's own SQL: schema-qualified under the pinned search path, so
 * no role's function or operator can stand in for ours (the dispatcher
 * runs as the bootstrap superuser).  The calls' SQL is built here from the
 * catalog's names, quoted.
 */
static void
load_handlers(MemoryContext cxt)
{
	FdnPrivState priv;
	uint64		i;
	bool		isnull;
	MemoryContext old;

	MemoryContextReset(cxt);
	old = MemoryContextSwitchTo(cxt);
	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT h.channel, h.handler, h.owner, p.prokind OPERATOR(pg_catalog.=) 'p',"
				 " n.nspname, p.proname"
				 " FROM foundation.channel_handlers h"
				 " JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) h.handler"
				 " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace"
				 " ORDER BY h.created_at, h.handler",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	nhandlers = (int) SPI_processed;
	handler_list = palloc0(sizeof(FdnHandler) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		is_proc = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));

		handler_list[i].channel = fdn_channel_index(TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull)));
		handler_list[i].handler = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		handler_list[i].owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		handler_list[i].sql =
			psprintf("%s %s($1, $2)", is_proc ? "CALL" : "SELECT",
					 quote_qualified_identifier(SPI_getvalue(tup, desc, 5),
												SPI_getvalue(tup, desc, 6)));
	}
	fdn_priv_end(&priv);
	MemoryContextSwitchTo(old);
}

/* Dropped messages since the last warning, per channel. */
static int64 dropped_counts[FDN_NCHANNELS];

/*
 * Move every notification the server has sent into the backlog: read the
 * socket until nothing more is waiting, so that the server's queue never
 * waits on our handlers.  Past foundation.dispatcher_max_backlog messages
 * waiting, a message is dropped and counted instead: a slow handler may
 * lose messages, but it cannot exhaust the server's memory.  A change of
 * the handlers is never dropped.
 */
static void
drain_notifications(PGconn *conn, List **backlog, int head, MemoryContext cxt)
{
	struct pollfd pfd;
	int			c;
	bool		dropped = false;

	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	do
	{
		PGnotify   *n;

		if (!PQconsumeInput(conn))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("foundation dispatcher lost its listening connection: %s",
							PQerrorMessage(conn)),
					 errhint("The supervisor restarts the dispatcher.")));
		while ((n = PQnotifies(conn)) != NULL)
		{
			int			channel = strcmp(n->relname, FDN_HANDLERS_TOPIC) == 0 ? -1 :
				fdn_topic_index(n->relname);

			if (channel >= 0 &&
				list_length(*backlog) - head >= fdn_dispatcher_max_backlog)
			{
				dropped_counts[channel]++;
				fdn_stats_dropped(channel);
				dropped = true;
			}
			else if (channel >= -1)
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);
				FdnNote    *note = palloc(sizeof(FdnNote));

				note->channel = channel;
				note->payload = pstrdup(n->extra);
				*backlog = lappend(*backlog, note);
				MemoryContextSwitchTo(old);
			}
			PQfreemem(n);
		}
		pfd.revents = 0;
	} while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN));

	/* One warning per drain, not one per message. */
	if (dropped)
		for (c = 0; c < FDN_NCHANNELS; c++)
			if (dropped_counts[c] > 0)
			{
				ereport(WARNING,
						(errmsg("foundation dispatcher dropped " INT64_FORMAT " messages on %s: %d are waiting for the handlers",
								dropped_counts[c], fdn_channel_names[c],
								list_length(*backlog) - head),
						 errdetail("The handlers do not keep up with the messages; \"foundation.dispatcher_max_backlog\" is %d.",
								   fdn_dispatcher_max_backlog),
						 errhint("Make the handlers faster, or raise \"foundation.dispatcher_max_backlog\"; foundation.channel_stats.dropped counts what was lost.")));
				dropped_counts[c] = 0;
			}
}

/*
 * Handled messages stay in the backlog's memory until the backlog empties.
 * A dispatcher that is never idle would never free them, so past this
 * many it moves the waiting ones to a new context and frees the old one.
 */
#define FDN_BACKLOG_COMPACT 10000

static List *
compact_backlog(List *backlog, int head, MemoryContext volatile *cxt)
{
	MemoryContext fresh = AllocSetContextCreate(TopMemoryContext, "foundation backlog",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(fresh);
	List	   *rest = NIL;
	int			i;

	for (i = head; i < list_length(backlog); i++)
	{
		FdnNote    *from = list_nth(backlog, i);
		FdnNote    *note = palloc(sizeof(FdnNote));

		note->channel = from->channel;
		note->payload = pstrdup(from->payload);
		rest = lappend(rest, note);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(*cxt);
	*cxt = fresh;
	return rest;
}

typedef struct FdnCallArgs
{
	FdnHandler *h;
	Datum		message;
	const char *payload;
} FdnCallArgs;

/* Inside fdn_user_call: run one handler. */
static void
call_handler_cb(void *arg)
{
	FdnCallArgs *a = arg;
	Datum		values[2];
	int			rc;

	values[0] = CStringGetTextDatum(fdn_channel_names[a->h->channel]);
	values[1] = a->message;
	rc = SPI_execute_with_args(a->h->sql, 2, (Oid[]) {TEXTOID, JSONBOID}, values,
							   NULL, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute failed for %s: %s", a->h->sql,
			 SPI_result_code_string(rc));
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Call one handler as its owner, restricted, timed; its error is logged
 * and counted, not raised.
 */
static void
call_handler(FdnHandler *h, Datum message, int64 seq, const char *payload)
{
	FdnCallArgs args = {h, message, payload};
	FdnUserCall call = {h->owner, fdn_handler_timeout_ms, call_handler_cb, &args, false};
	ErrorData  *edata = fdn_user_call(&call);

	fdn_stats_handler_call(h->channel, edata != NULL, call.timed_out);
	if (edata == NULL)
		return;
	fdn_stats_error(h->channel);
	ereport(WARNING,
			(errmsg("foundation handler %s failed on %s message " INT64_FORMAT ": %s",
					format_procedure(h->handler), fdn_channel_names[h->channel],
					seq, edata->message),
			 errdetail("Payload: %s", fdn_clip(payload, 200)),
			 call.timed_out ?
			 errhint("\"foundation.handler_timeout\" is %d ms; the other handlers and later messages are not affected.",
					 fdn_handler_timeout_ms) :
			 errhint("The other handlers and later messages are not affected.")));
	FreeErrorData(edata);
}

typedef struct FdnDecodeArgs
{
	const char *payload;
	Datum		message;
} FdnDecodeArgs;

static void
decode_cb(void *arg)
{
	FdnDecodeArgs *a = arg;

	a->message = JsonbPGetDatum(fdn_decode_payload(a->payload));
}

/* Decode a payload; a bad one is logged and counted, not fatal. */
static bool
decode_for_dispatch(int channel, const char *payload, int64 seq,
						Datum *message)
{
	FdnDecodeArgs args = {payload, (Datum) 0};
	ErrorData  *edata = fdn_try_subxact(decode_cb, &args);

	if (edata != NULL)
	{
		fdn_stats_error(channel);
		ereport(WARNING,
				(errmsg("foundation dispatcher could not decode %s message " INT64_FORMAT ": %s",
						fdn_channel_names[channel], seq, edata->message),
				 errdetail("Payload: %s", fdn_clip(payload, 200))));
		return false;
	}
	*message = args.message;
	return true;
}

/*
 * The dispatcher: a procedure in C, run by a supervised child (so it may
 * commit), CALL foundation.handler_dispatcher('{}').
 */
Datum
fdn_handler_dispatcher(PG_FUNCTION_ARGS)
{
	MemoryContext handlers_cxt;
	MemoryContext volatile backlog_cxt;
	MemoryContext msg_cxt;
	PGconn	   *conn;
	PGresult   *res;
	List	   *backlog = NIL;
	volatile int head = 0;
	volatile int64 seq = 0;
	MemoryContext oldcxt;
	char	   *conninfo = fdn_local_conninfo("foundation dispatcher listener");
	char	   *listen_setting = pstrdup(fdn_dispatcher_conninfo ? fdn_dispatcher_conninfo : "");

	/* Its settings apply on reload. */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	oldcxt = CurrentMemoryContext;
	handlers_cxt = AllocSetContextCreate(TopMemoryContext, "foundation handlers",
										 ALLOCSET_DEFAULT_SIZES);
	backlog_cxt = AllocSetContextCreate(TopMemoryContext, "foundation backlog",
										ALLOCSET_DEFAULT_SIZES);
	msg_cxt = AllocSetContextCreate(TopMemoryContext, "foundation message",
									ALLOCSET_DEFAULT_SIZES);

	conn = fdn_connectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("foundation dispatcher could not connect to listen: %s",
						PQerrorMessage(conn)),
				 errdetail("Connection string: %s", conninfo),
				 errhint("Allow that role to connect over the local socket in pg_hba.conf, or set \"foundation.dispatcher_conninfo\".")));
	res = PQexec(conn, "LISTEN \"foundation:control\"; LISTEN \"foundation:events\";"
				 " LISTEN \"foundation:data\"; LISTEN \"foundation:telemetry\";"
				 " LISTEN \"" FDN_HANDLERS_TOPIC "\"");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("foundation dispatcher could not LISTEN: %s",
						PQerrorMessage(conn))));
	PQclear(res);

	/*
	 * Handlers subscribed before we listened are in the table; read it in
	 * a transaction begun after LISTEN, so none is missed: later changes
	 * arrive as notifications.
	 */
	SPI_commit();
	load_handlers(handlers_cxt);
	SPI_commit();
	before_shmem_exit(clear_dispatcher_pid, (Datum) 0);
	set_dispatcher_pid(MyProcPid);
	pgstat_report_activity(STATE_IDLE, "foundation dispatcher: waiting");

	PG_TRY();
	{
		for (;;)
		{
			int			done = 0;

			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			drain_notifications(conn, &backlog, head, backlog_cxt);
			if (head >= FDN_BACKLOG_COMPACT && head >= list_length(backlog) / 2)
			{
				/* Busy for long: free what was handled, keep the rest. */
				backlog = compact_backlog(backlog, head, &backlog_cxt);
				head = 0;
			}
			if (head >= list_length(backlog))
			{
				/* All handled: forget the backlog and its memory. */
				backlog = NIL;
				head = 0;
				MemoryContextReset(backlog_cxt);

				/*
				 * Our connection listens where the setting said when we
				 * started; a reload that changed it (here or at a commit,
				 * where a child also reloads) restarts us on the new one,
				 * once nothing we read waits for its handlers.  The
				 * supervisor starts us again at once, and a new dispatcher
				 * reads its handlers after it listens, like after a crash.
				 */
				if (strcmp(listen_setting,
						   fdn_dispatcher_conninfo ? fdn_dispatcher_conninfo : "") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_ADMIN_SHUTDOWN),
							 errmsg("foundation dispatcher restarts to listen with the new \"foundation.dispatcher_conninfo\""),
							 errhint("Messages committed until the new dispatcher listens do not reach the handlers.")));
				(void) WaitLatchOrSocket(MyLatch,
										 WL_LATCH_SET | WL_SOCKET_READABLE |
										 WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
										 PQsocket(conn), 1000, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}

			/* Drain before each message: the queue must not wait on us. */
			while (head < list_length(backlog) && done < 100)
			{
				FdnNote    *note;
				int			i;
				Datum		message;

				if (done > 0)
					drain_notifications(conn, &backlog, head, backlog_cxt);
				/* A queue read from the head: no memmove per message. */
				note = list_nth(backlog, head++);
				done++;
				if (note->channel == -1)
				{
					load_handlers(handlers_cxt);
					SPI_commit();
					continue;
				}
				if (note->channel < 0)
					continue;
				seq++;
				for (i = 0; i < nhandlers; i++)
					if (handler_list[i].channel == note->channel)
						break;
				if (i == nhandlers)
					continue;
				pgstat_report_activity(STATE_RUNNING, "foundation dispatcher: calling handlers");
				MemoryContextSwitchTo(msg_cxt);
				if (decode_for_dispatch(note->channel, note->payload, seq, &message))
				{
					for (; i < nhandlers; i++)
						if (handler_list[i].channel == note->channel)
						{
							call_handler(&handler_list[i], message, seq,
											 note->payload);
							SPI_commit();
						}
				}
				else
					SPI_commit();
				MemoryContextSwitchTo(oldcxt);
				MemoryContextReset(msg_cxt);
				pgstat_report_activity(STATE_IDLE, "foundation dispatcher: waiting");
			}
		}
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The dispatcher's pid once it listens, else NULL: messages committed from
 * then on reach the handlers.
 */
Datum
fdn_dispatcher_pid(PG_FUNCTION_ARGS)
{
	pid_t		pid;

	fdn_require_preload();
	pid = dispatcher_pid();
	if (pid == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(pid);
}
