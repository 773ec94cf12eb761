-- bench/sql/setup.sql: the main instance, before any group runs.
CREATE EXTENSION foundation;

\ir idle.sql

-- Baseline helper (bench/foundation_bench, preloaded).
CREATE SCHEMA foundation_bench;
CREATE FUNCTION foundation_bench.bare_worker_cycle() RETURNS void
  LANGUAGE c AS 'foundation_bench', 'fdnb_bare_worker_cycle';
