/*-------------------------------------------------------------------------
 *
 * core/ext_version.c
 *	  Whether the installed SQL of the extension is the library's version:
 *	  the workers wait, with one warning, for ALTER EXTENSION foundation
 *	  UPDATE rather than fail at every pass.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "core/ext_version.h"

/* Set by the Makefile from foundation.control. */
#ifndef FDN_EXTVERSION
#error "FDN_EXTVERSION is not defined: build with the Makefile"
#endif

const char *const fdn_library_version = FDN_EXTVERSION;

/*
 * The installed version this process last warned about ("" for none): one
 * warning per process and mismatch, not one per pass.
 */
static char warned_version[NAMEDATALEN] = "";

/* pg_extension.extversion of ext, or NULL if it is gone. */
static char *
installed_version(Oid ext)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

bool
fdn_ext_version_ready(Oid ext, const char *who)
{
	char	   *version;
	char	   *dbname;

	if (!OidIsValid(ext))
		return false;
	version = installed_version(ext);
	if (version == NULL)
		return false;
	dbname = get_database_name(MyDatabaseId);

	if (strcmp(version, fdn_library_version) == 0)
	{
		if (warned_version[0] != '\0')
		{
			ereport(LOG,
					(errmsg("%s resumes: database \"%s\" has foundation %s, the library's version",
							who, dbname, version)));
			warned_version[0] = '\0';
		}
		return true;
	}

	if (strcmp(version, warned_version) != 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is idle: database \"%s\" has foundation %s installed, but the library is version %s",
						who, dbname, version, fdn_library_version),
				 errdetail("The library works only with the SQL of its own version; until they match it starts and changes nothing, and it checks again at every pass."),
				 errhint("Run ALTER EXTENSION foundation UPDATE in database \"%s\".",
						 dbname)));
		strlcpy(warned_version, version, sizeof(warned_version));
	}
	return false;
}
