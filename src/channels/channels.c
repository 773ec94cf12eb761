/*-------------------------------------------------------------------------
 *
 * channels/channels.c
 *	  The four channels on LISTEN/NOTIFY (the seed's Foundation.Channels):
 *	  the local broadcast, route_message, explain_routing, subscribe,
 *	  unsubscribe.  The SQL broadcast functions, which also reach the other
 *	  members of a cluster, are in cluster/broadcast.c.
 *
 * A channel is a LISTEN/NOTIFY channel named "foundation:<channel>", so
 * any client subscribes with a plain LISTEN.  broadcast is pg_notify with
 * the message's wire form (codec.c); NOTIFY's own guarantees hold: delivery
 * at commit, never after a rollback, in commit order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/foundation.h"
#include "core/spi_util.h"
#include "process/supervisor.h"
#include "channels/channels.h"
#include "channels/codec.h"
#include "channels/durable.h"
#include "channels/handlers.h"


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

void
fdn_channels_null_arg(const char *what)
{
	fdn_null_arg_error(what, "See docs/channels.md for the arguments.");
}

void
fdn_channel_send(int channel, Jsonb *message, char *text, bool compression,
				 FdnRoute route, int64 seq)
{
	const char *topic = fdn_channel_topics[channel];
	FdnEncoded	enc;

	enc = fdn_encode_message(fdn_channel_names[channel], message, text,
							 compression, seq);
	ereport(DEBUG1,
			(errmsg_internal("  pg_notify('%s', ...)", topic)));
	Async_Notify(topic, enc.payload);
	fdn_stats_count(channel, enc.bytes, enc.form == FDN_WIRE_COMPRESSED,
					enc.form == FDN_WIRE_STORED, route);
}

/*
 * A plain channel's message is encoded and queued now; a durable
 * channel's waits for the pre-commit, where it gets its seq (durable.c).
 */
static void
broadcast_text(int channel, Jsonb *message, char *text, bool compression,
			   FdnRoute route)
{
	ereport(DEBUG1,
			(errmsg_internal(CH "Broadcasting to %s (topic: %s)",
							 fdn_channel_names[channel],
							 fdn_channel_topics[channel])));
	if (!fdn_durable_defer(channel, message, text, compression, route))
		fdn_channel_send(channel, message, text, compression, route, 0);
}

void
fdn_broadcast(int channel, Jsonb *message, bool compression, FdnRoute route)
{
	broadcast_text(channel, message, NULL, compression, route);
}

/* ---------- routing ---------- */

static bool
is_string(JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

/*
 * The seed's telemetry patterns: {"type": "metric"}, {"type":
 * "measurement"}, {"telemetry": ...}, and ["telemetry", x].
 */
static bool
is_telemetry(Jsonb *jb)
{
	JsonbValue	v;

	if (JB_ROOT_IS_OBJECT(jb))
	{
		if (getKeyJsonValueFromContainer(&jb->root, "type", 4, &v) &&
			(is_string(&v, "metric") || is_string(&v, "measurement")))
			return true;
		return getKeyJsonValueFromContainer(&jb->root, "telemetry", 9, &v) != NULL;
	}
	if (JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb) &&
		JB_ROOT_COUNT(jb) == 2)
	{
		JsonbValue *first = getIthJsonbValueFromContainer(&jb->root, 0);

		return first != NULL && is_string(first, "telemetry");
	}
	return false;
}

static bool
priority_is_high(const char *priority)
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
decide_route(Jsonb *message, const char *priority, int *channel, char **text,
		  int64 *size)
{
	*text = fdn_message_text(message, size, NULL);
	if (priority_is_high(priority))
	{
		*channel = 0;
		return FDN_ROUTE_HIGH;
	}
	if (*size > FDN_LARGE_MESSAGE)
	{
		*channel = 2;
		return FDN_ROUTE_LARGE;
	}
	if (is_telemetry(message))
	{
		*channel = 3;
		return FDN_ROUTE_TELEMETRY;
	}
	*channel = 1;
	return FDN_ROUTE_DEFAULT;
}

static char *
explain(FdnRoute route, int64 size)
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
		fdn_channels_null_arg("message");
	if (PG_ARGISNULL(1))
		fdn_channels_null_arg("priority");
	if (PG_ARGISNULL(2))
		fdn_channels_null_arg("compression");
	message = PG_GETARG_JSONB_P(0);
	route = decide_route(message, text_to_cstring(PG_GETARG_TEXT_PP(1)),
					  &channel, &msgtext, &size);
	ereport(DEBUG1,
			(errmsg_internal(CH "Auto-routing message to %s channel",
							 fdn_channel_names[channel]),
			 errdetail_internal("Routing logic: %s", explain(route, size))));
	broadcast_text(channel, message, msgtext, PG_GETARG_BOOL(2), route);
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
		fdn_channels_null_arg("message");
	if (PG_ARGISNULL(1))
		fdn_channels_null_arg("priority");
	route = decide_route(PG_GETARG_JSONB_P(0), text_to_cstring(PG_GETARG_TEXT_PP(1)),
					  &channel, &msgtext, &size);
	PG_RETURN_TEXT_P(cstring_to_text(explain(route, size)));
}

/* ---------- LISTEN / UNLISTEN for this session ---------- */

Datum
fdn_subscribe(PG_FUNCTION_ARGS)
{
	int			channel;

	if (PG_ARGISNULL(0))
		fdn_channels_null_arg("channel");
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
		fdn_channels_null_arg("channel");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	ereport(DEBUG1,
			(errmsg_internal(CH "Unsubscribing from %s", fdn_channel_names[channel]),
			 errdetail_internal("UNLISTEN \"%s\"", fdn_channel_topics[channel])));
	Async_Unlisten(fdn_channel_topics[channel]);
	PG_RETURN_VOID();
}

/* ---------- in the supervisor ---------- */

/*
 * Stored channel messages past foundation.message_retention go, and
 * durable channels' messages past their retention.
 */
static void
messages_cleanup(void)
{
	Datum		secs = Int32GetDatum(fdn_message_retention_s);

	fdn_spi_exec("DELETE FROM foundation.messages"
				 " WHERE created_at < now() - make_interval(secs => $1)",
				 1, (Oid[]) {INT4OID}, &secs, NULL, SPI_OK_DELETE);
	fdn_durable_cleanup();
}

static const FdnSupervisorHooks channels_hooks = {
	.feature = "channels",
	.cleanup = messages_cleanup,
};

void
fdn_channels_init(void)
{
	fdn_channel_stats_shmem_register();
	fdn_handlers_shmem_register();
	fdn_supervisor_add_hooks(&channels_hooks);
	fdn_handlers_supervisor_register();
}
