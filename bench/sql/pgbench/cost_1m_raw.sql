-- a by-reference message made by hand, as broadcast stores and announces one
WITH m AS (INSERT INTO foundation.messages (channel, message, bytes) VALUES ('events', '@M1M@'::jsonb, 1048576) RETURNING id) SELECT pg_notify(E'foundation\x3aevents', '{"foundation_ref": ' || id || ', "bytes": 1048576}') FROM m;
