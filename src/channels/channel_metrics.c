/*-------------------------------------------------------------------------
 *
 * channels/channel_metrics.c
 *	  The channels' counters in the shape monitoring wants them.
 *
 * foundation.channel_stats shows one row per channel with every counter;
 * a Prometheus scrape wants one row per label set: messages and bytes per
 * channel and wire form (plain, compressed, by reference), and the
 * handler dispatcher's calls, errors, timeouts and drops per channel.
 * Both read the same shared counters as channel_stats (channel_stats.c),
 * of committed broadcasts only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"

#include "core/foundation.h"
#include "channels/channel_stats.h"
#include "channels/channels.h"


PG_FUNCTION_INFO_V1(fdn_channel_form_counters);
PG_FUNCTION_INFO_V1(fdn_handler_counters);

/* Start a set-returning call's result; a copy of the counters in snap. */
static ReturnSetInfo *
begin_rows(FunctionCallInfo fcinfo, FdnChannelCounters *snap)
{
	fdn_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	fdn_stats_snapshot(snap);
	return (ReturnSetInfo *) fcinfo->resultinfo;
}

static void
put_form(ReturnSetInfo *rsinfo, int channel, const char *form,
		 int64 messages, int64 bytes)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = CStringGetTextDatum(fdn_channel_names[channel]);
	values[1] = CStringGetTextDatum(form);
	values[2] = Int64GetDatum(messages);
	values[3] = Int64GetDatum(bytes);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * (channel, form, messages, bytes): every message is sent in exactly one
 * form, so plain is what is neither compressed nor stored.
 */
Datum
fdn_channel_form_counters(PG_FUNCTION_ARGS)
{
	FdnChannelCounters snap[FDN_NCHANNELS];
	ReturnSetInfo *rsinfo = begin_rows(fcinfo, snap);
	int			c;

	for (c = 0; c < FDN_NCHANNELS; c++)
	{
		FdnChannelCounters *s = &snap[c];

		put_form(rsinfo, c, "plain",
				 s->messages - s->compressed - s->stored,
				 s->bytes - s->bytes_compressed - s->bytes_stored);
		put_form(rsinfo, c, "compressed", s->compressed, s->bytes_compressed);
		put_form(rsinfo, c, "reference", s->stored, s->bytes_stored);
	}
	return (Datum) 0;
}

/* (channel, calls, errors, timeouts, dropped) of the handler dispatcher. */
Datum
fdn_handler_counters(PG_FUNCTION_ARGS)
{
	FdnChannelCounters snap[FDN_NCHANNELS];
	ReturnSetInfo *rsinfo = begin_rows(fcinfo, snap);
	int			c;

	for (c = 0; c < FDN_NCHANNELS; c++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(fdn_channel_names[c]);
		values[1] = Int64GetDatum(snap[c].handler_calls);
		values[2] = Int64GetDatum(snap[c].handler_errors);
		values[3] = Int64GetDatum(snap[c].handler_timeouts);
		values[4] = Int64GetDatum(snap[c].dropped);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
