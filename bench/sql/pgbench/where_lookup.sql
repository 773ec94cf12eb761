SELECT foundation.lookup_singleton('bench_local');
