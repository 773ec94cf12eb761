BEGIN;
SELECT foundation.local_broadcast('events', '{"n": 1}');
ROLLBACK;
