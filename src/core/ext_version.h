/*-------------------------------------------------------------------------
 *
 * core/ext_version.h
 *	  Whether the installed SQL of the extension is the library's version.
 *
 * A server runs the library of one version (foundation.so) while a
 * database keeps the SQL it was created or last updated with, until
 * ALTER EXTENSION foundation UPDATE.  The workers' queries are written for
 * the library's own SQL, so between a new library and the update they
 * would fail at every pass.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_EXT_VERSION_H
#define FDN_EXT_VERSION_H

#include "postgres.h"

/* The version of this library: default_version in foundation.control. */
extern const char *const fdn_library_version;

/*
 * In a worker's pass, inside a transaction: is foundation installed (ext,
 * from fdn_current_extension, valid) at the library's version?  When it is
 * installed at another version, the worker (named by who) logs one WARNING
 * saying to run ALTER EXTENSION foundation UPDATE and returns false at
 * every pass until the versions match, then logs that it resumes.
 */
extern bool fdn_ext_version_ready(Oid ext, const char *who);

#endif							/* FDN_EXT_VERSION_H */
