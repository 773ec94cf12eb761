SELECT count(public.h(n, 'bid_for_resources', '{}')) FROM unnest(ARRAY[@NAMES@]) n;
