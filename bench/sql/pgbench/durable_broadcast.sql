SELECT foundation.broadcast('telemetry', '@MSG100@'::jsonb);
