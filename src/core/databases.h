/*-------------------------------------------------------------------------
 *
 * core/databases.h
 *	  The databases foundation serves, in shared memory: which have work,
 *	  whose supervisor runs, which are being dropped or renamed.
 *
 * foundation runs in every database that has the extension.  A database
 * "has work" once a commit gave its supervisor something to do (a child
 * started, a name registered, an auction opened, a channel configured);
 * the launcher then runs a supervisor there, which gives the work back
 * once it found nothing to do for a while.  The entry points below are how
 * everything else says so.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_DATABASES_H
#define FDN_DATABASES_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "core/shmem.h"

/*
 * The entry of dboid (with fdn_shared->dblock held, exclusive when
 * create): NULL when there is none, or none could be made (the table is
 * full, which is logged).
 */
extern FdnDatabase *fdn_db_lookup(Oid dboid, bool create);

/*
 * The index of this database's entry in fdn_shared->dbs (made if need
 * be), or -1 if the table is full: a feature keeping something per
 * database in its own shared memory indexes it by this, and tags it with
 * the OID (an entry freed is reused by another database).
 */
extern int	fdn_db_index(void);

/* Wake the launcher, if it runs. */
extern void fdn_wake_launcher(void);

/* Wake the supervisor of this database, if one runs: its pass follows. */
extern void fdn_wake_supervisor(void);

/* Wake the supervisor of database dboid, if one runs. */
extern void fdn_wake_supervisor_of(Oid dboid);

/* The pid of database dboid's supervisor, 0 if none runs. */
extern pid_t fdn_supervisor_pid(Oid dboid);

/* Whether a database has work, so that a supervisor should run there. */
extern bool fdn_db_has_work(Oid dboid);

/*
 * Say that this database has work for its supervisor, and wake it (or the
 * launcher, which starts it).  At once: use it once the work is committed.
 */
extern void fdn_mark_work(void);

/*
 * When the current transaction ends, committed or not: mark this database
 * as having work and wake its supervisor (a child started from a
 * transaction that rolled back must be cleaned up too).
 */
extern void fdn_wake_supervisor_at_xact_end(void);

/*
 * The same without waking the supervisor for a pass: for a commit that
 * gives the database work (a supervisor must run, and must not leave now)
 * but nothing for it to do at once, such as a registry name (the names of
 * sessions that end go at its timed passes: an ending session wakes
 * nobody).
 */
extern void fdn_mark_work_at_xact_end(void);

/*
 * News for this database's supervisor that a feature keeps per database
 * (a bid in one database is no news for another's supervisor).
 */
#define FDN_DBFLAG_PROTOCOLS 0x01	/* a bid or a vote committed */

/* Set flag for this database; true if it was not set before. */
extern bool fdn_db_set_flag(uint32 flag);

/* Is flag set for this database?  clear: and clear it. */
extern bool fdn_db_test_flag(uint32 flag, bool clear);

/*
 * Whether foundation is installed in a database, as its supervisor's last
 * pass (or a committed CREATE or DROP EXTENSION) saw it.
 */
extern void fdn_db_set_has_extension(Oid dboid, bool has);

/*
 * The names of the databases foundation is installed in, as last seen,
 * sorted (in a transaction).  The launcher's probes at server start see
 * every database; what is created or dropped later is seen at its commit.
 */
extern List *fdn_db_names_with_extension(void);

/* Is database dboid being dropped or renamed (start nothing there)? */
extern bool fdn_db_stopping(Oid dboid);

/* The OID of the database named by foundation.database (InvalidOid: none). */
extern Oid	fdn_home_database(void);

/*
 * Is this backend connected to the database named by foundation.database?
 * (Looked up once per backend, in a transaction.)
 */
extern bool fdn_in_home_database(void);

/*
 * The supervisor's side (process/supervisor.c), for this database.
 *
 * fdn_db_take_supervisor: become its supervisor; false when there is
 * nothing to do here (being dropped or renamed, another one runs, or the
 * table is full).  fdn_db_leave_supervisor: give the entry up at exit.
 * fdn_db_work_gen: read before a pass (before its snapshot).
 * fdn_db_give_back_work: the pass found nothing to do; true (leave) unless
 * a commit brought work since gen was read; forget: no extension here,
 * the entry goes too.
 */
extern bool fdn_db_take_supervisor(void);
extern void fdn_db_leave_supervisor(void);
extern uint32 fdn_db_work_gen(void);

/* How often this database's supervisor was woken with news for it. */
extern uint32 fdn_db_wakes(void);

/*
 * A probe found work and stays as the supervisor: say so (it no longer
 * counts as a probe for the launcher, which is woken to start the next).
 */
extern void fdn_db_keep_work(void);
extern bool fdn_db_give_back_work(uint32 gen, bool forget);

#endif							/* FDN_DATABASES_H */
