-- foundation.check_lease(): the guard a cluster singleton calls before each
-- side effect; outside a cluster singleton (as here) it returns at once, in
-- one it reads its lease deadline from shared memory and the clock.
SELECT foundation.check_lease();
