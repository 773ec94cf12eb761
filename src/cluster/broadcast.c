/*-------------------------------------------------------------------------
 *
 * cluster/broadcast.c
 *	  broadcast, local_broadcast and direct_broadcast: the local broadcast
 *	  of channels/channels.c, and the other members of a cluster through
 *	  the outbox that the relay delivers (cluster/relay.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/foundation.h"
#include "channels/channels.h"
#include "cluster/members.h"
#include "cluster/relay.h"


PG_FUNCTION_INFO_V1(fdn_broadcast_sql);
PG_FUNCTION_INFO_V1(fdn_local_broadcast_sql);
PG_FUNCTION_INFO_V1(fdn_direct_broadcast_sql);

/*
 * broadcast, local_broadcast and direct_broadcast: arguments from `first`
 * on are (channel, message, compression); reach is NULL for every member,
 * or the one member (this node: its own listeners only).
 */
static void
broadcast_args(FunctionCallInfo fcinfo, int first, const char *reach)
{
	int			channel;
	Jsonb	   *message;
	bool		compression;

	if (PG_ARGISNULL(first))
		fdn_channels_null_arg("channel");
	if (PG_ARGISNULL(first + 1))
		fdn_channels_null_arg("message");
	if (PG_ARGISNULL(first + 2))
		fdn_channels_null_arg("compression");
	channel = fdn_channel_index(text_to_cstring(PG_GETARG_TEXT_PP(first)));
	message = PG_GETARG_JSONB_P(first + 1);
	compression = PG_GETARG_BOOL(first + 2);
	if (reach == NULL || strcmp(reach, fdn_node()) == 0)
		fdn_broadcast(channel, message, compression, FDN_ROUTE_NONE);
	/* The other members through the outbox (relay.c). */
	if (reach == NULL ? fdn_cluster_here() : strcmp(reach, fdn_node()) != 0)
		fdn_outbox_write(reach, channel, message, compression);
}

Datum
fdn_broadcast_sql(PG_FUNCTION_ARGS)
{
	broadcast_args(fcinfo, 0, NULL);
	PG_RETURN_VOID();
}

Datum
fdn_local_broadcast_sql(PG_FUNCTION_ARGS)
{
	broadcast_args(fcinfo, 0, fdn_node());
	PG_RETURN_VOID();
}

Datum
fdn_direct_broadcast_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		fdn_channels_null_arg("node");
	broadcast_args(fcinfo, 1, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
