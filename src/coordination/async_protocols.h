/*-------------------------------------------------------------------------
 *
 * coordination/async_protocols.h
 *	  Auctions and proposals open across transactions, closed by deadline.
 *
 * async_auctions.c and async_proposals.c implement the SQL functions;
 * async_protocols.c what they share and the supervisor's part.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_ASYNC_PROTOCOLS_H
#define FDN_ASYNC_PROTOCOLS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "core/spi_util.h"


/*
 * Close every open auction and proposal that is due (deadline passed, or
 * every invited agent answered); returns the milliseconds until the next
 * deadline, or -1 if none.  Called by the supervisor inside its
 * transaction, in privileged SPI.
 */
extern long fdn_close_due_protocols(void);

/*
 * Close an auction or a proposal now, or return its stored result if it
 * is closed already; check_owner: only its owner (or a member of that
 * role) may.  Returns the result as JSON text.
 */
extern char *fdn_close_auction_id(int64 id, bool check_owner);
extern char *fdn_close_proposal_id(int64 id, bool check_owner);

/* Shared checks of the SQL functions; each raises the documented error. */
extern void fdn_protocol_no_such(const char *what, int64 id) pg_attribute_noreturn();
extern Interval *fdn_protocol_deadline(Interval *deadline);
extern void fdn_protocol_acts_for(const char *agent, Oid caller, Oid owner);

/* Now as JSON writes a timestamptz (unquoted): a result's decided_at. */
extern char *fdn_protocol_now(void);

/*
 * The end of a close, inside fdn_priv_begin: store result (JSON text) with
 * update_sql (a string literal marking the row closed, the id as $1 and
 * the result as $2), end the privileged SPI, and announce the result on
 * events as type.
 */
extern void fdn_protocol_store_close(FdnPrivState *priv, const char *update_sql,
									 int64 id, const char *result, const char *type);

/* A bid or vote: at commit, the supervisor counts answers again. */
extern void fdn_protocols_changed_at_commit(void);

/* Register coordination's supervisor hooks (_PG_init). */
extern void fdn_coordination_init(void);

#endif							/* FDN_ASYNC_PROTOCOLS_H */
