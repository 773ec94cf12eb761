SELECT foundation.broadcast('events', '@MSG100@'::jsonb);
