SELECT foundation_bench.bare_worker_cycle();
