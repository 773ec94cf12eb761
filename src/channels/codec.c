/*-------------------------------------------------------------------------
 *
 * channels/codec.c
 *	  The three wire forms of a channel message: plain, compressed, stored.
 *
 * A NOTIFY payload holds at most 7999 bytes.  A message is sent as its
 * jsonb text when it fits; otherwise (or when asked) as
 *   {"foundation_compressed": "<base64 of the zlib stream of the text>"}
 * and when even that does not fit it is stored in foundation.messages in
 * the same transaction and announced as
 *   {"foundation_ref": <id>, "bytes": <size of the text>}.
 * zlib (RFC 1950) and base64 (RFC 4648) are what every language's standard
 * library decodes; docs/channels.md shows how.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zlib.h>

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "core/foundation.h"
#include "core/jsonb_util.h"
#include "core/spi_util.h"
#include "channels/codec.h"


PG_FUNCTION_INFO_V1(fdn_decode_message);
PG_FUNCTION_INFO_V1(fdn_fetch_message);

#define KEY_COMPRESSED "foundation_compressed"
#define KEY_REF "foundation_ref"
#define KEY_SEQ "foundation_seq"

/*
 * A durable channel's message wraps one of the three forms with its
 * sequence number: {"foundation_seq": <seq>, "message": <form>}.  The
 * wrapper with the longest bigint takes this many bytes of the payload.
 */
#define SEQ_PREFIX "{\"" KEY_SEQ "\": "
#define SEQ_MIDDLE ", \"message\": "
#define FDN_SEQ_OVERHEAD (sizeof(SEQ_PREFIX SEQ_MIDDLE "}") - 1 + 20)

static void
bad_payload(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed foundation payload: %s", why),
			 errhint("Pass the payload exactly as the listener received it; docs/channels.md describes the three forms.")));
}

/* The string value of key when obj is an object with it. */
static bool
envelope_string(Jsonb *jb, const char *key, JsonbValue *v)
{
	if (!JB_ROOT_IS_OBJECT(jb))
		return false;
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), v) != NULL;
}

/*
 * Would a plain message be read back as an envelope?  Then it must not
 * travel plain, or decode_message would misread it.
 */
static bool
looks_like_envelope(Jsonb *jb)
{
	JsonbValue	v;

	return envelope_string(jb, KEY_COMPRESSED, &v) ||
		envelope_string(jb, KEY_REF, &v) ||
		envelope_string(jb, KEY_SEQ, &v);
}

/*
 * The most zlib bytes whose envelope still fits a payload: base64 makes 4
 * characters of every 3 bytes, and the envelope adds its key and quotes.
 */
#define FDN_ENVELOPE_OVERHEAD (sizeof("{\"" KEY_COMPRESSED "\": \"\"}") - 1)
#define MAX_ZLIB(max_payload) ((((max_payload) - FDN_ENVELOPE_OVERHEAD) / 4) * 3)

/*
 * Compress text into base64 of a zlib stream, or return NULL as soon as
 * the result could no longer fit a payload: a large message that does not
 * compress well is stored instead, and finishing its compression first
 * would only cost time.
 */
static char *
compress_message(const char *text, int64 len, int64 max_payload,
				 int64 *outlen)
{
	uLong		cap = MAX_ZLIB(max_payload) + 1;
	Bytef	   *buf = palloc(cap);
	z_stream	zs = {0};
	char	   *b64;
	int			b64len;
	int			rc;

	if (deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK)
		elog(ERROR, "could not initialize zlib");
	zs.next_in = (Bytef *) text;
	zs.avail_in = (uInt) len;
	zs.next_out = buf;
	zs.avail_out = (uInt) cap;
	rc = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END)
	{
		pfree(buf);
		if (rc == Z_OK || rc == Z_BUF_ERROR)
			return NULL;		/* too big for a payload */
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compress message: zlib error %d", rc)));
	}
	b64 = palloc(pg_b64_enc_len((int) *outlen) + 1);
	b64len = pg_b64_encode((const char *) buf, (int) *outlen, b64,
						   pg_b64_enc_len((int) *outlen));
	if (b64len < 0)
		elog(ERROR, "could not base64-encode a compressed message");
	b64[b64len] = '\0';
	pfree(buf);
	return b64;
}

static char *
decompress(const char *b64, int b64len)
{
	int			ziplen;
	char	   *zip;
	z_stream	zs = {0};
	StringInfoData out;
	int			rc;

	zip = palloc(pg_b64_dec_len(b64len) + 1);
	ziplen = pg_b64_decode(b64, b64len, zip, pg_b64_dec_len(b64len));
	if (ziplen < 0)
		bad_payload("\"foundation_compressed\" is not valid base64");

	if (inflateInit(&zs) != Z_OK)
		elog(ERROR, "could not initialize zlib");
	initStringInfo(&out);
	zs.next_in = (Bytef *) zip;
	zs.avail_in = ziplen;
	do
	{
		enlargeStringInfo(&out, Max(ziplen * 4, 8192));
		zs.next_out = (Bytef *) out.data + out.len;
		zs.avail_out = out.maxlen - out.len - 1;
		rc = inflate(&zs, Z_NO_FLUSH);
		out.len = out.maxlen - 1 - zs.avail_out;
		if (rc != Z_OK && rc != Z_STREAM_END)
		{
			inflateEnd(&zs);
			bad_payload("\"foundation_compressed\" is not a zlib stream");
		}
	} while (rc != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
	inflateEnd(&zs);
	if (rc != Z_STREAM_END)
		bad_payload("\"foundation_compressed\" is a truncated zlib stream");
	out.data[out.len] = '\0';

	/*
	 * The bytes come from whoever wrote the payload: they become text (and
	 * jsonb) only if they are text, with no NUL and valid in this encoding.
	 */
	if (memchr(out.data, '\0', out.len) != NULL ||
		!pg_verify_mbstr(GetDatabaseEncoding(), out.data, out.len, true))
		bad_payload("\"foundation_compressed\" does not hold text in the database encoding");
	pfree(zip);
	return out.data;
}

static int64
store_message(const char *channel, Jsonb *message, int64 bytes)
{
	FdnPrivState priv;
	Datum		values[3];
	bool		isnull;
	int64		id;

	values[0] = CStringGetTextDatum(channel);
	values[1] = JsonbPGetDatum(message);
	values[2] = Int64GetDatum(bytes);
	fdn_priv_begin(&priv);
	fdn_spi_exec("INSERT INTO foundation.messages (channel, message, bytes)"
				 " VALUES ($1, $2, $3) RETURNING id",
				 3, (Oid[]) {TEXTOID, JSONBOID, INT8OID}, values, NULL,
				 SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(fdn_spi_getdatum(0, 1, &isnull));
	fdn_priv_end(&priv);
	return id;
}

/* Two bytes (a separator) at the end of out. */
static inline void
put2(StringInfo out, char a, char b)
{
	if (out->len + 2 >= out->maxlen)
		enlargeStringInfo(out, 2);
	out->data[out->len++] = a;
	out->data[out->len++] = b;
	out->data[out->len] = '\0';
}

/*
 * A string value or key as JsonbToCString writes it.  Most strings need
 * no escape: they are copied in one piece; any other goes through
 * PostgreSQL's own escape_json, so the text is the same either way.
 */
static void
put_string(StringInfo out, const char *s, int len)
{
	int			i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < ' ' || c == '"' || c == '\\')
		{
			escape_json(out, pnstrdup(s, len));
			return;
		}
	}
	if (out->len + len + 2 >= out->maxlen)
		enlargeStringInfo(out, len + 2);
	out->data[out->len++] = '"';
	memcpy(out->data + out->len, s, len);
	out->len += len;
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
}

static void
put_scalar(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendBinaryStringInfo(out, "null", 4);
			break;
		case jbvString:
			put_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(out,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			if (v->val.boolean)
				appendBinaryStringInfo(out, "true", 4);
			else
				appendBinaryStringInfo(out, "false", 5);
			break;
		default:
			elog(ERROR, "unknown jsonb scalar type %d", (int) v->type);
	}
}

/* Is this key of the top-level object one that marks an envelope? */
static bool
is_envelope_key(JsonbValue *key)
{
	int			len = key->val.string.len;
	const char *k = key->val.string.val;

	return (len == sizeof(KEY_COMPRESSED) - 1 && memcmp(k, KEY_COMPRESSED, len) == 0) ||
		(len == sizeof(KEY_REF) - 1 && memcmp(k, KEY_REF, len) == 0) ||
		(len == sizeof(KEY_SEQ) - 1 && memcmp(k, KEY_SEQ, len) == 0);
}

/*
 * The message's text, exactly as JsonbToCString (jsonb's output function)
 * writes it: what listeners have always received.  JsonbToCString copies
 * every string before escaping it a character at a time, which was most of
 * a plain broadcast's own cost (benchmark 16); this walks the same tokens
 * and copies plain strings whole.  *len is the text's length; *envelope
 * (if not NULL) says whether the message is an object with a key of an
 * envelope at its top level (looks_like_envelope), seen on the way.
 */
char *
fdn_message_text(Jsonb *message, int64 *len, bool *envelope)
{
	StringInfoData out;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		first = true;
	bool		raw_scalar = false;
	int			level = 0;
	bool		env = false;

	initStringInfo(&out);
	enlargeStringInfo(&out, VARSIZE(message));
	it = JsonbIteratorInit(&message->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (!first)
					put2(&out, ',', ' ');
				if (tok == WJB_BEGIN_OBJECT)
					appendStringInfoCharMacro(&out, '{');
				else if (v.val.array.rawScalar)
					raw_scalar = true;	/* a scalar alone: no brackets */
				else
					appendStringInfoCharMacro(&out, '[');
				first = true;
				level++;
				break;
			case WJB_KEY:
				if (!first)
					put2(&out, ',', ' ');
				if (level == 1 && !env)
					env = is_envelope_key(&v);
				put_scalar(&out, &v);
				put2(&out, ':', ' ');
				/* a container value follows without a comma */
				first = true;
				break;
			case WJB_VALUE:
				put_scalar(&out, &v);
				first = false;
				break;
			case WJB_ELEM:
				if (!first)
					put2(&out, ',', ' ');
				put_scalar(&out, &v);
				first = false;
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				if (tok == WJB_END_OBJECT)
					appendStringInfoCharMacro(&out, '}');
				else if (!raw_scalar)
					appendStringInfoCharMacro(&out, ']');
				first = false;
				level--;
				break;
			default:
				elog(ERROR, "unknown jsonb iterator token %d", (int) tok);
		}
	}
	*len = out.len;
	if (envelope != NULL)
		*envelope = env;
	return out.data;
}

FdnEncoded
fdn_encode_message(const char *channel, Jsonb *message, char *text,
				   bool compression, int64 seq)
{
	FdnEncoded	enc;
	int64		len;
	int64		max = seq > 0 ? FDN_MAX_PAYLOAD - FDN_SEQ_OVERHEAD : FDN_MAX_PAYLOAD;
	bool		envelope;

	if (text == NULL)
		text = fdn_message_text(message, &len, &envelope);
	else
	{
		len = strlen(text);
		envelope = looks_like_envelope(message);
	}

	enc.bytes = len;
	enc.form = FDN_WIRE_PLAIN;
	enc.payload = text;

	if (compression || len > max || envelope)
	{
		int64		ziplen;
		char	   *b64 = compress_message(text, len, max, &ziplen);

		if (b64 != NULL)
		{
			ereport(DEBUG1,
					(errmsg_internal("  Message compressed: " INT64_FORMAT " -> " INT64_FORMAT " bytes",
									 len, ziplen)));
			enc.form = FDN_WIRE_COMPRESSED;
			enc.payload = psprintf("{\"" KEY_COMPRESSED "\": \"%s\"}", b64);
			pfree(b64);
		}
		else
			ereport(DEBUG1,
					(errmsg_internal("  Message compressed: " INT64_FORMAT " -> more than " INT64_FORMAT " bytes: too large for a payload",
									 len, (int64) MAX_ZLIB(max))));
	}
	if (enc.form != FDN_WIRE_COMPRESSED && (len > max || envelope || compression))
	{
		int64		id = store_message(channel, message, len);

		ereport(DEBUG1,
				(errmsg_internal("  Stored as foundation.messages id " INT64_FORMAT " (" INT64_FORMAT " bytes)",
								 id, len)));
		enc.form = FDN_WIRE_STORED;
		enc.payload = psprintf("{\"" KEY_REF "\": " INT64_FORMAT ", \"bytes\": " INT64_FORMAT "}",
							   id, len);
	}
	if (seq > 0)
		enc.payload = psprintf(SEQ_PREFIX INT64_FORMAT SEQ_MIDDLE "%s}",
							   seq, enc.payload);
	return enc;
}

static Jsonb *
fetch(int64 id)
{
	FdnPrivState priv;
	Datum		value = Int64GetDatum(id);
	bool		isnull = true;
	Datum		message = (Datum) 0;

	fdn_priv_begin(&priv);
	fdn_spi_exec("SELECT message FROM foundation.messages WHERE id = $1",
				 1, (Oid[]) {INT8OID}, &value, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
		message = fdn_spi_getdatum(0, 1, &isnull);
	fdn_priv_end(&priv);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stored message " INT64_FORMAT " does not exist", id),
				 errdetail("Stored messages are kept for \"foundation.message_retention\" and then removed."),
				 errhint("Fetch a stored message soon after its notification arrives, or raise \"foundation.message_retention\".")));
	/* Detoast here, outside SPI, so the copy outlives SPI's memory. */
	return DatumGetJsonbP(message);
}

/* The plain, compressed or stored form, back to the message. */
static Jsonb *
decode_form(Jsonb *jb)
{
	JsonbValue	v;

	if (envelope_string(jb, KEY_COMPRESSED, &v))
	{
		char	   *text;

		if (v.type != jbvString)
			bad_payload("\"foundation_compressed\" is not a string");
		text = decompress(v.val.string.val, v.val.string.len);
		return fdn_jsonb_from_text(text);
	}
	if (envelope_string(jb, KEY_REF, &v))
	{
		int64		id;

		if (v.type != jbvNumeric)
			bad_payload("\"foundation_ref\" is not a number");
		id = DatumGetInt64(DirectFunctionCall1(numeric_int8,
											   NumericGetDatum(v.val.numeric)));
		return fetch(id);
	}
	return jb;
}

Jsonb *
fdn_decode_payload(const char *payload)
{
	Jsonb	   *jb = fdn_jsonb_from_text(payload);
	JsonbValue	v;

	if (envelope_string(jb, KEY_SEQ, &v))
	{
		if (v.type != jbvNumeric ||
			!getKeyJsonValueFromContainer(&jb->root, "message", 7, &v))
			bad_payload("\"foundation_seq\" without a number and a \"message\"");
		return decode_form(JsonbValueToJsonb(&v));
	}
	return decode_form(jb);
}

Datum
fdn_decode_message(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg_error("payload",
						   "Pass the payload text of a notification.");
	PG_RETURN_JSONB_P(fdn_decode_payload(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

Datum
fdn_fetch_message(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null_arg_error("message id",
						   "Pass the \"foundation_ref\" of a notification.");
	PG_RETURN_JSONB_P(fetch(PG_GETARG_INT64(0)));
}
