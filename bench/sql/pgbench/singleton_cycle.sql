SELECT foundation.start_singleton('public.idle', '{}', 'lat');
SELECT foundation.stop_singleton('lat');
