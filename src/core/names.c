/*-------------------------------------------------------------------------
 *
 * core/names.c
 *	  The one check every name a user gives foundation passes: processes,
 *	  registry entries, agents, variables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/foundation.h"
#include "core/names.h"

/*
 * Names beginning with FDN_RESERVED_PREFIX are foundation's own: its
 * internal singletons ("foundation:dispatcher", "foundation:relay") are
 * found by name, so a role that took one first would be mistaken for them
 * (or keep them from starting).  Every name a role gives foundation for a
 * process, a registry entry, an agent or a variable passes here, so the
 * rule lives in this one place.  Only fdn_allow_reserved_name lets one
 * through, for foundation's own start of its singletons.
 */
static const char *reserved_allowed = NULL;

bool
fdn_name_is_reserved(const char *name)
{
	return strncmp(name, FDN_RESERVED_PREFIX, strlen(FDN_RESERVED_PREFIX)) == 0;
}

void
fdn_allow_reserved_name(const char *name)
{
	reserved_allowed = name;
}

void
fdn_check_name(const char *what, const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > FDN_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be 1 to %d bytes long, not %zu",
						what, FDN_MAX_NAME_LEN, len),
				 errhint("Names are limited to %d bytes; give a non-empty, shorter one.",
						 FDN_MAX_NAME_LEN)));
	if (fdn_name_is_reserved(name) &&
		(reserved_allowed == NULL || strcmp(reserved_allowed, name) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("%s must not begin with \"%s\"", what, FDN_RESERVED_PREFIX),
				 errdetail("Names beginning with \"%s\" are reserved for foundation's own processes, such as \"foundation:dispatcher\".",
						   FDN_RESERVED_PREFIX),
				 errhint("Choose a name that does not begin with \"%s\".",
						 FDN_RESERVED_PREFIX)));
}
