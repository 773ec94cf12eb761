SELECT foundation.broadcast('events', '@M1M@'::jsonb, true);
