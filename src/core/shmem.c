/*-------------------------------------------------------------------------
 *
 * core/shmem.c
 *	  Shared memory: the supervisor's whereabouts and the child slots.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/shmem.h"


FdnShared  *fdn_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The features' own parts (fdn_shmem_add). */
typedef struct ShmemPart
{
	const char *name;
	Size		size;
	FdnShmemInit init;
	void	  **ptr;
} ShmemPart;

#define FDN_MAX_SHMEM_PARTS 16
static ShmemPart parts[FDN_MAX_SHMEM_PARTS];
static int	nparts = 0;

void
fdn_shmem_add(const char *name, Size size, FdnShmemInit init, void **ptr)
{
	if (nparts >= FDN_MAX_SHMEM_PARTS)
		elog(ERROR, "too many foundation shared memory parts");
	parts[nparts].name = name;
	parts[nparts].size = size;
	parts[nparts].init = init;
	parts[nparts].ptr = ptr;
	nparts++;
}

static Size
shmem_size(void)
{
	return add_size(offsetof(FdnShared, slots),
					mul_size(sizeof(FdnChildSlot), fdn_max_children));
}

static void
shmem_request(void)
{
	int			i;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shmem_size());
	RequestNamedLWLockTranche("foundation", 2);
	for (i = 0; i < nparts; i++)
		RequestAddinShmemSpace(parts[i].size);
}

static void
shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fdn_shared = ShmemInitStruct("foundation", shmem_size(), &found);
	if (!found)
	{
		memset(fdn_shared, 0, shmem_size());
		fdn_shared->lock = &(GetNamedLWLockTranche("foundation"))[0].lock;
		fdn_shared->dblock = &(GetNamedLWLockTranche("foundation"))[1].lock;
		fdn_shared->nslots = fdn_max_children;
		fdn_shared->launcher_procno = -1;
		pg_atomic_init_u32(&fdn_shared->fenced_count, 0);
		pg_atomic_init_u64(&fdn_shared->restarts, 0);
		pg_atomic_init_u64(&fdn_shared->intensity_failures, 0);
		for (i = 0; i < fdn_shared->nslots; i++)
			pg_atomic_init_u64(&fdn_shared->slots[i].lease_deadline, 0);
	}
	for (i = 0; i < nparts; i++)
	{
		void	   *part = ShmemInitStruct(parts[i].name, parts[i].size, &found);

		if (!found)
		{
			memset(part, 0, parts[i].size);
			if (parts[i].init)
				parts[i].init(part);
		}
		*parts[i].ptr = part;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
fdn_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

Oid
fdn_current_extension(void)
{
	return get_extension_oid("foundation", true);
}

int
fdn_slot_reserve(int64 child_id, Oid dboid)
{
	int			i;
	int			found = -1;
	int			ours = 0;
	int			limit = fdn_max_children_per_database;
	Oid			ext = fdn_current_extension();

	LWLockAcquire(fdn_shared->lock, LW_EXCLUSIVE);
	/* This database's share first: one database must not take them all. */
	if (limit >= 0 && limit < fdn_shared->nslots)
	{
		for (i = 0; i < fdn_shared->nslots; i++)
			if (fdn_shared->slots[i].child_id != 0 &&
				fdn_shared->slots[i].home_db == MyDatabaseId)
				ours++;
		if (ours >= limit)
		{
			LWLockRelease(fdn_shared->lock);
			return -2;
		}
	}
	for (i = 0; i < fdn_shared->nslots; i++)
	{
		FdnChildSlot *slot = &fdn_shared->slots[i];

		if (slot->child_id == 0)
		{
			uint32		generation = slot->generation + 1;

			memset(slot, 0, sizeof(FdnChildSlot));
			slot->child_id = child_id;
			slot->home_db = MyDatabaseId;
			slot->ext_oid = ext;
			slot->dboid = dboid;
			slot->generation = generation;
			slot->launcher_procno = MyProc->pgprocno;
			slot->spec_handle = DSM_HANDLE_INVALID;
			slot->launched_at = GetCurrentTimestamp();
			pg_atomic_init_u64(&slot->lease_deadline, 0);
			found = i;
			break;
		}
	}
	LWLockRelease(fdn_shared->lock);
	return found;
}

void
fdn_slot_release(int index)
{
	FdnChildSlot *slot = &fdn_shared->slots[index];
	dsm_handle	handle;

	LWLockAcquire(fdn_shared->lock, LW_EXCLUSIVE);
	handle = slot->spec_handle;
	slot->spec_handle = DSM_HANDLE_INVALID;
	slot->child_id = 0;
	LWLockRelease(fdn_shared->lock);

	/* The segment was pinned by the launcher so that it outlives it. */
	if (handle != DSM_HANDLE_INVALID)
		dsm_unpin_segment(handle);
}

bool
fdn_slot_mine(FdnChildSlot *slot, Oid ext)
{
	return slot->child_id != 0 && slot->home_db == MyDatabaseId &&
		slot->ext_oid == ext;
}

int
fdn_slot_find(int64 child_id)
{
	int			i;
	Oid			ext = fdn_current_extension();

	for (i = 0; i < fdn_shared->nslots; i++)
		if (fdn_shared->slots[i].child_id == child_id &&
			fdn_slot_mine(&fdn_shared->slots[i], ext))
			return i;
	return -1;
}

bool
fdn_slot_alive(FdnChildSlot *slot)
{
	pid_t		pid = slot->pid;

	if (slot->child_id == 0 || slot->exited)
		return false;
	/* Launched but not yet running our code: its launcher waits for it. */
	if (pid == 0)
		return slot->start_state == FDN_START_PENDING;
	/* Belt and braces: a child that vanished without its exit callback. */
	return BackendPidGetProc(pid) != NULL;
}

char *
fdn_exit_text(FdnExitKind kind, const char *detail)
{
	switch (kind)
	{
		case FDN_EXIT_NORMAL:
			return pstrdup("normal");
		case FDN_EXIT_ERROR:
			return psprintf("error: %s", detail);
		case FDN_EXIT_TERMINATED:
			return pstrdup("terminated");
		case FDN_EXIT_ABANDONED:
			return pstrdup("abandoned: its transaction rolled back");
		case FDN_EXIT_LOST:
			return pstrdup("lost: the server restarted or crashed");
		case FDN_EXIT_FENCED:
			return psprintf("fenced: %s", detail);
		case FDN_EXIT_NONE:
			break;
	}
	return pstrdup("crashed");
}
