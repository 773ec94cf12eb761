#!/bin/bash
# memory per child: a private server (my build), N idle children, Pss / Private (USS) / Rss per child
set -e
B=/tmp/perf18/pgx/usr/lib/postgresql/15/bin
D=/tmp/perf18/memdata; S=/tmp/perf18/memsock; P=55432
rm -rf $D $S; mkdir -p $S
$B/initdb -D $D -A trust -U postgres >/dev/null
cat >> $D/postgresql.conf <<CONF
shared_preload_libraries = 'foundation'
max_worker_processes = 240
foundation.max_children = 230
max_connections = 50
foundation.naptime = '1s'
foundation.health_check_interval = 0
unix_socket_directories = '$S'
listen_addresses = ''
port = $P
CONF
$B/pg_ctl -D $D -l $D/log -w start >/dev/null
q() { $B/psql -h $S -p $P -U postgres -d postgres -XAtq -c "$1"; }
q "CREATE EXTENSION foundation"
$B/psql -h $S -p $P -U postgres -d postgres -Xq -f /work/wt-perf18/bench/sql/idle.sql
measure() {
  local n=$1
  local have=$(q "SELECT count(*) FROM foundation.registry WHERE name LIKE 'mem%'")
  for i in $(seq $((have + 1)) $n); do q "SELECT foundation.start_singleton('public.idle', '{}', 'mem$i')" >/dev/null; done
  sleep 5
  pids=$(q "SELECT pid FROM foundation.registry WHERE name LIKE 'mem%' AND foundation.pid_alive(pid)")
  cnt=$(echo "$pids" | wc -l)
  for p in $pids; do awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2} END {print r, p, pc+pd}' /proc/$p/smaps_rollup; done |
    awk -v n=$n -v c=$cnt '{r+=$1; p+=$2; u+=$3} END {printf "%d children (%d alive): per child mean Rss %.0f kB, Pss %.0f kB, private (USS) %.0f kB\n", n, c, r/NR, p/NR, u/NR}'
  sup=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'")
  for p in $sup; do awk -v n=$n '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2} END {printf "  supervisor with %d children: Rss %d kB, Pss %d kB, private %d kB\n", n, r, p, pc+pd}' /proc/$p/smaps_rollup; done
}
for n in 1 10 100 200; do measure $n; done
$B/pg_ctl -D $D -m fast -w stop >/dev/null
