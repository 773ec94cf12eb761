/*-------------------------------------------------------------------------
 *
 * core/names.h
 *	  Checking the names users give foundation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_NAMES_H
#define FDN_NAMES_H

#include "postgres.h"

#include "utils/jsonb.h"

/* Names foundation keeps for its own singletons ("foundation:dispatcher"). */
#define FDN_RESERVED_PREFIX "foundation:"

/*
 * Check a name given by a user: not empty, at most FDN_MAX_NAME_LEN, and
 * not reserved (ERRCODE_RESERVED_NAME).
 */
extern void fdn_check_name(const char *what, const char *name);

/* Does name begin with FDN_RESERVED_PREFIX? */
extern bool fdn_name_is_reserved(const char *name);

/*
 * Let fdn_check_name accept this one reserved name (NULL: none) until
 * called again; only for foundation's own start of its singletons.
 */
extern void fdn_allow_reserved_name(const char *name);

#endif							/* FDN_NAMES_H */
