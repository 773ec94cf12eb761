SELECT foundation.lookup_singleton('bench');
