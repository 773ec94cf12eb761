-- foundation: the install script of the version foundation.control names,
-- joined by the Makefile from the pieces sql/install/NN_area.sql in name
-- order (core, process, channels, discovery, coordination, cluster,
-- facade: each piece uses only what the pieces before it create).  Edit the
-- pieces; every change goes into the upgrade script to this version too.
\echo Use "CREATE EXTENSION foundation" to load this file. \quit

-- Everyone may use foundation; what each role may do is checked per call
-- and by row-level security.
GRANT USAGE ON SCHEMA foundation TO PUBLIC;

