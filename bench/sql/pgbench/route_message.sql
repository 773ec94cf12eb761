SELECT foundation.route_message('@MSG100@'::jsonb);
