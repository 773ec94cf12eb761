/*-------------------------------------------------------------------------
 *
 * core/foundation.h
 *	  Settings and small helpers shared by every part of foundation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FOUNDATION_H
#define FOUNDATION_H

#include "postgres.h"

/* Longest name accepted for a child id or a registry name, in bytes. */
#define FDN_MAX_NAME_LEN	200

/* Settings (see core/foundation.c for their documentation). */
extern char *fdn_database;
extern int	fdn_max_children;
extern int	fdn_max_children_per_database;
extern int	fdn_naptime_ms;
extern int	fdn_start_timeout_ms;
extern char *fdn_node_name;
extern int	fdn_message_retention_s;
extern char *fdn_dispatcher_conninfo;

/* Define the settings above (_PG_init; the first only at server start). */
extern void fdn_define_postmaster_gucs(void);
extern void fdn_define_core_gucs(void);

/* True when foundation was loaded by shared_preload_libraries. */
extern bool fdn_preloaded;

/* Raise the "needs shared_preload_libraries" error unless preloaded. */
extern void fdn_require_preload(void);

/* The node name: foundation.node_name, or <hostname>:<port>. */
extern const char *fdn_node(void);

/*
 * s, or a copy of its first at most max bytes cut on a character boundary
 * (of the database encoding), so that what is stored or logged stays valid
 * text.
 */
extern const char *fdn_clip(const char *s, int max);

/*
 * The error for a NULL argument of a SQL function: "<what> must not be
 * NULL", with the hint given (a full sentence).
 */
extern void fdn_null_arg_error(const char *what, const char *hint) pg_attribute_noreturn();

/*
 * The body of a statement trigger on one of foundation's tables that
 * backends cache: every backend's relcache callbacks hear of the change
 * when it commits.
 */
extern Datum fdn_invalidate_on_change(FunctionCallInfo fcinfo, const char *trigger);

#endif							/* FOUNDATION_H */
