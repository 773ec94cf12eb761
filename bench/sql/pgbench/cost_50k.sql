SELECT foundation.broadcast('events', '@M50K@'::jsonb, true);
