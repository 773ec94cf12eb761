#!/bin/bash
# The supervisor's CPU per second (foundation.naptime = 1 s: about one pass a
# second) with 10, 100 and 500 idle children, then with 500 children and
# 100 000 names of a live session in the registry.  A private server on the
# installed foundation; run as the servers' OS user.  Prints, for each
# case, the supervisor's time on CPU (/proc/<pid>/schedstat) over W seconds.
set -e
B=/usr/lib/postgresql/15/bin
D=${D:-/var/tmp/growth}; S=$D/sock; P=${P:-55499}; W=${W:-20}
rm -rf $D/data $S; mkdir -p $S
$B/initdb -D $D/data -A trust -U postgres >/dev/null
cat >> $D/data/postgresql.conf <<CONF
shared_preload_libraries = 'foundation'
max_worker_processes = 540
foundation.max_children = 520
max_connections = 60
foundation.naptime = '1s'
foundation.health_check_interval = 0
autovacuum = off
unix_socket_directories = '$S'
listen_addresses = ''
port = $P
CONF
$B/pg_ctl -D $D/data -l $D/log -w start >/dev/null
trap '$B/pg_ctl -D $D/data -m immediate stop >/dev/null 2>&1 || true' EXIT
q() { $B/psql -h $S -p $P -U postgres -d postgres -XAtq -c "$1"; }
q "CREATE EXTENSION foundation"
q "CREATE PROCEDURE public.idle(args jsonb) LANGUAGE plpgsql AS \$\$ BEGIN LOOP PERFORM pg_sleep(1); END LOOP; END \$\$"
sup() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation supervisor' AND datname = 'postgres'"; }
cpu() { awk '{ print $1 }' /proc/$1/schedstat; }
measure() {
	local label=$1 pid c0 c1
	sleep 3
	pid=$(sup)
	c0=$(cpu $pid); sleep $W; c1=$(cpu $pid)
	echo "$label: supervisor on CPU $(awk -v a=$c0 -v b=$c1 -v w=$W 'BEGIN { printf "%.3f", (b - a) / 1e6 / w }') ms per second (about one pass a second)"
}
have=0
for n in 10 100 500; do
	for i in $(seq $((have + 1)) $n); do q "SELECT foundation.start_child('{\"id\": \"c$i\", \"start\": {\"module\": \"public.idle\", \"args\": {}}}')" >/dev/null; done
	have=$n
	measure "$n children"
done
# 100 000 names of one live session (a name of a process that is not a child)
$B/psql -h $S -p $P -U postgres -d postgres -XAtq -c "SELECT pg_sleep(3600)" & holder=$!
sleep 1
hp=$(q "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)'")
q "INSERT INTO foundation.registry (name, pid, node, owner) SELECT 'n' || g, $hp, foundation.node_name(), 'postgres' FROM generate_series(1, 100000) g"
q "ANALYZE foundation.registry"
measure "500 children and 100 000 names"
kill $holder 2>/dev/null || true
