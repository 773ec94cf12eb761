/*-------------------------------------------------------------------------
 *
 * core/spi_util.h
 *	  Running foundation's own SQL on its own tables, safely.
 *
 * Callers are ordinary roles with no rights on foundation's tables; the C
 * functions check what the caller may do and then touch the tables as the
 * bootstrap superuser, with the search path pinned to pg_catalog (an
 * override search path) so that no caller-defined operator or function can
 * be reached from that SQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_SPI_UTIL_H
#define FDN_SPI_UTIL_H

#include "postgres.h"

#include "executor/spi.h"



typedef struct FdnPrivState
{
	Oid			save_userid;
	int			save_sec_context;
} FdnPrivState;

/*
 * SPI_connect, then become the superuser with a safe search_path.  Memory
 * allocated until fdn_priv_end stays in the caller's context.
 */
extern void fdn_priv_begin(FdnPrivState *state);

/* Undo fdn_priv_begin, then SPI_finish. */
extern void fdn_priv_end(FdnPrivState *state);

/*
 * Execute SQL with parameters (types in argtypes, values may be NULL per
 * nulls as in SPI: ' ' or 'n'); errors if the result is not `expected`.
 * sql must be a string literal: its plan is kept, keyed by its address.
 */
extern int	fdn_spi_exec(const char *sql, int nargs, Oid *argtypes,
						 Datum *values, const char *nulls, int expected);

/*
 * fdn_spi_exec of a query that must see every change committed so far,
 * even where the transaction reads from one snapshot (REPEATABLE READ,
 * SERIALIZABLE): there it reads from the latest snapshot instead, as
 * PostgreSQL's foreign-key checks do.  For rows the caller has locked
 * against further changes.
 */
extern int	fdn_spi_query_latest(const char *sql, int nargs, Oid *argtypes,
								 Datum *values, const char *nulls);

/*
 * Until fdn_index_probes_end(the returned level): sequential and bitmap
 * scans off, for statements that must probe an index per row of their
 * outer side whatever the statistics say (a small or stale-looking table
 * otherwise gets a scan per probe, or one scan of every row).  They count
 * when a statement is planned, which with parameters can be any execution.
 */
extern int	fdn_index_probes_begin(void);
extern void fdn_index_probes_end(int level);

/*
 * Column col of row, or isnull; copied out of SPI memory as stored (a
 * compressed or toasted value stays so: detoast it after fdn_priv_end).
 */
extern Datum fdn_spi_getdatum(int row, int col, bool *isnull);

/*
 * Run fn(arg) in its own subtransaction.  On error, roll it back (which
 * also restores the user id and settings it changed) and return the error;
 * on success return NULL.  Memory allocated by fn stays in the caller's
 * context.
 */
typedef void (*FdnSubxactFn) (void *arg);
extern ErrorData *fdn_try_subxact(FdnSubxactFn fn, void *arg);

#endif							/* FDN_SPI_UTIL_H */
