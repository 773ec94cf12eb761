-- foundation 0.1: supervisor, children and the registry (issue 2).
\echo Use "CREATE EXTENSION foundation" to load this file. \quit

-- Refuse any database but foundation.database: the supervisor lives there.
CREATE FUNCTION foundation._check_database() RETURNS void
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_check_database';
SELECT foundation._check_database();
DROP FUNCTION foundation._check_database();

-- Everyone may use foundation; what each role may do is checked per call
-- and by row-level security.
GRANT USAGE ON SCHEMA foundation TO PUBLIC;

