/*-------------------------------------------------------------------------
 *
 * process/singleton_start.c
 *	  Starting a named singleton on this node: start_child, then register,
 *	  one starter per name at a time.  Used by the facade's start_singleton
 *	  and by every part of foundation that starts one (agents, the handler
 *	  dispatcher, the relay, cluster placements).
 *
 * Intentionally leaky: a short combination of the raw layer (start_child,
 * register, lookup), reporting each raw step at DEBUG1 and naming the raw
 * call in its hints.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/lock_classes.h"
#include "core/names.h"
#include "core/spi_util.h"
#include "process/child_ops.h"
#include "process/registry.h"
#include "process/singleton_start.h"


/*
 * The singletons foundation starts itself, as the bootstrap superuser
 * (handlers.c, relay.c): the only (name, module) pairs that may use a
 * reserved name (process/child_ops.c, fdn_check_name).
 */
static const struct
{
	const char *name;
	const char *module;
}			own_singletons[] =
{
	{"foundation:dispatcher", "foundation.handler_dispatcher"},
	{"foundation:relay", "foundation.cluster_relay"},
};


/* Build the child spec exactly as the seed does, as jsonb. */
static Jsonb *
singleton_spec(const char *id, const char *module, Jsonb *args,
			   const char *restart, const char *database)
{
	JsonbParseState *state = NULL;
	JsonbValue	k;
	JsonbValue	v;
	JsonbValue *res;

#define PUSH_STR(s_) \
	do { v.type = jbvString; v.val.string.val = (char *) (s_); \
		 v.val.string.len = strlen(s_); pushJsonbValue(&state, WJB_VALUE, &v); } while (0)
#define PUSH_KEY(s_) \
	do { k.type = jbvString; k.val.string.val = (char *) (s_); \
		 k.val.string.len = strlen(s_); pushJsonbValue(&state, WJB_KEY, &k); } while (0)

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("id");
	PUSH_STR(id);
	PUSH_KEY("start");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("module");
	PUSH_STR(module);
	PUSH_KEY("args");
	v.type = jbvBinary;
	v.val.binary.data = &args->root;
	v.val.binary.len = VARSIZE(args);
	pushJsonbValue(&state, WJB_VALUE, &v);
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PUSH_KEY("restart");
	PUSH_STR(restart);
	if (database != NULL)
	{
		PUSH_KEY("database");
		PUSH_STR(database);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
#undef PUSH_STR
#undef PUSH_KEY
	return JsonbValueToJsonb(res);
}

/*
 * Serialize start_singleton per name until the caller's transaction ends.
 * The tag is of foundation's own class (lock_classes.h): no key a user can
 * pass to pg_advisory_lock reaches it, so no user can hold up a start.
 */
static void
lock_singleton_name(const char *name)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) name,
										strlen(name), 0);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 FDN_LOCK_CLASS_SINGLETON);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Is this foundation starting one of its own singletons? */
static bool
is_own_singleton(const char *name, const char *module)
{
	size_t		i;

	if (name == NULL || GetUserId() != BOOTSTRAP_SUPERUSERID)
		return false;
	for (i = 0; i < lengthof(own_singletons); i++)
		if (strcmp(own_singletons[i].name, name) == 0 &&
			strcmp(own_singletons[i].module, module) == 0)
			return true;
	return false;
}

/*
 * start_child, with any error's hint pointing at the raw call.
 */
static pid_t
start_child_for_facade(Jsonb *spec, const char *what)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	pid_t		pid = 0;

	PG_TRY();
	{
		(void) fdn_start_child_spec(spec, &pid);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = psprintf("failed to start singleton %s: %s",
								  what, edata->message);
		edata->hint = psprintf("%s%sYou can call foundation.start_child(%s) directly for more control.",
							   edata->hint ? edata->hint : "",
							   edata->hint ? " " : "",
							   quote_literal_cstr(JsonbToCString(NULL, &spec->root,
																 VARSIZE(spec))));
		ReThrowError(edata);
	}
	PG_END_TRY();
	return pid;
}

typedef struct FdnRegisterArgs
{
	const char *name;
	pid_t		pid;
	Jsonb	   *metadata;
} FdnRegisterArgs;

static void
register_cb(void *arg)
{
	FdnRegisterArgs *a = arg;

	fdn_register_name(a->name, a->pid, a->metadata);
}

/* Register in a subtransaction: a failure is a warning, as in the seed. */
static void
register_for_facade(const char *name, pid_t pid, const char *module)
{
	FdnRegisterArgs args;
	ErrorData  *edata;

	{
		/* The seed's metadata: {pid, node, started_at, module}. */
		JsonbParseState *state = NULL;
		JsonbValue	k;
		JsonbValue	v;
		JsonbValue *res;
		const char *keys[4] = {"pid", "node", "started_at", "module"};
		int			i;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		for (i = 0; i < 4; i++)
		{
			k.type = jbvString;
			k.val.string.val = (char *) keys[i];
			k.val.string.len = strlen(keys[i]);
			pushJsonbValue(&state, WJB_KEY, &k);
			if (i == 0 || i == 2)
			{
				int64		n = (i == 0) ? pid :
					GetCurrentTimestamp() / USECS_PER_SEC +
					(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

				v.type = jbvNumeric;
				v.val.numeric = int64_to_numeric(n);
			}
			else
			{
				const char *s = (i == 1) ? fdn_node() : module;

				v.type = jbvString;
				v.val.string.val = (char *) s;
				v.val.string.len = strlen(s);
			}
			pushJsonbValue(&state, WJB_VALUE, &v);
		}
		res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

		ereport(DEBUG1,
				(errmsg_internal("  Registering with foundation.register(%s, %d, ...)",
								 quote_literal_cstr(name), (int) pid)));

		args.name = name;
		args.pid = pid;
		args.metadata = JsonbValueToJsonb(res);
		edata = fdn_try_subxact(register_cb, &args);
		if (edata == NULL)
			ereport(DEBUG1,
					(errmsg_internal(PM "Singleton %s started and registered",
									 name)));
		else
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("singleton started but registration failed: %s",
							edata->message),
					 errdetail("Process %d is running but not discoverable via foundation.lookup_singleton.",
							   (int) pid),
					 errhint("Call foundation.register(%s, %d) once the name is free.",
							 quote_literal_cstr(name), (int) pid)));
	}
}

static pid_t
singleton_start_checked(const char *module, Jsonb *args, const char *name,
						const char *restart, const char *database)
{
	Jsonb	   *spec;
	pid_t		pid;
	int64		child_id;

	if (name)
		fdn_check_name("a singleton name", name);
	fdn_require_preload();

	ereport(DEBUG1,
			(errmsg_internal(PM "Starting singleton %s", name ? name : module)));

	if (name)
	{
		int32		existing;
		bool		alive;

		/*
		 * One starter per name at a time; a later one sees its result, with
		 * a fresh snapshot since it may have waited for the lock.  A name
		 * tied to a child is taken even while that child restarts.
		 */
		lock_singleton_name(name);
		if (fdn_registry_find(name, true, &existing, &alive, &child_id) &&
			(alive || child_id != 0))
		{
			ereport(DEBUG1,
					(errmsg_internal("Singleton %s already running (pid %d)",
									 name, existing)));
			return existing;
		}
	}

	spec = singleton_spec(name ? name : module, module, args, restart, database);
	ereport(DEBUG1,
			(errmsg_internal("  Child spec: %s",
							 JsonbToCString(NULL, &spec->root, VARSIZE(spec)))));
	ereport(DEBUG1, (errmsg_internal("  Using foundation.start_child")));
	pid = start_child_for_facade(spec, name ? name : module);

	if (name)
		register_for_facade(name, pid, module);
	return pid;
}

/*
 * start_singleton for every caller: SQL, agents, cluster assignments and
 * foundation's own singletons.  A reserved name (process/child_ops.c) passes the
 * name checks of the spec, the child and the registry only for those own
 * singletons, started by foundation as the bootstrap superuser.
 */
pid_t
fdn_singleton_start(const char *module, Jsonb *args, const char *name,
					const char *restart)
{
	return fdn_singleton_start_in(module, args, name, restart, NULL);
}

pid_t
fdn_singleton_start_in(const char *module, Jsonb *args, const char *name,
					   const char *restart, const char *database)
{
	volatile pid_t pid = 0;

	if (!is_own_singleton(name, module))
		return singleton_start_checked(module, args, name, restart, database);

	fdn_allow_reserved_name(name);
	PG_TRY();
	{
		pid = singleton_start_checked(module, args, name, restart, database);
	}
	PG_FINALLY();
	{
		fdn_allow_reserved_name(NULL);
	}
	PG_END_TRY();
	return pid;
}

pid_t
fdn_ensure_own_singleton(const char *name, const char *module)
{
	Oid			save_userid;
	int			save_sec;
	pid_t		pid;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	pid = fdn_singleton_start(module, fdn_jsonb_from_text("{}"), name,
							  "permanent");
	SetUserIdAndSecContext(save_userid, save_sec);
	return pid;
}
