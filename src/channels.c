/*-------------------------------------------------------------------------
 *
 * channels.c
 *	  The four channels on LISTEN/NOTIFY (the seed's Foundation.Channels):
 *	  broadcast, route_message, explain_routing, subscribe, unsubscribe.
 *
 * A channel is a LISTEN/NOTIFY channel named "foundation:<channel>", so
 * any client subscribes with a plain LISTEN.  broadcast is pg_notify with
 * the message's wire form (codec.c); NOTIFY's own guarantees hold: delivery
 * at commit, never after a rollback, in commit order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "channels.h"
#include "codec.h"
#include "foundation.h"
#include "membership.h"
#include "relay.h"

PG_FUNCTION_INFO_V1(fdn_broadcast_sql);
PG_FUNCTION_INFO_V1(fdn_local_broadcast_sql);
PG_FUNCTION_INFO_V1(fdn_direct_broadcast_sql);
PG_FUNCTION_INFO_V1(fdn_route_message);
PG_FUNCTION_INFO_V1(fdn_explain_routing);
PG_FUNCTION_INFO_V1(fdn_subscribe);
PG_FUNCTION_INFO_V1(fdn_unsubscribe);

#define CH "Foundation.Channels: "

/* Messages larger than this (text form, bytes) go to the data channel. */
#define FDN_LARGE_MESSAGE 10240

const char *const fdn_channel_names[FDN_NCHANNELS] = {
	"control", "events", "data", "telemetry"
};
const char *const fdn_channel_topics[FDN_NCHANNELS] = {
	"foundation:control", "foundation:events", "foundation:data",
	"foundation:telemetry"
};

int
fdn_channel_index(const char *name)
{
	int			c;

	for (c = 0; c < FDN_NCHANNELS; c++)
		if (strcmp(name, fdn_channel_names[c]) == 0)
			return c;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid channel: \"%s\"", name),
			 errdetail("Available channels: control, events, data, telemetry."),
			 errhint("Or use pg_notify('your-custom-channel', message) for a custom channel.")));
	return -1;					/* keep compiler quiet */
}

int
fdn_topic_index(const char *topic)
{
	int			c;

	for (c = 0; c < FDN_NCHANNELS; c++)
		if (strcmp(topic, fdn_channel_topics[c]) == 0)
			return c;
	return -1;
}

static void
fdn_null(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s must not be NULL", what),
			 errhint("See docs/channels.md for the arguments.")));
}

static void
fdn_broadcast_text(int channel, Jsonb *message, char *text, bool compression,
				   FdnRoute route)
{
	const char *topic = fdn_channel_topics[channel];
	FdnEncoded	enc;

	ereport(DEBUG1,
			(errmsg_internal(CH "Broadcasting to %s (topic: %s)",
							 fdn_channel_names[channel], topic)));
	enc = fdn_encode_message(fdn_channel_names[channel], message, text,
							 compression);
	ereport(DEBUG1,
			(errmsg_internal("  pg_notify('%s', ...)", topic)));
	Async_Notify(topic, enc.payload);
	fdn_stats_count(channel, enc.bytes, enc.form == FDN_WIRE_COMPRESSED,
					enc.form == FDN_WIRE_STORED, route);
}

void
fdn_broadcast(int channel, Jsonb *message, bool compression, FdnRoute route)
{
	fdn_broadcast_text(channel, message, NULL, compression, route);
}

/*
 * broadcast, local_broadcast and direct_broadcast: arguments from `first`
 * on are (channel, message, compression); reach is NULL for every member,
 * or the one member (this node: its own listeners only).
 */
static void
fdn_broadcast_args(FunctionCallInfo fcinfo, int first, const char *reach)
{
	int			channel;
	Jsonb	   *message;
	bool		compression;

	if (PG_ARGISNULL(first))
		fdn_null("channel");
	if (PG_ARGISNULL(first + 1))
		fdn_null("message");
	if (PG_ARGISNULL(first + 2))
		fdn_null("compression");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(first)));
	message = PG_GETARG_JSONB_P(first + 1);
	compression = PG_GETARG_BOOL(first + 2);
	if (reach == NULL || strcmp(reach, fdn_node()) == 0)
		fdn_broadcast(channel, message, compression, FDN_ROUTE_NONE);
	/* The other members through the outbox (relay.c). */
	if (reach == NULL ? fdn_cluster_enabled() : strcmp(reach, fdn_node()) != 0)
		fdn_outbox_write(reach, channel, message, compression);
}

Datum
fdn_broadcast_sql(PG_FUNCTION_ARGS)
{
	fdn_broadcast_args(fcinfo, 0, NULL);
	PG_RETURN_VOID();
}

Datum
fdn_local_broadcast_sql(PG_FUNCTION_ARGS)
{
	fdn_broadcast_args(fcinfo, 0, fdn_node());
	PG_RETURN_VOID();
}

Datum
fdn_direct_broadcast_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_null("node");
	fdn_broadcast_args(fcinfo, 1, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* ---------- routing ---------- */

static bool
fdn_is_string(JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

/*
 * The seed's telemetry patterns: {"type": "metric"}, {"type":
 * "measurement"}, {"telemetry": ...}, and ["telemetry", x].
 */
static bool
fdn_is_telemetry(Jsonb *jb)
{
	JsonbValue	v;

	if (JB_ROOT_IS_OBJECT(jb))
	{
		if (getKeyJsonValueFromContainer(&jb->root, "type", 4, &v) &&
			(fdn_is_string(&v, "metric") || fdn_is_string(&v, "measurement")))
			return true;
		return getKeyJsonValueFromContainer(&jb->root, "telemetry", 9, &v) != NULL;
	}
	if (JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb) &&
		JB_ROOT_COUNT(jb) == 2)
	{
		JsonbValue *first = getIthJsonbValueFromContainer(&jb->root, 0);

		return first != NULL && fdn_is_string(first, "telemetry");
	}
	return false;
}

static bool
fdn_priority_is_high(const char *priority)
{
	if (strcmp(priority, "high") == 0)
		return true;
	if (strcmp(priority, "normal") == 0 || strcmp(priority, "low") == 0)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid priority \"%s\"", priority),
			 errhint("Use 'high' (routed to control), 'normal' or 'low'.")));
	return false;				/* keep compiler quiet */
}

/* Decide; sets *channel and returns the rule, and the text and its size. */
static FdnRoute
fdn_route(Jsonb *message, const char *priority, int *channel, char **text,
		  int64 *size)
{
	*text = JsonbToCString(NULL, &message->root, VARSIZE(message));
	*size = strlen(*text);
	if (fdn_priority_is_high(priority))
	{
		*channel = 0;
		return FDN_ROUTE_HIGH;
	}
	if (*size > FDN_LARGE_MESSAGE)
	{
		*channel = 2;
		return FDN_ROUTE_LARGE;
	}
	if (fdn_is_telemetry(message))
	{
		*channel = 3;
		return FDN_ROUTE_TELEMETRY;
	}
	*channel = 1;
	return FDN_ROUTE_DEFAULT;
}

static char *
fdn_explain(FdnRoute route, int64 size)
{
	switch (route)
	{
		case FDN_ROUTE_HIGH:
			return pstrdup("High priority specified -> control");
		case FDN_ROUTE_LARGE:
			return psprintf("Large message (" INT64_FORMAT " bytes) -> data", size);
		case FDN_ROUTE_TELEMETRY:
			return pstrdup("Telemetry pattern detected -> telemetry");
		default:
			return pstrdup("Default routing -> events");
	}
}

Datum
fdn_route_message(PG_FUNCTION_ARGS)
{
	Jsonb	   *message;
	int			channel;
	char	   *msgtext;
	int64		size;
	FdnRoute	route;

	if (PG_ARGISNULL(0))
		fdn_null("message");
	if (PG_ARGISNULL(1))
		fdn_null("priority");
	if (PG_ARGISNULL(2))
		fdn_null("compression");
	message = PG_GETARG_JSONB_P(0);
	route = fdn_route(message, text_to_cstring(PG_GETARG_TEXT_PP(1)),
					  &channel, &msgtext, &size);
	ereport(DEBUG1,
			(errmsg_internal(CH "Auto-routing message to %s channel",
							 fdn_channel_names[channel]),
			 errdetail_internal("Routing logic: %s", fdn_explain(route, size))));
	fdn_broadcast_text(channel, message, msgtext, PG_GETARG_BOOL(2), route);
	PG_RETURN_TEXT_P(cstring_to_text(fdn_channel_names[channel]));
}

Datum
fdn_explain_routing(PG_FUNCTION_ARGS)
{
	int			channel;
	char	   *msgtext;
	int64		size;
	FdnRoute	route;

	if (PG_ARGISNULL(0))
		fdn_null("message");
	if (PG_ARGISNULL(1))
		fdn_null("priority");
	route = fdn_route(PG_GETARG_JSONB_P(0), text_to_cstring(PG_GETARG_TEXT_PP(1)),
					  &channel, &msgtext, &size);
	PG_RETURN_TEXT_P(cstring_to_text(fdn_explain(route, size)));
}

/* ---------- LISTEN / UNLISTEN for this session ---------- */

Datum
fdn_subscribe(PG_FUNCTION_ARGS)
{
	int			channel;

	if (PG_ARGISNULL(0))
		fdn_null("channel");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	ereport(DEBUG1,
			(errmsg_internal(CH "Subscribing to %s (topic: %s)",
							 fdn_channel_names[channel],
							 fdn_channel_topics[channel]),
			 errdetail_internal("LISTEN \"%s\"", fdn_channel_topics[channel])));
	Async_Listen(fdn_channel_topics[channel]);
	PG_RETURN_VOID();
}

Datum
fdn_unsubscribe(PG_FUNCTION_ARGS)
{
	int			channel;

	if (PG_ARGISNULL(0))
		fdn_null("channel");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	ereport(DEBUG1,
			(errmsg_internal(CH "Unsubscribing from %s", fdn_channel_names[channel]),
			 errdetail_internal("UNLISTEN \"%s\"", fdn_channel_topics[channel])));
	Async_Unlisten(fdn_channel_topics[channel]);
	PG_RETURN_VOID();
}
