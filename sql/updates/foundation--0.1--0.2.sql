-- foundation 0.1 -> 0.2: no change to any object.  0.2 is 0.1 re-cut into
-- pieces per area (sql/install/), with a few statements moved to the piece
-- of their area (the facade last; pid_alive's privileges and the registry's
-- cache trigger to process; local_broadcast to channels): an updated 0.1
-- and a fresh 0.2 have the same schema (test/t/023_upgrade.pl checks it).
\echo Use "ALTER EXTENSION foundation UPDATE TO '0.2'" to load this file. \quit
