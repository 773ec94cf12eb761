SELECT * FROM foundation.whereis('bench_cs');
