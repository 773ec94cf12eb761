BEGIN;
SELECT foundation.broadcast('events', '{"n": 1}');
ROLLBACK;
