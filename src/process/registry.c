/*-------------------------------------------------------------------------
 *
 * process/registry.c
 *	  The registry's raw layer (Horde.Registry): register, unregister,
 *	  lookup.
 *
 * Names are unique in foundation.registry.  A name registered for a child
 * carries its child_id, so the supervisor moves it to the child's new pid
 * on restart and the name goes when the child goes.  Any other name lasts
 * while its process lives: lookups check liveness and the supervisor
 * removes the rows of dead pids.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/databases.h"
#include "core/foundation.h"
#include "core/names.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "process/registry.h"


PG_FUNCTION_INFO_V1(fdn_register);
PG_FUNCTION_INFO_V1(fdn_unregister);
PG_FUNCTION_INFO_V1(fdn_pid_alive);
PG_FUNCTION_INFO_V1(fdn_registry_changed);

/* Attribute numbers in foundation.registry. */
#define Anum_registry_pid		2
#define Anum_registry_node		3
#define Anum_registry_child_id	7

bool
fdn_pid_is_alive(int32 pid)
{
	return pid > 0 && BackendPidGetProc(pid) != NULL;
}

Datum
fdn_pid_alive(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(fdn_pid_is_alive(PG_GETARG_INT32(0)));
}

/*
 * The registry's table and index OIDs, looked up once per backend and
 * forgotten when a relcache invalidation says either may have changed
 * (DROP EXTENSION, for one): lookups are the hot path.
 */
static Oid	registry_relid = InvalidOid;
static Oid	registry_idxid = InvalidOid;
static bool registry_callback = false;

/*
 * A backend-local cache of names, as pg_cron caches its job table: a
 * statement trigger on foundation.registry sends a relcache invalidation
 * on every change, which empties this cache in every backend (and in ours
 * at once, for our own uncommitted changes; at abort, for undone ones).
 */
typedef struct FdnNameEntry
{
	char		name[FDN_MAX_NAME_LEN + 1]; /* hash key */
	bool		found;
	int32		pid;
	bool		local;			/* this node's pid: liveness can be checked */
	int64		child_id;
} FdnNameEntry;

static HTAB *name_cache = NULL;

/*
 * The registry's OIDs as last looked up (its table and the primary key
 * index its trigger names).  Unlike registry_relid they are not forgotten
 * by an invalidation, so that a later one still empties a cache refilled
 * meanwhile.
 */
static Oid	registry_known_relid = InvalidOid;
static Oid	registry_known_idxid = InvalidOid;

static void
registry_invalidate(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == registry_known_relid ||
		relid == registry_known_idxid ||
		relid == registry_relid || relid == registry_idxid)
	{
		registry_relid = InvalidOid;
		registry_idxid = InvalidOid;
		if (name_cache)
		{
			hash_destroy(name_cache);
			name_cache = NULL;
		}
	}
}

/*
 * The registry's statement trigger: tell every backend's cache.
 *
 * The invalidation names the registry's primary key index, not the table:
 * registry_invalidate empties the caches on either, but an invalidation of
 * the table also throws away every cached plan that reads or writes it, in
 * every backend (the supervisor's statements on the registry, the foreign
 * keys' cascades), which were then planned again after each start and
 * stop.  Plans do not depend on the index's relcache entry, so they stay.
 * Our own uncommitted change reaches our cache at the next command, and an
 * abort undoes it, exactly as with the table.
 */
Datum
fdn_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			idxid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "fdn_registry_changed: not called as a trigger");
	idxid = RelationGetPrimaryKeyIndex(trigdata->tg_relation);
	CacheInvalidateRelcacheByRelid(OidIsValid(idxid) ? idxid :
								   RelationGetRelid(trigdata->tg_relation));
	/*
	 * A name registered: a supervisor must run to sweep those of sessions
	 * that end, at its timed passes (an ending session wakes nobody), so
	 * the change itself brings no pass.
	 */
	fdn_mark_work_at_xact_end();
	return PointerGetDatum(NULL);
}

static void
registry_oids(Oid *relid, Oid *idxid)
{
	if (!OidIsValid(registry_relid))
	{
		Oid			nsp = get_namespace_oid("foundation", false);

		if (!registry_callback)
		{
			CacheRegisterRelcacheCallback(registry_invalidate, (Datum) 0);
			registry_callback = true;
		}
		registry_idxid = get_relname_relid("registry_pkey", nsp);
		registry_relid = get_relname_relid("registry", nsp);
		registry_known_relid = registry_relid;
		registry_known_idxid = registry_idxid;
		if (!OidIsValid(registry_relid) || !OidIsValid(registry_idxid))
		{
			registry_relid = InvalidOid;
			elog(ERROR, "foundation.registry is missing");
		}
	}
	*relid = registry_relid;
	*idxid = registry_idxid;
}

static bool registry_scan(const char *name, int32 *pid, bool *local,
							  int64 *child_id);

bool
fdn_registry_find(const char *name, bool latest, int32 *pid, bool *alive,
				  int64 *child_id)
{
	FdnNameEntry *entry = NULL;
	FdnNameEntry fresh = {0};

	*child_id = 0;
	*alive = false;
	/* Longer than any name can be: not there. */
	if (strlen(name) > FDN_MAX_NAME_LEN)
		return false;

	/* Other sessions' commits since our last look reach the cache now. */
	AcceptInvalidationMessages();
	if (name_cache != NULL && !latest)
		entry = hash_search(name_cache, name, HASH_FIND, NULL);
	if (entry == NULL)
	{
		/*
		 * Read the latest committed state (and our own changes); any commit
		 * after it sends an invalidation we see on our next look.  The scan
		 * may itself empty the cache, so create and fill it afterwards.
		 */
		fresh.found = registry_scan(name, &fresh.pid, &fresh.local,
										&fresh.child_id);
		if (name_cache == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = FDN_MAX_NAME_LEN + 1;
			ctl.entrysize = sizeof(FdnNameEntry);
			name_cache = hash_create("foundation names", 64, &ctl,
										 HASH_ELEM | HASH_STRINGS);
		}
		entry = hash_search(name_cache, name, HASH_ENTER, NULL);
		entry->found = fresh.found;
		entry->pid = fresh.pid;
		entry->local = fresh.local;
		entry->child_id = fresh.child_id;
	}
	if (!entry->found)
		return false;
	*pid = entry->pid;
	*child_id = entry->child_id;
	*alive = !entry->local || fdn_pid_is_alive(entry->pid);
	return true;
}

/*
 * Find a name with a direct index scan: sets *pid, *local (the row is this
 * node's) and *child_id; false when there is no such name.
 */
static bool
registry_scan(const char *name, int32 *pid, bool *local, int64 *child_id)
{
	Snapshot	snapshot;
	Oid			relid;
	Oid			idxid;
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	bool		found = false;

	registry_oids(&relid, &idxid);
	rel = table_open(relid, AccessShareLock);
	idx = index_open(idxid, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(name));
	key.sk_collation = idx->rd_indcollation[0];

	/* The latest state, after table_open processed any invalidation. */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		node;

		*pid = DatumGetInt32(slot_getattr(slot, Anum_registry_pid, &isnull));
		node = slot_getattr(slot, Anum_registry_node, &isnull);
		*child_id = 0;
		{
			Datum		c = slot_getattr(slot, Anum_registry_child_id, &isnull);

			if (!isnull)
				*child_id = DatumGetInt64(c);
		}
		found = true;
		/* Only this node's pids can be checked here. */
		*local = strcmp(TextDatumGetCString(node), fdn_node()) == 0;
	}
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

void
fdn_register_name(const char *name, int32 pid, Jsonb *metadata)
{
	PGPROC	   *proc;
	FdnPrivState priv;
	Oid			types[6] = {TEXTOID, INT4OID, TEXTOID, JSONBOID, OIDOID, INT8OID};
	Datum		values[6];
	char		nulls[6] = "      ";
	int			i;
	Oid			caller = GetUserId();

	fdn_check_name("a registry name", name);

	/*
	 * The seed's metadata is a map, and the supervisor updates its "pid"
	 * when a child restarts: only an object can have one.
	 */
	if (!JB_ROOT_IS_OBJECT(metadata))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("registry metadata must be a JSON object"),
				 errhint("Pass an object such as '{\"role\": \"web\"}', or leave it out for '{}'.")));
	proc = BackendPidGetProc(pid);
	if (proc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no live process with pid %d", pid),
				 errhint("Register a pid from pg_stat_activity or foundation.children.")));
	if (!has_privs_of_role(caller, proc->roleId))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to register pid %d", pid),
				 errdetail("The process runs as another role."),
				 errhint("Register only your own processes.")));

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(pid);
	values[2] = CStringGetTextDatum(fdn_node());
	values[3] = JsonbPGetDatum(metadata);
	values[4] = ObjectIdGetDatum(caller);
	/* A child's name follows it across restarts. */
	nulls[5] = 'n';
	if (fdn_shared != NULL)
	{
		/* One catalog lookup, not one per slot (foundation.max_children). */
		Oid			ext = fdn_current_extension();

		for (i = 0; i < fdn_shared->nslots; i++)
			if (fdn_shared->slots[i].pid == pid &&
				fdn_slot_mine(&fdn_shared->slots[i], ext) &&
				fdn_slot_alive(&fdn_shared->slots[i]))
			{
				values[5] = Int64GetDatum(fdn_shared->slots[i].child_id);
				nulls[5] = ' ';
			}
	}

	fdn_priv_begin(&priv);

	/*
	 * ON CONFLICT waits for a concurrent registration of the same name to
	 * end, so two sessions cannot both think they won.
	 */
	fdn_spi_exec("INSERT INTO foundation.registry (name, pid, node, metadata, owner, child_id)"
				 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
				 6, types, values, nulls, SPI_OK_INSERT);
	if (SPI_processed == 0)
	{
		bool		isnull;
		int32		holder;
		bool		is_child;

		fdn_spi_exec("SELECT pid, child_id IS NOT NULL, node = $2 FROM foundation.registry"
					 " WHERE name = $1 FOR UPDATE",
					 2, (Oid[]) {TEXTOID, TEXTOID}, (Datum[]) {values[0], values[2]},
					 NULL, SPI_OK_SELECT);
		holder = DatumGetInt32(fdn_spi_getdatum(0, 1, &isnull));
		is_child = DatumGetBool(fdn_spi_getdatum(0, 2, &isnull));

		/* A dead process's name is free; a child's is kept while it restarts. */
		if (!is_child && DatumGetBool(fdn_spi_getdatum(0, 3, &isnull)) &&
			!fdn_pid_is_alive(holder))
			fdn_spi_exec("UPDATE foundation.registry SET pid = $2, node = $3, metadata = $4,"
						 " owner = $5, child_id = $6, registered_at = now() WHERE name = $1",
						 6, types, values, nulls, SPI_OK_UPDATE);
		else
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("name \"%s\" is already registered to pid %d",
							name, holder),
					 errhint("SELECT * FROM foundation.lookup(%s) shows it; SELECT foundation.unregister(%s) frees it.",
							 quote_literal_cstr(name), quote_literal_cstr(name))));
	}
	fdn_priv_end(&priv);
}

Datum
fdn_register(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		fdn_null_arg_error("name, pid and metadata",
						   "Call foundation.register('name', pid) or pass '{}' as metadata.");
	fdn_register_name(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_INT32(1),
					  PG_GETARG_JSONB_P(2));
	PG_RETURN_VOID();
}

Datum
fdn_unregister(PG_FUNCTION_ARGS)
{
	FdnPrivState priv;
	Datum		values[1];
	bool		found;
	Oid			owner = InvalidOid;
	bool		isnull;

	if (PG_ARGISNULL(0))
		fdn_null_arg_error("name",
						   "Pass the name given to foundation.register.");
	values[0] = PointerGetDatum(PG_GETARG_TEXT_PP(0));

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT owner FROM foundation.registry WHERE name = $1 FOR UPDATE",
				 1, (Oid[]) {TEXTOID}, values, NULL, SPI_OK_SELECT);
	found = SPI_processed > 0;
	if (found)
		owner = DatumGetObjectId(fdn_spi_getdatum(0, 1, &isnull));
	if (found && !has_privs_of_role(priv.save_userid, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to unregister \"%s\"",
						text_to_cstring(PG_GETARG_TEXT_PP(0))),
				 errdetail("The name was registered by role \"%s\".",
						   GetUserNameFromId(owner, false)),
				 errhint("Only its owner or a superuser can unregister it.")));
	if (found)
		fdn_spi_exec("DELETE FROM foundation.registry WHERE name = $1",
					 1, (Oid[]) {TEXTOID}, values, NULL, SPI_OK_DELETE);
	fdn_priv_end(&priv);
	PG_RETURN_BOOL(found);
}
