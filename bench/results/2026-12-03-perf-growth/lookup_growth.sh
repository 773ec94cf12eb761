#!/bin/bash
# lookup_singleton and the raw SELECT with 10 and with 1 000 000 names in the
# registry: instructions per call in one single-user backend under callgrind
# (as benchmark 16 counts them).  Run as the servers' OS user, with B the bin
# directory of a PostgreSQL 15 install that has foundation installed and D an
# empty directory.  Prints the totals of the segment dumps: per call =
# (dump of 2000 calls - dump of 1000 calls) / 1000; dumps 2-5 are raw 1000,
# raw 2000, lookup 1000, lookup 2000 with 10 names, dumps 7-10 the same with
# 1 000 000.
set -e
B=${B:?bin directory}; D=${D:?work directory}
cat > $D/setup.sql <<'SQL'
CREATE EXTENSION foundation;

SELECT foundation.register('bench', pg_backend_pid());

INSERT INTO foundation.registry (name, pid, node, owner) SELECT 'n' || g, 1, 'x', 'postgres' FROM generate_series(1, 9) g;

PREPARE l AS SELECT foundation.lookup_singleton('bench');

PREPARE r AS SELECT pid FROM foundation.registry WHERE name = 'bench';

SQL
seg() { for s in r l; do for k in 1000 2000; do for i in $(seq $k); do printf "EXECUTE $s;\n\n"; done; printf 'SELECT pg_sleep(0);\n\n'; done; done; }
warm() { for i in $(seq 20); do printf 'EXECUTE l;\n\nEXECUTE r;\n\n'; done; printf 'SELECT pg_sleep(0);\n\n'; }
{ cat $D/setup.sql; warm; seg
  printf "INSERT INTO foundation.registry (name, pid, node, owner) SELECT 'm' || g, 1, 'x', 'postgres' FROM generate_series(1, 999990) g;\n\nVACUUM ANALYZE foundation.registry;\n\n"
  warm; seg; } > $D/in.sql
$B/initdb -D $D/data -A trust -U postgres >/dev/null
valgrind --tool=callgrind --dump-before=pg_sleep --callgrind-out-file=$D/cg.out.%p --log-file=$D/vg.log \
	$B/postgres --single -j -D $D/data -c shared_preload_libraries=foundation postgres < $D/in.sql > $D/backend.log 2>&1
for f in $(ls $D/cg.out.*.* | sort -t. -k3 -n); do echo "$f $(grep totals $f)"; done
