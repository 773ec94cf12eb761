-- The raw equivalent of a durable broadcast: the message into a table like
-- foundation.durable_messages and a NOTIFY carrying its number, in one
-- transaction.  (A colon followed by a name is a pgbench variable, also in
-- a literal: E'\x3a' spells it.)
WITH m AS (INSERT INTO public.durable_raw (channel, message) VALUES ('telemetry', '@MSG100@'::jsonb) RETURNING seq)
SELECT pg_notify(E'foundation\x3atelemetry', E'{"foundation_seq"\x3a ' || seq || E', "message"\x3a ' || '@MSG100@') FROM m;
