SELECT foundation.broadcast('events', '{"n": 1}');
