/*-------------------------------------------------------------------------
 *
 * process/child_main.h
 *	  The child background worker: runs CALL module(args) as its role.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CHILD_H
#define FDN_CHILD_H

#include "postgres.h"

/* What the launcher puts in bgw_extra. */
typedef struct FdnChildExtra
{
	int64		child_id;
	uint32		generation;
} FdnChildExtra;

/* The spec a child reads from its DSM segment. */
typedef struct FdnChildSpec
{
	Oid			dboid;
	Oid			roleoid;
	bool		validate;
	Size		module_len;		/* including the terminating NUL */
	Size		args_len;		/* including the terminating NUL */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* module, then args */
} FdnChildSpec;

extern PGDLLEXPORT void fdn_child_main(Datum main_arg);

/*
 * Resolve a module name to the procedure or function taking one jsonb.
 * Raises an error with a hint when there is none; returns its OID.
 */
extern Oid	fdn_resolve_module(const char *module);

/* strlcpy that cuts on a character boundary (the database encoding's). */
extern void fdn_clip_copy(char *dst, const char *src, int size);

#endif							/* FDN_CHILD_H */
