------------------------------------------------------------------------------
-- Channels on LISTEN/NOTIFY (after Foundation.Channels of the Elixir library).
------------------------------------------------------------------------------
CREATE VIEW foundation.channels (channel, topic) AS
  VALUES ('control', 'foundation:control'),
         ('events', 'foundation:events'),
         ('data', 'foundation:data'),
         ('telemetry', 'foundation:telemetry');
GRANT SELECT ON foundation.channels TO PUBLIC;

-- Messages too large for a NOTIFY payload even compressed: sent by reference.
CREATE TABLE foundation.messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel    text NOT NULL,
    message    jsonb NOT NULL,
    bytes      bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON foundation.messages (created_at);
COMMENT ON TABLE foundation.messages IS
  'Channel messages announced by reference ({"foundation_ref": id, "bytes": n}); kept for foundation.message_retention.';
GRANT SELECT ON foundation.messages TO PUBLIC;

CREATE FUNCTION foundation.broadcast(channel text, message jsonb,
                                     compression boolean DEFAULT false)
    RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_broadcast_sql';
COMMENT ON FUNCTION foundation.broadcast(text, jsonb, boolean) IS
  'Broadcast on a channel, delivered at commit. Equivalent to SELECT pg_notify(''foundation:'' || channel, message::text) when the text fits in 7999 bytes and compression is false; otherwise the payload is the compressed or by-reference form (docs/channels.md).';

CREATE FUNCTION foundation.local_broadcast(channel text, message jsonb,
                                           compression boolean DEFAULT false)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_local_broadcast_sql';
COMMENT ON FUNCTION foundation.local_broadcast(text, jsonb, boolean) IS
  'Broadcast to this server''s listeners only (Phoenix.PubSub.local_broadcast). Equivalent to pg_notify(''foundation:'' || channel, ...) as foundation.broadcast encodes it.';

CREATE FUNCTION foundation.route_message(message jsonb, priority text DEFAULT 'normal',
                                         compression boolean DEFAULT false)
    RETURNS text
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_route_message';
COMMENT ON FUNCTION foundation.route_message(jsonb, text, boolean) IS
  'Pick a channel by fixed rules (high priority -> control; text over 10240 bytes -> data; telemetry pattern -> telemetry; else events), broadcast, return the channel. Equivalent to: SELECT foundation.broadcast(<channel>, message, compression); see foundation.explain_routing.';

CREATE FUNCTION foundation.explain_routing(message jsonb, priority text DEFAULT 'normal')
    RETURNS text
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_explain_routing';
COMMENT ON FUNCTION foundation.explain_routing(jsonb, text) IS
  'The routing decision route_message would take, with the rule that decided it; sends nothing.';

CREATE FUNCTION foundation.subscribe(channel text) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_subscribe';
COMMENT ON FUNCTION foundation.subscribe(text) IS
  'LISTEN to a channel in this session, from commit on. Equivalent to: LISTEN "foundation:<channel>".';

CREATE FUNCTION foundation.unsubscribe(channel text) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_unsubscribe';
COMMENT ON FUNCTION foundation.unsubscribe(text) IS
  'UNLISTEN a channel in this session, from commit on. Equivalent to: UNLISTEN "foundation:<channel>".';

CREATE FUNCTION foundation.decode_message(payload text) RETURNS jsonb
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_decode_message';
COMMENT ON FUNCTION foundation.decode_message(text) IS
  'Any payload a listener received (plain, compressed or by reference) back to the original message.';

CREATE FUNCTION foundation.fetch_message(id bigint) RETURNS jsonb
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_fetch_message';
COMMENT ON FUNCTION foundation.fetch_message(bigint) IS
  'A message stored by reference. Equivalent to SELECT message FROM foundation.messages WHERE id = $1, but an error when it is gone.';

-- Statistics of committed broadcasts, from shared memory.  Executable by
-- PUBLIC because the channel_stats view calls it as the caller; it shows
-- this database's counters only, no message.
CREATE FUNCTION foundation._channel_stats(
    OUT channel text, OUT topic text, OUT messages bigint, OUT bytes bigint,
    OUT compressed bigint, OUT stored bigint, OUT routed_high_priority bigint,
    OUT routed_large bigint, OUT routed_telemetry bigint, OUT routed_default bigint,
    OUT errors bigint, OUT last_message_at timestamptz, OUT dropped bigint)
    RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_channel_stats';
REVOKE ALL ON FUNCTION foundation._channel_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation._channel_stats() TO PUBLIC;
CREATE VIEW foundation.channel_stats AS SELECT * FROM foundation._channel_stats();
GRANT SELECT ON foundation.channel_stats TO PUBLIC;
CREATE FUNCTION foundation.reset_channel_stats() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_reset_channel_stats';
REVOKE ALL ON FUNCTION foundation.reset_channel_stats() FROM PUBLIC;

-- Server-side handlers.
CREATE TABLE foundation.channel_handlers (
    channel    text NOT NULL CHECK (channel IN ('control', 'events', 'data', 'telemetry')),
    handler    regprocedure NOT NULL,
    owner      regrole NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, handler, owner)
);
COMMENT ON TABLE foundation.channel_handlers IS
  'Procedures handler(channel text, message jsonb) the dispatcher child calls for every message on a channel, as their owner.';
GRANT SELECT ON foundation.channel_handlers TO PUBLIC;
-- Whatever changes the subscriptions (subscribe, unsubscribe, a
-- superuser's INSERT, pg_restore's COPY), a running dispatcher reloads
-- them once that commits.
CREATE FUNCTION foundation._channel_handlers_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_channel_handlers_changed';
REVOKE ALL ON FUNCTION foundation._channel_handlers_changed() FROM PUBLIC;
CREATE TRIGGER channel_handlers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.channel_handlers
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._channel_handlers_changed();
-- pg_dump keeps every subscription (docs/backup.md); handler and owner go
-- by name, and the supervisor starts the dispatcher after a restore.  Not
-- a dropped role's (its owner would dump as a bare OID).
SELECT pg_catalog.pg_extension_config_dump('foundation.channel_handlers',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');

CREATE FUNCTION foundation.subscribe(channel text, handler regprocedure) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_subscribe_handler';
COMMENT ON FUNCTION foundation.subscribe(text, regprocedure) IS
  'Run handler(channel, message) for every message on channel, as you, in its own transaction. Equivalent to: INSERT INTO foundation.channel_handlers ...; SELECT foundation.start_singleton(''foundation.handler_dispatcher'', ''{}'', ''foundation:dispatcher'') as the bootstrap superuser (the name is reserved: only foundation itself may start it).';

CREATE FUNCTION foundation.unsubscribe(channel text, handler regprocedure) RETURNS boolean
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_unsubscribe_handler';
COMMENT ON FUNCTION foundation.unsubscribe(text, regprocedure) IS
  'Stop running handler for channel. Equivalent to: DELETE FROM foundation.channel_handlers WHERE channel = $1 AND handler = $2.';

CREATE PROCEDURE foundation.handler_dispatcher(args jsonb)
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_handler_dispatcher';
COMMENT ON PROCEDURE foundation.handler_dispatcher(jsonb) IS
  'The dispatcher''s module: LISTENs to the four channels and runs foundation.channel_handlers. Started by foundation.subscribe(channel, handler).';
REVOKE ALL ON PROCEDURE foundation.handler_dispatcher(jsonb) FROM PUBLIC;

CREATE FUNCTION foundation.dispatcher_pid() RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_dispatcher_pid';
COMMENT ON FUNCTION foundation.dispatcher_pid() IS
  'The handler dispatcher''s pid once it is listening (messages committed from then on reach the handlers), else NULL.';


-- Durable channels: every committed message kept, with a sequence number,
-- for the channel's retention, so a listener that reconnects replays what
-- it missed.
CREATE TABLE foundation.channel_config (
    channel   text PRIMARY KEY CHECK (channel IN ('control', 'events', 'data', 'telemetry')),
    retention interval NOT NULL CHECK (retention > '0'::interval)
);
COMMENT ON TABLE foundation.channel_config IS
  'Durable channels (foundation.configure_channel) and how long their messages stay replayable.';
GRANT SELECT ON foundation.channel_config TO PUBLIC;
-- Whatever changes the configuration (configure_channel, a superuser's
-- INSERT, pg_restore's COPY), every backend rereads it once that commits.
CREATE FUNCTION foundation._channel_config_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_channel_config_changed';
REVOKE ALL ON FUNCTION foundation._channel_config_changed() FROM PUBLIC;
CREATE TRIGGER channel_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON foundation.channel_config
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._channel_config_changed();

CREATE SEQUENCE foundation.durable_seq;
CREATE TABLE foundation.durable_messages (
    channel text NOT NULL,
    seq     bigint NOT NULL,
    message jsonb NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, seq)
);
-- Retention sweeps each channel by its time through this index.
CREATE INDEX ON foundation.durable_messages (channel, sent_at);
COMMENT ON TABLE foundation.durable_messages IS
  'Committed messages of durable channels, written by the broadcasting transaction at its commit; seq grows in commit order on a channel; sent_at is the commit time. Read with foundation.replay.';
-- pg_dump keeps which channels are durable, where the numbering is, and
-- the messages still retained: restored, the numbering goes on from
-- there, and a listener that moves to the new server with the last seq it
-- saw replays what it missed before the dump.  What retention would
-- remove (expired, or of a channel no longer durable) is left out.
SELECT pg_catalog.pg_extension_config_dump('foundation.channel_config', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.durable_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.durable_messages',
  'WHERE EXISTS (SELECT FROM foundation.channel_config c'
  ' WHERE c.channel = durable_messages.channel'
  ' AND durable_messages.sent_at >= pg_catalog.now() - c.retention)');
-- Every LISTENing session of the database sees these messages anyway.
GRANT SELECT ON foundation.durable_messages TO PUBLIC;

CREATE FUNCTION foundation.configure_channel(channel text, retention interval)
    RETURNS void LANGUAGE c VOLATILE CALLED ON NULL INPUT
    AS 'MODULE_PATHNAME', 'fdn_configure_channel';
COMMENT ON FUNCTION foundation.configure_channel(text, interval) IS
  'Make a channel durable: every message is kept for retention with a sequence number ({"foundation_seq": n, "message": ...} on the wire) and replayable with foundation.replay; NULL makes it plain again. Costs a row per message, written at commit; the channel''s committers take turns while they commit. Equivalent to: INSERT INTO foundation.channel_config ... ON CONFLICT DO UPDATE (or DELETE).';
REVOKE ALL ON FUNCTION foundation.configure_channel(text, interval) FROM PUBLIC;

CREATE FUNCTION foundation.replay(channel text, after_seq bigint)
    RETURNS TABLE (seq bigint, message jsonb, sent_at timestamptz)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF channel IS NULL OR after_seq IS NULL THEN
    RAISE EXCEPTION 'null value not allowed for %', CASE WHEN channel IS NULL THEN 'channel' ELSE 'after_seq' END
      USING ERRCODE = '22004', HINT = 'Pass the channel and the last seq you saw (0 for everything retained).';
  END IF;
  IF NOT EXISTS (SELECT FROM foundation.channels c WHERE c.channel = replay.channel) THEN
    RAISE EXCEPTION 'invalid channel: "%"', channel
      USING ERRCODE = '22023', DETAIL = 'Available channels: control, events, data, telemetry.',
            HINT = 'Replay one of foundation''s channels made durable with foundation.configure_channel.';
  END IF;
  RETURN QUERY SELECT m.seq, m.message, m.sent_at FROM foundation.durable_messages m
                WHERE m.channel = replay.channel AND m.seq > replay.after_seq ORDER BY m.seq;
END $$;
COMMENT ON FUNCTION foundation.replay(text, bigint) IS
  'The committed messages of a durable channel after after_seq that are still retained, in order. Equivalent to: SELECT seq, message, sent_at FROM foundation.durable_messages WHERE channel = $1 AND seq > $2 ORDER BY seq.';
