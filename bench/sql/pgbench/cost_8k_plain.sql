SELECT foundation.broadcast('events', '@M8K@'::jsonb, false);
