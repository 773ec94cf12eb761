SELECT public.bench_auction_sql(ARRAY[@NAMES@], false);
