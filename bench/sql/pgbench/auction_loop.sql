SELECT public.bench_handler_calls(ARRAY[@NAMES@], false);
