/*-------------------------------------------------------------------------
 *
 * channels/codec.h
 *	  The three wire forms of a channel message: plain, compressed, stored.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_CODEC_H
#define FDN_CODEC_H

#include "postgres.h"

#include "utils/jsonb.h"



/* The longest NOTIFY payload PostgreSQL accepts. */
#define FDN_MAX_PAYLOAD 7999

typedef enum FdnWireForm
{
	FDN_WIRE_PLAIN,
	FDN_WIRE_COMPRESSED,
	FDN_WIRE_STORED
} FdnWireForm;

typedef struct FdnEncoded
{
	char	   *payload;		/* what goes to NOTIFY */
	FdnWireForm form;
	int64		bytes;			/* the message's text size */
} FdnEncoded;

/*
 * Encode a message for a channel: plain if it fits and compression was not
 * asked for, else compressed, else stored in foundation.messages (in the
 * current transaction) and announced by reference.  seq > 0 (a durable
 * channel's message) wraps that form as {"foundation_seq": seq,
 * "message": <form>}, still within one payload.
 */
extern FdnEncoded fdn_encode_message(const char *channel, Jsonb *message,
									 char *text, bool compression, int64 seq);

/*
 * The message's text as jsonb's output function writes it; *len its length,
 * *envelope (unless NULL) whether a plain payload of it would read as an
 * envelope.
 */
extern char *fdn_message_text(Jsonb *message, int64 *len, bool *envelope);

/* Any payload a listener received, back to the original message. */
extern Jsonb *fdn_decode_payload(const char *payload);

#endif							/* FDN_CODEC_H */
