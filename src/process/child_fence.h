/*-------------------------------------------------------------------------
 *
 * process/child_fence.h
 *	  A child with a lease stops itself when its lease deadline passes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHILD_FENCE_H
#define FDN_CHILD_FENCE_H

#include "postgres.h"

#include "core/shmem.h"

/*
 * The SQLSTATE of a cluster singleton whose lease has ended: its commits
 * are refused and foundation.check_lease() raises it.  Class YF is
 * foundation's own (classes starting with 5-9 or I-Z are left to
 * implementations by the SQL standard).
 */
#define FDN_ERRCODE_LEASE_EXPIRED	MAKE_SQLSTATE('Y','F','0','0','1')

/*
 * In the child, before it runs its module: if its slot carries a lease
 * (a fencing token), enforce the deadline from now on, in this process: a
 * timer stops it when the deadline passes, and no transaction commits after
 * the deadline.
 */
extern void fdn_child_fence_arm(FdnChildSlot *slot);

/* This process's fencing token, or 0 (not a child with a lease). */
extern int64 fdn_child_fence_token(void);

/* Has this process's lease deadline passed?  (false without a lease) */
extern bool fdn_child_lease_expired(void);

/* Did this child stop (or refuse a commit) because its lease ended? */
extern bool fdn_child_fenced(void);

/* The log line of a child that fenced itself, from its exit callback. */
extern void fdn_child_fence_report(void);

/* Raise the lease error (check_lease, the refused commit). */
extern void fdn_lease_expired_error(const char *what) pg_attribute_noreturn();

#endif							/* FDN_CHILD_FENCE_H */
