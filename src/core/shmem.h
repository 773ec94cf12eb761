/*-------------------------------------------------------------------------
 *
 * core/shmem.h
 *	  The shared state between callers, the supervisor and the children.
 *
 * Tables hold what should run (foundation.children); this shared memory
 * holds what runs now: one slot per live child worker.  The supervisor
 * reconciles the two.  Everything here is lost in a crash restart, which is
 * exactly when the tables must win.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_SHMEM_H
#define FDN_SHMEM_H

#include "postgres.h"

#include <time.h>

#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"



/* Why a child stopped, as recorded by the child itself. */
typedef enum FdnExitKind
{
	FDN_EXIT_NONE = 0,			/* still running, or died without a word */
	FDN_EXIT_NORMAL,			/* the module returned */
	FDN_EXIT_ERROR,				/* the module (or its start) raised an error */
	FDN_EXIT_TERMINATED,		/* SIGTERM: pg_terminate_backend, shutdown */
	FDN_EXIT_ABANDONED,			/* its creating transaction rolled back */
	FDN_EXIT_LOST,				/* gone with its slot: server restart or crash */
	FDN_EXIT_FENCED				/* stopped itself: its lease deadline passed */
} FdnExitKind;

/* Start-up handshake between a child and whoever launched it. */
typedef enum FdnStartState
{
	FDN_START_PENDING = 0,		/* launched, not yet seen */
	FDN_START_READY,			/* running our code, module resolved */
	FDN_START_FAILED			/* could not start: see exit_detail */
} FdnStartState;

#define FDN_EXIT_DETAIL_LEN 256

typedef struct FdnChildSlot
{
	int64		child_id;		/* 0 when the slot is free */
	Oid			home_db;		/* the database whose spec it runs: whose
								 * supervisor restarts it */
	Oid			ext_oid;		/* the foundation extension (of home_db) it
								 * belongs to */
	Oid			dboid;			/* the database it runs in */
	Oid			roleoid;		/* the role it runs as: who may see it */
	uint32		generation;		/* bumped on every launch into this slot */
	pid_t		pid;			/* set by the child itself once running */
	int			launcher_procno;	/* whose latch to set when started */
	TransactionId creator_xid;	/* xact that must commit for us to run */
	dsm_handle	spec_handle;	/* pinned DSM with module and args */
	TimestampTz launched_at;
	FdnStartState start_state;
	bool		exited;			/* set by the child's exit callback */
	bool		stopping;		/* terminate_child waits for its exit, and
								 * its transaction's end wakes the
								 * supervisor: the exit need not */
	FdnExitKind exit_kind;
	int			exit_sqlstate;	/* for FDN_EXIT_ERROR */
	char		exit_detail[FDN_EXIT_DETAIL_LEN];

	/*
	 * A child with a lease (a cluster singleton): its fencing token (0: no
	 * lease, the child never fences) and the moment its lease ends on this
	 * member, in fdn_monotonic_ns() units.  The supervisor extends the
	 * deadline on every renewal; the child stops itself when it passes.
	 */
	int64		fence_token;
	pg_atomic_uint64 lease_deadline;
} FdnChildSlot;

/*
 * A database foundation serves (it has the extension, or had work since
 * the server started), keyed by OID: what runs follows the database, not
 * its name.  The launcher runs a supervisor for each one with work.
 */
typedef struct FdnDatabase
{
	Oid			dboid;			/* InvalidOid: the entry is free */
	bool		has_work;		/* a supervisor should run */
	bool		stopping;		/* DROP/RENAME DATABASE running: start nothing */
	bool		launching;		/* the launcher started its supervisor, which
								 * has not said it runs yet */
	bool		has_extension;	/* foundation is installed there, as last
								 * seen (members advertise it) */
	uint32		work_gen;		/* bumped by every commit that gave it work */
	uint32		wakes;			/* bumped by every wake-up with news for its
								 * supervisor (databases.c) */
	uint32		flags;			/* FDN_DBFLAG_*: news for its supervisor */
	pid_t		supervisor_pid; /* 0 while no supervisor runs */
	int			supervisor_procno;
} FdnDatabase;

/* How many databases with foundation one server serves at most. */
#define FDN_MAX_DATABASES 1024

typedef struct FdnShared
{
	LWLock	   *lock;			/* protects the slots' allocation */
	LWLock	   *dblock;			/* protects dbs[] */
	pid_t		launcher_pid;	/* 0 while no launcher runs */
	int			launcher_procno;
	int			ndbs;			/* entries of dbs[] ever used (high water) */
	FdnDatabase dbs[FDN_MAX_DATABASES];
	int			nslots;
	pg_atomic_uint32 fenced_count;	/* children that stopped for their lease */
	/* Since server start, for monitoring (foundation.metrics_supervisor). */
	pg_atomic_uint64 restarts;	/* children the supervisor restarted */
	pg_atomic_uint64 intensity_failures;	/* children marked failed */
	FdnChildSlot slots[FLEXIBLE_ARRAY_MEMBER];
} FdnShared;

extern FdnShared *fdn_shared;

/*
 * A monotonic clock in nanoseconds: one clock for every process of the
 * machine (the supervisor sets lease deadlines, the children compare
 * against them), never stepped by NTP or an administrator.  CLOCK_BOOTTIME
 * where there is one: unlike CLOCK_MONOTONIC it also counts the time the
 * machine was suspended, which the control database's clock counts too.
 * Async-signal safe: the children read it in a timeout handler.
 */
static inline uint64
fdn_monotonic_ns(void)
{
	struct timespec ts;

#ifdef CLOCK_BOOTTIME
	clock_gettime(CLOCK_BOOTTIME, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (uint64) ts.tv_sec * UINT64CONST(1000000000) + (uint64) ts.tv_nsec;
}

extern void fdn_shmem_init_hooks(void);

/*
 * A part of shared memory a feature owns, apart from FdnShared: register it
 * from _PG_init, before fdn_shmem_init_hooks.  At server start it is
 * created zeroed, init (if any) runs on it once, and *ptr points to it in
 * every process; *ptr stays NULL when foundation is not preloaded.
 */
typedef void (*FdnShmemInit) (void *part);
extern void fdn_shmem_add(const char *name, Size size, FdnShmemInit init,
						  void **ptr);

/*
 * Reserve a free slot for child_id, run by this database's supervisor, to
 * run in database dboid; returns its index, or -1 if every slot is in use,
 * -2 if this database has foundation.max_children_per_database already.
 */
extern int	fdn_slot_reserve(int64 child_id, Oid dboid);

/* Release a slot, unpinning its spec segment. */
extern void fdn_slot_release(int index);

/*
 * The OID of the installed extension (InvalidOid if none).  Child ids
 * restart after DROP and CREATE EXTENSION, so a slot is matched by both.
 */
extern Oid	fdn_current_extension(void);

/*
 * Does the slot hold a child of this database's foundation (supervised
 * here, started from this extension)?
 */
extern bool fdn_slot_mine(FdnChildSlot *slot, Oid ext);

/* Index of the slot running child_id of the current extension, or -1. */
extern int	fdn_slot_find(int64 child_id);

/* Is this slot's child alive?  (false once its exit callback ran) */
extern bool fdn_slot_alive(FdnChildSlot *slot);

/* Human-readable form of an exit, e.g. "error: division by zero". */
extern char *fdn_exit_text(FdnExitKind kind, const char *detail);

#endif							/* FDN_SHMEM_H */
