-- bench/sql/cluster_control.sql: the control database (the main instance)
-- of benchmarks 13 to 15.
CREATE ROLE fdn_member LOGIN;
SELECT foundation.grant_member_role('fdn_member');

-- Benchmark 13: poll the control row of singleton p_name every 50 ms (a
-- fresh snapshot each time, and clock_timestamp(), not now(), which would
-- stay at the call's start) until it is assigned to a member other than
-- p_dead that is live and has reported its pid.  moved_at: when the row was
-- first seen on another member; running_at: when the pid was seen (epoch
-- seconds, the clock `date +%s.%N` reads).
CREATE FUNCTION public.bench_wait_failover(p_name text, p_dead text, timeout_s float8,
                                           OUT moved_at float8, OUT running_at float8,
                                           OUT node text, OUT pid integer, OUT epoch bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  c record;
BEGIN
  LOOP
    SELECT s.node, s.pid, s.epoch,
           EXISTS (SELECT FROM foundation.members m
                    WHERE m.node = s.node AND m.epoch = s.member_epoch
                      AND m.state = 'up' AND m.lease_expires > clock_timestamp()) AS live
      INTO c FROM foundation.cluster_singletons s WHERE s.name = p_name;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'singleton % is gone from foundation.cluster_singletons', p_name;
    END IF;
    IF moved_at IS NULL AND c.node IS DISTINCT FROM p_dead THEN
      moved_at := extract(epoch FROM clock_timestamp());
    END IF;
    EXIT WHEN c.node <> p_dead AND c.pid IS NOT NULL AND c.live;
    IF clock_timestamp() - t0 > make_interval(secs => timeout_s) THEN
      RAISE EXCEPTION 'singleton % not running on another live member within % s (last: node %, pid %, epoch %, member live %)',
        p_name, timeout_s, c.node, c.pid, c.epoch, c.live;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  running_at := extract(epoch FROM clock_timestamp());
  node := c.node;
  pid := c.pid;
  epoch := c.epoch;
END $$;
