-- (E'foundation\x3aevents': see notify_raw.sql)
SELECT pg_notify(E'foundation\x3aevents', 'x');
