# shellcheck shell=bash disable=SC2034,SC2154
# bench/groups/70_databases.sh -- benchmark 17: foundation in many
# databases; sourced by bench/run (see there and docs/benchmarks.md).
#
# Two private instances, each with the default foundation.naptime (5 s)
# and no health checks:
#   many: 100 databases with the extension, 10 of them with one child each
#         (a procedure that sleeps), the other 90 with nothing to supervise;
#   one:  the same 10 children in one database (postgres).
# Once the launcher has let the idle databases' supervisors go (six
# naptimes without work), for each instance: the background workers of
# foundation (launcher, supervisors, children) by kind, their time on CPU
# over BENCH_DB_IDLE seconds (/proc/<pid>/schedstat, launcher and
# supervisors; the children's sleeping loop apart), and their memory (the
# sum of Pss of /proc/<pid>/smaps_rollup).  Then, on the instance with 100
# databases, the time start_singleton takes (until the child runs: it
# returns the running child's pid) in a database whose supervisor is not
# running (20 of the idle ones) and in one whose supervisor runs (the 10
# with a child), and how long the launcher takes to start the supervisor
# of a database that just got work.

DB_N=${BENCH_DB_COUNT:-100}
DB_BUSY=${BENCH_DB_BUSY:-10}
DB_IDLE_S=${BENCH_DB_IDLE:-60}
DB_SAMPLES=${BENCH_DB_SAMPLES:-20}
((DB_N >= DB_BUSY + DB_SAMPLES)) ||
	die "BENCH_DB_COUNT must be at least BENCH_DB_BUSY + BENCH_DB_SAMPLES"

echo
echo "== 17. foundation in $DB_N databases ($DB_BUSY with one child each) vs the same children in one database == ($(date -u +%T) UTC)"

DB_CONF="shared_preload_libraries = 'foundation'
max_worker_processes = 100
foundation.health_check_interval = 0
foundation.node_name = 'bench_db'
autovacuum = off"

# The module of the children: one sleep a second, nothing else.
DB_MODULE="CREATE PROCEDURE public.idle(args jsonb) LANGUAGE plpgsql AS \$\$
BEGIN LOOP PERFORM pg_sleep(1); END LOOP; END \$\$;"

db_sql() { sql -h "$DB_SOCK" -p "$DB_PORT" "$@"; }

# db_instance NAME: a fresh instance in $WORK/NAME, started; sets DB_SOCK,
# DB_PORT, DB_DIR.  It returns holding the install lock (if any): CREATE
# EXTENSION reads the installed SQL script, which another checkout's
# install would replace; the caller unlocks once its extensions exist.
db_instance() {
	DB_DIR=$WORK/$1
	DB_PORT=$(free_port $((PORT + 10 + RANDOM % 1000)) 200 "$WORK/sock")
	DB_SOCK=$DB_DIR/sock
	new_instance "$DB_DIR" "$DB_PORT" "$DB_CONF"
	install_lock
	reinstall_build
	start_server "$DB_DIR/data" "$DB_DIR/server.log" 60 || die "instance $1 did not start"
	NODE_DIRS+=("$DB_DIR")
	check_installed "instance $1"
}

# foundation's processes: "pid kind" lines (launcher, supervisor, child,
# monitor), from pg_stat_activity's backend_type
db_procs() {
	db_sql -d postgres -F ' ' -c "SELECT pid, CASE backend_type
	    WHEN 'foundation launcher' THEN 'launcher'
	    WHEN 'foundation supervisor' THEN 'supervisor'
	    WHEN 'foundation child' THEN 'child'
	    ELSE 'other' END
	  FROM pg_stat_activity WHERE backend_type LIKE 'foundation%'"
}

# db_settle: until no supervisor of a database without work is left (the
# launcher's and the supervisors' idle exit), at most 180 s; prints the
# counts by kind.
db_settle() {
	local want=$1 n
	for _ in $(seq 1 900); do
		n=$(db_procs | awk '$2 == "supervisor"' | wc -l)
		[[ $n -le $want ]] && break
		sleep 0.2
	done
	[[ $n -le $want ]] || warn "benchmark 17: $n supervisors still run after 180 s (expected $want)"
	db_procs | awk '{ c[$2]++ } END { printf "launcher %d, supervisors %d, children %d, other %d", c["launcher"], c["supervisor"], c["child"], c["other"] }'
}

# db_cpu_ns KIND...: the summed time on CPU (ns) of foundation's processes
# of these kinds, now
db_cpu_ns() {
	local kinds=" $* " pid kind total=0 t
	while read -r pid kind; do
		[[ $kinds == *" $kind "* ]] || continue
		t=$(awk '{ print $1 }' "/proc/$pid/schedstat" 2>/dev/null || echo 0)
		total=$((total + t))
	done < <(db_procs)
	echo "$total"
}

# db_pss_kb: the summed Pss (kB) of foundation's processes
db_pss_kb() {
	local pid kind total=0 t
	while read -r pid kind; do
		t=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
		total=$((total + ${t:-0}))
	done < <(db_procs)
	echo "$total"
}

# db_measure LABEL SUPERVISORS: settle, then the workers, idle CPU and memory
db_measure() {
	local label=$1 want=$2 counts c0 c1 t0 t1
	counts=$(db_settle "$want")
	c0=$(db_cpu_ns launcher supervisor)
	t0=$(date +%s.%N)
	sleep "$DB_IDLE_S"
	c1=$(db_cpu_ns launcher supervisor)
	t1=$(date +%s.%N)
	DBM_COUNTS[$label]=$counts
	DBM_WORKERS[$label]=$(db_procs | wc -l)
	DBM_CPU[$label]=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "%.4f", 100 * (b - a) / 1e9 / (t1 - t0) }')
	DBM_PSS[$label]=$(db_pss_kb)
	echo "$label: $counts; launcher + supervisors on CPU ${DBM_CPU[$label]} % of a core over ${DB_IDLE_S} s; Pss of foundation's processes ${DBM_PSS[$label]} kB"
}

declare -A DBM_COUNTS DBM_WORKERS DBM_CPU DBM_PSS

# --- one database ---
db_instance bench_db1
db_sql -d postgres -c "CREATE EXTENSION foundation" -c "$DB_MODULE" >/dev/null
install_unlock
for i in $(seq 1 "$DB_BUSY"); do
	db_sql -d postgres -c "SELECT foundation.start_singleton('public.idle', '{}', 'w$i')" >/dev/null
done
db_measure one 1
stop_server "$DB_DIR/data"

# --- many databases ---
db_instance bench_dbs
for i in $(seq -f '%03g' 1 "$DB_N"); do
	db_sql -d postgres -c "CREATE DATABASE db$i" >/dev/null
	db_sql -d "db$i" -c "CREATE EXTENSION foundation" -c "$DB_MODULE" >/dev/null
done
install_unlock
# each CREATE EXTENSION woke the launcher: let those supervisors leave
# (they find nothing) before the children need worker slots
db_settle 0 >/dev/null
for i in $(seq -f '%03g' 1 "$DB_BUSY"); do
	db_sql -d "db$i" -c "SELECT foundation.start_singleton('public.idle', '{}', 'w1')" >/dev/null
done
# postgres (foundation.database) has no extension here: only the busy ones
db_measure many "$DB_BUSY"

# start_singleton into a database with and without a running supervisor,
# alternately; the time psql's \timing reports for the statement
db_time_ms() {
	db_sql -d "$1" -c '\timing on' -c "SELECT foundation.start_singleton('public.idle', '{}', '$2')" |
		sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
# and stop it again, so that the samples do not fill the worker slots
db_stop() { db_sql -d "$1" -c "SELECT foundation.stop_singleton('$2')" >/dev/null; }
DB_COLD=()
DB_WARM=()
DB_SUP=()
for k in $(seq 1 "$DB_SAMPLES"); do
	cold=$(printf 'db%03d' $((DB_BUSY + k)))
	warm=$(printf 'db%03d' $(((k - 1) % DB_BUSY + 1)))
	t0=$(date +%s%N)
	DB_COLD+=("$(db_time_ms "$cold" w1)")
	# the launcher starts that database's supervisor once the start commits
	for _ in $(seq 1 500); do
		[[ $(db_sql -d postgres -c "SELECT count(*) FROM pg_stat_activity
		      WHERE backend_type = 'foundation supervisor' AND datname = '$cold'") == 1 ]] && break
		sleep 0.01
	done
	t1=$(date +%s%N)
	DB_SUP+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
	db_stop "$cold" w1
	DB_WARM+=("$(db_time_ms "$warm" "x$k")")
	db_stop "$warm" "x$k"
done
read -r COLD_MED COLD_P95 < <(printf '%s\n' "${DB_COLD[@]}" | sort -g |
	awk '{ a[NR] = $1 } END { printf "%s %s\n", a[int((NR + 1) / 2)], a[int(NR * 0.95 + 0.999)] }')
read -r WARM_MED WARM_P95 < <(printf '%s\n' "${DB_WARM[@]}" | sort -g |
	awk '{ a[NR] = $1 } END { printf "%s %s\n", a[int((NR + 1) / 2)], a[int(NR * 0.95 + 0.999)] }')
SUP_MED=$(printf '%s\n' "${DB_SUP[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
R17=$(calc "$COLD_MED / $WARM_MED")
echo "start_singleton until the child runs, $DB_SAMPLES samples each: no supervisor running there: median $COLD_MED ms, p95 $COLD_P95 ms;"
echo "  supervisor running: median $WARM_MED ms, p95 $WARM_P95 ms; ratio of medians $R17"
echo "  from the start to that database's supervisor running (psql connection included): median $SUP_MED ms"
stop_server "$DB_DIR/data"

ROW17A=("17a. workers, $DB_N dbs / 1 db" "${DBM_WORKERS[many]}" "${DBM_WORKERS[one]}" \
	"$(calc "${DBM_WORKERS[many]} / ${DBM_WORKERS[one]}")" "-" "-")
ROW17B=("17b. idle CPU, launcher+supervisors" "${DBM_CPU[many]} %" "${DBM_CPU[one]} %" "-" "-" "-")
ROW17C=("17c. memory (Pss), foundation procs" "${DBM_PSS[many]} kB" "${DBM_PSS[one]} kB" \
	"$(calc "${DBM_PSS[many]} / ${DBM_PSS[one]}")" "-" "-")
ROW17D=("17d. start_singleton, no supervisor" "$COLD_MED ms" "$WARM_MED ms" "$R17" "-" "-")
ROWS+=(ROW17A ROW17B ROW17C ROW17D)
NOTES+=("17: $DB_N databases with the extension, $DB_BUSY with one child each, vs the $DB_BUSY children in one database; workers: ${DBM_COUNTS[many]} vs ${DBM_COUNTS[one]}; CPU over $DB_IDLE_S s idle (schedstat); start_singleton median of $DB_SAMPLES into a database without / with a running supervisor")
{
	echo "17. foundation in $DB_N databases, $DB_BUSY with one child each (a procedure sleeping 1 s in a loop), next to the same"
	echo "   $DB_BUSY children in one database; default foundation.naptime (5 s), no health checks:"
	echo
	echo "   | | $DB_N databases | 1 database |"
	echo "   |---|---|---|"
	echo "   | foundation's processes | ${DBM_COUNTS[many]} | ${DBM_COUNTS[one]} |"
	echo "   | launcher + supervisors on CPU, idle, over $DB_IDLE_S s | ${DBM_CPU[many]} % of a core | ${DBM_CPU[one]} % of a core |"
	echo "   | Pss of foundation's processes | ${DBM_PSS[many]} kB | ${DBM_PSS[one]} kB |"
	echo
	echo "   start_singleton until the child runs ($DB_SAMPLES samples): into a database whose supervisor is not running,"
	echo "   median $COLD_MED ms (p95 $COLD_P95); whose supervisor runs, median $WARM_MED ms (p95 $WARM_P95); the launcher had"
	echo "   that database's supervisor running a median $SUP_MED ms after the statement was sent."
	echo
} >"$MD_DIR/70_databases.md"
