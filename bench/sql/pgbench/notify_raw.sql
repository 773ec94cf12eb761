-- pgbench reads a colon followed by a name as a variable, also inside a
-- literal: 'foundation:events' is spelled E'foundation\x3aevents', the same
-- constant once the statement is prepared.
SELECT pg_notify(E'foundation\x3aevents', '@MSG100@');
