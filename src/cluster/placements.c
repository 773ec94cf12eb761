/*-------------------------------------------------------------------------
 *
 * cluster/placements.c
 *	  The cluster singletons assigned to this member: starting them (once
 *	  their placement's signature is checked), stopping them, and giving
 *	  each its lease (deadline and fencing token) in its child slot.
 *
 * The supervisor calls these from its membership pass (cluster/members.c),
 * in its transaction: a child it starts waits for that transaction to
 * commit before it runs its module, so the lease written into its slot
 * here is there when the child arms its fence (process/child_fence.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "core/jsonb_util.h"
#include "core/remote.h"
#include "core/shmem.h"
#include "core/spi_util.h"
#include "process/child_ops.h"
#include "process/registry.h"
#include "process/singleton_start.h"
#include "cluster/members.h"
#include "cluster/members_singletons.h"
#include "cluster/placements.h"

typedef struct FdnLocalSingleton
{
	char	   *name;
	int64		epoch;
	int64		child_id;
	bool		keep;
} FdnLocalSingleton;

static FdnLocalSingleton *
local_singletons(int *n)
{
	FdnPrivState priv;
	FdnLocalSingleton *v;
	bool		isnull;
	int			i;

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT name, epoch, child_id FROM foundation.cluster_local ORDER BY name",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	*n = (int) SPI_processed;
	v = palloc0(sizeof(FdnLocalSingleton) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		v[i].name = TextDatumGetCString(fdn_spi_getdatum(i, 1, &isnull));
		v[i].epoch = DatumGetInt64(fdn_spi_getdatum(i, 2, &isnull));
		v[i].child_id = DatumGetInt64(fdn_spi_getdatum(i, 3, &isnull));
	}
	fdn_priv_end(&priv);
	return v;
}


static void
stop_local_cb(void *arg)
{
	FdnLocalSingleton *s = arg;
	FdnPrivState priv;

	(void) fdn_terminate_child_id(s->child_id);
	fdn_priv_begin(&priv);
	fdn_spi_exec("DELETE FROM foundation.cluster_local WHERE name = $1",
				 1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(s->name)},
				 NULL, SPI_OK_DELETE);
	fdn_priv_end(&priv);
}

static void
stop_local(FdnLocalSingleton *s, const char *why)
{
	ErrorData  *edata;

	elog(LOG, "foundation: stopping cluster singleton \"%s\" (epoch " INT64_FORMAT "): %s",
		 s->name, s->epoch, why);
	edata = fdn_try_subxact(stop_local_cb, s);
	if (edata)
		ereport(WARNING,
				(errmsg("foundation could not stop cluster singleton \"%s\": %s",
						s->name, edata->message)));
}

/* Stop every cluster singleton here (fencing). */
void
fdn_stop_local_singletons(const char *why)
{
	FdnLocalSingleton *v;
	int			n;
	int			i;

	v = local_singletons(&n);
	for (i = 0; i < n; i++)
		stop_local(&v[i], why);
}

/*
 * Write a lease deadline into the slot of every child that has a lease;
 * with keep_passed, not where the deadline has already passed.
 */
static void
write_leases(uint64 deadline, bool keep_passed)
{
	uint64		now = fdn_monotonic_ns();
	int			i;

	LWLockAcquire(fdn_shared->lock, LW_SHARED);
	for (i = 0; i < fdn_shared->nslots; i++)
	{
		FdnChildSlot *slot = &fdn_shared->slots[i];

		if (slot->child_id == 0 || slot->fence_token == 0)
			continue;
		if (keep_passed && pg_atomic_read_u64(&slot->lease_deadline) <= now)
			continue;
		pg_atomic_write_u64(&slot->lease_deadline, deadline);
	}
	LWLockRelease(fdn_shared->lock);
}

/*
 * Extend the lease of every child that has one (after a renewal).  A
 * deadline that has passed is never extended: that child was fenced, or is
 * stopping itself, and a paused one must not wake up to a valid lease and
 * commit.
 */
void
fdn_extend_leases(uint64 deadline)
{
	write_leases(deadline, true);
}

/*
 * End the lease of every child that has one, at once (fencing): a child
 * that does not exit on the signal (paused, not scheduled) finds its lease
 * over when it runs again, and commits nothing.
 */
void
fdn_expire_leases(void)
{
	write_leases(1, false);
}

/*
 * Give a cluster singleton's child its lease: this member's deadline, then
 * its token (the child arms its fence when it sees a token).  In the
 * supervisor's transaction that started it, which the child waits for
 * before it runs its module.
 */
static void
stamp_slot(int64 child_id, int64 token, uint64 deadline)
{
	int			index = fdn_slot_find(child_id);
	FdnChildSlot *slot;

	if (index < 0)
		return;
	slot = &fdn_shared->slots[index];
	if (slot->fence_token == token)
		return;
	pg_atomic_write_u64(&slot->lease_deadline, deadline);
	pg_write_barrier();
	slot->fence_token = token;
}

typedef struct FdnStartAssigned
{
	const char *name;
	const char *module;
	Jsonb	   *args;
	const char *restart;
	const char *database;		/* NULL: foundation.database */
	Oid			role;
	int64		epoch;
	uint64		deadline;		/* this member's lease deadline */
} FdnStartAssigned;

static void
start_assigned_cb(void *arg)
{
	FdnStartAssigned *a = arg;
	Oid			save_userid;
	int			save_sec;
	int32		pid;
	bool		alive;
	int64		child_id = 0;
	FdnPrivState priv;

	/* A local singleton of the same name is not ours to adopt. */
	if (fdn_registry_find(a->name, true, &pid, &alive, &child_id) && (alive || child_id != 0))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("the name \"%s\" is taken on this member", a->name),
				 errhint("Stop the local singleton of that name, or rename one of the two.")));

	/* Started as the role that started it, as everywhere in foundation. */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(a->role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	/* in the database it was started from, which need not be this one */
	(void) fdn_singleton_start_in(a->module, a->args, a->name, a->restart,
								  a->database != NULL &&
								  strcmp(a->database, get_database_name(MyDatabaseId)) != 0 ?
								  a->database : NULL);
	SetUserIdAndSecContext(save_userid, save_sec);

	if (!fdn_registry_find(a->name, true, &pid, &alive, &child_id) || child_id == 0)
		elog(ERROR, "foundation: cluster singleton \"%s\" started but not registered", a->name);
	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.cluster_local (name, epoch, child_id, database)"
				 " VALUES ($1, $2, $3, $4)",
				 4, (Oid[]) {TEXTOID, INT8OID, INT8OID, TEXTOID},
				 (Datum[]) {CStringGetTextDatum(a->name), Int64GetDatum(a->epoch),
				 Int64GetDatum(child_id),
				 a->database ? CStringGetTextDatum(a->database) : (Datum) 0},
				 a->database ? NULL : "   n", SPI_OK_INSERT);
	fdn_priv_end(&priv);
	stamp_slot(child_id, a->epoch, a->deadline);
}

/*
 * Refused placements, each warned about once ("name/epoch/why"): the
 * control database repeats them at every renewal.
 */
static List *refused = NIL;

static void
refuse(const char *name, int64 epoch, const char *why, const char *hint)
{
	char	   *key = psprintf("%s/" INT64_FORMAT "/%s", name, epoch, why);
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, refused)
		if (strcmp(lfirst(lc), key) == 0)
			return;
	if (list_length(refused) >= 1000)
	{
		list_free_deep(refused);	/* forget them: warn again */
		refused = NIL;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	refused = lappend(refused, pstrdup(key));
	MemoryContextSwitchTo(old);
	ereport(WARNING,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("foundation refuses to start cluster singleton \"%s\" (epoch " INT64_FORMAT "): %s",
					name, epoch, why),
			 errhint("%s", hint)));
}

/*
 * Whether this member may start a placement: the control database only
 * stores them, so it must carry the signature that a member's backend made
 * with foundation.cluster_secret for the role that asked, and that role
 * must not be a superuser unless foundation.cluster_allow_superuser_singletons.
 */
static bool
placement_trusted(FdnStartAssigned *sa, const char *owner, const char *signature)
{
	char	   *expected;

	if (fdn_cluster_secret == NULL || fdn_cluster_secret[0] == '\0')
	{
		refuse(sa->name, sa->epoch, "\"foundation.cluster_secret\" is not set on this member",
				   "Set the same \"foundation.cluster_secret\" on every member.");
		return false;
	}
	expected = fdn_placement_signature(sa->name, sa->module, sa->args, sa->restart, owner,
									   sa->database);
	if (signature == NULL || !fdn_secret_equal(signature, expected))
	{
		refuse(sa->name, sa->epoch,
				   signature == NULL ? "its placement is not signed" : "its placement's signature does not match",
				   "Only a member's backend, for the role that called start_singleton, can place a cluster singleton; "
				   "check that every member has the same \"foundation.cluster_secret\", and who can write foundation.cluster_singletons in the control database.");
		return false;
	}
	if (superuser_arg(sa->role) && !fdn_cluster_allow_superuser)
	{
		refuse(sa->name, sa->epoch, psprintf("its owner \"%s\" is a superuser on this member", owner),
				   "Start it as an ordinary role, or set \"foundation.cluster_allow_superuser_singletons\" on every member.");
		return false;
	}
	return true;
}

/* Make what runs here match the assignments; true if anything started. */
bool
fdn_apply_assignments(Jsonb *assignments, uint64 deadline)
{
	FdnLocalSingleton *local;
	int			nlocal;
	int			i;
	int			n = JB_ROOT_COUNT(assignments);
	bool		started = false;

	local = local_singletons(&nlocal);
	for (i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(&assignments->root, i);
		Jsonb	   *a;
		char	   *name;
		char	   *epoch_text;
		int64		epoch;
		int			j;
		bool		have = false;

		if (!fdn_json_is_object(e))
			continue;
		a = JsonbValueToJsonb(e);
		name = fdn_jsonb_field_text(a, "name");
		epoch_text = fdn_jsonb_field_text(a, "epoch");
		if (name == NULL || epoch_text == NULL ||
			!fdn_parse_int64(epoch_text, &epoch))
			continue;			/* not an assignment: nothing to start */
		for (j = 0; j < nlocal; j++)
			if (strcmp(local[j].name, name) == 0 && local[j].epoch == epoch)
				local[j].keep = have = true;
		if (!have)
		{
			FdnStartAssigned sa;
			JsonbValue	args;
			JsonbValue	dbv;
			ErrorData  *edata;
			char	   *owner = fdn_jsonb_field_text(a, "owner_role");

			/* An older epoch of the same name goes first. */
			for (j = 0; j < nlocal; j++)
				if (strcmp(local[j].name, name) == 0 && !local[j].keep)
				{
					stop_local(&local[j], "reassigned at a newer epoch");
					local[j].keep = true;	/* already stopped */
				}
			sa.name = name;
			sa.database = NULL;
			if (fdn_json_obj_get(&a->root, "database", &dbv) && dbv.type != jbvNull)
			{
				if (dbv.type != jbvString || dbv.val.string.len == 0 ||
					dbv.val.string.len >= NAMEDATALEN)
					continue;	/* not a database name: nothing to start */
				sa.database = pnstrdup(dbv.val.string.val, dbv.val.string.len);
			}
			sa.module = fdn_jsonb_field_text(a, "module");
			sa.restart = fdn_jsonb_field_text(a, "restart");
			sa.epoch = epoch;
			sa.deadline = deadline;
			sa.role = owner ? get_role_oid(owner, true) : InvalidOid;
			if (sa.module == NULL || sa.restart == NULL ||
				!fdn_json_obj_get(&a->root, "args", &args))
				continue;
			sa.args = JsonbValueToJsonb(&args);
			if (!OidIsValid(sa.role))
			{
				ereport(WARNING,
						(errmsg("foundation cannot start cluster singleton \"%s\": role \"%s\" does not exist on this member",
								name, owner ? owner : "?"),
						 errhint("Create the role on every member (roles are per server).")));
				continue;
			}
			if (!placement_trusted(&sa, owner, fdn_jsonb_field_text(a, "signature")))
				continue;
			edata = fdn_try_subxact(start_assigned_cb, &sa);
			if (edata)
				ereport(WARNING,
						(errmsg("foundation could not start cluster singleton \"%s\": %s",
								name, edata->message),
						 errhint("It is retried at the next lease renewal.")));
			else
			{
				elog(LOG, "foundation: started cluster singleton \"%s\" (epoch " INT64_FORMAT ")",
					 name, epoch);
				started = true;
			}
		}
	}
	for (i = 0; i < nlocal; i++)
		if (!local[i].keep)
			stop_local(&local[i], "no longer assigned to this member");
	return started;
}

/* Cluster singletons started here without their lease get it now. */
void
fdn_stamp_local_leases(uint64 deadline)
{
	FdnLocalSingleton *v;
	int			n;
	int			i;

	v = local_singletons(&n);
	for (i = 0; i < n; i++)
		stamp_slot(v[i].child_id, v[i].epoch, deadline);
}

